#include "common/dot.h"

#include <cmath>
#include <vector>

#include "absl/types/span.h"
#include "common/random.h"
#include "gtest/gtest.h"

namespace recsys {
namespace {

// Values in [-1, 1) that are multiples of 2^-4: every product and every
// partial sum of up to 1024 of them is exact in float, so any summation
// order gives the reference exactly.
std::vector<float> ExactValues(int n, uint64_t seed) {
  SplitMix64 rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(static_cast<int>(rng.UniformModulo(32)) - 16) / 16;
  return v;
}

double Reference(const float* a, const float* b, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

TEST(DotTest, AllVariantsEqualScalarReferenceOnOddLengthsAndOffsets) {
  const std::vector<float> a = ExactValues(1100, 1);
  const std::vector<float> b = ExactValues(1100, 2);
  for (int n : {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 127, 129, 1023}) {
    for (int offset_a : {0, 1, 3}) {
      for (int offset_b : {0, 2, 5}) {
        const float* pa = a.data() + offset_a;  // unaligned starts
        const float* pb = b.data() + offset_b;
        const double want = Reference(pa, pb, n);
        EXPECT_EQ(Dot(pa, pb, n), want) << n;
        EXPECT_EQ(DotSimd(pa, pb, n), want) << n;
        EXPECT_EQ(DotSequential(pa, pb, n), want) << n;
        EXPECT_EQ(DotDouble(pa, pb, n), want) << n;
        absl::Span<const float> sa(pa, n), sb(pb, n);
        EXPECT_EQ(Dot(sa, sb), want);
        EXPECT_EQ(DotSequential(sa, sb), want);
        EXPECT_EQ(DotDouble(sa, sb), want);
      }
    }
  }
}

TEST(DotTest, CloseToReferenceOnGeneralValues) {
  SplitMix64 rng(9);
  std::vector<float> a(301), b(301);
  for (float& x : a) x = static_cast<float>(rng.Uniform() * 2 - 1);
  for (float& x : b) x = static_cast<float>(rng.Uniform() * 2 - 1);
  for (int n : {5, 17, 100, 299}) {
    const double want = Reference(a.data() + 1, b.data() + 2, n);
    const double tolerance = 1e-5 * n;
    EXPECT_NEAR(Dot(a.data() + 1, b.data() + 2, n), want, tolerance);
    EXPECT_NEAR(DotSimd(a.data() + 1, b.data() + 2, n), want, tolerance);
    EXPECT_NEAR(DotSequential(a.data() + 1, b.data() + 2, n), want, tolerance);
    EXPECT_NEAR(DotDouble(a.data() + 1, b.data() + 2, n), want, 1e-12 * n);
  }
}

TEST(DotTest, SequentialIsLeftToRightFloat) {
  SplitMix64 rng(11);
  std::vector<float> a(37), b(37);
  for (float& x : a) x = static_cast<float>(rng.Uniform() * 3 - 1);
  for (float& x : b) x = static_cast<float>(rng.Uniform() * 3 - 1);
  volatile float s = 0;  // one rounding per step, in order
  for (int i = 0; i < 37; ++i) {
    const float p = a[i] * b[i];
    s = s + p;
  }
  EXPECT_EQ(DotSequential(a.data(), b.data(), 37), s);
}

TEST(DotTest, SpanFormsUseTheShorterLength) {
  const std::vector<float> a = {1, 2, 3, 4};
  const std::vector<float> b = {10, 20};
  EXPECT_EQ(Dot(absl::MakeConstSpan(a), absl::MakeConstSpan(b)), 50.0f);
  EXPECT_EQ(DotSequential(absl::MakeConstSpan(a), absl::MakeConstSpan(b)), 50.0f);
  EXPECT_EQ(DotDouble(absl::MakeConstSpan(a), absl::MakeConstSpan(b)), 50.0);
}

}  // namespace
}  // namespace recsys
