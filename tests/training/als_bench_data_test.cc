#include "training/als_bench_data.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/testing/test_files.h"

namespace recsys::training {
namespace {

using ::recsys::testing::MakeTestDir;
using ::recsys::testing::WriteGzFile;

TEST(PairConfidenceTest, MatchesTheTrainerWeighting) {
  ConfidenceOptions log;
  log.alpha = 5;
  EXPECT_FLOAT_EQ(PairConfidence(1, log), 1 + 5 * std::log(2.0));
  log.epsilon = 2;
  EXPECT_FLOAT_EQ(PairConfidence(4, log), 1 + 5 * std::log(3.0));
  ConfidenceOptions linear;
  linear.scaling = ConfidenceScaling::kLinear;
  linear.alpha = 3;
  EXPECT_FLOAT_EQ(PairConfidence(2, linear), 7);
}

TEST(ReadPairsConfidenceTest, BuildsCsrInFirstAppearanceOrder) {
  const std::string dir = MakeTestDir();
  const std::string path = WriteGzFile(dir, "pairs.csv.gz",
                                       "user_id,movie_id\n"
                                       "u7,m3\n"
                                       "u7,m1\n"
                                       "u2,m3\n"
                                       "u7,m3\n"
                                       "u2,m9\n"
                                       "bad line with, too, many\n"
                                       "u5,m1\n");
  ConfidenceOptions confidence;
  ReadStats stats;
  absl::StatusOr<CsrMatrix> m = ReadPairsConfidence(path, confidence, &stats);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(ValidateCsr(*m).ok());
  EXPECT_EQ(stats.rows_read, 7);
  EXPECT_EQ(stats.total_skipped(), 1);
  // users u7, u2, u5 -> 0, 1, 2; items m3, m1, m9 -> 0, 1, 2.
  EXPECT_EQ(m->rows, 3);
  EXPECT_EQ(m->cols, 3);
  EXPECT_EQ(m->indptr, (std::vector<int64_t>{0, 2, 4, 5}));
  EXPECT_EQ(m->indices, (std::vector<int32_t>{0, 1, 0, 2, 1}));
  const float once = PairConfidence(1, confidence);
  const float twice = PairConfidence(2, confidence);
  EXPECT_EQ(m->values, (std::vector<float>{twice, once, once, once, once}));
}

TEST(ReadPairsConfidenceTest, Errors) {
  ReadStats stats;
  EXPECT_EQ(
      ReadPairsConfidence("/nonexistent/pairs.csv", {}, &stats).status().code(),
      absl::StatusCode::kNotFound);
  const std::string dir = MakeTestDir();
  const std::string path = WriteGzFile(dir, "p.csv.gz", "u,i\na,b\n");
  ConfidenceOptions decay;
  decay.decay_half_life_days = 30;
  EXPECT_EQ(ReadPairsConfidence(path, decay, &stats).status().code(),
            absl::StatusCode::kInvalidArgument);
  ConfidenceOptions bad;
  bad.epsilon = 0;
  EXPECT_EQ(ReadPairsConfidence(path, bad, &stats).status().code(),
            absl::StatusCode::kInvalidArgument);
}

SyntheticMatrixOptions Small() {
  SyntheticMatrixOptions o;
  o.users = 2000;
  o.items = 500;
  o.nnz = 30000;
  o.seed = 9;
  return o;
}

TEST(GenerateSyntheticConfidenceTest, ExactShapeDistinctSortedRows) {
  const ConfidenceOptions confidence;
  absl::StatusOr<CsrMatrix> m =
      GenerateSyntheticConfidence(Small(), confidence);
  ASSERT_TRUE(m.ok()) << m.status();
  ASSERT_TRUE(ValidateCsr(*m).ok());  // includes strictly increasing rows
  EXPECT_EQ(m->rows, 2000);
  EXPECT_EQ(m->cols, 500);
  EXPECT_EQ(m->nnz(), 30000);
  int64_t longest = 0;
  for (int32_t r = 0; r < m->rows; ++r) {
    longest = std::max(longest, m->indptr[r + 1] - m->indptr[r]);
  }
  EXPECT_GT(longest, 30);  // geometric lengths, mean 15
  const float once = PairConfidence(1, confidence);
  int64_t repeated = 0;
  for (float v : m->values) {
    EXPECT_GE(v, once);
    repeated += v > once ? 1 : 0;
  }
  // P(count > 1) = 1/3.
  EXPECT_NEAR(static_cast<double>(repeated) / m->nnz(), 1.0 / 3, 0.02);
}

TEST(GenerateSyntheticConfidenceTest, DeterministicPerSeed) {
  const CsrMatrix a = *GenerateSyntheticConfidence(Small(), {});
  const CsrMatrix b = *GenerateSyntheticConfidence(Small(), {});
  EXPECT_EQ(a.indptr, b.indptr);
  EXPECT_EQ(a.indices, b.indices);
  EXPECT_EQ(a.values, b.values);
  SyntheticMatrixOptions other = Small();
  other.seed = 10;
  EXPECT_NE(GenerateSyntheticConfidence(other, {})->indices, a.indices);
}

// Entries per column, sorted descending.
std::vector<int64_t> ColumnCounts(const CsrMatrix& m) {
  std::vector<int64_t> counts(m.cols, 0);
  for (int32_t c : m.indices) ++counts[c];
  std::sort(counts.rbegin(), counts.rend());
  return counts;
}

TEST(GenerateSyntheticConfidenceTest, PowerLawItemPopularity) {
  const CsrMatrix zipf = *GenerateSyntheticConfidence(Small(), {});
  const std::vector<int64_t> counts = ColumnCounts(zipf);
  // Zipf(1) over 500 items: the top item is drawn with probability
  // 1 / H(500) ~ 0.15, so it lands in most rows (mean length 15); the median
  // item is drawn with probability ~0.0006 (~1% of the rows).
  EXPECT_GT(counts[0], 1200);
  EXPECT_LT(counts[250], 60);
  // The most popular column is not simply column 0.
  std::vector<int64_t> by_column(zipf.cols, 0);
  for (int32_t c : zipf.indices) ++by_column[c];
  EXPECT_NE(
      std::max_element(by_column.begin(), by_column.end()) - by_column.begin(),
      0);

  SyntheticMatrixOptions flat = Small();
  flat.zipf_exponent = 0;
  const std::vector<int64_t> uniform =
      ColumnCounts(*GenerateSyntheticConfidence(flat, {}));
  // Uniform: 60 entries per column on average.
  EXPECT_LT(uniform[0], 120);
  EXPECT_GT(uniform[499], 20);
}

TEST(GenerateSyntheticConfidenceTest, EdgeCasesAndErrors) {
  SyntheticMatrixOptions full;
  full.users = 6;
  full.items = 5;
  full.nnz = 30;
  const CsrMatrix dense = *GenerateSyntheticConfidence(full, {});
  EXPECT_EQ(dense.nnz(), 30);
  ASSERT_TRUE(ValidateCsr(dense).ok());
  full.nnz = 0;
  EXPECT_EQ(GenerateSyntheticConfidence(full, {})->nnz(), 0);
  full.nnz = 31;
  EXPECT_EQ(GenerateSyntheticConfidence(full, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  SyntheticMatrixOptions bad = Small();
  bad.zipf_exponent = -1;
  EXPECT_EQ(GenerateSyntheticConfidence(bad, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  bad = Small();
  bad.items = 0;
  EXPECT_EQ(GenerateSyntheticConfidence(bad, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace recsys::training
