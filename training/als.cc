#include "training/als.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace recsys::training {
namespace {

// Runs fn(thread, begin, end) over [0, n) in chunks of `chunk`, handed out
// through an atomic counter to `threads` workers (the caller is one of them).
template <typename Fn>
void ParallelFor(int64_t n, int threads, int64_t chunk, const Fn& fn) {
  if (n <= 0) return;
  chunk = std::max<int64_t>(1, chunk);
  const int64_t chunks = (n + chunk - 1) / chunk;
  threads = static_cast<int>(
      std::max<int64_t>(1, std::min<int64_t>(threads, chunks)));
  std::atomic<int64_t> next{0};
  auto worker = [&](int thread) {
    while (true) {
      const int64_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      const int64_t begin = c * chunk;
      fn(thread, begin, std::min(n, begin + chunk));
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (std::thread& t : pool) t.join();
}

inline float Dot(const float* __restrict a, const float* __restrict b, int n) {
  float s = 0;
#pragma omp simd reduction(+ : s)
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

// y += a * x
inline void Axpy(float a, const float* __restrict x, float* __restrict y,
                 int n) {
#pragma omp simd
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

// out = M v for a symmetric row-major n x n matrix M, as a sum of rows (no
// reductions, so it vectorises).
inline void SymMatVec(const float* __restrict m, const float* __restrict v,
                      float* __restrict out, int n) {
  std::fill(out, out + n, 0.0f);
  for (int b = 0; b < n; ++b)
    Axpy(v[b], m + static_cast<size_t>(b) * n, out, n);
}

// Rows per Gramian / loss block. Fixed by the row count only, so partial
// sums (and results) do not depend on the number of threads.
int64_t BlockRows(int64_t rows) {
  return std::max<int64_t>(1024, (rows + 255) / 256);
}

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void InitFactors(std::vector<float>* factors, float scale, uint64_t* state) {
  for (float& v : *factors) {
    const double u = static_cast<double>(SplitMix64(state) >> 11) * 0x1.0p-53;
    v = static_cast<float>(u * scale);
  }
}

absl::Status ValidateConfidenceValues(const CsrMatrix& m) {
  RECSYS_RETURN_IF_ERROR(ValidateCsr(m));
  for (float v : m.values) {
    if (!std::isfinite(v) || v <= 0) {
      return absl::InvalidArgumentError(
          "confidence values must be finite and > 0");
    }
  }
  return absl::OkStatus();
}

// One half-sweep: re-solves every row of `self` (m.rows x dim) against
// `other` (m.cols x dim).
void SolveSide(const CsrMatrix& m, const std::vector<float>& other,
               std::vector<float>* self, int dim, const AlsOptions& options) {
  const std::vector<float> gramian =
      ComputeGramian(other, dim, options.regularization, options.threads);
  const bool cg = options.solver == AlsSolver::kConjugateGradient;
  std::vector<std::vector<float>> float_scratch(options.threads);
  std::vector<std::vector<double>> double_scratch(options.threads);
  for (int t = 0; t < options.threads; ++t) {
    if (cg) {
      float_scratch[t].resize(3 * static_cast<size_t>(dim));
    } else {
      double_scratch[t].resize(static_cast<size_t>(dim) * dim + dim);
    }
  }
  ParallelFor(
      m.rows, options.threads, 64, [&](int thread, int64_t begin, int64_t end) {
        for (int64_t r = begin; r < end; ++r) {
          const int64_t b = m.indptr[r];
          const int64_t n = m.indptr[r + 1] - b;
          float* x = self->data() + r * dim;
          if (cg) {
            SolveRowCg(gramian.data(), other.data(), dim, m.indices.data() + b,
                       m.values.data() + b, n, options.cg_steps, x,
                       float_scratch[thread].data());
          } else {
            // Fails only for regularization 0 and a degenerate
            // system; the row then keeps its previous value.
            SolveRowCholesky(gramian.data(), other.data(), dim,
                             m.indices.data() + b, m.values.data() + b, n, x,
                             double_scratch[thread].data());
          }
        }
      });
}

}  // namespace

absl::string_view AlsSolverName(AlsSolver solver) {
  return solver == AlsSolver::kConjugateGradient ? "cg" : "cholesky";
}

absl::StatusOr<AlsSolver> ParseAlsSolver(absl::string_view name) {
  if (name == "cg") return AlsSolver::kConjugateGradient;
  if (name == "cholesky") return AlsSolver::kCholesky;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown solver '", name, "' (expected cg or cholesky)"));
}

absl::Status ValidateAlsOptions(const AlsOptions& o) {
  if (o.factors < 1 || o.factors > 4096) {
    return absl::InvalidArgumentError("factors must be in [1, 4096]");
  }
  if (o.iterations < 0) {
    return absl::InvalidArgumentError("iterations must be >= 0");
  }
  if (!std::isfinite(o.regularization) || o.regularization < 0) {
    return absl::InvalidArgumentError("regularization must be >= 0");
  }
  if (o.cg_steps < 1) {
    return absl::InvalidArgumentError("cg_steps must be >= 1");
  }
  if (o.threads < 1 || o.threads > 1024) {
    return absl::InvalidArgumentError("threads must be in [1, 1024]");
  }
  if (!std::isfinite(o.init_scale) || o.init_scale <= 0) {
    return absl::InvalidArgumentError("init_scale must be > 0");
  }
  return absl::OkStatus();
}

std::vector<float> ComputeGramian(absl::Span<const float> factors, int dim,
                                  float reg, int threads) {
  const size_t dd = static_cast<size_t>(dim) * dim;
  const int64_t rows = dim > 0 ? static_cast<int64_t>(factors.size()) / dim : 0;
  const int64_t block = BlockRows(rows);
  const int64_t blocks = (rows + block - 1) / block;
  std::vector<float> partial(static_cast<size_t>(blocks) * dd, 0.0f);
  ParallelFor(blocks, std::max(1, threads), 1,
              [&](int, int64_t begin, int64_t end) {
                for (int64_t bl = begin; bl < end; ++bl) {
                  float* g = partial.data() + bl * dd;
                  const int64_t r_end = std::min(rows, (bl + 1) * block);
                  for (int64_t r = bl * block; r < r_end; ++r) {
                    const float* f = factors.data() + r * dim;
                    for (int a = 0; a < dim; ++a) {
                      Axpy(f[a], f, g + static_cast<size_t>(a) * dim, dim);
                    }
                  }
                }
              });
  std::vector<double> sum(dd, 0.0);
  for (int64_t bl = 0; bl < blocks; ++bl) {
    const float* g = partial.data() + bl * dd;
    for (size_t k = 0; k < dd; ++k) sum[k] += g[k];
  }
  std::vector<float> out(dd);
  for (size_t k = 0; k < dd; ++k) out[k] = static_cast<float>(sum[k]);
  for (int a = 0; a < dim; ++a) out[static_cast<size_t>(a) * dim + a] += reg;
  return out;
}

void SolveRowCg(const float* gramian_reg, const float* item_factors, int dim,
                const int32_t* items, const float* confidences, int64_t n,
                int cg_steps, float* x, float* scratch) {
  float* r = scratch;
  float* p = scratch + dim;
  float* ap = scratch + 2 * dim;

  // r = b - A x = sum_k (c_k - (c_k - 1) y_k.x) y_k - G x
  SymMatVec(gramian_reg, x, r, dim);
  for (int a = 0; a < dim; ++a) r[a] = -r[a];
  for (int64_t k = 0; k < n; ++k) {
    const float* y = item_factors + static_cast<size_t>(items[k]) * dim;
    const float c = confidences[k];
    Axpy(c - (c - 1.0f) * Dot(y, x, dim), y, r, dim);
  }
  std::copy(r, r + dim, p);
  float rs_old = Dot(r, r, dim);
  for (int step = 0; step < cg_steps; ++step) {
    if (rs_old < 1e-20f) break;
    // ap = A p = G p + sum_k (c_k - 1)(y_k.p) y_k
    SymMatVec(gramian_reg, p, ap, dim);
    for (int64_t k = 0; k < n; ++k) {
      const float* y = item_factors + static_cast<size_t>(items[k]) * dim;
      Axpy((confidences[k] - 1.0f) * Dot(y, p, dim), y, ap, dim);
    }
    const float pap = Dot(p, ap, dim);
    if (!(pap > 0)) break;  // Not positive definite along p (or NaN).
    const float step_size = rs_old / pap;
    Axpy(step_size, p, x, dim);
    Axpy(-step_size, ap, r, dim);
    const float rs_new = Dot(r, r, dim);
    if (rs_new < 1e-20f) break;
    const float beta = rs_new / rs_old;
    for (int a = 0; a < dim; ++a) p[a] = r[a] + beta * p[a];
    rs_old = rs_new;
  }
}

bool SolveRowCholesky(const float* gramian_reg, const float* item_factors,
                      int dim, const int32_t* items, const float* confidences,
                      int64_t n, float* x, double* scratch) {
  const size_t d = static_cast<size_t>(dim);
  double* a = scratch;  // d x d, lower triangle used
  double* b = scratch + d * d;
  for (size_t k = 0; k < d * d; ++k) a[k] = gramian_reg[k];
  std::fill(b, b + d, 0.0);
  for (int64_t k = 0; k < n; ++k) {
    const float* y = item_factors + static_cast<size_t>(items[k]) * d;
    const double c = confidences[k];
    for (size_t i = 0; i < d; ++i) {
      b[i] += c * y[i];
      const double w = (c - 1.0) * y[i];
      double* row = a + i * d;
      for (size_t j = 0; j <= i; ++j) row[j] += w * y[j];
    }
  }
  // In-place Cholesky: a = L L^T, L in the lower triangle.
  for (size_t j = 0; j < d; ++j) {
    double diag = a[j * d + j];
    for (size_t k = 0; k < j; ++k) diag -= a[j * d + k] * a[j * d + k];
    if (!(diag > 0)) return false;
    const double l = std::sqrt(diag);
    a[j * d + j] = l;
    for (size_t i = j + 1; i < d; ++i) {
      double s = a[i * d + j];
      for (size_t k = 0; k < j; ++k) s -= a[i * d + k] * a[j * d + k];
      a[i * d + j] = s / l;
    }
  }
  // Forward (L z = b) then backward (L^T x = z) substitution, in b.
  for (size_t i = 0; i < d; ++i) {
    double s = b[i];
    for (size_t k = 0; k < i; ++k) s -= a[i * d + k] * b[k];
    b[i] = s / a[i * d + i];
  }
  for (size_t i = d; i-- > 0;) {
    double s = b[i];
    for (size_t k = i + 1; k < d; ++k) s -= a[k * d + i] * b[k];
    b[i] = s / a[i * d + i];
  }
  for (size_t i = 0; i < d; ++i) x[i] = static_cast<float>(b[i]);
  return true;
}

absl::Status SolveRow(absl::Span<const float> gramian_reg,
                      absl::Span<const float> item_factors, int dim,
                      absl::Span<const int32_t> items,
                      absl::Span<const float> confidences, AlsSolver solver,
                      int cg_steps, float* x) {
  if (dim < 1 || x == nullptr) {
    return absl::InvalidArgumentError("SolveRow: dim < 1 or null x");
  }
  const size_t d = static_cast<size_t>(dim);
  if (gramian_reg.size() != d * d) {
    return absl::InvalidArgumentError("SolveRow: gramian must be dim x dim");
  }
  if (item_factors.size() % d != 0) {
    return absl::InvalidArgumentError(
        "SolveRow: item_factors size is not a multiple of dim");
  }
  if (items.size() != confidences.size()) {
    return absl::InvalidArgumentError(
        "SolveRow: items and confidences differ in length");
  }
  const int64_t rows = static_cast<int64_t>(item_factors.size() / d);
  for (int32_t i : items) {
    if (i < 0 || i >= rows) {
      return absl::InvalidArgumentError(
          absl::StrCat("SolveRow: item row ", i, " out of range"));
    }
  }
  const int64_t n = static_cast<int64_t>(items.size());
  if (solver == AlsSolver::kConjugateGradient) {
    if (cg_steps < 1) {
      return absl::InvalidArgumentError("SolveRow: cg_steps must be >= 1");
    }
    std::vector<float> scratch(3 * d);
    SolveRowCg(gramian_reg.data(), item_factors.data(), dim, items.data(),
               confidences.data(), n, cg_steps, x, scratch.data());
    return absl::OkStatus();
  }
  std::vector<double> scratch(d * d + d);
  if (!SolveRowCholesky(gramian_reg.data(), item_factors.data(), dim,
                        items.data(), confidences.data(), n, x,
                        scratch.data())) {
    return absl::FailedPreconditionError(
        "SolveRow: system is not positive definite (regularization 0?)");
  }
  return absl::OkStatus();
}

double ComputeAlsLoss(const CsrMatrix& confidence,
                      absl::Span<const float> user_factors,
                      absl::Span<const float> item_factors, int dim,
                      float regularization, int threads) {
  const std::vector<float> yty = ComputeGramian(item_factors, dim, 0, threads);
  const int64_t rows = confidence.rows;
  const int64_t block = BlockRows(rows);
  const int64_t blocks = (rows + block - 1) / block;
  // Per block: weighted error (observed part + all-pairs term) and the sum
  // of the observed confidences.
  std::vector<double> error(blocks, 0.0), weight(blocks, 0.0);
  ParallelFor(
      blocks, std::max(1, threads), 1, [&](int, int64_t begin, int64_t end) {
        std::vector<float> v(dim);
        for (int64_t bl = begin; bl < end; ++bl) {
          double e = 0, w = 0;
          const int64_t r_end = std::min(rows, (bl + 1) * block);
          for (int64_t u = bl * block; u < r_end; ++u) {
            const float* x = user_factors.data() + u * dim;
            SymMatVec(yty.data(), x, v.data(), dim);
            e += Dot(x, v.data(), dim);  // sum over all items of p^2
            for (int64_t k = confidence.indptr[u]; k < confidence.indptr[u + 1];
                 ++k) {
              const float* y = item_factors.data() +
                               static_cast<size_t>(confidence.indices[k]) * dim;
              const double p = Dot(x, y, dim);
              const double c = confidence.values[k];
              e += c * (1 - p) * (1 - p) - p * p;
              w += c;
            }
          }
          error[bl] = e;
          weight[bl] = w;
        }
      });
  double total_error = 0, total_weight = 0;
  for (int64_t bl = 0; bl < blocks; ++bl) {
    total_error += error[bl];
    total_weight += weight[bl];
  }
  double norms = 0;
  for (float f : user_factors) norms += static_cast<double>(f) * f;
  for (float f : item_factors) norms += static_cast<double>(f) * f;
  total_weight += static_cast<double>(confidence.rows) * confidence.cols -
                  static_cast<double>(confidence.nnz());
  const double loss = total_error + regularization * norms;
  return total_weight > 0 ? loss / total_weight : 0.0;
}

absl::StatusOr<AlsModel> TrainAls(const CsrMatrix& confidence,
                                  const AlsOptions& options) {
  RECSYS_RETURN_IF_ERROR(ValidateAlsOptions(options));
  RECSYS_RETURN_IF_ERROR(ValidateConfidenceValues(confidence));
  const int dim = options.factors;
  AlsModel model;
  model.factors = dim;
  model.num_users = confidence.rows;
  model.num_items = confidence.cols;
  model.user_factors.resize(static_cast<size_t>(confidence.rows) * dim);
  model.item_factors.resize(static_cast<size_t>(confidence.cols) * dim);
  uint64_t state = options.seed;
  const float scale = options.init_scale / std::sqrt(static_cast<float>(dim));
  InitFactors(&model.user_factors, scale, &state);
  InitFactors(&model.item_factors, scale, &state);

  const CsrMatrix by_item = Transpose(confidence);
  using Clock = std::chrono::steady_clock;
  for (int it = 1; it <= options.iterations; ++it) {
    const Clock::time_point start = Clock::now();
    SolveSide(confidence, model.item_factors, &model.user_factors, dim,
              options);
    SolveSide(by_item, model.user_factors, &model.item_factors, dim, options);
    AlsIterationStats stats;
    stats.iteration = it;
    stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    stats.loss =
        options.compute_loss
            ? ComputeAlsLoss(confidence, model.user_factors, model.item_factors,
                             dim, options.regularization, options.threads)
            : std::numeric_limits<double>::quiet_NaN();
    model.iterations.push_back(stats);
    if (options.on_iteration) options.on_iteration(stats);
  }
  return model;
}

}  // namespace recsys::training
