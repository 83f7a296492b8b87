#include "recommender/rules/rotation.h"

namespace recsys::recommender {

absl::flat_hash_set<int32_t> RotatedRows(
    const model::ModelBundle& bundle, const std::vector<feature_store::ActivityRecord>& impressions,
    int count) {
  absl::flat_hash_set<int32_t> rotated;
  if (count > 0) {
    for (size_t i = 0; i < impressions.size() && static_cast<int>(i) < count; ++i) {
      const int32_t row = bundle.ItemRow(impressions[i].item_id);
      if (row >= 0) rotated.insert(row);
    }
  }
  return rotated;
}

absl::flat_hash_set<absl::string_view> RotatedIds(
    const std::vector<feature_store::ActivityRecord>& impressions, int count) {
  absl::flat_hash_set<absl::string_view> rotated;
  if (count > 0) {
    for (size_t i = 0; i < impressions.size() && static_cast<int>(i) < count; ++i) {
      rotated.insert(impressions[i].item_id);
    }
  }
  return rotated;
}

float RotationRule::Apply(const RequestContext& ctx, const SlotState& /*slot*/, int32_t row,
                          float score, std::vector<std::string>* applied) const {
  if (ctx.rotated.contains(row)) {
    score *= ctx.rules->rotation_multiplier;
    if (applied != nullptr) applied->push_back("rotation");
  }
  return score;
}

}  // namespace recsys::recommender
