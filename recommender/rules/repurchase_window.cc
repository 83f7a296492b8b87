#include "recommender/rules/repurchase_window.h"

namespace recsys::recommender {

absl::flat_hash_set<int32_t> NotDueRows(
    const model::ModelBundle& bundle, const Rules& rules,
    const absl::flat_hash_map<int32_t, const model::HistoryEntry*>& history,
    const absl::flat_hash_set<int32_t>& bought_rows, int64_t now_unix) {
  auto due_again = [&](int32_t row) {
    auto it = history.find(row);
    if (it == history.end()) return true;
    if (rules.repurchasable_min_days.empty()) return true;
    auto rule = rules.repurchasable_min_days.find(bundle.item(row).category);
    if (rule == rules.repurchasable_min_days.end()) return false;
    return now_unix - it->second->last_unix >= int64_t{rule->second} * 86400;
  };
  absl::flat_hash_set<int32_t> not_due;
  for (int32_t row : bought_rows) {
    if (!due_again(row)) not_due.insert(row);
  }
  return not_due;
}

bool RepurchaseWindowFilter::Allows(const RequestContext& ctx, const SlotState& /*slot*/,
                                    const ShowCandidate& item) const {
  if (item.row < 0) return true;
  return item.may_be_bought ? ctx.repurchase_filter->Allowed(item.row)
                            : ctx.filter->Allowed(item.row);
}

}  // namespace recsys::recommender
