#include "bench/synth_model.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/load_stats.h"
#include "common/parallel.h"
#include "common/random.h"
#include "training/datagen.h"

namespace recsys::bench {
namespace {

using model::HistoryEntry;
using model::ItemMeta;
using model::ModelData;

// The synthesizer's generator: xoshiro256** (common/random.h) whose state
// is Mix64 chained from the seed, with paired Box-Muller normals.
class SynthRng {
 public:
  explicit SynthRng(uint64_t seed) : rng_(Rng::FromState(Chain(seed))) {}
  // Uniform in [0, 1).
  double Uniform() { return rng_.Uniform(); }
  // Uniform in [0, n).
  uint64_t Below(uint64_t n) { return rng_.UniformModulo(n); }
  double Normal() { return normal_.Next(rng_); }

 private:
  static std::array<uint64_t, 4> Chain(uint64_t seed) {
    std::array<uint64_t, 4> state;
    for (uint64_t& s : state) s = seed = Mix64(seed);
    return state;
  }
  Rng rng_;
  PairedNormal normal_;
};

// Independent generator streams per purpose and row.
enum Stream : uint64_t { kCenters = 1, kItems = 2, kUsers = 3, kPermutation = 4 };
SynthRng RowRng(uint64_t seed, Stream stream, int64_t row) {
  return SynthRng(Mix64(seed) ^ Mix64((stream << 56) ^ static_cast<uint64_t>(row)));
}

int Digits(int64_t n) {
  int d = 1;
  while (n >= 10) {
    n /= 10;
    ++d;
  }
  return d;
}

}  // namespace

absl::StatusOr<ModelData> SynthesizeModel(const SynthOptions& o) {
  if (o.users < 1) return absl::InvalidArgumentError("users: must be >= 1");
  if (o.items < 1) return absl::InvalidArgumentError("items: must be >= 1");
  if (o.items > INT32_MAX || o.users > INT32_MAX) {
    return absl::InvalidArgumentError("users/items: must fit in int32");
  }
  if (o.dim < 1) return absl::InvalidArgumentError("dim: must be >= 1");
  if (o.centers < 0) return absl::InvalidArgumentError("centers: must be >= 0");
  if (!(o.item_spread >= 0) || !(o.user_spread >= 0)) {
    return absl::InvalidArgumentError("item_spread/user_spread: must be >= 0");
  }
  if (o.max_user_centers < 1) return absl::InvalidArgumentError("max_user_centers: must be >= 1");
  if (!(o.history_mean >= 1)) return absl::InvalidArgumentError("history_mean: must be >= 1");
  if (o.threads < 0) return absl::InvalidArgumentError("threads: must be >= 0");
  const int threads = o.threads > 0 ? o.threads
                                    : std::max(1u, std::thread::hardware_concurrency());
  const int dim = o.dim;
  const int64_t num_centers =
      o.centers > 0 ? o.centers : std::max<int64_t>(1, o.items / 400);
  const std::vector<std::string>& categories = training::ShopCategories();

  ModelData d;
  d.dim = dim;

  // Centers: random unit directions.
  std::vector<float> centers(static_cast<size_t>(num_centers) * dim);
  for (int64_t c = 0; c < num_centers; ++c) {
    SynthRng rng = RowRng(o.seed, kCenters, c);
    double norm = 0;
    float* v = centers.data() + c * dim;
    for (int j = 0; j < dim; ++j) {
      v[j] = static_cast<float>(rng.Normal());
      norm += static_cast<double>(v[j]) * v[j];
    }
    const float inv = norm > 0 ? static_cast<float>(1 / std::sqrt(norm)) : 0.0f;
    for (int j = 0; j < dim; ++j) v[j] *= inv;
  }

  // Popularity ranks: a seeded permutation of the items.
  std::vector<int32_t> rank(o.items);
  for (int64_t i = 0; i < o.items; ++i) rank[i] = static_cast<int32_t>(i);
  {
    SynthRng rng = RowRng(o.seed, kPermutation, 0);
    for (int64_t i = o.items - 1; i > 0; --i) {
      std::swap(rank[i], rank[rng.Below(static_cast<uint64_t>(i + 1))]);
    }
  }

  // Items.
  const int item_width = std::max(6, Digits(o.items - 1));
  const double item_noise = o.item_spread / std::sqrt(static_cast<double>(dim));
  d.items.resize(o.items);
  d.item_factors.resize(static_cast<size_t>(o.items) * dim);
  std::vector<int32_t> item_center(o.items);
  const int64_t item_slice = (o.items + threads - 1) / threads;
  ParallelFor(o.items, threads, item_slice, [&](int, int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      SynthRng rng = RowRng(o.seed, kItems, i);
      const int64_t c = static_cast<int64_t>(rng.Below(num_centers));
      item_center[i] = static_cast<int32_t>(c);
      const double popularity = o.items > 1 ? 1.0 - static_cast<double>(rank[i]) / (o.items - 1)
                                            : 1.0;
      const float scale = static_cast<float>(0.8 + 0.4 * popularity);
      float* v = d.item_factors.data() + i * dim;
      const float* center = centers.data() + c * dim;
      for (int j = 0; j < dim; ++j) {
        v[j] = scale * static_cast<float>(center[j] + item_noise * rng.Normal());
      }
      ItemMeta& it = d.items[i];
      it.item_id = absl::StrFormat("i%0*d", item_width, i);
      const size_t category = static_cast<size_t>(c) % categories.size();
      it.category = categories[category];
      const double mu = 1.0 + 3.0 * static_cast<double>((category * 7) % 17) / 17.0;
      it.price = std::round(std::exp(mu + 0.5 * rng.Normal()) * 100) / 100;
      it.buyers = static_cast<int32_t>(std::max(
          1.0, static_cast<double>(o.users) / 100 / std::pow(rank[i] + 1.0, 0.8)));
      it.purchases = static_cast<int64_t>(it.buyers) * (1 + static_cast<int64_t>(rng.Below(3)));
    }
  });
  std::vector<std::vector<int32_t>> center_items(num_centers);
  for (int64_t i = 0; i < o.items; ++i) {
    center_items[item_center[i]].push_back(static_cast<int32_t>(i));
  }

