// Implicit-feedback alternating least squares (Hu, Koren & Volinsky 2008).
//
// Model: user factors X (users x f) and item factors Y (items x f) minimise
//
//   L = sum_{u,i} c_ui (p_ui - x_u.y_i)^2 + lambda (|X|^2 + |Y|^2)
//
// with p_ui = 1 for observed pairs (confidence c_ui from the confidence
// matrix) and p_ui = 0, c_ui = 1 for every unobserved pair. Each half-sweep
// fixes one side and solves, for every row u,
//
//   (Y^T Y + lambda I + sum_{i in u} (c_ui - 1) y_i y_i^T) x_u
//       = sum_{i in u} c_ui y_i
//
// either exactly (Cholesky) or approximately with a few conjugate-gradient
// steps warm-started at the current x_u (Takacs, Pilaszy & Tikk 2011), which
// is much cheaper per row and converges to the same fixed point.
//
// Factors are float32, row-major and contiguous. Results are deterministic
// for a given seed and kernel variant (AlsKernel) and independent of the
// number of threads.
//
// Thread safety: TrainAls uses `threads` worker threads internally and is
// safe to call concurrently on different inputs. The row solvers are pure
// functions of their arguments.
#ifndef RECSYS_TRAINING_ALS_H_
#define RECSYS_TRAINING_ALS_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "training/interactions.h"

