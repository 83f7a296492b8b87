// Margin weighting: a slot with margin_weight w > 0 (slots.proto) weighs
// each candidate's expected margin against its relevance. Over the slot's
// fused candidates (after the score rules), with s the candidate's score:
//   r = s / max(s)                      relevance, standing in for P(buy)
//   e = r * margin                      expected margin
//   score = (1 - w) * r + w * e / max(e)   (the second term 0 when max(e) is 0)
// margin = price - cost, at least 0, from the item features (the store's
// price, else the model's); an item without a known cost has margin 0, so a
// slot that weighs margin prefers items whose economics are known. Each
// candidate then names "margin" among its applied rules.
//
// Thread safety: stateless.
#ifndef RECSYS_RECOMMENDER_RULES_MARGIN_H_
#define RECSYS_RECOMMENDER_RULES_MARGIN_H_

#include <vector>

#include "recommender/fusion.h"
#include "recommender/request_context.h"

namespace recsys::recommender {

// The margin of model row `row` (price - cost, >= 0); 0 without a known
// cost.
double ItemMargin(const RequestContext& ctx, int32_t row);

// Rescores `candidates` as above. REQUIRES: 0 < weight <= 1.
void WeighMargin(const RequestContext& ctx, float weight,
                 std::vector<FusedCandidate>* candidates);

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_RULES_MARGIN_H_
