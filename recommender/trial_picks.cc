#include "recommender/trial_picks.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "recommender/internal.h"

namespace recsys::recommender {

void PickTrialItems(const TrialPool& pool, absl::Time deadline, RequestContext* ctx) {
  if (std::none_of(ctx->slot_rules.begin(), ctx->slot_rules.end(),
                   [](const SlotRule* r) { return r->trial_share > 0; })) {
    return;
  }
  ctx->trial = pool.Get(*ctx->bundle, deadline);
  ctx->trial_items = RankTrialItems(*ctx, *ctx->trial);
}

std::vector<const TrialItem*> RankTrialItems(const RequestContext& ctx,
                                             const TrialSnapshot& snapshot) {
  const ProductRequest& request = *ctx.request;
  absl::flat_hash_set<absl::string_view> skip_ids(request.filters.exclude_item_ids.begin(),
                                                  request.filters.exclude_item_ids.end());
  for (const PurchaseView& p : ctx.user.purchases) skip_ids.insert(p.item_id);
  absl::flat_hash_set<absl::string_view> categories(request.filters.categories.begin(),
                                                    request.filters.categories.end());
  struct RankedTrial {
    float affinity;
    double tie;  // spreads exposure among equally good items
    const TrialItem* item;
  };
  std::vector<RankedTrial> ranked;
  for (const TrialItem& t : snapshot.items()) {
    if (!InTrialWindowWithEarlyAccess(t, ctx.now, ctx.rules->trial_days, ctx.early_access_days)) {
      continue;
    }
    if (skip_ids.contains(t.item_id) || (t.row >= 0 && ctx.excluded.contains(t.row))) continue;
    if (!categories.empty() && !categories.contains(t.category)) continue;
    if (request.filters.min_price > 0 && t.price < request.filters.min_price) continue;
    if (request.filters.max_price > 0 && t.price > request.filters.max_price) continue;
    const float affinity =
        ctx.query.empty() || t.vector.empty() ? 0.0f : internal::Dot(ctx.query, t.vector);
    ranked.push_back({affinity, internal::RequestUniform(request.user_id, t.item_id, ctx.now), &t});
  }
  std::sort(ranked.begin(), ranked.end(), [&](const RankedTrial& a, const RankedTrial& b) {
    const bool ra = ctx.rotated_ids.contains(a.item->item_id);
    const bool rb = ctx.rotated_ids.contains(b.item->item_id);
    if (ra != rb) return rb;
    if (a.affinity != b.affinity) return a.affinity > b.affinity;
    if (a.tie != b.tie) return a.tie < b.tie;
    return a.item->item_id < b.item->item_id;
  });
  std::vector<const TrialItem*> items;
  items.reserve(ranked.size());
  for (const RankedTrial& r : ranked) items.push_back(r.item);
  return items;
}

int TrialQuota(float share, int k, double uniform, int room) {
  const double expected = static_cast<double>(share) * k;
  int quota = static_cast<int>(std::floor(expected));
  if (uniform < expected - quota) ++quota;
  return std::min(quota, room);
}

std::vector<const TrialItem*> TakeTrialItems(const RequestContext& ctx, SlotFill* fill) {
  std::vector<const TrialItem*> taken;
  const SlotRule& rule = *fill->state().rule;
  if (rule.trial_share <= 0 || ctx.trial_items.empty()) return taken;
  const SlotSpec& slot = *fill->state().spec;
  const int quota = TrialQuota(rule.trial_share, slot.k,
                               internal::RequestUniform(ctx.request->user_id, slot.name, ctx.now),
                               slot.k - fill->size());
  for (const TrialItem* t : ctx.trial_items) {
    if (static_cast<int>(taken.size()) >= quota) break;
    if (t->row >= 0 ? !fill->CanShow(t->row, false) : !fill->CanShowNew(*t)) continue;
    fill->Reserve(*t);
    taken.push_back(t);
  }
  return taken;
}

void PlaceTrialItems(const RequestContext& ctx, const std::vector<const TrialItem*>& taken,
                     size_t pinned_count, std::vector<ScoredItem>* items) {
  const size_t total = items->size() + taken.size();
  const size_t region = total - pinned_count;
  for (size_t j = 0; j < taken.size(); ++j) {
    const TrialItem& t = *taken[j];
    size_t pos = pinned_count + (j + 1) * region / (taken.size() + 1);
    pos = std::min(pos, items->size());
    float score = 1.0f;
    if (pos < items->size()) {
      score = (*items)[pos].score;
    } else if (pos > 0) {
      score = (*items)[pos - 1].score;
    }
    ScoredItem item;
    item.item_id = t.item_id;
    item.score = score;
    item.category = t.category;
    item.price = t.price;
    item.reason = internal::ExplainTrial(t, ctx.now, ctx.rules->trial_days,
                                         ctx.rotated_ids.contains(t.item_id));
    items->insert(items->begin() + pos, std::move(item));
  }
}

}  // namespace recsys::recommender
