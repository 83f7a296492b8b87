#include "intelligence/live_tags.h"

#include <algorithm>
#include <utility>

namespace recsys::intelligence {

bool IsLiveRule(const TagRule& rule) {
  const bool counted =
      rule.min_purchases > 0 || rule.min_spend > 0 || rule.min_views > 0;
  const bool other = rule.max_days_since_purchase > 0 ||
                     rule.min_days_since_purchase > 0 ||
                     rule.min_affinity > 0 || rule.min_discount_share > 0 ||
                     rule.min_purchase_intent > 0 || rule.min_churn_risk > 0 ||
                     !rule.all_of.empty();
  return !rule.category.empty() && counted && !other;
}

LiveProgress StartProgress(const TagRule& rule) {
  LiveProgress p;
  p.tag = rule.name;
  p.category = rule.category;
  p.min_purchases = rule.min_purchases;
  p.min_spend = rule.min_spend;
  p.min_views = rule.min_views;
  return p;
}

bool Reached(const LiveProgress& p) {
  return (p.min_purchases <= 0 || p.purchases >= p.min_purchases) &&
         (p.min_spend <= 0 || p.spend >= p.min_spend) &&
         (p.min_views <= 0 || p.views >= p.min_views);
}

std::vector<std::string> ApplyLiveEvent(const LiveEvent& event,
                                        UserIntel* user) {
  std::vector<std::string> added;
  if (event.category.empty() || event.time_unix <= user->as_of_unix) {
    return added;
  }
  std::vector<LiveProgress> kept;
  kept.reserve(user->live.size());
  for (LiveProgress& p : user->live) {
    if (p.category == event.category) {
      if (event.purchase) {
        ++p.purchases;
        p.spend += event.spend;
      } else {
        ++p.views;
      }
      if (Reached(p)) {
        added.push_back(p.tag);
        continue;
      }
    }
    kept.push_back(std::move(p));
  }
  user->live = std::move(kept);
  for (const std::string& tag : added) {
    auto at = std::lower_bound(user->tags.begin(), user->tags.end(), tag);
    if (at == user->tags.end() || *at != tag) user->tags.insert(at, tag);
  }
  return added;
}

}  // namespace recsys::intelligence
