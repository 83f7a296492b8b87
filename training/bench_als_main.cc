// recsys_bench_als: times TrainAls on a pairs file or a generated matrix and
// reports seconds per iteration and peak memory (see docs/benchmarks.md).
//
//   recsys_bench_als --pairs=ml-1m_user_movie_pairs.csv.gz
//   recsys_bench_als --synthetic_users=1000000 --synthetic_items=100000
//       --synthetic_nnz=20000000
//
// Confidence: c = 1 + alpha * log(1 + r) for a pair seen r times (the
// trainer's default log weighting, epsilon 1); see training/als_bench_data.h.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "training/als.h"
#include "training/als_bench_data.h"

namespace {

const recsys::training::AlsOptions kAls;
const recsys::training::ConfidenceOptions kConfidence;
const recsys::training::SyntheticMatrixOptions kSynthetic;

}  // namespace

ABSL_FLAG(std::string, pairs, "",
          "user,item pairs CSV with a header line (plain or .gz).");
ABSL_FLAG(int32_t, synthetic_users, 0,
          "Generate a matrix with this many users (instead of --pairs).");
ABSL_FLAG(int32_t, synthetic_items, kSynthetic.items,
          "Items of the generated matrix.");
ABSL_FLAG(int64_t, synthetic_nnz, kSynthetic.nnz,
          "Entries of the generated matrix.");
ABSL_FLAG(double, synthetic_zipf, kSynthetic.zipf_exponent,
          "Zipf exponent of the generated item popularity.");
ABSL_FLAG(uint64_t, synthetic_seed, kSynthetic.seed,
          "Seed of the generated matrix.");
ABSL_FLAG(int, factors, kAls.factors, "Latent factors.");
ABSL_FLAG(int, iterations, kAls.iterations, "ALS sweeps.");
ABSL_FLAG(int, cg_steps, kAls.cg_steps, "CG steps per row and sweep.");
ABSL_FLAG(std::string, solver, "cg", "cg | cholesky.");
ABSL_FLAG(int, threads, kAls.threads, "Worker threads.");
ABSL_FLAG(double, regularization, kAls.regularization, "L2 weight lambda.");
ABSL_FLAG(double, alpha, kConfidence.alpha,
          "Confidence weight: c = 1 + alpha * log(1 + r).");
ABSL_FLAG(uint64_t, seed, kAls.seed, "Seed of the factor initialisation.");
ABSL_FLAG(std::string, kernel, "auto",
          "auto | scalar | avx2: instruction-set variant of the kernels.");
