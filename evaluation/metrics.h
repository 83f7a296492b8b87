// Ranking metrics of the offline evaluation (docs/evaluation.md).
//
// A recommendation list is a sequence of distinct item ids, best first; the
// relevant set is the sorted, distinct ids the user actually bought in the
// test period. With T the relevant set, L the list cut at K and
// rel_r = 1 when the item at rank r (1-based) is in T:
//
//   Recall@K  = |L ∩ T| / min(|T|, K)
//   DCG@K     = sum_r rel_r / log2(r + 1)
//   NDCG@K    = DCG@K / sum_{r=1..min(|T|,K)} 1 / log2(r + 1)
//   HitRate@K = 1 if |L ∩ T| > 0 else 0
//   AP@K      = (1 / min(|T|, K)) sum_r rel_r * |L[1..r] ∩ T| / r
//   MAP@K     = mean of AP@K over users
//   Coverage@K = |union of all users' L| / catalog size
//
// The leave-one-out protocol (one held-out item ranked among sampled
// negatives) uses HR@K = [rank < K] and NDCG@K = 1 / log2(rank + 2) when
// rank < K, with the 0-based rank counting the negatives scored at least as
// high as the held-out item (ties go against the model).
//
// Thread safety: the free functions are pure. MetricsAccumulator is not
// thread-safe; use one per thread and Merge().
#ifndef RECSYS_EVALUATION_METRICS_H_
#define RECSYS_EVALUATION_METRICS_H_

#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace recsys::evaluation {

// Metrics of one list at one K.
struct ListMetrics {
  double recall = 0;
  double ndcg = 0;
  double hit = 0;
  double ap = 0;
};

// Scores `ranked` (distinct ids, best first; entries after the first k are
// ignored) against `relevant` (sorted, distinct). An empty relevant set
// scores 0 everywhere. REQUIRES: k >= 1.
ListMetrics ScoreList(absl::Span<const int32_t> ranked,
                      absl::Span<const int32_t> relevant, int k);

// Means over users at one K.
struct MetricsAtK {
  int k = 0;
  double recall = 0;
  double ndcg = 0;
  double hit_rate = 0;
  double map = 0;
  // Share of the catalog appearing in at least one top-k list.
  double coverage = 0;
};

// Accumulates ScoreList over users at several cut-offs.
class MetricsAccumulator {
 public:
  // `ks`: cut-offs (each >= 1); `catalog_size`: the denominator of coverage
  // (ids in lists are expected in [0, catalog_size)).
  MetricsAccumulator(std::vector<int> ks, int32_t catalog_size);

  // Adds one user's list (at least max(ks) long when enough items exist).
  void Add(absl::Span<const int32_t> ranked,
           absl::Span<const int32_t> relevant);
  // Adds another accumulator's users. REQUIRES: same ks and catalog size.
  void Merge(const MetricsAccumulator& other);

  int64_t users() const { return users_; }
  // One entry per k, in the order given to the constructor.
  std::vector<MetricsAtK> Results() const;

 private:
  std::vector<int> ks_;
  int32_t catalog_size_;
  int64_t users_ = 0;
  std::vector<ListMetrics> sums_;
  // Per k: for each catalog id, whether it appeared in a top-k list.
  std::vector<std::vector<bool>> seen_;
};

// 0-based rank of the held-out item's score among `negatives` (the number of
// negatives scoring >= positive; NaN scores count as ahead).
int LeaveOneOutRank(float positive, absl::Span<const float> negatives);

// HR@k and NDCG@k of a 0-based rank.
double HitAt(int rank, int k);
double NdcgAt(int rank, int k);

}  // namespace recsys::evaluation

#endif  // RECSYS_EVALUATION_METRICS_H_
