// CategoryCapFilter: never shows an item of a category the slot excludes
// (SlotRule::exclude_categories), nor more than SlotRule::max_per_category
// items of one category in a slot (0: no cap; items without a category are
// not capped).
//
// Thread safety: stateless; safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_RULES_CATEGORY_CAP_H_
#define RECSYS_RECOMMENDER_RULES_CATEGORY_CAP_H_

#include "recommender/rules/rule.h"

namespace recsys::recommender {

class CategoryCapFilter : public ShowFilter {
 public:
  absl::string_view name() const override { return "category_cap"; }
  bool Allows(const RequestContext& ctx, const SlotState& slot,
              const ShowCandidate& item) const override;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_RULES_CATEGORY_CAP_H_
