#include "evaluation/models.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/dot.h"
#include "common/parallel.h"
#include "common/random.h"
#include "common/status_macros.h"
#include "model/ease.h"

namespace recsys::evaluation {
namespace {

using training::CsrMatrix;
using training::InteractionData;

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

absl::Span<const int32_t> UserItems(const InteractionData& data, int32_t u) {
  const CsrMatrix& m = data.events;
  return {m.indices.data() + m.row_begin(u),
          static_cast<size_t>(m.row_end(u) - m.row_begin(u))};
}

std::string Fmt(double v) { return absl::StrFormat("%g", v); }

class PopularityModel : public Model {
 public:
  PopularityModel(const InteractionData* data, int days)
      : Model(data), days_(days) {
    const int32_t n = data->num_items();
    std::vector<int64_t> buyers(n, 0);
    std::vector<int64_t> events(n, 0);
    const CsrMatrix& m = data->events;
    const int64_t since =
        days > 0 ? data->last_event_unix - static_cast<int64_t>(days) * 86400
                 : std::numeric_limits<int64_t>::min();
    for (int64_t k = 0; k < m.nnz(); ++k) {
      if (data->last_unix[k] < since) continue;
      ++buyers[m.indices[k]];
      events[m.indices[k]] += static_cast<int64_t>(m.values[k]);
    }
    std::vector<int32_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
      if (buyers[a] != buyers[b]) return buyers[a] > buyers[b];
      return events[a] > events[b];
    });
    score_.assign(n, kNegInf);
    for (int32_t r = 0; r < n; ++r) {
      // Items nobody bought (in the window) stay unranked.
      if (buyers[order[r]] > 0) score_[order[r]] = static_cast<float>(n - r);
    }
  }
  std::string name() const override { return "popularity"; }
  ModelParams params() const override {
    return {{"order", "distinct buyers, then events"},
            {"days", absl::StrCat(days_)}};
  }
  absl::Status ScoreAll(int32_t, absl::Span<float> out) const override {
    std::copy(score_.begin(), score_.end(), out.begin());
    return absl::OkStatus();
  }

 private:
  const int days_;
  std::vector<float> score_;
};

class BuyAgainModel : public Model {
 public:
  explicit BuyAgainModel(const InteractionData* data) : Model(data) {}
  std::string name() const override { return "buy_again"; }
  ModelParams params() const override {
    return {{"order", "own purchase events, ties by latest purchase"}};
  }
  absl::Status ScoreAll(int32_t u, absl::Span<float> out) const override {
    std::fill(out.begin(), out.end(), kNegInf);
    const CsrMatrix& m = data().events;
    const int64_t b = m.row_begin(u);
    const int64_t e = m.row_end(u);
    if (b == e) return absl::OkStatus();
    // Rank the history, then score by position (exact in float).
    std::vector<int64_t> order(e - b);
    std::iota(order.begin(), order.end(), b);
    std::sort(order.begin(), order.end(), [&](int64_t x, int64_t y) {
      if (m.values[x] != m.values[y]) return m.values[x] > m.values[y];
      if (data().last_unix[x] != data().last_unix[y]) {
        return data().last_unix[x] > data().last_unix[y];
      }
      return m.indices[x] < m.indices[y];
    });
    const float n = static_cast<float>(order.size());
    for (size_t r = 0; r < order.size(); ++r) {
      out[m.indices[order[r]]] = n - static_cast<float>(r);
    }
    return absl::OkStatus();
  }
};

class ItemKnnModel : public Model {
 public:
  ItemKnnModel(const InteractionData* data, const ItemKnnOptions& options)
      : Model(data), options_(options) {}

