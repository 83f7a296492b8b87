#include "training/ranker_fit.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/dot.h"
#include "common/parallel.h"
#include "common/status_macros.h"
#include "model/vector_index.h"
#include "training/trainer.h"

namespace recsys::training {
namespace {

using model::HistoryEntry;
using model::kNumRankerFeatures;

// Features plus a constant 1 for the bias.
constexpr int kDims = kNumRankerFeatures + 1;

// Solves a (kDims x kDims, SPD) * s = g in place (Cholesky); false if not
// positive definite.
bool Solve(std::vector<double> a, std::vector<double>* g) {
  const int n = kDims;
  for (int j = 0; j < n; ++j) {
    double d = a[j * n + j];
    for (int k = 0; k < j; ++k) d -= a[j * n + k] * a[j * n + k];
    if (d <= 0) return false;
    d = std::sqrt(d);
    a[j * n + j] = d;
    for (int i = j + 1; i < n; ++i) {
      double s = a[i * n + j];
      for (int k = 0; k < j; ++k) s -= a[i * n + k] * a[j * n + k];
      a[i * n + j] = s / d;
    }
  }
  std::vector<double>& b = *g;
  for (int i = 0; i < n; ++i) {
    double s = b[i];
    for (int k = 0; k < i; ++k) s -= a[i * n + k] * b[k];
    b[i] = s / a[i * n + i];
  }
  for (int i = n - 1; i >= 0; --i) {
    double s = b[i];
    for (int k = i + 1; k < n; ++k) s -= a[k * n + i] * b[k];
    b[i] = s / a[i * n + i];
  }
  return true;
}

// Logistic regression with L2 (bias unpenalized), Newton's method, over n
// rows of kDims (the last a constant 1).
absl::StatusOr<std::vector<double>> FitLogistic(const std::vector<float>& x,
                                                const std::vector<uint8_t>& labels,
                                                const RankerFitOptions& options, double* loss_out) {
  const int64_t n = static_cast<int64_t>(labels.size());
  // The sums over the examples are taken per block of kBlock rows (in
  // parallel) and the blocks are added in order, so the weights do not
  // depend on the number of threads.
  constexpr int64_t kBlock = 8192;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  struct Sums {
    std::vector<double> grad, hess;
    double loss = 0;
  };
  std::vector<Sums> partial(blocks);
  std::vector<double> w(kDims, 0.0);
  double loss = 0;
  for (int iter = 0; iter < options.max_iterations; ++iter) {
    ParallelFor(blocks, std::max(1, options.threads), 1,
                [&](int, int64_t begin, int64_t end) {
                  for (int64_t block = begin; block < end; ++block) {
                    Sums& sums = partial[block];
                    sums.grad.assign(kDims, 0.0);
                    sums.hess.assign(kDims * kDims, 0.0);
                    sums.loss = 0;
                    const int64_t last = std::min(n, (block + 1) * kBlock);
                    for (int64_t i = block * kBlock; i < last; ++i) {
                      const float* xi = x.data() + i * kDims;
                      double z = 0;
                      for (int d = 0; d < kDims; ++d) z += w[d] * xi[d];
                      const double p = 1.0 / (1.0 + std::exp(-z));
                      const double y = labels[i];
                      sums.loss += y > 0 ? -std::log(std::max(p, 1e-12))
                                         : -std::log(std::max(1 - p, 1e-12));
                      const double r = p - y;
                      const double s = std::max(p * (1 - p), 1e-9);
                      for (int a = 0; a < kDims; ++a) {
                        sums.grad[a] += r * xi[a];
                        const double sa = s * xi[a];
                        for (int b = 0; b <= a; ++b)
                          sums.hess[a * kDims + b] += sa * xi[b];
                      }
                    }
                  }
                });
    std::vector<double> grad(kDims, 0.0), hess(kDims * kDims, 0.0);
    loss = 0;
    for (const Sums& sums : partial) {
      loss += sums.loss;
      for (int a = 0; a < kDims; ++a) {
        grad[a] += sums.grad[a];
        for (int b = 0; b <= a; ++b)
          hess[a * kDims + b] += sums.hess[a * kDims + b];
      }
    }
    loss /= n;
    for (int a = 0; a < kDims; ++a) {
      grad[a] /= n;
      for (int b = 0; b <= a; ++b) {
        hess[a * kDims + b] /= n;
        hess[b * kDims + a] = hess[a * kDims + b];
      }
    }
    for (int a = 0; a < kNumRankerFeatures; ++a) {
      grad[a] += 2 * options.l2 * w[a];
      hess[a * kDims + a] += 2 * options.l2;
    }
    hess[(kDims - 1) * kDims + (kDims - 1)] += 1e-9;
    std::vector<double> step = grad;
    if (!Solve(hess, &step)) return absl::InternalError("ranker fit: singular Hessian");
    double norm = 0;
    for (int d = 0; d < kDims; ++d) {
      w[d] -= step[d];
      norm += step[d] * step[d];
    }
    if (norm < 1e-12) break;
  }
  *loss_out = loss;
  return w;
}

}  // namespace

absl::string_view RankerFeatureSetName(RankerFeatureSet set) {
  switch (set) {
    case RankerFeatureSet::kBase: return "base";
    case RankerFeatureSet::kNeighbors: return "neighbors";
    case RankerFeatureSet::kNeighborsTrending: return "neighbors+trending";
    case RankerFeatureSet::kContent: return "neighbors+trending+content";
  }
  return "base";
}

absl::StatusOr<RankerExamples> BuildRankerExamples(
    const model::RankerModel& model, absl::Span<const float> user_factors,
    absl::Span<const int64_t> history_indptr, absl::Span<const HistoryEntry> history,
    const std::vector<std::vector<int32_t>>& window_items, int64_t now_unix,
    const RankerFitOptions& options) {
  if (model.index == nullptr || model.item_stats == nullptr || model.dim < 1) {
    return absl::InvalidArgumentError("model: index, item_stats and dim are required");
  }
  const int64_t num_users =
      history_indptr.empty() ? 0 : static_cast<int64_t>(history_indptr.size()) - 1;
  if (!user_factors.empty() &&
      user_factors.size() != static_cast<size_t>(num_users) * model.dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "user_factors: ", user_factors.size(), " floats for ", num_users, " users x dim ",
        model.dim));
  }
  model::RankerWeights tau_weights;
  tau_weights.recency_tau_days = options.recency_tau_days;
  model::RankerModel fit_model = model;
  fit_model.weights = &tau_weights;

  // Users with window purchases, in row order, capped.
  std::vector<int32_t> users;
  for (int64_t u = 0; u < num_users && u < static_cast<int64_t>(window_items.size()); ++u) {
    if (!window_items[u].empty()) users.push_back(static_cast<int32_t>(u));
    if (static_cast<int>(users.size()) >= options.max_users) break;
  }
  if (users.empty()) {
    return absl::FailedPreconditionError("no user of the fit period bought in the window");
  }

  // Candidates (every source) and features per user, in parallel; merged in
  // user order so the result does not depend on the thread count.
  const int threads = std::max(1, options.threads);
  std::vector<RankerExamples> per_user(users.size());
  std::atomic<bool> failed{false};
  ParallelFor(static_cast<int64_t>(users.size()), threads, 1, [&](int, int64_t begin,
                                                                  int64_t end) {
    for (int64_t idx = begin; idx < end; ++idx) {
      const int32_t u = users[idx];
      RankerExamples& ex = per_user[idx];
      absl::Span<const HistoryEntry> h = history.subspan(
          history_indptr[u], history_indptr[u + 1] - history_indptr[u]);
      model::RankerUser user;
      if (!user_factors.empty()) {
        user.vector = user_factors.subspan(static_cast<size_t>(u) * model.dim, model.dim);
      }
      user.history = h;
      const model::RankerUserStats stats = model::ComputeRankerUserStats(h);
      model::RankOptions rank;
      rank.vector_candidates = options.vector_candidates;
      auto candidates = model::CollectRankerCandidates(fit_model, user, rank);
      if (!candidates.ok()) {
        failed = true;
        return;
      }
      absl::flat_hash_set<int32_t> positives(window_items[u].begin(), window_items[u].end());
      ex.window_items = static_cast<int64_t>(positives.size());
      ex.users = 1;
      float f[kNumRankerFeatures];
      for (const model::RankerCandidate& c : *candidates) {
        model::RankerFeatures(fit_model, stats, c, now_unix, f);
        ex.x.insert(ex.x.end(), f, f + kNumRankerFeatures);
        ex.x.push_back(1.0f);
        ex.y.push_back(positives.contains(c.item) ? 1 : 0);
        ex.sources.push_back(c.sources);
      }
    }
  });
  if (failed) return absl::InternalError("vector search failed while building examples");

  // Reserved at the exact size: growing by doubling would hold up to three
  // copies of the largest array at once.
  RankerExamples all;
  size_t rows = 0;
  for (const RankerExamples& ex : per_user) rows += ex.y.size();
  all.x.reserve(rows * kDims);
  all.y.reserve(rows);
  all.sources.reserve(rows);
  for (RankerExamples& ex : per_user) {
    all.x.insert(all.x.end(), ex.x.begin(), ex.x.end());
    all.y.insert(all.y.end(), ex.y.begin(), ex.y.end());
    all.sources.insert(all.sources.end(), ex.sources.begin(), ex.sources.end());
    all.window_items += ex.window_items;
    all.users += ex.users;
    ex = RankerExamples();
  }
  return all;
}

