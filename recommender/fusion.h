// Rank fusion: a slot's sources combined by weighted reciprocal rank.
//
// An item at rank r (0-based) of a source with weight w contributes
// w / (1 + r); contributions are summed in the slot's source order (float,
// so the order is part of the result). The item keeps the candidate of its
// largest contribution (the first one on a tie) as its explanation.
//
// Thread safety: free functions without state.
#ifndef RECSYS_RECOMMENDER_FUSION_H_
#define RECSYS_RECOMMENDER_FUSION_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "recommender/candidate.h"
#include "recommender/slot_config.h"

namespace recsys::recommender {

struct FusedCandidate {
  int32_t row;
  float score;           // the fused score (rules may multiply it afterwards)
  float best;            // the largest single contribution
  const Candidate* why;  // points into the fused lists
  bool from_repurchase;  // some contributing list was a repurchase source
};

// The items of `sources`' lists (taken from `lists`; a missing list counts
// as empty), in order of first appearance.
std::vector<FusedCandidate> FuseRanks(const std::vector<std::pair<Source, float>>& sources,
                                      const CandidateLists& lists);

// Indices into `fused` by descending score, ties by ascending row.
std::vector<size_t> FusedOrder(const std::vector<FusedCandidate>& fused);

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_FUSION_H_
