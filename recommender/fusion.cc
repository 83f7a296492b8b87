#include "recommender/fusion.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"

namespace recsys::recommender {
namespace {

const CandidateList& ListOf(const CandidateLists& lists, Source source) {
  static const CandidateList* const kEmpty = new CandidateList();
  auto it = lists.find(source);
  return it == lists.end() ? *kEmpty : it->second;
}

}  // namespace

std::vector<FusedCandidate> FuseRanks(const std::vector<std::pair<Source, float>>& sources,
                                      const CandidateLists& lists) {
  std::vector<FusedCandidate> merged;
  absl::flat_hash_map<int32_t, size_t> merged_at;
  {
    size_t candidates = 0;
    for (const auto& [source, weight] : sources) {
      candidates += ListOf(lists, source).candidates.size();
    }
    merged.reserve(candidates);
    merged_at.reserve(candidates);
  }
  for (const auto& [source, weight] : sources) {
    const CandidateList& list = ListOf(lists, source);
    const std::vector<Candidate>& candidates = list.candidates;
    for (size_t r = 0; r < candidates.size(); ++r) {
      const float contribution = weight / (1.0f + static_cast<float>(r));
      auto [it, inserted] = merged_at.emplace(candidates[r].row, merged.size());
      if (inserted) {
        merged.push_back({candidates[r].row, 0.0f, -1.0f, nullptr, false});
      }
      FusedCandidate& m = merged[it->second];
      m.score += contribution;
      m.from_repurchase = m.from_repurchase || list.repurchase;
      if (contribution > m.best) {
        m.best = contribution;
        m.why = &candidates[r];
      }
    }
  }
  return merged;
}

std::vector<size_t> FusedOrder(const std::vector<FusedCandidate>& fused) {
  std::vector<size_t> order(fused.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (fused[a].score != fused[b].score) return fused[a].score > fused[b].score;
    return fused[a].row < fused[b].row;
  });
  return order;
}

}  // namespace recsys::recommender