absl::StatusOr<RankerFitResult> FitRankerWeights(const RankerExamples& examples,
                                                 const RankerFitOptions& options) {
  // The rows and columns of the feature set: candidates of its sources only,
  // the features it does not use at 0 (so their weights stay 0).
  uint8_t sources = model::kSourceVector | model::kSourceHistory;
  const std::vector<int> content = {model::kFeatTitleScore, model::kFeatTitleRank};
  std::vector<int> unused;
  switch (options.feature_set) {
    case RankerFeatureSet::kBase:
      unused = {model::kFeatKnnScore, model::kFeatKnnRank, model::kFeatTrending};
      unused.insert(unused.end(), content.begin(), content.end());
      break;
    case RankerFeatureSet::kNeighbors:
      sources |= model::kSourceNeighbors;
      unused = {model::kFeatTrending};
      unused.insert(unused.end(), content.begin(), content.end());
      break;
    case RankerFeatureSet::kNeighborsTrending:
      sources |= model::kSourceNeighbors | model::kSourcePopular;
      unused = content;
      break;
    case RankerFeatureSet::kContent:
      sources |= model::kSourceNeighbors | model::kSourcePopular | model::kSourceTitle;
      break;
  }
  std::vector<float> x, xd;
  std::vector<uint8_t> y, yd;
  size_t rows = 0;
  for (uint8_t s : examples.sources) rows += (s & sources) != 0;
  x.reserve(rows * kDims);
  y.reserve(rows);
  int64_t found = 0, found_discovery = 0;
  for (size_t i = 0; i < examples.y.size(); ++i) {
    if ((examples.sources[i] & sources) == 0) continue;
    const size_t at = x.size();
    x.insert(x.end(), examples.x.begin() + i * kDims, examples.x.begin() + (i + 1) * kDims);
    for (int f : unused) x[at + f] = 0.0f;
    y.push_back(examples.y[i]);
    found += examples.y[i];
    if (options.discovery && x[at + model::kFeatBought] == 0.0f) {
      xd.insert(xd.end(), x.begin() + at, x.begin() + at + kDims);
      yd.push_back(examples.y[i]);
      found_discovery += examples.y[i];
    }
  }
  if (found == 0) {
    return absl::FailedPreconditionError(
        "no window purchase is among the candidates; cannot fit the ranker");
  }
  RankerFitResult result;
  double loss = 0;
  if (options.main_weights) {
    RECSYS_ASSIGN_OR_RETURN(std::vector<double> w,
                            FitLogistic(x, y, options, &loss));
    for (int f = 0; f < kNumRankerFeatures; ++f)
      result.weights.w[f] = static_cast<float>(w[f]);
  }
  // Discovery weights: the same fit on the candidates the user had not
  // bought (what ranks when bought items are excluded).
  if (found_discovery > 0) {
    double discovery_loss = 0;
    RankerFitOptions discovery_options = options;
    if (options.discovery_l2 >= 0) discovery_options.l2 = options.discovery_l2;
    RECSYS_ASSIGN_OR_RETURN(
        std::vector<double> d,
        FitLogistic(xd, yd, discovery_options, &discovery_loss));
    for (int f = 0; f < kNumRankerFeatures; ++f) {
      result.weights.discovery[f] = static_cast<float>(d[f]);
    }
    result.weights.has_discovery = true;
  }
  result.weights.recency_tau_days = options.recency_tau_days;
  result.users = examples.users;
  result.examples = static_cast<int64_t>(y.size());
  result.positives = found;
  result.candidate_recall =
      examples.window_items > 0 ? static_cast<double>(found) / examples.window_items : 0.0;
  result.log_loss = loss;
  result.weights.origin = absl::StrFormat(
      "logistic fit: %d users, %d examples, %d positives, candidate recall %.3f, features %s%s",
      result.users, result.examples, result.positives, result.candidate_recall,
      RankerFeatureSetName(options.feature_set),
      result.weights.has_discovery ? ", discovery weights" : "");
  return result;
}

