// A small seeded generator whose stream is the same on every platform (the
// standard distributions are implementation-defined), for reproducible
// splits, negative sampling and random search.
//
// Thread safety: not thread-safe; one generator per thread.
#ifndef RECSYS_EVALUATION_RANDOM_H_
#define RECSYS_EVALUATION_RANDOM_H_

#include <cstdint>

namespace recsys::evaluation {

class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}

  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n); n >= 1. (Modulo bias is below 2^-40 for n < 2^24.)
  uint64_t Uniform(uint64_t n) { return Next() % n; }
  // Uniform in [0, 1).
  double UniformDouble() {
    return static_cast<double>(Next() >> 11) * 0x1.0p-53;
  }

 private:
  uint64_t state_;
};

}  // namespace recsys::evaluation

#endif  // RECSYS_EVALUATION_RANDOM_H_