ABSL_FLAG(bool, loss, false,
          "Compute the loss after every iteration (timed separately).");

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double PeakRssMib() {
  struct rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "recsys_bench_als: %s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Benchmarks iALS training: --pairs=FILE or --synthetic_users=N "
      "[--synthetic_items=N --synthetic_nnz=N].");
  absl::ParseCommandLine(argc, argv);
  namespace rt = recsys::training;

  const std::string pairs = absl::GetFlag(FLAGS_pairs);
  const int32_t synthetic_users = absl::GetFlag(FLAGS_synthetic_users);
  if (pairs.empty() == (synthetic_users == 0)) {
    return Fail(absl::InvalidArgumentError(
        "give exactly one of --pairs and --synthetic_users"));
  }
  rt::ConfidenceOptions confidence;
  confidence.alpha = static_cast<float>(absl::GetFlag(FLAGS_alpha));

  rt::AlsOptions options;
  options.factors = absl::GetFlag(FLAGS_factors);
  options.iterations = absl::GetFlag(FLAGS_iterations);
  options.cg_steps = absl::GetFlag(FLAGS_cg_steps);
  options.threads = absl::GetFlag(FLAGS_threads);
  options.regularization =
      static_cast<float>(absl::GetFlag(FLAGS_regularization));
  options.seed = absl::GetFlag(FLAGS_seed);
  options.compute_loss = absl::GetFlag(FLAGS_loss);
  absl::StatusOr<rt::AlsSolver> solver =
      rt::ParseAlsSolver(absl::GetFlag(FLAGS_solver));
  if (!solver.ok()) return Fail(solver.status());
  options.solver = *solver;
  absl::StatusOr<rt::AlsKernel> kernel =
      rt::ParseAlsKernel(absl::GetFlag(FLAGS_kernel));
  if (!kernel.ok()) return Fail(kernel.status());
  options.kernel = *kernel;
  if (absl::Status s = rt::ValidateAlsOptions(options); !s.ok()) {
    return Fail(s);
  }

  const Clock::time_point build_start = Clock::now();
  absl::StatusOr<rt::CsrMatrix> matrix;
  if (!pairs.empty()) {
    rt::ReadStats stats;
    matrix = rt::ReadPairsConfidence(pairs, confidence, &stats);
    if (matrix.ok()) {
      std::printf("input: %s (%lld rows read, %lld skipped)\n", pairs.c_str(),
                  static_cast<long long>(stats.rows_read),
                  static_cast<long long>(stats.total_skipped()));
    }
  } else {
    rt::SyntheticMatrixOptions synthetic;
    synthetic.users = synthetic_users;
    synthetic.items = absl::GetFlag(FLAGS_synthetic_items);
    synthetic.nnz = absl::GetFlag(FLAGS_synthetic_nnz);
    synthetic.zipf_exponent = absl::GetFlag(FLAGS_synthetic_zipf);
    synthetic.seed = absl::GetFlag(FLAGS_synthetic_seed);
    matrix = rt::GenerateSyntheticConfidence(synthetic, confidence);
    if (matrix.ok()) {
      std::printf("input: synthetic, zipf exponent %g, seed %llu\n",
                  synthetic.zipf_exponent,
                  static_cast<unsigned long long>(synthetic.seed));
    }
  }
  if (!matrix.ok()) return Fail(matrix.status());
  const double build_seconds = SecondsSince(build_start);
  std::printf("matrix: %d users x %d items, nnz %lld\n", matrix->rows,
              matrix->cols, static_cast<long long>(matrix->nnz()));
  std::printf("build: %.3f s, peak RSS so far %.1f MiB\n", build_seconds,
              PeakRssMib());
  std::printf(
      "training: %s solver, %d cg steps, %d factors, %d iterations, %d "
      "threads, regularization %g, alpha %g, kernel %s\n",
      std::string(rt::AlsSolverName(options.solver)).c_str(), options.cg_steps,
      options.factors, options.iterations, options.threads,
      options.regularization, confidence.alpha,
      std::string(rt::AlsKernelName(
                      rt::EffectiveAlsKernel(options.kernel, options.factors)))
          .c_str());
  std::fflush(stdout);

  double loss_seconds = 0;
  options.on_iteration = [&](const rt::AlsIterationStats& s) {
    loss_seconds += s.loss_seconds;
    if (options.compute_loss) {
      std::printf("iteration %2d: %.4f s  loss %.9g (%.4f s)\n", s.iteration,
                  s.seconds, s.loss, s.loss_seconds);
    } else {
      std::printf("iteration %2d: %.4f s\n", s.iteration, s.seconds);
    }
    std::fflush(stdout);
  };
  const Clock::time_point fit_start = Clock::now();
  absl::StatusOr<rt::AlsModel> model = rt::TrainAls(*matrix, options);
  const double fit_seconds = SecondsSince(fit_start);
  if (!model.ok()) return Fail(model.status());

  double sum = 0, best = HUGE_VAL, worst = 0;
  for (const rt::AlsIterationStats& s : model->iterations) {
    sum += s.seconds;
    best = std::min(best, s.seconds);
    worst = std::max(worst, s.seconds);
  }
  const int n = static_cast<int>(model->iterations.size());
  if (n > 0) {
    std::printf("mean %.4f s/iteration (min %.4f, max %.4f)\n", sum / n, best,
                worst);
  }
  std::printf(
      "fit: %.3f s total (iterations %.3f s, loss %.3f s, setup %.3f s)\n",
      fit_seconds, sum, loss_seconds, fit_seconds - sum - loss_seconds);
  std::printf("peak RSS: %.1f MiB\n", PeakRssMib());
  return 0;
}
