#include "training/bundles.h"

#include <algorithm>
#include <cmath>

#include "absl/container/flat_hash_map.h"

namespace recsys::training {

std::vector<std::vector<std::pair<int32_t, float>>> ComputeComplements(
    const std::vector<std::vector<int32_t>>& baskets, const std::vector<std::string>& categories,
    const ComplementOptions& options) {
  const int32_t num_items = static_cast<int32_t>(categories.size());
  std::vector<int32_t> item_baskets(num_items, 0);
  absl::flat_hash_map<uint64_t, int32_t> pairs;
  std::vector<int32_t> items;
  for (const std::vector<int32_t>& basket : baskets) {
    items.clear();
    for (int32_t i : basket) {
      if (i >= 0 && i < num_items) items.push_back(i);
    }
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    if (static_cast<int>(items.size()) > options.max_basket) items.resize(options.max_basket);
    for (int32_t i : items) ++item_baskets[i];
    for (size_t a = 0; a < items.size(); ++a) {
      for (size_t b = a + 1; b < items.size(); ++b) {
        ++pairs[(static_cast<uint64_t>(items[a]) << 32) | static_cast<uint32_t>(items[b])];
      }
    }
  }
  std::vector<std::vector<std::pair<int32_t, float>>> out(num_items);
  for (const auto& [key, support] : pairs) {
    if (support < options.min_support) continue;
    const int32_t i = static_cast<int32_t>(key >> 32);
    const int32_t j = static_cast<int32_t>(key & 0xffffffffu);
    if (options.exclude_same_category && !categories[i].empty() &&
        categories[i] == categories[j]) {
      continue;
    }
    const float score = static_cast<float>(
        support / std::sqrt(static_cast<double>(item_baskets[i]) * item_baskets[j]));
    out[i].push_back({j, score});
    out[j].push_back({i, score});
  }
  for (auto& list : out) {
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) {
      if (a.second != b.second) return a.second > b.second;
      return a.first < b.first;
    });
    if (static_cast<int>(list.size()) > options.per_item) list.resize(options.per_item);
  }
  return out;
}

}  // namespace recsys::training
