// RuleSet: the business rules applied while filling slots, in their order.
//
// Multipliers apply in registration order (the order of floating-point
// products is part of the answer): daypart / festival boosts in active-rule
// order, then low stock, slow mover, rotation. An item is shown only when
// every filter allows it.
//
// Adding a rule: one file in recommender/rules/ and one line in
// NewDefaultRuleSet (rule_set.cc).
//
// Thread safety: immutable after construction; safe to share.
#ifndef RECSYS_RECOMMENDER_RULES_RULE_SET_H_
#define RECSYS_RECOMMENDER_RULES_RULE_SET_H_

#include <memory>
#include <string>
#include <vector>

#include "recommender/rules/rule.h"

namespace recsys::recommender {

class RuleSet {
 public:
  void AddMultiplier(std::unique_ptr<const ScoreRule> rule);
  void AddFilter(std::unique_ptr<const ShowFilter> filter);

  // `score` through every multiplier in order; names go to `applied` when
  // not null.
  float Score(const RequestContext& ctx, const SlotState& slot, int32_t row, float score,
              std::vector<std::string>* applied) const;
  // True when every filter allows `item`.
  bool Allows(const RequestContext& ctx, const SlotState& slot, const ShowCandidate& item) const;

 private:
  std::vector<std::unique_ptr<const ScoreRule>> multipliers_;
  std::vector<std::unique_ptr<const ShowFilter>> filters_;
};

// The storefront's rules.
std::unique_ptr<const RuleSet> NewDefaultRuleSet();

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_RULES_RULE_SET_H_
