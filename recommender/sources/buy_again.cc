#include "recommender/sources/buy_again.h"

#include <algorithm>
#include <tuple>

namespace recsys::recommender {

absl::StatusOr<std::vector<Candidate>> BuyAgainSource::Generate(const RequestContext& ctx) const {
  // (group, due) per entry: 0 due now, 1 no known cycle, 2 not due yet.
  struct Due {
    const model::HistoryEntry* entry;
    int group;
    int64_t due_unix;
  };
  std::vector<Due> due;
  for (const model::HistoryEntry& h : ctx.history) {
    if (!ctx.not_due.contains(h.item) && ctx.repurchase_filter->Allowed(h.item)) {
      auto cycle = ctx.cycles.find(h.item);
      if (cycle == ctx.cycles.end()) {
        due.push_back({&h, 1, 0});
      } else {
        const int64_t at = cycle->second.due_unix;
        due.push_back({&h, at <= ctx.now_unix ? 0 : 2, at});
      }
    }
  }
  std::sort(due.begin(), due.end(), [](const Due& a, const Due& b) {
    if (a.group != b.group) return a.group < b.group;
    if (a.due_unix != b.due_unix) return a.due_unix < b.due_unix;
    if (a.entry->count != b.entry->count) return a.entry->count > b.entry->count;
    if (a.entry->last_unix != b.entry->last_unix) return a.entry->last_unix > b.entry->last_unix;
    return a.entry->item < b.entry->item;
  });
  std::vector<Candidate> list;
  list.reserve(due.size());
  for (const Due& d : due) {
    const model::HistoryEntry* h = d.entry;
    list.push_back({h->item, static_cast<float>(h->count), ReasonCode::kBuyAgain, -1, false, h});
  }
  return list;
}

}  // namespace recsys::recommender