  void Build() {
    const CsrMatrix& m = data().events;
    const CsrMatrix by_item = training::Transpose(m);
    const int32_t n = m.cols;
    std::vector<double> norm(n);
    for (int32_t i = 0; i < n; ++i) {
      norm[i] = std::sqrt(
          static_cast<double>(by_item.row_end(i) - by_item.row_begin(i)));
    }
    std::vector<std::vector<std::pair<int32_t, float>>> lists(n);
    const int threads = std::max(1, options_.threads);
    std::vector<std::vector<float>> acc(threads, std::vector<float>(n, 0));
    std::vector<std::vector<int32_t>> touched(threads);
    ParallelFor(n, threads, 16, [&](int t, int64_t begin, int64_t end) {
      std::vector<float>& a = acc[t];
      std::vector<int32_t>& seen = touched[t];
      for (int64_t i = begin; i < end; ++i) {
        seen.clear();
        for (int64_t k = by_item.row_begin(i); k < by_item.row_end(i); ++k) {
          const int32_t u = by_item.indices[k];
          for (int64_t q = m.row_begin(u); q < m.row_end(u); ++q) {
            const int32_t j = m.indices[q];
            if (a[j] == 0) seen.push_back(j);
            a[j] += 1;
          }
        }
        std::vector<std::pair<int32_t, float>>& out = lists[i];
        out.reserve(seen.size());
        for (int32_t j : seen) {
          if (j != i) {
            const double sim = a[j] / (norm[i] * norm[j] +
                                       static_cast<double>(options_.shrink));
            out.emplace_back(j, static_cast<float>(sim));
          }
          a[j] = 0;
        }
        auto better = [](const std::pair<int32_t, float>& x,
                         const std::pair<int32_t, float>& y) {
          if (x.second != y.second) return x.second > y.second;
          return x.first < y.first;
        };
        if (options_.neighbors > 0 &&
            static_cast<int>(out.size()) > options_.neighbors) {
          std::nth_element(out.begin(), out.begin() + options_.neighbors,
                           out.end(), better);
          out.resize(options_.neighbors);
        }
        std::sort(out.begin(), out.end(), better);
      }
    });
    indptr_.assign(n + 1, 0);
    for (int32_t i = 0; i < n; ++i) {
      indptr_[i + 1] = indptr_[i] + static_cast<int64_t>(lists[i].size());
    }
    nbr_.reserve(indptr_[n]);
    for (auto& l : lists) {
      nbr_.insert(nbr_.end(), l.begin(), l.end());
      l = {};
    }
  }

  std::string name() const override { return "item_knn"; }
  ModelParams params() const override {
    return {{"neighbors", absl::StrCat(options_.neighbors)},
            {"shrink", Fmt(options_.shrink)},
            {"similarity", "cosine of binary item columns"}};
  }
  absl::Status ScoreAll(int32_t u, absl::Span<float> out) const override {
    std::fill(out.begin(), out.end(), kNegInf);
    for (int32_t i : UserItems(data(), u)) {
      for (int64_t k = indptr_[i]; k < indptr_[i + 1]; ++k) {
        const auto& [j, s] = nbr_[k];
        out[j] = (out[j] == kNegInf ? 0 : out[j]) + s;
      }
    }
    return absl::OkStatus();
  }

 private:
  const ItemKnnOptions options_;
  std::vector<int64_t> indptr_;
  std::vector<std::pair<int32_t, float>> nbr_;
};

class IalsModel : public Model {
 public:
  IalsModel(const InteractionData* data, IalsSpec spec, training::AlsModel als)
      : Model(data), spec_(std::move(spec)), als_(std::move(als)) {}
  std::string name() const override { return "ials"; }
  ModelParams params() const override { return IalsParams(spec_); }
  absl::Status ScoreAll(int32_t u, absl::Span<float> out) const override {
    const int f = als_.factors;
    const float* x = als_.user_factors.data() + static_cast<size_t>(u) * f;
    for (int32_t i = 0; i < als_.num_items; ++i) {
      const float* y = als_.item_factors.data() + static_cast<size_t>(i) * f;
      out[i] = DotSequential(x, y, f);
    }
    return absl::OkStatus();
  }
  const training::AlsModel& als() const { return als_; }

 private:
  const IalsSpec spec_;
  const training::AlsModel als_;
};

class EaseModel : public Model {
 public:
  EaseModel(const InteractionData* data, const EaseOptions& options,
            std::vector<float> b)
      : Model(data), options_(options), b_(std::move(b)) {}
  std::string name() const override { return "ease"; }
  ModelParams params() const override {
    return {{"lambda", Fmt(options_.lambda)}};
  }
  absl::Status ScoreAll(int32_t u, absl::Span<float> out) const override {
    const size_t n = out.size();
    std::fill(out.begin(), out.end(), 0.0f);
    for (int32_t i : UserItems(data(), u)) {
      const float* row = b_.data() + static_cast<size_t>(i) * n;
      for (size_t j = 0; j < n; ++j) out[j] += row[j];
    }
    return absl::OkStatus();
  }

