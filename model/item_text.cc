#include "model/item_text.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"

namespace recsys::model {
namespace {

bool IsWordByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

}  // namespace

std::vector<std::string> TitleWords(absl::string_view title, int min_token_length) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < title.size()) {
    if (!IsWordByte(static_cast<unsigned char>(title[i]))) {
      ++i;
      continue;
    }
    size_t j = i;
    std::string word;
    while (j < title.size() && IsWordByte(static_cast<unsigned char>(title[j]))) {
      const char c = title[j];
      word.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
      ++j;
    }
    if (static_cast<int>(word.size()) >= min_token_length) words.push_back(std::move(word));
    i = j;
  }
  return words;
}

ItemNeighbors TitleNeighbors(absl::Span<const ItemMeta> items,
                             const TitleNeighborOptions& options) {
  ItemNeighbors out;
  if (options.neighbors < 1 || items.empty()) return out;
  const int32_t num_items = static_cast<int32_t>(items.size());
  // Word ids and per-item term counts.
  absl::flat_hash_map<std::string, int32_t> word_ids;
  std::vector<std::vector<std::pair<int32_t, int32_t>>> terms(num_items);
  std::vector<int32_t> df;
  int64_t titled = 0;
  for (int32_t i = 0; i < num_items; ++i) {
    absl::flat_hash_map<int32_t, int32_t> counts;
    for (std::string& w : TitleWords(items[i].title, options.min_token_length)) {
      auto [it, inserted] = word_ids.emplace(std::move(w), static_cast<int32_t>(df.size()));
      if (inserted) df.push_back(0);
      ++counts[it->second];
    }
    if (counts.empty()) continue;
    ++titled;
    for (const auto& [word, count] : counts) {
      ++df[word];
      terms[i].push_back({word, count});
    }
    // Word order within an item does not depend on hash order.
    std::sort(terms[i].begin(), terms[i].end());
  }
  const double max_df = std::max(options.max_token_share * static_cast<double>(titled),
                                 static_cast<double>(options.min_token_cap));
  auto kept = [&](int32_t word) { return df[word] >= 2 && df[word] <= max_df; };
  int64_t work = 0;
  for (size_t w = 0; w < df.size(); ++w) {
    if (kept(static_cast<int32_t>(w))) work += static_cast<int64_t>(df[w]) * df[w];
  }
  if (work == 0 || work > options.max_work) return out;

  // Normalised TF-IDF weights and the inverted lists of kept words.
  std::vector<std::vector<std::pair<int32_t, float>>> vec(num_items);
  std::vector<std::vector<std::pair<int32_t, float>>> postings(df.size());
  for (int32_t i = 0; i < num_items; ++i) {
    double norm = 0;
    for (const auto& [word, count] : terms[i]) {
      if (!kept(word)) continue;
      const double idf =
          std::log((1.0 + static_cast<double>(titled)) / (1.0 + df[word])) + 1.0;
      const double weight = (1.0 + std::log(static_cast<double>(count))) * idf;
      vec[i].push_back({word, static_cast<float>(weight)});
      norm += weight * weight;
    }
    if (norm <= 0) continue;
    const float scale = static_cast<float>(1.0 / std::sqrt(norm));
    for (auto& [word, weight] : vec[i]) {
      weight *= scale;
      postings[word].push_back({i, weight});
    }
  }
  std::vector<float> dot(num_items, 0.0f);
  std::vector<int32_t> touched;
  std::vector<std::pair<float, int32_t>> best;
  for (int32_t i = 0; i < num_items; ++i) {
    touched.clear();
    for (const auto& [word, weight] : vec[i]) {
      for (const auto& [j, other] : postings[word]) {
        if (j == i) continue;
        if (dot[j] == 0.0f) touched.push_back(j);
        dot[j] += weight * other;
      }
    }
    best.clear();
    for (int32_t j : touched) {
      if (dot[j] > 0.0f) best.push_back({dot[j], j});
      dot[j] = 0.0f;
    }
    AppendNeighborRow(&best, options.neighbors, &out);
  }
  return out;
}

}  // namespace recsys::model
