// Seeded pseudo-random generators whose streams are the same on every
// platform and compiler (the <random> distributions are
// implementation-defined), for reproducible data generation, splits,
// sampling and initialisation:
//
//   SplitMix64   64 bits of state; also the seeder of Rng. Vigna's
//                splitmix64 (golden-gamma increment, Stafford mix 13).
//   Rng          xoshiro256** (Blackman & Vigna), seeded with four
//                splitmix64 outputs of the seed.
//
// Both expose Next() (64 random bits) and the same distributions, written
// out here so that a stream never changes:
//
//   Uniform()              [0, 1), 53 bits
//   UniformOpen()          (0, 1), 53 bits, centred in the cell
//   UniformModulo(n)       [0, n) as Next() % n (bias below 2^-40 for n < 2^24)
//   UniformMulShift64(n)   [0, n) as (Next() * n) >> 64 (no rejection step)
//   UniformMulShift32(n)   [0, n) as ((Next() >> 32) * n) >> 32
//   Bernoulli(p)           Uniform() < p
//   Normal()               standard normal, Box-Muller, one value per call
//   LogNormal(mu, sigma)   exp(mu + sigma * Normal())
//   Exponential(rate)      -log(UniformOpen()) / rate
//   Geometric(log(1 - q))  failures before the first success, q in (0, 1]
//
// PairedNormal draws standard normals two per pair of uniforms (cosine,
// then the cached sine), a different stream from Normal().
//
// The streams are pinned by tests/common/random_test.cc: a change to any
// formula here changes generated data sets, evaluation splits and trained
// models downstream.
//
// Thread safety: a generator is a plain value, not safe for concurrent use;
// give each thread (or each row, for results independent of threads) its
// own.
#ifndef RECSYS_COMMON_RANDOM_H_
#define RECSYS_COMMON_RANDOM_H_

#include <array>
#include <cmath>
#include <cstdint>
#include <numbers>

namespace recsys {

// One splitmix64 step: advances *state and returns the next output.
inline uint64_t SplitMix64Next(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A well-mixed 64-bit hash of x: the splitmix64 output for state x
// (SplitMix64Next on a copy).
inline uint64_t Mix64(uint64_t x) { return SplitMix64Next(&x); }

namespace random_internal {

// The distributions, over Derived::Next().
template <typename Derived>
class Distributions {
 public:
  double Uniform() { return static_cast<double>(Bits() >> 11) * 0x1.0p-53; }
  double UniformOpen() {
    return (static_cast<double>(Bits() >> 11) + 0.5) * 0x1.0p-53;
  }
  // REQUIRES: n >= 1.
  uint64_t UniformModulo(uint64_t n) { return Bits() % n; }
  // REQUIRES: n >= 1.
  uint64_t UniformMulShift64(uint64_t n) {
    return static_cast<uint64_t>(
        (static_cast<unsigned __int128>(Bits()) * n) >> 64);
  }
  // REQUIRES: n >= 1.
  uint32_t UniformMulShift32(uint32_t n) {
    return static_cast<uint32_t>(((Bits() >> 32) * uint64_t{n}) >> 32);
  }
  bool Bernoulli(double p) { return Uniform() < p; }
  double Normal() {
    const double u1 = UniformOpen();
    const double u2 = Uniform();
    return std::sqrt(-2.0 * std::log(u1)) *
           std::cos(2.0 * std::numbers::pi * u2);
  }
  double LogNormal(double mu, double sigma) {
    return std::exp(mu + sigma * Normal());
  }
  // REQUIRES: rate > 0.
  double Exponential(double rate) { return -std::log(UniformOpen()) / rate; }
  // floor(log(U) / log_one_minus_q) with U in (0, 1], where the caller
  // passes log(1 - q) precomputed; 0 when log_one_minus_q == 0.
  int64_t Geometric(double log_one_minus_q) {
    if (log_one_minus_q == 0) return 0;
    const double u = 1.0 - Uniform();  // (0, 1]
    return static_cast<int64_t>(std::floor(std::log(u) / log_one_minus_q));
  }

 private:
  uint64_t Bits() { return static_cast<Derived*>(this)->Next(); }
};

}  // namespace random_internal

class SplitMix64 : public random_internal::Distributions<SplitMix64> {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() { return SplitMix64Next(&state_); }

 private:
  uint64_t state_;
};

class Rng : public random_internal::Distributions<Rng> {
 public:
  // State = four consecutive SplitMix64(seed) outputs.
  explicit Rng(uint64_t seed) {
    uint64_t sm = seed;
    for (uint64_t& s : s_) s = SplitMix64Next(&sm);
  }
  // A generator with exactly this state. REQUIRES: not all zero.
  static Rng FromState(const std::array<uint64_t, 4>& state) {
    Rng rng(0);
    for (int i = 0; i < 4; ++i) rng.s_[i] = state[i];
    return rng;
  }

  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

// Standard normals by Box-Muller from one pair of uniforms u in (0, 1)
// (zeros redrawn) and v in [0, 1): r cos(2 pi v), then r sin(2 pi v) on the
// next call, r = sqrt(-2 log u). Keep one PairedNormal per generator.
class PairedNormal {
 public:
  template <typename G>
  double Next(G& rng) {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u = rng.Uniform();
    while (u <= 0) u = rng.Uniform();
    const double v = rng.Uniform();
    const double r = std::sqrt(-2.0 * std::log(u));
    spare_ = r * std::sin(2 * std::numbers::pi * v);
    has_spare_ = true;
    return r * std::cos(2 * std::numbers::pi * v);
  }

 private:
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace recsys

#endif  // RECSYS_COMMON_RANDOM_H_
