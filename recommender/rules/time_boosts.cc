#include "recommender/rules/time_boosts.h"

#include "absl/strings/str_cat.h"

namespace recsys::recommender {

float TimeBoostRule::Apply(const RequestContext& ctx, const SlotState& slot, int32_t row,
                           float score, std::vector<std::string>* applied) const {
  const model::ItemMeta& item = ctx.model().item(row);
  for (const TimeRule* r : *slot.active) {
    auto boost = r->boosts.find(item.category);
    if (boost == r->boosts.end()) continue;
    score *= boost->second;
    if (applied != nullptr) {
      applied->push_back(absl::StrCat(r->is_festival ? "festival:" : "daypart:", r->name));
    }
  }
  return score;
}

}  // namespace recsys::recommender
