// TimeBoostRule: the category boosts of the dayparts and festivals active for
// the slot (slot_config.h TimeRule::boosts), multiplied in active-rule
// order; each one applied is named "daypart:<name>" or "festival:<name>".
//
// Thread safety: stateless; safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_RULES_TIME_BOOSTS_H_
#define RECSYS_RECOMMENDER_RULES_TIME_BOOSTS_H_

#include "recommender/rules/rule.h"

namespace recsys::recommender {

class TimeBoostRule : public ScoreRule {
 public:
  float Apply(const RequestContext& ctx, const SlotState& slot, int32_t row, float score,
              std::vector<std::string>* applied) const override;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_RULES_TIME_BOOSTS_H_