absl::StatusOr<RankerFitResult> FitRanker(const model::RankerModel& model,
                                          absl::Span<const float> user_factors,
                                          absl::Span<const int64_t> history_indptr,
                                          absl::Span<const HistoryEntry> history,
                                          const std::vector<std::vector<int32_t>>& window_items,
                                          int64_t now_unix, const RankerFitOptions& options) {
  RECSYS_ASSIGN_OR_RETURN(RankerExamples examples,
                          BuildRankerExamples(model, user_factors, history_indptr, history,
                                              window_items, now_unix, options));
  return FitRankerWeights(examples, options);
}

WindowLabels::WindowLabels(const InteractionData& fit_period)
    : items_(fit_period.num_users()) {
  for (size_t u = 0; u < fit_period.user_ids.size(); ++u) {
    user_rows_.emplace(fit_period.user_ids[u], static_cast<int32_t>(u));
  }
  for (size_t i = 0; i < fit_period.item_ids.size(); ++i) {
    item_rows_.emplace(fit_period.item_ids[i], static_cast<int32_t>(i));
  }
}

void WindowLabels::Add(absl::string_view user_id, absl::string_view item_id) {
  auto u = user_rows_.find(user_id);
  auto i = item_rows_.find(item_id);
  if (u == user_rows_.end() || i == item_rows_.end()) return;
  items_[u->second].push_back(i->second);
}