 private:
  const EaseOptions options_;
  // n x n, row-major, zero diagonal.
  const std::vector<float> b_;
};

// Total loss weight of every row: observed confidences + unobserved cells.
std::vector<double> RowWeights(const CsrMatrix& m) {
  std::vector<double> w(m.rows);
  for (int32_t r = 0; r < m.rows; ++r) {
    double sum = 0;
    for (int64_t k = m.row_begin(r); k < m.row_end(r); ++k) sum += m.values[k];
    w[r] = sum + static_cast<double>(m.cols - (m.row_end(r) - m.row_begin(r)));
  }
  return w;
}

// One half-sweep with per-row regularisation lambda_r.
void SolveScaledSide(const CsrMatrix& m, const std::vector<float>& lambda,
                     const std::vector<float>& other, std::vector<float>* self,
                     int dim, const training::AlsOptions& options) {
  const std::vector<float> gram =
      training::ComputeGramian(other, dim, 0.0f, options.threads);
  const bool cg = options.solver == training::AlsSolver::kConjugateGradient;
  const int threads = std::max(1, options.threads);
  std::vector<std::vector<float>> g_row(
      threads, std::vector<float>(static_cast<size_t>(dim) * dim));
  std::vector<std::vector<float>> fs(
      threads, std::vector<float>(3 * static_cast<size_t>(dim)));
  std::vector<std::vector<double>> ds(
      threads, cg ? std::vector<double>()
                  : std::vector<double>(static_cast<size_t>(dim) * dim + dim));
  ParallelFor(m.rows, threads, 64, [&](int t, int64_t begin, int64_t end) {
    float* g = g_row[t].data();
    for (int64_t r = begin; r < end; ++r) {
      std::copy(gram.begin(), gram.end(), g);
      for (int d = 0; d < dim; ++d)
        g[static_cast<size_t>(d) * dim + d] += lambda[r];
      const int64_t b = m.row_begin(static_cast<int32_t>(r));
      const int64_t n = m.row_end(static_cast<int32_t>(r)) - b;
      float* x = self->data() + static_cast<size_t>(r) * dim;
      if (cg) {
        training::SolveRowCg(g, other.data(), dim, m.indices.data() + b,
                             m.values.data() + b, n, options.cg_steps, x,
                             fs[t].data());
      } else {
        training::SolveRowCholesky(g, other.data(), dim, m.indices.data() + b,
                                   m.values.data() + b, n, x, ds[t].data());
      }
    }
  });
}

// iALS with frequency-scaled regularisation (see IalsSpec::reg_exponent).
absl::StatusOr<training::AlsModel> TrainScaledAls(
    const CsrMatrix& confidence, const training::AlsOptions& options,
    float nu) {
  RECSYS_RETURN_IF_ERROR(training::ValidateAlsOptions(options));
  RECSYS_RETURN_IF_ERROR(training::ValidateCsr(confidence));
  const int dim = options.factors;
  training::AlsModel model;
  model.factors = dim;
  model.num_users = confidence.rows;
  model.num_items = confidence.cols;
  model.user_factors.resize(static_cast<size_t>(confidence.rows) * dim);
  model.item_factors.resize(static_cast<size_t>(confidence.cols) * dim);
  SplitMix64 rng(options.seed);
  const double scale = options.init_scale / std::sqrt(static_cast<double>(dim));
  for (float& v : model.user_factors)
    v = static_cast<float>(rng.Uniform() * scale);
  for (float& v : model.item_factors)
    v = static_cast<float>(rng.Uniform() * scale);
  const CsrMatrix by_item = training::Transpose(confidence);
  auto lambdas = [&](const CsrMatrix& m) {
    const std::vector<double> w = RowWeights(m);
    std::vector<float> out(w.size());
    for (size_t r = 0; r < w.size(); ++r) {
      out[r] = static_cast<float>(options.regularization * std::pow(w[r], nu));
    }
    return out;
  };
  const std::vector<float> user_lambda = lambdas(confidence);
  const std::vector<float> item_lambda = lambdas(by_item);
  for (int it = 1; it <= options.iterations; ++it) {
    const Clock::time_point start = Clock::now();
    SolveScaledSide(confidence, user_lambda, model.item_factors,
                    &model.user_factors, dim, options);
    SolveScaledSide(by_item, item_lambda, model.user_factors,
                    &model.item_factors, dim, options);
    training::AlsIterationStats stats;
    stats.iteration = it;
    stats.seconds = SecondsSince(start);
    stats.loss = std::numeric_limits<double>::quiet_NaN();
    model.iterations.push_back(stats);
  }
  return model;
}

