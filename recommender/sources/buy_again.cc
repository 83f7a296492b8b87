#include "recommender/sources/buy_again.h"

#include <algorithm>

namespace recsys::recommender {

absl::StatusOr<std::vector<Candidate>> BuyAgainSource::Generate(const RequestContext& ctx) const {
  std::vector<const model::HistoryEntry*> due;
  for (const model::HistoryEntry& h : ctx.history) {
    if (!ctx.not_due.contains(h.item) && ctx.repurchase_filter->Allowed(h.item)) {
      due.push_back(&h);
    }
  }
  std::sort(due.begin(), due.end(), [](const model::HistoryEntry* a, const model::HistoryEntry* b) {
    if (a->count != b->count) return a->count > b->count;
    if (a->last_unix != b->last_unix) return a->last_unix > b->last_unix;
    return a->item < b->item;
  });
  std::vector<Candidate> list;
  list.reserve(due.size());
  for (const model::HistoryEntry* h : due) {
    list.push_back({h->item, static_cast<float>(h->count), ReasonCode::kBuyAgain, -1, false, h});
  }
  return list;
}

}  // namespace recsys::recommender