std::vector<std::vector<int32_t>> WindowLabels::Take() {
  for (std::vector<int32_t>& items : items_) {
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
  }
  return std::move(items_);
}

absl::StatusOr<RankerFitResult> FitRankerOnWindow(
    const InteractionData& fit_period, const AlsModel& fit_model,
    const std::vector<std::vector<int32_t>>& window_items, int64_t window_start_unix,
    int64_t window_end_unix, const WindowFitOptions& options) {
  if (fit_model.num_users != fit_period.num_users() ||
      fit_model.num_items != fit_period.num_items()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "fit model: ", fit_model.num_users, " users x ", fit_model.num_items,
        " items for a fit period of ", fit_period.num_users(), " x ",
        fit_period.num_items()));
  }
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<model::VectorIndex> index,
                          model::VectorIndex::Create(
                              fit_model.factors, options.index_spec,
                              model::Metric::kInnerProduct));
  RECSYS_RETURN_IF_ERROR(index->Add(fit_model.item_factors));
  const model::ModelData history = BuildModelData(fit_period, AlsModel(), {});
  model::RankerItemStats item_stats = model::ComputeRankerItemStats(
      fit_period.num_items(), history.history_indptr, history.history);
  model::AddRankerContentStats(history.items, {}, &item_stats);
  // FitRanker supplies its own weights.
  const model::RankerModel model = model::MakeRankerModel(
      index.get(), fit_model.item_factors, fit_model.factors, &item_stats, nullptr);
  RECSYS_ASSIGN_OR_RETURN(
      RankerFitResult result,
      FitRanker(model, fit_model.user_factors, history.history_indptr, history.history,
                window_items, window_start_unix, options.fit));
  auto date = [](int64_t unix) {
    return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(unix), absl::UTCTimeZone());
  };
  result.weights.origin = absl::StrCat("fit on the window ", date(window_start_unix), "..",
                                       date(window_end_unix), " (", result.weights.origin, ")");
  return result;
}

}  // namespace recsys::training