  // Users and their purchases.
  const int user_width = std::max(7, Digits(o.users - 1));
  const double user_noise = o.user_spread / std::sqrt(static_cast<double>(dim));
  const double stop = 1.0 / o.history_mean;  // geometric extra purchases
  constexpr int kMaxHistory = 20;
  d.user_ids.resize(o.users);
  d.user_factors.resize(static_cast<size_t>(o.users) * dim);
  // Per slice of users, joined in user order.
  const int64_t slice = (o.users + threads - 1) / threads;
  std::vector<std::vector<HistoryEntry>> histories(threads);
  std::vector<std::vector<int32_t>> lengths(threads);
  ParallelFor(o.users, threads, slice, [&](int, int64_t begin, int64_t end) {
    std::vector<HistoryEntry>& history = histories[begin / slice];
    std::vector<int32_t>& length = lengths[begin / slice];
    std::vector<int64_t> mine;
    std::vector<double> weight;
    for (int64_t u = begin; u < end; ++u) {
      SynthRng rng = RowRng(o.seed, kUsers, u);
      d.user_ids[u] = absl::StrFormat("u%0*d", user_width, u);
      const int m = 1 + static_cast<int>(rng.Below(o.max_user_centers));
      mine.clear();
      weight.clear();
      double total = 0;
      for (int j = 0; j < m; ++j) {
        mine.push_back(static_cast<int64_t>(rng.Below(num_centers)));
        weight.push_back(0.2 + rng.Uniform());
        total += weight.back();
      }
      float* v = d.user_factors.data() + u * dim;
      for (int j = 0; j < dim; ++j) v[j] = static_cast<float>(user_noise * rng.Normal());
      for (int j = 0; j < m; ++j) {
        const float w = static_cast<float>(weight[j] / total);
        const float* center = centers.data() + mine[j] * dim;
        for (int x = 0; x < dim; ++x) v[x] += w * center[x];
      }
      int count = 1;
      while (count < kMaxHistory && rng.Uniform() >= stop) ++count;
      const size_t first = history.size();
      for (int h = 0; h < count; ++h) {
        double pick = rng.Uniform() * total;
        int j = 0;
        while (j + 1 < m && pick >= weight[j]) pick -= weight[j++];
        const std::vector<int32_t>& pool = center_items[mine[j]];
        const int32_t item = pool.empty() ? static_cast<int32_t>(rng.Below(o.items))
                                          : pool[rng.Below(pool.size())];
        bool repeated = false;
        for (size_t e = first; e < history.size(); ++e) repeated |= history[e].item == item;
        if (repeated) continue;
        history.push_back({item, 1 + static_cast<int32_t>(rng.Below(3)),
                           o.last_event_unix - static_cast<int64_t>(rng.Below(365 * 86400))});
      }
      length.push_back(static_cast<int32_t>(history.size() - first));
    }
  });
  d.history_indptr.reserve(o.users + 1);
  d.history_indptr.push_back(0);
  size_t total_history = 0;
  for (const auto& h : histories) total_history += h.size();
  d.history.reserve(total_history);
  for (int t = 0; t < threads; ++t) {
    for (int32_t n : lengths[t]) d.history_indptr.push_back(d.history_indptr.back() + n);
    d.history.insert(d.history.end(), histories[t].begin(), histories[t].end());
    std::vector<HistoryEntry>().swap(histories[t]);
  }

  recsys::v1::TrainingParams* params = d.manifest.mutable_params();
  params->set_factors(dim);
  params->set_regularization(0.05f);
  params->set_alpha(3);
  params->set_confidence("linear");
  params->set_signal("events");
  recsys::v1::DataStats* stats = d.manifest.mutable_data();
  stats->set_source(absl::StrFormat(
      "synthetic: %d users x %d items x %d dims, %d centers, seed %d", o.users, o.items, dim,
      num_centers, o.seed));
  stats->set_format("synthetic");
  stats->set_users(static_cast<int32_t>(o.users));
  stats->set_items(static_cast<int32_t>(o.items));
  stats->set_interactions(static_cast<int64_t>(d.history.size()));
  stats->set_first_event_unix(o.last_event_unix - 365 * 86400);
  stats->set_last_event_unix(o.last_event_unix);
  stats->set_density(static_cast<double>(d.history.size()) /
                     (static_cast<double>(o.users) * static_cast<double>(o.items)));
  return d;
}

}  // namespace recsys::bench
