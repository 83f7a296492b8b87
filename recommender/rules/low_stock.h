// LowStockRule: items with 0 < stock <= Rules::low_stock_threshold (item
// features of the request) are multiplied by Rules::low_stock_multiplier;
// named "low_stock".
//
// Thread safety: stateless; safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_RULES_LOW_STOCK_H_
#define RECSYS_RECOMMENDER_RULES_LOW_STOCK_H_

#include "recommender/rules/rule.h"

namespace recsys::recommender {

class LowStockRule : public ScoreRule {
 public:
  float Apply(const RequestContext& ctx, const SlotState& slot, int32_t row, float score,
              std::vector<std::string>* applied) const override;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_RULES_LOW_STOCK_H_
