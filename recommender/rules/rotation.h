// Rotation: items among the user's Rules::rotation_impressions most recent
// impressions are multiplied by Rules::rotation_multiplier (named
// "rotation"), and ranked last among trial-pool items (trial_picks.h).
//
// Thread safety: stateless; safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_RULES_ROTATION_H_
#define RECSYS_RECOMMENDER_RULES_ROTATION_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "feature_store/feature_store.h"
#include "model/model_store.h"
#include "recommender/rules/rule.h"

namespace recsys::recommender {

// Rows of the first `count` of `impressions` (most recent first) that the
// model knows; empty when count <= 0.
absl::flat_hash_set<int32_t> RotatedRows(
    const model::ModelBundle& bundle, const std::vector<feature_store::ActivityRecord>& impressions,
    int count);

// Ids of the first `count` of `impressions`, pointing into `impressions`.
absl::flat_hash_set<absl::string_view> RotatedIds(
    const std::vector<feature_store::ActivityRecord>& impressions, int count);

// Multiplies the scores of RequestContext::rotated rows.
class RotationRule : public ScoreRule {
 public:
  float Apply(const RequestContext& ctx, const SlotState& slot, int32_t row, float score,
              std::vector<std::string>* applied) const override;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_RULES_ROTATION_H_