class BlendModel : public Model {
 public:
  BlendModel(const InteractionData* data,
             std::vector<std::pair<std::unique_ptr<Model>, float>> parts,
             std::string description)
      : Model(data),
        parts_(std::move(parts)),
        description_(std::move(description)) {}
  std::string name() const override { return "blend"; }
  ModelParams params() const override {
    ModelParams p = {{"spec", description_}};
    for (size_t i = 0; i < parts_.size(); ++i) {
      for (const auto& [k, v] : parts_[i].first->params()) {
        p.emplace_back(
            absl::StrCat("part", i, ".", parts_[i].first->name(), ".", k), v);
      }
      p.emplace_back(absl::StrCat("part", i, ".weight"), Fmt(parts_[i].second));
    }
    return p;
  }
  absl::Status ScoreAll(int32_t u, absl::Span<float> out) const override {
    std::fill(out.begin(), out.end(), 0.0f);
    std::vector<float> s(out.size());
    for (const auto& [model, weight] : parts_) {
      RECSYS_RETURN_IF_ERROR(model->ScoreAll(u, absl::MakeSpan(s)));
      double sum = 0;
      double sq = 0;
      double lo = std::numeric_limits<double>::infinity();
      int64_t n = 0;
      for (float v : s) {
        if (!std::isfinite(v)) continue;
        sum += v;
        sq += static_cast<double>(v) * v;
        lo = std::min<double>(lo, v);
        ++n;
      }
      if (n == 0) continue;
      const double mean = sum / n;
      const double sd = std::sqrt(std::max(1e-24, sq / n - mean * mean));
      for (size_t i = 0; i < s.size(); ++i) {
        const double v = std::isfinite(s[i]) ? s[i] : lo;
        out[i] += static_cast<float>(weight * (v - mean) / sd);
      }
    }
    return absl::OkStatus();
  }

 private:
  const std::vector<std::pair<std::unique_ptr<Model>, float>> parts_;
  const std::string description_;
};

class ActiveCatalogModel : public Model {
 public:
  ActiveCatalogModel(const InteractionData* data, std::unique_ptr<Model> inner,
                     int active_days)
      : Model(data), inner_(std::move(inner)), active_days_(active_days) {
    std::vector<int64_t> last(data->num_items(), 0);
    const CsrMatrix& m = data->events;
    for (int64_t k = 0; k < m.nnz(); ++k) {
      last[m.indices[k]] = std::max(last[m.indices[k]], data->last_unix[k]);
    }
    const int64_t since =
        data->last_event_unix - static_cast<int64_t>(active_days) * 86400;
    active_.resize(data->num_items());
    for (int32_t i = 0; i < data->num_items(); ++i) {
      active_[i] = last[i] >= since;
    }
  }
  std::string name() const override { return inner_->name(); }
  ModelParams params() const override {
    ModelParams p = inner_->params();
    p.emplace_back("active_days", absl::StrCat(active_days_));
    return p;
  }
  absl::Status ScoreAll(int32_t u, absl::Span<float> out) const override {
    RECSYS_RETURN_IF_ERROR(inner_->ScoreAll(u, out));
    for (size_t i = 0; i < out.size(); ++i) {
      if (!active_[i]) out[i] = kNegInf;
    }
    return absl::OkStatus();
  }

 private:
  const std::unique_ptr<Model> inner_;
  const int active_days_;
  std::vector<bool> active_;
};