namespace recsys::training {

enum class AlsSolver {
  // Warm-started conjugate gradient, AlsOptions::cg_steps steps per row.
  kConjugateGradient,
  // Exact solve of the f x f system (Cholesky, in double). O(f^3) per row.
  kCholesky,
};

// "cg" / "cholesky".
absl::string_view AlsSolverName(AlsSolver solver);
absl::StatusOr<AlsSolver> ParseAlsSolver(absl::string_view name);

// Instruction-set variant of the CG row kernel and the Gramian. Every
// variant computes the same quantities in float32; they differ only in
// rounding (summation order, fused multiply-adds), so a result is
// reproducible for a given variant, input and any thread count, but not
// bit-identical across variants. The Cholesky solver and the loss always use
// portable code.
enum class AlsKernel {
  // kAvx2 when the CPU supports it, else kScalar.
  kAuto,
  // Portable C++, vectorised by the compiler for the baseline instruction
  // set.
  kScalar,
  // AVX2 + FMA intrinsics, selected at run time (the binary itself needs
  // neither). Used when factors is a multiple of 8 and at most
  // kMaxAvx2Factors; other sizes run kScalar.
  kAvx2,
};
inline constexpr int kMaxAvx2Factors = 256;

// "auto" / "scalar" / "avx2".
absl::string_view AlsKernelName(AlsKernel kernel);
absl::StatusOr<AlsKernel> ParseAlsKernel(absl::string_view name);
// True when `kernel` can run on this build and CPU (kAuto and kScalar
// always can).
bool AlsKernelSupported(AlsKernel kernel);
// The variant that runs for `kernel` and `dim` factors: kAuto resolved for
// this CPU, and kScalar where kAvx2 does not cover `dim`.
// REQUIRES: AlsKernelSupported(kernel).
AlsKernel EffectiveAlsKernel(AlsKernel kernel, int dim);

struct AlsIterationStats {
  // 1-based.
  int iteration = 0;
  // Normalised loss after the iteration (see ComputeAlsLoss); NaN when
  // AlsOptions::compute_loss is false.
  double loss = 0;
  // Wall time of the iteration (both half-sweeps, excluding the loss).
  double seconds = 0;
  // Wall time of the loss computation (0 when it is off).
  double loss_seconds = 0;
};

struct AlsOptions {
  // Latent dimension f (>= 1).
  int factors = 64;
  // Full sweeps (users, then items) (>= 0).
  int iterations = 15;
  // lambda (>= 0; > 0 recommended: it keeps every system positive definite).
  float regularization = 0.05f;
  // Row solver.
  AlsSolver solver = AlsSolver::kConjugateGradient;
  // CG steps per row and half-sweep (>= 1); ignored by kCholesky.
  int cg_steps = 3;
  // Worker threads (>= 1).
  int threads = 2;
  // Seed of the factor initialisation: every entry is uniform in
  // [0, init_scale) / sqrt(factors), drawn from a splitmix64 stream.
  uint64_t seed = 42;
  float init_scale = 0.1f;
  // Compute the loss after every iteration (one extra pass over the data,
  // not counted in AlsIterationStats::seconds).
  bool compute_loss = true;
  // Instruction-set variant of the kernels (see AlsKernel).
  AlsKernel kernel = AlsKernel::kAuto;
  // Called after every iteration, on the calling thread.
  std::function<void(const AlsIterationStats&)> on_iteration;
};

// InvalidArgument for an out-of-range field; FailedPrecondition when
// `options.kernel` cannot run on this CPU.
absl::Status ValidateAlsOptions(const AlsOptions& options);

struct AlsModel {
  int factors = 0;
  int32_t num_users = 0;
  int32_t num_items = 0;
  // num_users x factors and num_items x factors, row-major.
  std::vector<float> user_factors;
  std::vector<float> item_factors;
  std::vector<AlsIterationStats> iterations;
};

// Trains on `confidence` (users x items, values c_ui > 0 as built by
// BuildConfidence). InvalidArgument for bad options or a malformed matrix
// (ValidateCsr, non-finite or non-positive values); FailedPrecondition for
// an unsupported kernel.
//
// Memory: the factors, a transposed (item-major) copy of `confidence`, at
// most 256 partial factors x factors Gramians (4 MiB for 64 factors) and
// O(threads * factors^2) bytes of scheduling and scratch space. Rows
// are handed to the threads in chunks of similar work (heaviest first), so
// a few very long rows do not leave a thread idle.
absl::StatusOr<AlsModel> TrainAls(const CsrMatrix& confidence,
                                  const AlsOptions& options);

// The Gramian F^T F + reg * I of a row-major (rows x dim) factor matrix, as
// a dense dim x dim row-major matrix. Summed in fixed blocks, so the result
// does not depend on `threads`. REQUIRES: AlsKernelSupported(kernel).
std::vector<float> ComputeGramian(absl::Span<const float> factors, int dim,
                                  float reg, int threads = 1,
                                  AlsKernel kernel = AlsKernel::kAuto);

// Solves one row's system (see the top of this file):
//   (G + sum_k (c_k - 1) y_k y_k^T) x = sum_k c_k y_k
// where G = `gramian_reg` (dim x dim, Y^T Y + lambda I, from ComputeGramian),
// y_k = row items[k] of `item_factors` (row-major, rows x dim) and c_k =
// confidences[k]. For fold-in of a new user, start from x = 0 and use
// kCholesky or cg_steps >= dim / 4.
//
// kConjugateGradient runs `cg_steps` steps starting from the current `*x`
// (dim floats, read and written). kCholesky ignores the start value.
// InvalidArgument for mismatched sizes or out-of-range item rows;
// FailedPrecondition when the system is not positive definite (Cholesky).
absl::Status SolveRow(absl::Span<const float> gramian_reg,
                      absl::Span<const float> item_factors, int dim,
                      absl::Span<const int32_t> items,
                      absl::Span<const float> confidences, AlsSolver solver,
                      int cg_steps, float* x);

// The allocation-free kernels behind SolveRow, without argument checks.
// `scratch` must hold 3 * dim floats (CG) or dim * dim + dim doubles
// (Cholesky); it needs no particular alignment. The Cholesky kernel returns
// false (leaving x unchanged) when the system is not positive definite.
// SolveRowCg runs the variant EffectiveAlsKernel(kernel, dim).
// REQUIRES: AlsKernelSupported(kernel).
void SolveRowCg(const float* gramian_reg, const float* item_factors, int dim,
                const int32_t* items, const float* confidences, int64_t n,
                int cg_steps, float* x, float* scratch,
                AlsKernel kernel = AlsKernel::kAuto);
bool SolveRowCholesky(const float* gramian_reg, const float* item_factors,
                      int dim, const int32_t* items, const float* confidences,
                      int64_t n, float* x, double* scratch);

// Loss of a model (formula at the top of this file) divided by the total
// weight sum_obs c_ui + (users * items - nnz), i.e. a weighted mean squared
// error plus the scaled regularisation term. The unobserved part is
// computed as sum_u x_u^T (Y^T Y) x_u - sum_obs (x_u.y_i)^2, so the cost is
// O(nnz * f + (users + items) * f^2).
double ComputeAlsLoss(const CsrMatrix& confidence,
                      absl::Span<const float> user_factors,
                      absl::Span<const float> item_factors, int dim,
                      float regularization, int threads = 1);

}  // namespace recsys::training

#endif  // RECSYS_TRAINING_ALS_H_
