// SlowMoverRule: items flagged slow movers in the store are multiplied by
// Rules::slow_mover_multiplier when it is below 1; named "slow_mover".
//
// Thread safety: stateless; safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_RULES_SLOW_MOVER_H_
#define RECSYS_RECOMMENDER_RULES_SLOW_MOVER_H_

#include "recommender/rules/rule.h"

namespace recsys::recommender {

class SlowMoverRule : public ScoreRule {
 public:
  float Apply(const RequestContext& ctx, const SlotState& slot, int32_t row, float score,
              std::vector<std::string>* applied) const override;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_RULES_SLOW_MOVER_H_