// "name[params]" -> (name, params); params empty when absent.
bool SplitSpecTerm(absl::string_view term, absl::string_view* name,
                   absl::string_view* params) {
  term = absl::StripAsciiWhitespace(term);
  const size_t open = term.find('[');
  if (open == absl::string_view::npos) {
    *name = term;
    *params = "";
    return !term.empty();
  }
  if (term.back() != ']') return false;
  *name = absl::StripAsciiWhitespace(term.substr(0, open));
  *params = term.substr(open + 1, term.size() - open - 2);
  return true;
}

absl::Status ParseKnnParams(absl::string_view text, ItemKnnOptions* o) {
  for (absl::string_view part :
       absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    const absl::string_view key = absl::StripAsciiWhitespace(kv.first);
    double d = 0;
    if (!absl::SimpleAtod(kv.second, &d)) {
      return absl::InvalidArgumentError(
          absl::StrCat("item_knn: bad value for ", key));
    }
    if (key == "neighbors") {
      o->neighbors = static_cast<int>(d);
    } else if (key == "shrink") {
      o->shrink = static_cast<float>(d);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "item_knn: unknown key '", key, "' (neighbors, shrink)"));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseEaseParams(absl::string_view text, EaseOptions* o) {
  for (absl::string_view part :
       absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    const absl::string_view key = absl::StripAsciiWhitespace(kv.first);
    if (key != "lambda" || !absl::SimpleAtod(kv.second, &o->lambda)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ease: bad parameter '", part, "' (lambda=...)"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Model>> TrainSingle(absl::string_view name,
                                                   absl::string_view params,
                                                   const InteractionData* data,
                                                   int threads,
                                                   const IalsSpec& ials_base);

}  // namespace

std::vector<int32_t> TopK(absl::Span<const float> scores, int k,
                          absl::Span<const int32_t> excluded) {
  std::vector<int32_t> cand;
  cand.reserve(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    const float s = scores[i];
    if (std::isnan(s) || s == kNegInf) continue;
    if (!excluded.empty() &&
        std::binary_search(excluded.begin(), excluded.end(),
                           static_cast<int32_t>(i))) {
      continue;
    }
    cand.push_back(static_cast<int32_t>(i));
  }
  auto better = [&](int32_t a, int32_t b) {
    if (scores[a] != scores[b]) return scores[a] > scores[b];
    return a < b;
  };
  if (k < static_cast<int>(cand.size())) {
    std::nth_element(cand.begin(), cand.begin() + k, cand.end(), better);
    cand.resize(k);
  }
  std::sort(cand.begin(), cand.end(), better);
  return cand;
}

absl::StatusOr<std::vector<int32_t>> Model::Recommend(
    int32_t user, int k, bool exclude_bought) const {
  if (k < 1) return absl::InvalidArgumentError("k must be >= 1");
  std::vector<float> scores(data().num_items());
  RECSYS_RETURN_IF_ERROR(ScoreAll(user, absl::MakeSpan(scores)));
  absl::Span<const int32_t> excluded;
  if (exclude_bought) excluded = UserItems(data(), user);
  return TopK(scores, k, excluded);
}

absl::Status Model::ScoreItems(int32_t user, absl::Span<const int32_t> items,
                               absl::Span<float> out) const {
  if (items.size() != out.size()) {
    return absl::InvalidArgumentError("ScoreItems: items and out differ");
  }
  std::vector<float> scores(data().num_items());
  RECSYS_RETURN_IF_ERROR(ScoreAll(user, absl::MakeSpan(scores)));
  for (size_t k = 0; k < items.size(); ++k) {
    const int32_t i = items[k];
    out[k] = (i >= 0 && i < static_cast<int32_t>(scores.size())) ? scores[i]
                                                                 : kNegInf;
  }
  return absl::OkStatus();
}

absl::StatusOr<CsrMatrix> BuildEvalConfidence(
    const InteractionData& data, const training::ConfidenceOptions& options) {
  training::ConfidenceOptions o = options;
  if (o.reference_unix == 0) o.reference_unix = data.last_event_unix;
  return training::BuildConfidence(data, o);
}

std::unique_ptr<Model> NewPopularityModel(const InteractionData* data,
                                          int days) {
  const Clock::time_point start = Clock::now();
  auto model = std::make_unique<PopularityModel>(data, days);
  model->set_train_seconds(SecondsSince(start));
  return model;
}

std::unique_ptr<Model> NewBuyAgainModel(const InteractionData* data) {
  return std::make_unique<BuyAgainModel>(data);
}

absl::StatusOr<std::unique_ptr<Model>> NewItemKnnModel(
    const InteractionData* data, const ItemKnnOptions& options) {
  if (options.neighbors < 0 || options.shrink < 0 || options.threads < 1) {
    return absl::InvalidArgumentError(
        "item_knn: neighbors >= 0, shrink >= 0 and threads >= 1 required");
  }
  const Clock::time_point start = Clock::now();
  auto model = std::make_unique<ItemKnnModel>(data, options);
  model->Build();
  model->set_train_seconds(SecondsSince(start));
  return model;
}

ModelParams IalsParams(const IalsSpec& spec) {
  const training::ConfidenceOptions& c = spec.confidence;
  return {
      {"factors", absl::StrCat(spec.als.factors)},
      {"iterations", absl::StrCat(spec.als.iterations)},
      {"regularization", Fmt(spec.als.regularization)},
      {"regularization_exponent", Fmt(spec.reg_exponent)},
      {"trainer", spec.reg_exponent > 0
                      ? "evaluation sweep (frequency-scaled regularisation)"
                      : "training::TrainAls"},
      {"solver", std::string(training::AlsSolverName(spec.als.solver))},
      {"cg_steps", absl::StrCat(spec.als.cg_steps)},
      {"seed", absl::StrCat(spec.als.seed)},
      {"confidence", std::string(training::ConfidenceScalingName(c.scaling))},
      {"signal", std::string(training::ConfidenceSignalName(c.signal))},
      {"alpha", Fmt(c.alpha)},
      {"epsilon", Fmt(c.epsilon)},
      {"decay_half_life_days", Fmt(c.decay_half_life_days)},
  };
}

absl::StatusOr<std::unique_ptr<Model>> NewIalsModel(const InteractionData* data,
                                                    const IalsSpec& spec) {
  const Clock::time_point start = Clock::now();
  RECSYS_ASSIGN_OR_RETURN(CsrMatrix confidence,
                          BuildEvalConfidence(*data, spec.confidence));
  training::AlsOptions als = spec.als;
  als.compute_loss = false;
  training::AlsModel trained;
  if (spec.reg_exponent > 0) {
    RECSYS_ASSIGN_OR_RETURN(trained,
                            TrainScaledAls(confidence, als, spec.reg_exponent));
  } else {
    RECSYS_ASSIGN_OR_RETURN(trained, training::TrainAls(confidence, als));
  }
  auto model = std::make_unique<IalsModel>(data, spec, std::move(trained));
  model->set_train_seconds(SecondsSince(start));
  return model;
}

absl::StatusOr<IalsSpec> ParseIalsSpec(absl::string_view text,
                                       const IalsSpec& base) {
  IalsSpec spec = base;
  training::ConfidenceOptions& c = spec.confidence;
  for (absl::string_view part :
       absl::StrSplit(text, absl::ByAnyChar(", "), absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    const absl::string_view key = kv.first;
    const absl::string_view value = kv.second;
    auto bad = [&]() {
      return absl::InvalidArgumentError(
          absl::StrCat("ials spec: bad value '", value, "' for ", key));
    };
    double d = 0;
    int i = 0;
    uint64_t u = 0;
    if (key == "factors") {
      if (!absl::SimpleAtoi(value, &i)) return bad();
      spec.als.factors = i;
    } else if (key == "iterations") {
      if (!absl::SimpleAtoi(value, &i)) return bad();
      spec.als.iterations = i;
    } else if (key == "reg") {
      if (!absl::SimpleAtod(value, &d)) return bad();
      spec.als.regularization = static_cast<float>(d);
    } else if (key == "alpha") {
      if (!absl::SimpleAtod(value, &d)) return bad();
      c.alpha = static_cast<float>(d);
    } else if (key == "epsilon") {
      if (!absl::SimpleAtod(value, &d)) return bad();
      c.epsilon = static_cast<float>(d);
    } else if (key == "decay") {
      if (!absl::SimpleAtod(value, &d)) return bad();
      c.decay_half_life_days = static_cast<float>(d);
    } else if (key == "scaling") {
      RECSYS_ASSIGN_OR_RETURN(c.scaling,
                              training::ParseConfidenceScaling(value));
    } else if (key == "signal") {
      RECSYS_ASSIGN_OR_RETURN(c.signal, training::ParseConfidenceSignal(value));
    } else if (key == "solver") {
      RECSYS_ASSIGN_OR_RETURN(spec.als.solver, training::ParseAlsSolver(value));
    } else if (key == "cg_steps") {
      if (!absl::SimpleAtoi(value, &i)) return bad();
      spec.als.cg_steps = i;
    } else if (key == "nu") {
      if (!absl::SimpleAtod(value, &d) || d < 0) return bad();
      spec.reg_exponent = static_cast<float>(d);
    } else if (key == "seed") {
      if (!absl::SimpleAtoi(value, &u)) return bad();
      spec.als.seed = u;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "ials spec: unknown key '", key,
          "' (factors, iterations, reg, nu, alpha, epsilon, decay, scaling, "
          "signal, solver, cg_steps, seed)"));
    }
  }
  RECSYS_RETURN_IF_ERROR(training::ValidateAlsOptions(spec.als));
  RECSYS_RETURN_IF_ERROR(training::ValidateConfidenceOptions(c));
  return spec;
}

std::string FormatIalsSpec(const IalsSpec& spec) {
  const training::ConfidenceOptions& c = spec.confidence;
  return absl::StrCat(
      "factors=", spec.als.factors, ",iterations=", spec.als.iterations,
      ",reg=", Fmt(spec.als.regularization), ",nu=", Fmt(spec.reg_exponent),
      ",alpha=", Fmt(c.alpha),
      ",scaling=", training::ConfidenceScalingName(c.scaling),
      ",signal=", training::ConfidenceSignalName(c.signal),
      ",epsilon=", Fmt(c.epsilon), ",decay=", Fmt(c.decay_half_life_days),
      ",solver=", training::AlsSolverName(spec.als.solver),
      ",cg_steps=", spec.als.cg_steps, ",seed=", spec.als.seed);
}

const training::AlsModel* IalsFactors(const Model& model) {
  const auto* ials = dynamic_cast<const IalsModel*>(&model);
  return ials == nullptr ? nullptr : &ials->als();
}

std::unique_ptr<Model> NewBlendModel(
    const InteractionData* data,
    std::vector<std::pair<std::unique_ptr<Model>, float>> parts,
    std::string description) {
  double seconds = 0;
  for (const auto& p : parts) seconds += p.first->train_seconds();
  auto model = std::make_unique<BlendModel>(data, std::move(parts),
                                            std::move(description));
  model->set_train_seconds(seconds);
  return model;
}

namespace {

absl::StatusOr<std::unique_ptr<Model>> TrainSingle(absl::string_view name,
                                                   absl::string_view params,
                                                   const InteractionData* data,
                                                   int threads,
                                                   const IalsSpec& ials_base) {
  if (name == "popularity") {
    int days = 0;
    absl::string_view p = absl::StripAsciiWhitespace(params);
    if (!p.empty() && (!absl::ConsumePrefix(&p, "days=") ||
                       !absl::SimpleAtoi(p, &days) || days < 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("popularity: bad parameters '", params, "' (days=N)"));
    }
    return NewPopularityModel(data, days);
  }
  if (name == "buy_again") {
    if (!absl::StripAsciiWhitespace(params).empty()) {
      return absl::InvalidArgumentError("buy_again takes no parameters");
    }
    return NewBuyAgainModel(data);
  }
  if (name == "item_knn") {
    ItemKnnOptions o;
    RECSYS_RETURN_IF_ERROR(ParseKnnParams(params, &o));
    o.threads = threads;
    return NewItemKnnModel(data, o);
  }
  if (name == "ials") {
    RECSYS_ASSIGN_OR_RETURN(IalsSpec spec, ParseIalsSpec(params, ials_base));
    spec.als.threads = threads;
    return NewIalsModel(data, spec);
  }
  if (name == "ease") {
    EaseOptions o;
    RECSYS_RETURN_IF_ERROR(ParseEaseParams(params, &o));
    return NewEaseModel(data, o);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown model '", name,
      "' (popularity, buy_again, item_knn, ials, ease, or a blend a*w+b*w)"));
}

}  // namespace

