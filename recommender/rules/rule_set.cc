#include "recommender/rules/rule_set.h"

#include <utility>

#include "recommender/rules/category_cap.h"
#include "recommender/rules/low_stock.h"
#include "recommender/rules/repurchase_window.h"
#include "recommender/rules/rotation.h"
#include "recommender/rules/slow_mover.h"
#include "recommender/rules/stock.h"
#include "recommender/rules/time_boosts.h"

namespace recsys::recommender {

void RuleSet::AddMultiplier(std::unique_ptr<const ScoreRule> rule) {
  multipliers_.push_back(std::move(rule));
}

void RuleSet::AddFilter(std::unique_ptr<const ShowFilter> filter) {
  filters_.push_back(std::move(filter));
}

float RuleSet::Score(const RequestContext& ctx, const SlotState& slot, int32_t row, float score,
                     std::vector<std::string>* applied) const {
  for (const auto& rule : multipliers_) score = rule->Apply(ctx, slot, row, score, applied);
  return score;
}

bool RuleSet::Allows(const RequestContext& ctx, const SlotState& slot,
                     const ShowCandidate& item) const {
  for (const auto& filter : filters_) {
    if (!filter->Allows(ctx, slot, item)) return false;
  }
  return true;
}

std::unique_ptr<const RuleSet> NewDefaultRuleSet() {
  auto rules = std::make_unique<RuleSet>();
  rules->AddMultiplier(std::make_unique<TimeBoostRule>());
  rules->AddMultiplier(std::make_unique<LowStockRule>());
  rules->AddMultiplier(std::make_unique<SlowMoverRule>());
  rules->AddMultiplier(std::make_unique<RotationRule>());
  rules->AddFilter(std::make_unique<StockFilter>());
  rules->AddFilter(std::make_unique<CategoryCapFilter>());
  rules->AddFilter(std::make_unique<RepurchaseWindowFilter>());
  return rules;
}

}  // namespace recsys::recommender
