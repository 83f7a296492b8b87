#include "evaluation/metrics.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace recsys::evaluation {

ListMetrics ScoreList(absl::Span<const int32_t> ranked,
                      absl::Span<const int32_t> relevant, int k) {
  ListMetrics m;
  if (relevant.empty() || k < 1) return m;
  const int n = std::min<int>(k, static_cast<int>(ranked.size()));
  const int ideal = std::min<int>(k, static_cast<int>(relevant.size()));
  int hits = 0;
  double dcg = 0;
  double precision_sum = 0;
  for (int r = 0; r < n; ++r) {
    if (!std::binary_search(relevant.begin(), relevant.end(), ranked[r])) {
      continue;
    }
    ++hits;
    dcg += 1.0 / std::log2(r + 2.0);
    precision_sum += static_cast<double>(hits) / (r + 1);
  }
  double idcg = 0;
  for (int r = 0; r < ideal; ++r) idcg += 1.0 / std::log2(r + 2.0);
  m.recall = static_cast<double>(hits) / ideal;
  m.ndcg = dcg / idcg;
  m.hit = hits > 0 ? 1.0 : 0.0;
  m.ap = precision_sum / ideal;
  return m;
}

MetricsAccumulator::MetricsAccumulator(std::vector<int> ks,
                                       int32_t catalog_size)
    : ks_(std::move(ks)),
      catalog_size_(catalog_size),
      sums_(ks_.size()),
      seen_(ks_.size(), std::vector<bool>(std::max(0, catalog_size))) {}

void MetricsAccumulator::Add(absl::Span<const int32_t> ranked,
                             absl::Span<const int32_t> relevant) {
  ++users_;
  for (size_t j = 0; j < ks_.size(); ++j) {
    const ListMetrics m = ScoreList(ranked, relevant, ks_[j]);
    sums_[j].recall += m.recall;
    sums_[j].ndcg += m.ndcg;
    sums_[j].hit += m.hit;
    sums_[j].ap += m.ap;
    const int n = std::min<int>(ks_[j], static_cast<int>(ranked.size()));
    for (int r = 0; r < n; ++r) {
      if (ranked[r] >= 0 && ranked[r] < catalog_size_) {
        seen_[j][ranked[r]] = true;
      }
    }
  }
}

void MetricsAccumulator::Merge(const MetricsAccumulator& other) {
  users_ += other.users_;
  for (size_t j = 0; j < ks_.size() && j < other.ks_.size(); ++j) {
    sums_[j].recall += other.sums_[j].recall;
    sums_[j].ndcg += other.sums_[j].ndcg;
    sums_[j].hit += other.sums_[j].hit;
    sums_[j].ap += other.sums_[j].ap;
    for (size_t i = 0; i < seen_[j].size() && i < other.seen_[j].size(); ++i) {
      if (other.seen_[j][i]) seen_[j][i] = true;
    }
  }
}

std::vector<MetricsAtK> MetricsAccumulator::Results() const {
  std::vector<MetricsAtK> out;
  out.reserve(ks_.size());
  for (size_t j = 0; j < ks_.size(); ++j) {
    MetricsAtK m;
    m.k = ks_[j];
    if (users_ > 0) {
      const double n = static_cast<double>(users_);
      m.recall = sums_[j].recall / n;
      m.ndcg = sums_[j].ndcg / n;
      m.hit_rate = sums_[j].hit / n;
      m.map = sums_[j].ap / n;
    }
    if (catalog_size_ > 0) {
      const int64_t covered =
          std::count(seen_[j].begin(), seen_[j].end(), true);
      m.coverage = static_cast<double>(covered) / catalog_size_;
    }
    out.push_back(m);
  }
  return out;
}

int LeaveOneOutRank(float positive, absl::Span<const float> negatives) {
  int rank = 0;
  for (float s : negatives) {
    if (!(s < positive)) ++rank;
  }
  return rank;
}

double HitAt(int rank, int k) { return rank < k ? 1.0 : 0.0; }

double NdcgAt(int rank, int k) {
  return rank < k ? 1.0 / std::log2(rank + 2.0) : 0.0;
}

}  // namespace recsys::evaluation