std::unique_ptr<Model> NewActiveCatalogModel(const InteractionData* data,
                                             std::unique_ptr<Model> inner,
                                             int active_days) {
  const double seconds = inner->train_seconds();
  auto model =
      std::make_unique<ActiveCatalogModel>(data, std::move(inner), active_days);
  model->set_train_seconds(seconds);
  return model;
}

absl::StatusOr<std::unique_ptr<Model>> TrainModelFromSpec(
    absl::string_view spec, const InteractionData* data, int threads,
    const IalsSpec& ials_base) {
  const size_t at = spec.rfind('@');
  if (at != absl::string_view::npos &&
      spec.find(']', at) == absl::string_view::npos) {
    absl::string_view option = absl::StripAsciiWhitespace(spec.substr(at + 1));
    int days = 0;
    if (!absl::ConsumePrefix(&option, "active_days=") ||
        !absl::SimpleAtoi(option, &days) || days < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad model option '", spec.substr(at + 1), "' (@active_days=N)"));
    }
    RECSYS_ASSIGN_OR_RETURN(
        std::unique_ptr<Model> inner,
        TrainModelFromSpec(spec.substr(0, at), data, threads, ials_base));
    return NewActiveCatalogModel(data, std::move(inner), days);
  }
  // Split at '+' outside brackets.
  std::vector<absl::string_view> terms;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == '[') ++depth;
    if (spec[i] == ']') --depth;
    if (spec[i] == '+' && depth == 0) {
      terms.push_back(spec.substr(start, i - start));
      start = i + 1;
    }
  }
  terms.push_back(spec.substr(start));
  if (terms.size() == 1) {
    absl::string_view name, params;
    if (!SplitSpecTerm(terms[0], &name, &params)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad model spec '", spec, "'"));
    }
    return TrainSingle(name, params, data, threads, ials_base);
  }
  std::vector<std::pair<std::unique_ptr<Model>, float>> parts;
  for (absl::string_view term : terms) {
    term = absl::StripAsciiWhitespace(term);
    float weight = 1;
    const size_t star = term.rfind('*');
    const size_t close = term.rfind(']');
    if (star != absl::string_view::npos &&
        (close == absl::string_view::npos || star > close)) {
      if (!absl::SimpleAtof(absl::StripAsciiWhitespace(term.substr(star + 1)),
                            &weight)) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad blend weight in '", term, "'"));
      }
      term = term.substr(0, star);
    }
    absl::string_view name, params;
    if (!SplitSpecTerm(term, &name, &params)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad model spec '", term, "'"));
    }
    RECSYS_ASSIGN_OR_RETURN(
        std::unique_ptr<Model> part,
        TrainSingle(name, params, data, threads, ials_base));
    parts.emplace_back(std::move(part), weight);
  }
  return NewBlendModel(data, std::move(parts), std::string(spec));
}

