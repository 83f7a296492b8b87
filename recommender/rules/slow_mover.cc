#include "recommender/rules/slow_mover.h"

namespace recsys::recommender {

float SlowMoverRule::Apply(const RequestContext& ctx, const SlotState& /*slot*/, int32_t row,
                           float score, std::vector<std::string>* applied) const {
  const feature_store::ItemFeatures* f = ctx.features.Of(row);
  if (f != nullptr && f->slow_mover && ctx.rules->slow_mover_multiplier < 1) {
    score *= ctx.rules->slow_mover_multiplier;
    if (applied != nullptr) applied->push_back("slow_mover");
  }
  return score;
}

}  // namespace recsys::recommender
