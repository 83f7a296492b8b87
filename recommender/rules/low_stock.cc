#include "recommender/rules/low_stock.h"

namespace recsys::recommender {

float LowStockRule::Apply(const RequestContext& ctx, const SlotState& /*slot*/, int32_t row,
                          float score, std::vector<std::string>* applied) const {
  const feature_store::ItemFeatures* f = ctx.features.Of(row);
  if (f != nullptr && f->stock > 0 && f->stock <= ctx.rules->low_stock_threshold) {
    score *= ctx.rules->low_stock_multiplier;
    if (applied != nullptr) applied->push_back("low_stock");
  }
  return score;
}

}  // namespace recsys::recommender
