#include "training/als_bench_data.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace recsys::training {
namespace {

constexpr int64_t kMaxIndex = std::numeric_limits<int32_t>::max();

absl::Status CheckConfidence(const ConfidenceOptions& confidence) {
  RECSYS_RETURN_IF_ERROR(ValidateConfidenceOptions(confidence));
  if (confidence.decay_half_life_days > 0) {
    return absl::InvalidArgumentError(
        "time decay needs timestamps; benchmark matrices have none");
  }
  return absl::OkStatus();
}

}  // namespace

float PairConfidence(double r, const ConfidenceOptions& options) {
  const double c = options.scaling == ConfidenceScaling::kLog
                       ? 1.0 + options.alpha * std::log1p(r / options.epsilon)
                       : 1.0 + options.alpha * r;
  return static_cast<float>(c);
}

absl::StatusOr<CsrMatrix> ReadPairsConfidence(
    const std::string& path, const ConfidenceOptions& confidence,
    ReadStats* stats) {
  RECSYS_RETURN_IF_ERROR(CheckConfidence(confidence));
  absl::flat_hash_map<std::string, int32_t> users;
  absl::flat_hash_map<std::string, int32_t> items;
  // (user << 32 | item), one per used row.
  std::vector<uint64_t> pairs;
  bool too_many = false;
  auto index_of = [&too_many](absl::flat_hash_map<std::string, int32_t>* ids,
                              const std::string& id) -> uint32_t {
    if (ids->size() >= static_cast<size_t>(kMaxIndex)) {
      const auto it = ids->find(id);
      if (it != ids->end()) return static_cast<uint32_t>(it->second);
      too_many = true;
      return 0;
    }
    const auto [it, inserted] =
        ids->try_emplace(id, static_cast<int32_t>(ids->size()));
    return static_cast<uint32_t>(it->second);
  };
  ReadOptions read;
  read.format = PurchaseFormat::kPairs;
  RECSYS_RETURN_IF_ERROR(ReadPurchases(
      path, read,
      [&](const PurchaseRow& row) {
        if (too_many) return;
        const uint64_t u = index_of(&users, row.user_id);
        const uint64_t i = index_of(&items, row.item_id);
        pairs.push_back(u << 32 | i);
      },
      stats));
  if (too_many) {
    return absl::ResourceExhaustedError(
        absl::StrCat(path, ": more than ", kMaxIndex, " users or items"));
  }
  CsrMatrix m;
  m.rows = static_cast<int32_t>(users.size());
  m.cols = static_cast<int32_t>(items.size());
  // The id maps are not needed any more; free them before the CSR grows.
  users = {};
  items = {};
  std::sort(pairs.begin(), pairs.end());
  int64_t distinct = 0;
  for (size_t k = 0; k < pairs.size(); ++k) {
    distinct += (k == 0 || pairs[k] != pairs[k - 1]) ? 1 : 0;
  }
  m.indptr.assign(static_cast<size_t>(m.rows) + 1, 0);
  m.indices.reserve(distinct);
  m.values.reserve(distinct);
  for (size_t k = 0; k < pairs.size();) {
    size_t end = k + 1;
    while (end < pairs.size() && pairs[end] == pairs[k]) ++end;
    const uint32_t u = static_cast<uint32_t>(pairs[k] >> 32);
    ++m.indptr[u + 1];
    m.indices.push_back(static_cast<int32_t>(pairs[k] & 0xFFFFFFFFu));
    m.values.push_back(
        PairConfidence(static_cast<double>(end - k), confidence));
    k = end;
  }
  for (int32_t r = 0; r < m.rows; ++r) m.indptr[r + 1] += m.indptr[r];
  return m;
}

absl::StatusOr<CsrMatrix> GenerateSyntheticConfidence(
    const SyntheticMatrixOptions& o, const ConfidenceOptions& confidence) {
  RECSYS_RETURN_IF_ERROR(CheckConfidence(confidence));
  if (o.users < 1 || o.items < 1) {
    return absl::InvalidArgumentError("users and items must be >= 1");
  }
  if (o.nnz < 0 || o.nnz > static_cast<int64_t>(o.users) * o.items) {
    return absl::InvalidArgumentError("nnz must be in [0, users * items]");
  }
  if (!std::isfinite(o.zipf_exponent) || o.zipf_exponent < 0) {
    return absl::InvalidArgumentError("zipf_exponent must be >= 0");
  }
  SplitMix64 rng(o.seed);
  const int32_t items = o.items;

  // Item of each popularity rank (Fisher-Yates) and the cumulative
  // distribution over ranks.
  std::vector<int32_t> item_of_rank(items);
  for (int32_t k = 0; k < items; ++k) item_of_rank[k] = k;
  for (int32_t k = items - 1; k > 0; --k) {
    std::swap(item_of_rank[k], item_of_rank[rng.UniformMulShift64(k + 1)]);
  }
  std::vector<double> cdf(items);
  double total = 0;
  for (int32_t k = 0; k < items; ++k) {
    total += std::pow(static_cast<double>(k + 1), -o.zipf_exponent);
    cdf[k] = total;
  }
  for (double& v : cdf) v /= total;
  cdf.back() = 1.0;

  CsrMatrix m;
  m.rows = o.users;
  m.cols = items;
  // Row lengths (in indptr[r + 1] first, prefix-summed below).
  m.indptr.assign(static_cast<size_t>(o.users) + 1, 0);
  const double mean = static_cast<double>(o.nnz) / o.users;
  const double log_keep = mean > 1 ? std::log(1.0 - 1.0 / mean) : 0.0;
  int64_t sum = 0;
  for (int32_t r = 0; r < o.users; ++r) {
    const int64_t len = std::min<int64_t>(items, 1 + rng.Geometric(log_keep));
    m.indptr[r + 1] = len;
    sum += len;
  }
  // Exact total: add or remove one entry per row, round robin.
  for (int32_t r = 0; sum != o.nnz; r = (r + 1) % o.users) {
    int64_t& len = m.indptr[r + 1];
    if (sum < o.nnz && len < items) {
      ++len;
      ++sum;
    } else if (sum > o.nnz && len > 0) {
      --len;
      --sum;
    }
  }
  for (int32_t r = 0; r < o.users; ++r) m.indptr[r + 1] += m.indptr[r];

  m.indices.resize(o.nnz);
  m.values.resize(o.nnz);
  // last_row[item] == r when row r already holds the item.
  std::vector<int32_t> last_row(items, -1);
  const double log_repeat = std::log(1.0 / 3.0);  // P(r > k) = 3^-k, mean 1.5
  for (int32_t r = 0; r < o.users; ++r) {
    const int64_t begin = m.indptr[r];
    const int64_t end = m.indptr[r + 1];
    for (int64_t k = begin; k < end;) {
      const double u = rng.Uniform();
      const int32_t rank = static_cast<int32_t>(
          std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
      const int32_t item = item_of_rank[std::min(rank, items - 1)];
      if (last_row[item] == r) continue;
      last_row[item] = r;
      m.indices[k++] = item;
    }
    std::sort(m.indices.begin() + begin, m.indices.begin() + end);
    for (int64_t k = begin; k < end; ++k) {
      const double count = 1.0 + static_cast<double>(rng.Geometric(log_repeat));
      m.values[k] = PairConfidence(count, confidence);
    }
  }
  return m;
}

}  // namespace recsys::training
