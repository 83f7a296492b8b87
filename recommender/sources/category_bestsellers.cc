#include "recommender/sources/category_bestsellers.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace recsys::recommender {

absl::StatusOr<std::vector<Candidate>> CategoryBestsellersSource::Generate(
    const RequestContext& ctx) const {
  const model::ModelBundle& bundle = ctx.model();
  // The user's categories by purchases, then by recent activity.
  absl::flat_hash_map<std::string, int> weight;
  for (const model::HistoryEntry& h : ctx.history) weight[bundle.item(h.item).category] += h.count;
  for (const feature_store::ActivityRecord& a : ctx.user.recent) {
    const int32_t row = bundle.ItemRow(a.item_id);
    if (row >= 0) weight[bundle.item(row).category] += 1;
  }
  std::vector<std::pair<int, std::string>> categories;
  for (auto& [category, w] : weight) {
    if (!category.empty()) categories.push_back({-w, category});
  }
  std::sort(categories.begin(), categories.end());
  if (categories.size() > 3) categories.resize(3);
  const int per_category = ctx.fetch_k / std::max<int>(1, categories.size()) + 1;
  std::vector<Candidate> list;
  for (const auto& [neg_weight, category] : categories) {
    int taken = 0;
    for (int32_t row : bundle.category_popular(category)) {
      if (taken >= per_category) break;
      if (!ctx.filter->Allowed(row)) continue;
      list.push_back(
          {row, static_cast<float>(bundle.item(row).buyers), ReasonCode::kCategoryBestseller});
      ++taken;
    }
  }
  std::stable_sort(list.begin(), list.end(),
                   [](const Candidate& a, const Candidate& b) { return a.score > b.score; });
  return list;
}

}  // namespace recsys::recommender
