#include "training/als.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"

namespace recsys::training {
namespace {

// Small deterministic generator for test data.
class TestRng {
 public:
  explicit TestRng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  int Below(int n) { return static_cast<int>(Next() % n); }

 private:
  uint64_t state_;
};

std::vector<float> RandomMatrix(int rows, int cols, uint64_t seed) {
  TestRng rng(seed);
  std::vector<float> m(static_cast<size_t>(rows) * cols);
  for (float& v : m) v = static_cast<float>(rng.Uniform() - 0.5);
  return m;
}

// Builds a CSR matrix from (row, col, value) triples (unique pairs).
CsrMatrix FromTriples(int rows, int cols,
                      std::vector<std::tuple<int, int, float>> triples) {
  std::sort(triples.begin(), triples.end());
  CsrMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.indptr.assign(rows + 1, 0);
  for (const auto& [r, c, v] : triples) {
    ++m.indptr[r + 1];
    m.indices.push_back(c);
    m.values.push_back(v);
  }
  for (int r = 0; r < rows; ++r) m.indptr[r + 1] += m.indptr[r];
  return m;
}

// Planted structure: `groups` user groups each buying only from their own
// item group.
struct Planted {
  CsrMatrix confidence;
  int users_per_group;
  int items_per_group;
};

Planted MakePlanted(int groups, int users_per_group, int items_per_group,
                    int per_user, uint64_t seed) {
  TestRng rng(seed);
  std::vector<std::tuple<int, int, float>> triples;
  for (int g = 0; g < groups; ++g) {
    for (int u = 0; u < users_per_group; ++u) {
      std::set<int> chosen;
      while (static_cast<int>(chosen.size()) < per_user) {
        chosen.insert(g * items_per_group + rng.Below(items_per_group));
      }
      for (int i : chosen) {
        triples.emplace_back(g * users_per_group + u, i,
                             1.0f + 10.0f * static_cast<float>(rng.Uniform()));
      }
    }
  }
  return {
      FromTriples(groups * users_per_group, groups * items_per_group, triples),
      users_per_group, items_per_group};
}

TEST(GramianTest, MatchesNaiveSum) {
  const int rows = 2500, dim = 5;
  const std::vector<float> f = RandomMatrix(rows, dim, 7);
  const std::vector<float> g = ComputeGramian(f, dim, 0.5f, 3);
  ASSERT_EQ(g.size(), 25u);
  for (int a = 0; a < dim; ++a) {
    for (int b = 0; b < dim; ++b) {
      double s = a == b ? 0.5 : 0;
      for (int r = 0; r < rows; ++r)
        s += double{f[r * dim + a]} * f[r * dim + b];
      EXPECT_NEAR(g[a * dim + b], s, 1e-3) << a << "," << b;
    }
  }
  EXPECT_EQ(ComputeGramian(f, dim, 0.5f, 1), g);  // thread-independent
}

TEST(SolveRowTest, CholeskySolvesTheSystemAndCgConverges) {
  const int items = 30, dim = 8;
  const std::vector<float> y = RandomMatrix(items, dim, 11);
  const std::vector<float> g = ComputeGramian(y, dim, 0.1f);
  const std::vector<int32_t> rows = {1, 4, 9, 17, 29};
  const std::vector<float> conf = {2.0f, 5.0f, 1.5f, 20.0f, 3.0f};

  std::vector<float> exact(dim, 0.0f);
  ASSERT_TRUE(
      SolveRow(g, y, dim, rows, conf, AlsSolver::kCholesky, 1, exact.data())
          .ok());
  // Residual of (G + sum (c-1) y y^T) x - sum c y, in double.
  for (int a = 0; a < dim; ++a) {
    double lhs = 0, rhs = 0;
    for (int b = 0; b < dim; ++b) lhs += double{g[a * dim + b]} * exact[b];
    for (size_t k = 0; k < rows.size(); ++k) {
      const float* yk = &y[rows[k] * dim];
      double dot = 0;
      for (int b = 0; b < dim; ++b) dot += double{yk[b]} * exact[b];
      lhs += (conf[k] - 1.0) * dot * yk[a];
      rhs += conf[k] * yk[a];
    }
    EXPECT_NEAR(lhs, rhs, 1e-4) << a;
  }

  // Enough CG steps from zero reach the exact solution.
  std::vector<float> cg(dim, 0.0f);
  ASSERT_TRUE(SolveRow(g, y, dim, rows, conf, AlsSolver::kConjugateGradient,
                       dim + 4, cg.data())
                  .ok());
  for (int a = 0; a < dim; ++a) EXPECT_NEAR(cg[a], exact[a], 1e-3) << a;

  // So do repeated warm-started short runs (as in training).
  std::vector<float> warm(dim, 0.0f);
  for (int round = 0; round < 10; ++round) {
    ASSERT_TRUE(SolveRow(g, y, dim, rows, conf, AlsSolver::kConjugateGradient,
                         3, warm.data())
                    .ok());
  }
  for (int a = 0; a < dim; ++a) EXPECT_NEAR(warm[a], exact[a], 1e-3) << a;
}

TEST(SolveRowTest, RejectsBadArguments) {
  const int dim = 4;
  const std::vector<float> y = RandomMatrix(3, dim, 1);
  const std::vector<float> g = ComputeGramian(y, dim, 0.1f);
  std::vector<float> x(dim);
  const std::vector<int32_t> out_of_range = {3};
  const std::vector<float> conf = {1.0f};
  EXPECT_EQ(
      SolveRow(g, y, dim, out_of_range, conf, AlsSolver::kCholesky, 1, x.data())
          .code(),
      absl::StatusCode::kInvalidArgument);
  const std::vector<int32_t> ok_rows = {0, 1};
  EXPECT_EQ(
      SolveRow(g, y, dim, ok_rows, conf, AlsSolver::kCholesky, 1, x.data())
          .code(),
      absl::StatusCode::kInvalidArgument);
  const std::vector<float> zero(dim * dim, 0.0f);
  EXPECT_EQ(
      SolveRow(zero, y, dim, {}, {}, AlsSolver::kCholesky, 1, x.data()).code(),
      absl::StatusCode::kFailedPrecondition);
}

TEST(AlsLossTest, MatchesBruteForce) {
  const int users = 6, items = 5, dim = 3;
  const CsrMatrix c = FromTriples(users, items,
                                  {{0, 1, 3.0f},
                                   {0, 4, 1.5f},
                                   {2, 0, 8.0f},
                                   {3, 3, 2.0f},
                                   {5, 1, 1.0f},
                                   {5, 2, 4.0f}});
  const std::vector<float> x = RandomMatrix(users, dim, 3);
  const std::vector<float> y = RandomMatrix(items, dim, 4);
  const float reg = 0.2f;
  double loss = 0, weight = 0;
  for (int u = 0; u < users; ++u) {
    for (int i = 0; i < items; ++i) {
      double p = 0;
      for (int a = 0; a < dim; ++a)
        p += double{x[u * dim + a]} * y[i * dim + a];
      double conf = 1, target = 0;
      for (int64_t k = c.indptr[u]; k < c.indptr[u + 1]; ++k) {
        if (c.indices[k] == i) {
          conf = c.values[k];
          target = 1;
        }
      }
      loss += conf * (target - p) * (target - p);
      weight += conf;
    }
  }
  for (float v : x) loss += reg * double{v} * v;
  for (float v : y) loss += reg * double{v} * v;
  EXPECT_NEAR(ComputeAlsLoss(c, x, y, dim, reg, 2), loss / weight, 1e-6);
}

// Index of the highest-scoring item the user has not bought.
int TopUnseen(const AlsModel& model, const CsrMatrix& c, int user) {
  std::set<int> seen(c.indices.begin() + c.indptr[user],
                     c.indices.begin() + c.indptr[user + 1]);
  const int dim = model.factors;
  int best = -1;
  float best_score = -1e30f;
  for (int i = 0; i < model.num_items; ++i) {
    if (seen.count(i)) continue;
    float s = 0;
    for (int a = 0; a < dim; ++a) {
      s += model.user_factors[user * dim + a] * model.item_factors[i * dim + a];
    }
    if (s > best_score) {
      best_score = s;
      best = i;
    }
  }
  return best;
}

class PlantedStructureTest : public ::testing::TestWithParam<AlsSolver> {};

TEST_P(PlantedStructureTest, RecommendsFromTheUsersGroup) {
  for (uint64_t seed : {1, 2, 3}) {
    const Planted p = MakePlanted(3, 40, 20, 6, seed);
    AlsOptions options;
    options.factors = 4;
    options.iterations = 15;
    options.regularization = 0.1f;
    options.solver = GetParam();
    options.threads = 2;
    options.compute_loss = false;
    absl::StatusOr<AlsModel> model = TrainAls(p.confidence, options);
    ASSERT_TRUE(model.ok()) << model.status();
    ASSERT_EQ(model->iterations.size(), 15u);
    EXPECT_TRUE(std::isnan(model->iterations[0].loss));
    int in_group = 0;
    const int users = p.confidence.rows;
    for (int u = 0; u < users; ++u) {
      const int item = TopUnseen(*model, p.confidence, u);
      if (item / p.items_per_group == u / p.users_per_group) ++in_group;
    }
    EXPECT_EQ(in_group, users) << "seed " << seed;
  }
}

INSTANTIATE_TEST_SUITE_P(Solvers, PlantedStructureTest,
                         ::testing::Values(AlsSolver::kConjugateGradient,
                                           AlsSolver::kCholesky));

TEST(TrainAlsTest, LossDecreasesAndCallbackSeesEveryIteration) {
  const Planted p = MakePlanted(4, 30, 25, 8, 5);
  for (AlsSolver solver :
       {AlsSolver::kConjugateGradient, AlsSolver::kCholesky}) {
    AlsOptions options;
    options.factors = 12;
    options.iterations = 10;
    options.solver = solver;
    std::vector<AlsIterationStats> seen;
    options.on_iteration = [&](const AlsIterationStats& s) {
      seen.push_back(s);
    };
    absl::StatusOr<AlsModel> model = TrainAls(p.confidence, options);
    ASSERT_TRUE(model.ok()) << model.status();
    ASSERT_EQ(seen.size(), 10u);
    for (int i = 0; i < 10; ++i) {
      EXPECT_EQ(seen[i].iteration, i + 1);
      EXPECT_EQ(seen[i].loss, model->iterations[i].loss);
      EXPECT_GE(seen[i].seconds, 0);
      if (i > 0) {
        EXPECT_LE(seen[i].loss, seen[i - 1].loss * (1 + 1e-5))
            << AlsSolverName(solver) << " iteration " << i + 1;
      }
    }
    EXPECT_LT(seen[9].loss, seen[0].loss);
  }
}

TEST(TrainAlsTest, CgApproachesExactSolution) {
  const Planted p = MakePlanted(3, 20, 15, 5, 8);
  AlsOptions options;
  options.factors = 6;
  options.iterations = 25;
  options.cg_steps = 3;
  const double cg = TrainAls(p.confidence, options)->iterations.back().loss;
  options.solver = AlsSolver::kCholesky;
  const double exact = TrainAls(p.confidence, options)->iterations.back().loss;
  EXPECT_NEAR(cg, exact, 0.02 * exact);
}

TEST(TrainAlsTest, DeterministicAndThreadIndependent) {
  const Planted p = MakePlanted(3, 50, 30, 7, 21);
  AlsOptions options;
  options.factors = 16;
  options.iterations = 4;
  options.threads = 1;
  const AlsModel one = *TrainAls(p.confidence, options);
  options.threads = 3;
  const AlsModel three = *TrainAls(p.confidence, options);
  EXPECT_EQ(one.user_factors, three.user_factors);
  EXPECT_EQ(one.item_factors, three.item_factors);
  EXPECT_EQ(one.iterations.back().loss, three.iterations.back().loss);
  options.seed = 43;
  const AlsModel other_seed = *TrainAls(p.confidence, options);
  EXPECT_NE(other_seed.user_factors, one.user_factors);
}

TEST(TrainAlsTest, RejectsBadInput) {
  const Planted p = MakePlanted(2, 5, 5, 2, 1);
  AlsOptions options;
  options.factors = 0;
  EXPECT_EQ(TrainAls(p.confidence, options).status().code(),
            absl::StatusCode::kInvalidArgument);
  CsrMatrix bad = p.confidence;
  bad.values[0] = -1;
  EXPECT_EQ(TrainAls(bad, AlsOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = p.confidence;
  bad.indptr.pop_back();
  EXPECT_EQ(TrainAls(bad, AlsOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(*ParseAlsSolver("cholesky"), AlsSolver::kCholesky);
  EXPECT_FALSE(ParseAlsSolver("sgd").ok());
}

TEST(TrainAlsTest, ZeroIterationsReturnsInitialFactors) {
  const Planted p = MakePlanted(2, 5, 5, 2, 1);
  AlsOptions options;
  options.iterations = 0;
  options.factors = 4;
  const AlsModel model = *TrainAls(p.confidence, options);
  EXPECT_EQ(model.user_factors.size(), 40u);
  EXPECT_EQ(model.item_factors.size(), 40u);
  EXPECT_TRUE(model.iterations.empty());
}

// ---------------------------------------------------------------------------
// Kernel variants.

TEST(AlsKernelTest, NamesAndResolution) {
  for (AlsKernel k : {AlsKernel::kAuto, AlsKernel::kScalar, AlsKernel::kAvx2}) {
    absl::StatusOr<AlsKernel> parsed = ParseAlsKernel(AlsKernelName(k));
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(*parsed, k);
  }
  EXPECT_EQ(ParseAlsKernel("sse9").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(AlsKernelSupported(AlsKernel::kAuto));
  EXPECT_TRUE(AlsKernelSupported(AlsKernel::kScalar));
  EXPECT_EQ(EffectiveAlsKernel(AlsKernel::kScalar, 64), AlsKernel::kScalar);
  const AlsKernel automatic = EffectiveAlsKernel(AlsKernel::kAuto, 64);
  EXPECT_EQ(automatic, AlsKernelSupported(AlsKernel::kAvx2)
                           ? AlsKernel::kAvx2
                           : AlsKernel::kScalar);
  if (AlsKernelSupported(AlsKernel::kAvx2)) {
    EXPECT_EQ(EffectiveAlsKernel(AlsKernel::kAvx2, 64), AlsKernel::kAvx2);
    EXPECT_EQ(EffectiveAlsKernel(AlsKernel::kAvx2, 8), AlsKernel::kAvx2);
    EXPECT_EQ(EffectiveAlsKernel(AlsKernel::kAvx2, kMaxAvx2Factors),
              AlsKernel::kAvx2);
    // Sizes the AVX2 kernels do not cover run the portable code.
    EXPECT_EQ(EffectiveAlsKernel(AlsKernel::kAvx2, 4), AlsKernel::kScalar);
    EXPECT_EQ(EffectiveAlsKernel(AlsKernel::kAvx2, 50), AlsKernel::kScalar);
    EXPECT_EQ(EffectiveAlsKernel(AlsKernel::kAvx2, kMaxAvx2Factors + 8),
              AlsKernel::kScalar);
  } else {
    AlsOptions options;
    options.kernel = AlsKernel::kAvx2;
    EXPECT_EQ(ValidateAlsOptions(options).code(),
              absl::StatusCode::kFailedPrecondition);
  }
}

// Largest |a - b| relative to the largest |b| (at least 1e-3).
double MaxRelativeDiff(const std::vector<float>& a,
                       const std::vector<float>& b) {
  double diff = 0, scale = 1e-3;
  for (size_t k = 0; k < a.size(); ++k) {
    diff = std::max(diff, std::abs(double{a[k]} - b[k]));
    scale = std::max(scale, std::abs(double{b[k]}));
  }
  return diff / scale;
}

TEST(AlsKernelTest, Avx2GramianMatchesScalar) {
  if (!AlsKernelSupported(AlsKernel::kAvx2)) GTEST_SKIP() << "no AVX2/FMA";
  // Row counts that are not multiples of 4 and span several blocks.
  for (int dim : {8, 16, 24, 64, 72, 256, 12}) {
    for (int rows : {0, 1, 7, 2503}) {
      const std::vector<float> f = RandomMatrix(rows, dim, 100 + dim + rows);
      const std::vector<float> scalar =
          ComputeGramian(f, dim, 0.25f, 2, AlsKernel::kScalar);
      const std::vector<float> avx2 =
          ComputeGramian(f, dim, 0.25f, 2, AlsKernel::kAvx2);
      ASSERT_EQ(avx2.size(), scalar.size());
      EXPECT_LT(MaxRelativeDiff(avx2, scalar), 1e-5)
          << "dim " << dim << " rows " << rows;
      for (int a = 0; a < dim; ++a) {
        for (int b = 0; b < a; ++b) {
          ASSERT_EQ(avx2[a * dim + b], avx2[b * dim + a]) << a << "," << b;
        }
      }
      EXPECT_EQ(ComputeGramian(f, dim, 0.25f, 1, AlsKernel::kAvx2), avx2)
          << "thread-independent";
    }
  }
}

TEST(AlsKernelTest, Avx2CgMatchesScalarReference) {
  if (!AlsKernelSupported(AlsKernel::kAvx2)) GTEST_SKIP() << "no AVX2/FMA";
  for (int dim : {8, 16, 24, 32, 64, 72, 128, 256}) {
    const int num_items = 300;
    const std::vector<float> y = RandomMatrix(num_items, dim, 7 * dim);
    const std::vector<float> g = ComputeGramian(y, dim, 0.1f);
    TestRng rng(dim);
    for (int n : {0, 1, 3, 9, 17, 150}) {
      std::vector<int32_t> rows;
      std::vector<float> conf;
      for (int k = 0; k < n; ++k) {
        rows.push_back(rng.Below(num_items));
        conf.push_back(1.0f + 20.0f * static_cast<float>(rng.Uniform()));
      }
      for (int steps : {1, 3}) {
        const std::vector<float> start = RandomMatrix(1, dim, n + dim);
        std::vector<float> scalar = start, avx2 = start;
        std::vector<float> scratch(3 * dim);
        SolveRowCg(g.data(), y.data(), dim, rows.data(), conf.data(), n, steps,
                   scalar.data(), scratch.data(), AlsKernel::kScalar);
        // Unaligned scratch is allowed.
        std::vector<float> scratch2(3 * dim + 1);
        SolveRowCg(g.data(), y.data(), dim, rows.data(), conf.data(), n, steps,
                   avx2.data(), scratch2.data() + 1, AlsKernel::kAvx2);
        EXPECT_LT(MaxRelativeDiff(avx2, scalar), 1e-4)
            << "dim " << dim << " n " << n << " steps " << steps;
        EXPECT_NE(avx2, start);
      }
    }
  }
}

TEST(AlsKernelTest, Avx2TrainingMatchesScalarTraining) {
  if (!AlsKernelSupported(AlsKernel::kAvx2)) GTEST_SKIP() << "no AVX2/FMA";
  const Planted p = MakePlanted(4, 60, 40, 9, 17);
  AlsOptions options;
  options.factors = 32;
  options.iterations = 8;
  options.kernel = AlsKernel::kScalar;
  const AlsModel scalar = *TrainAls(p.confidence, options);
  options.kernel = AlsKernel::kAvx2;
  const AlsModel avx2 = *TrainAls(p.confidence, options);
  for (int i = 0; i < options.iterations; ++i) {
    EXPECT_NEAR(avx2.iterations[i].loss, scalar.iterations[i].loss,
                1e-4 * scalar.iterations[i].loss)
        << "iteration " << i + 1;
  }
  EXPECT_LT(MaxRelativeDiff(avx2.user_factors, scalar.user_factors), 1e-2);
  EXPECT_LT(MaxRelativeDiff(avx2.item_factors, scalar.item_factors), 1e-2);
}

// A matrix whose rows are very unequal (a few rows hold most entries), so
// that the work-balanced schedule cuts chunks of very different sizes.
CsrMatrix Skewed(int rows, int cols, uint64_t seed) {
  TestRng rng(seed);
  std::vector<std::tuple<int, int, float>> triples;
  for (int r = 0; r < rows; ++r) {
    const int n = r % 50 == 7 ? cols * 3 / 4 : 1 + rng.Below(4);
    std::set<int> chosen;
    while (static_cast<int>(chosen.size()) < n) chosen.insert(rng.Below(cols));
    for (int c : chosen) {
      triples.emplace_back(r, c,
                           1.0f + 5.0f * static_cast<float>(rng.Uniform()));
    }
  }
  return FromTriples(rows, cols, triples);
}

TEST(TrainAlsTest, SkewedRowsAreThreadIndependentForEveryKernel) {
  const CsrMatrix c = Skewed(3000, 400, 3);
  for (AlsKernel kernel : {AlsKernel::kScalar, AlsKernel::kAvx2}) {
    if (!AlsKernelSupported(kernel)) continue;
    for (int factors : {64, 20}) {
      AlsOptions options;
      options.factors = factors;
      options.iterations = 3;
      options.kernel = kernel;
      options.threads = 1;
      const AlsModel one = *TrainAls(c, options);
      for (int threads : {2, 5}) {
        options.threads = threads;
        const AlsModel more = *TrainAls(c, options);
        EXPECT_EQ(one.user_factors, more.user_factors)
            << AlsKernelName(kernel) << " " << threads;
        EXPECT_EQ(one.item_factors, more.item_factors)
            << AlsKernelName(kernel) << " " << threads;
        EXPECT_EQ(one.iterations.back().loss, more.iterations.back().loss);
      }
      EXPECT_LT(one.iterations.back().loss, one.iterations.front().loss);
    }
  }
}

TEST(TrainAlsTest, LossIsOptionalAndTimedSeparately) {
  const Planted p = MakePlanted(2, 10, 10, 3, 4);
  AlsOptions options;
  options.factors = 8;
  options.iterations = 2;
  options.compute_loss = false;
  const AlsModel without = *TrainAls(p.confidence, options);
  for (const AlsIterationStats& s : without.iterations) {
    EXPECT_TRUE(std::isnan(s.loss));
    EXPECT_EQ(s.loss_seconds, 0);
  }
  options.compute_loss = true;
  const AlsModel with = *TrainAls(p.confidence, options);
  for (const AlsIterationStats& s : with.iterations) {
    EXPECT_FALSE(std::isnan(s.loss));
    EXPECT_GE(s.loss_seconds, 0);
  }
  EXPECT_EQ(with.user_factors, without.user_factors);
}

}  // namespace
}  // namespace recsys::training