absl::StatusOr<std::unique_ptr<Model>> NewEaseModel(
    const InteractionData* data, const EaseOptions& options) {
  const int n = data->num_items();
  if (n > model::kEaseMaxItems) {
    return absl::InvalidArgumentError(
        absl::StrCat("ease: ", n, " items; at most ", model::kEaseMaxItems, " supported"));
  }
  const Clock::time_point start = Clock::now();
  const CsrMatrix& m = data->events;
  // G = X^T X + lambda I over the binary matrix (column-major == row-major,
  // symmetric).
  std::vector<double> g(static_cast<size_t>(n) * n, 0.0);
  for (int32_t u = 0; u < m.rows; ++u) {
    for (int64_t a = m.row_begin(u); a < m.row_end(u); ++a) {
      double* row = g.data() + static_cast<size_t>(m.indices[a]) * n;
      for (int64_t b = m.row_begin(u); b < m.row_end(u); ++b) {
        row[m.indices[b]] += 1.0;
      }
    }
  }
  RECSYS_ASSIGN_OR_RETURN(std::vector<float> b,
                          model::EaseWeights(n, std::move(g), options.lambda));
  auto model = std::make_unique<EaseModel>(data, options, std::move(b));
  model->set_train_seconds(SecondsSince(start));
  return model;
}

}  // namespace recsys::evaluation
