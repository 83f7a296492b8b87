#include "common/random.h"

#include <array>
#include <cmath>
#include <cstdint>

#include "gtest/gtest.h"

namespace recsys {
namespace {

// The values below are those of the generators as first written in
// training/datagen.cc, evaluation/random.h, training/als_bench_data.cc and
// bench/synth_model.cc. They must never change: generated data sets,
// splits and models are built from these streams.

TEST(RandomTest, SplitMix64StreamIsPinned) {
  SplitMix64 rng(42);
  EXPECT_EQ(rng.Next(), 13679457532755275413ull);
  EXPECT_EQ(rng.Next(), 2949826092126892291ull);
  EXPECT_EQ(rng.Next(), 5139283748462763858ull);

  uint64_t state = 42;
  EXPECT_EQ(SplitMix64Next(&state), 13679457532755275413ull);
  EXPECT_EQ(SplitMix64Next(&state), 2949826092126892291ull);
  EXPECT_EQ(Mix64(0), 16294208416658607535ull);
}

TEST(RandomTest, XoshiroStreamIsPinned) {
  Rng rng(42);
  EXPECT_EQ(rng.Next(), 1546998764402558742ull);
  EXPECT_EQ(rng.Next(), 6990951692964543102ull);
  EXPECT_EQ(rng.Next(), 12544586762248559009ull);
}

// Values from the transcendental functions (Normal, LogNormal,
// Exponential) are compared to 4 ulps: they go through libm.
TEST(RandomTest, DistributionsArePinned) {
  Rng rng(7);
  EXPECT_EQ(rng.Uniform(), 0.7005764821796896);
  EXPECT_EQ(rng.UniformOpen(), 0.27875122947378433);
  EXPECT_EQ(rng.UniformMulShift32(1000), 839u);
  EXPECT_DOUBLE_EQ(rng.Normal(), 0.19504021629524815);
  EXPECT_DOUBLE_EQ(rng.LogNormal(0, 1), 1.6227779475508701);
  EXPECT_DOUBLE_EQ(rng.Exponential(2), 1.1295914267199656);

  SplitMix64 sm(7);
  EXPECT_EQ(sm.UniformModulo(1000), 487u);
  EXPECT_EQ(sm.UniformMulShift64(1000), 16u);
  EXPECT_EQ(sm.Geometric(std::log(0.9)), 21);
  EXPECT_EQ(sm.Uniform(), 0.58293029302807808);
  EXPECT_EQ(sm.UniformOpen(), 0.45244189501146842);
  EXPECT_DOUBLE_EQ(sm.Normal(), -1.6328064257469261);
  EXPECT_EQ(sm.UniformMulShift32(100), 32u);
  EXPECT_TRUE(sm.Bernoulli(0.5));
}

TEST(RandomTest, FromStateAndPairedNormalArePinned) {
  std::array<uint64_t, 4> state;
  uint64_t s = 3;
  for (uint64_t& x : state) x = s = Mix64(s);
  Rng rng = Rng::FromState(state);
  PairedNormal normal;
  EXPECT_EQ(rng.Next(), 1930429320401078424ull);
  EXPECT_DOUBLE_EQ(normal.Next(rng), 0.95153506510922736);
  EXPECT_DOUBLE_EQ(normal.Next(rng), -0.8839553994998709);  // the cached sine
  EXPECT_DOUBLE_EQ(normal.Next(rng), 0.95220691303966165);
  EXPECT_EQ(rng.UniformModulo(1000), 926u);
}

TEST(RandomTest, SameSeedSameStream) {
  Rng a(123), b(123), c(124);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.Next();
    EXPECT_EQ(x, b.Next());
    differs |= x != c.Next();
  }
  EXPECT_TRUE(differs);
}

TEST(RandomTest, RangesHold) {
  Rng rng(5);
  for (int i = 0; i < 10000; ++i) {
    const double u = rng.Uniform();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
    const double o = rng.UniformOpen();
    EXPECT_GT(o, 0.0);
    EXPECT_LT(o, 1.0);
    EXPECT_LT(rng.UniformModulo(17), 17u);
    EXPECT_LT(rng.UniformMulShift64(17), 17u);
    EXPECT_LT(rng.UniformMulShift32(17), 17u);
    EXPECT_GE(rng.Geometric(std::log(0.5)), 0);
  }
}

}  // namespace
}  // namespace recsys
