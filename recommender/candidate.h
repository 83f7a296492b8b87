// Candidate and Anchor: what a candidate source proposes for one request,
// and the user's own items that explain it.
//
// Plain values; a Candidate may point into the request's purchase history
// (RequestContext::history), so it lives no longer than the request.
//
// Thread safety: plain structs.
#ifndef RECSYS_RECOMMENDER_CANDIDATE_H_
#define RECSYS_RECOMMENDER_CANDIDATE_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "model/model_format.h"
#include "recommender/recommender.h"
#include "recommender/slot_config.h"

namespace recsys::recommender {

// An explanation anchor: an item from the user's own activity.
struct Anchor {
  int32_t row;
  bool bought;
};

// An item proposed by one candidate source, with what explains it. The
// Explanation itself (strings, and for personalized items a cosine per
// anchor) is built by ExplainCandidate (internal.h) only for the items an
// answer shows, a few of the sources' candidates.
struct Candidate {
  int32_t row;
  float score;
  // kPersonalized, kBuyAgain, kSimilarToItem, kTrending,
  // kBundleComplement or kCategoryBestseller.
  ReasonCode code;
  // kSimilarToItem, kBundleComplement: the user's item it is similar to /
  // bought with.
  int32_t anchor = -1;
  // kSimilarToItem: the user bought the anchor (else viewed it).
  bool anchor_bought = false;
  // kBuyAgain: the purchase; points into the request's history.
  const model::HistoryEntry* purchase = nullptr;
};

// One source's candidates for one request, best first (candidate_source.h).
struct CandidateList {
  std::vector<Candidate> candidates;
  // The source may propose items the user bought (buy-again, blended), which
  // the repurchase window then decides on (rules/repurchase_window.h).
  bool repurchase = false;
};

// The lists of the sources a request uses. A Candidate may be referenced by
// pointer while the lists live.
using CandidateLists = absl::flat_hash_map<Source, CandidateList>;

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_CANDIDATE_H_
