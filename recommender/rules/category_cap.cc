#include "recommender/rules/category_cap.h"

namespace recsys::recommender {

bool CategoryCapFilter::Allows(const RequestContext& /*ctx*/, const SlotState& slot,
                               const ShowCandidate& item) const {
  const SlotRule& rule = *slot.rule;
  if (rule.exclude_categories.contains(item.category)) return false;
  if (rule.max_per_category > 0 && !item.category.empty()) {
    auto it = slot.per_category.find(item.category);
    if (it != slot.per_category.end() && it->second >= rule.max_per_category) return false;
  }
  return true;
}

}  // namespace recsys::recommender
