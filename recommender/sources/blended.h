// BlendedSource (Source::kBlended): the production ranker (model/ranker.h)
// over the user's purchases and vector neighbours: repurchases that are due
// (rules/repurchase_window.h) blended with discovery, fetch_k items. Reason
// kBuyAgain for bought items, kPersonalized otherwise; none for a user with
// neither a query vector nor purchases. When the model's validation guard
// chose a baseline for this setting (RankerWeights::serve_all, recorded in
// the manifest by recsys_train --tune), RankItems returns that baseline's
// list: buy-again (the purchases by events) or popularity (reason kPopular).
//
// With `new_items` (Source::kBlendedNew) the ranker ranks without the
// user's purchases (RankOptions::include_bought = false): its discovery
// weights, or the baseline the guard chose for new items (serve_new); the
// source then proposes no bought item (repurchase() is false).
//
// Thread safety: immutable; Generate is safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_SOURCES_BLENDED_H_
#define RECSYS_RECOMMENDER_SOURCES_BLENDED_H_

#include <vector>

#include "absl/status/statusor.h"
#include "recommender/candidate_source.h"

namespace recsys::recommender {

class BlendedSource : public CandidateSource {
 public:
  // The ranker considers at least `ranker_candidates` vector neighbours
  // (RecommenderOptions::ranker_candidates).
  explicit BlendedSource(int ranker_candidates, bool new_items = false)
      : ranker_candidates_(ranker_candidates), new_items_(new_items) {}
  bool repurchase() const override { return !new_items_; }
  absl::StatusOr<std::vector<Candidate>> Generate(const RequestContext& ctx) const override;

 private:
  const int ranker_candidates_;
  const bool new_items_;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_SOURCES_BLENDED_H_
