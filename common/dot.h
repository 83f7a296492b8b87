// Float dot products, one copy each, named by their arithmetic:
//
//   Dot            the fastest kernel this CPU runs, picked once at startup:
//                  AVX2+FMA (two 8-lane FMA accumulators) when the CPU has
//                  both, else four scalar accumulators. The last bits of the
//                  result may differ between CPUs; use it where only speed
//                  matters (index scans, benchmarks).
//   DotSimd        a compiler-vectorised reduction (OpenMP simd, built with
//                  the baseline instruction set, no dispatch): fast and the
//                  same on every x86-64 CPU for a given build.
//   DotSequential  a single float accumulator, left to right:
//                  ((a0 b0 + a1 b1) + a2 b2) + ... ; the reference order.
//   DotDouble      products and sum in double, left to right, rounded once
//                  at the caller's discretion (returns double).
//
// The four give different last bits for the same inputs; a caller whose
// output is pinned (models, server answers, reports) must keep the one it
// has. All take n >= 0 floats from each pointer (any alignment) or two
// spans; the span forms use min(a.size(), b.size()) elements.
//
// Thread safety: pure functions, safe to call concurrently.
#ifndef RECSYS_COMMON_DOT_H_
#define RECSYS_COMMON_DOT_H_

#include <algorithm>
#include <cstddef>

#include "absl/types/span.h"

namespace recsys {

float Dot(const float* a, const float* b, int n);
inline float Dot(absl::Span<const float> a, absl::Span<const float> b) {
  return Dot(a.data(), b.data(), static_cast<int>(std::min(a.size(), b.size())));
}

float DotSimd(const float* a, const float* b, int n);

inline float DotSequential(const float* a, const float* b, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}
inline float DotSequential(absl::Span<const float> a,
                           absl::Span<const float> b) {
  return DotSequential(a.data(), b.data(),
                       static_cast<int>(std::min(a.size(), b.size())));
}

inline double DotDouble(const float* a, const float* b, int n) {
  double s = 0;
  for (int i = 0; i < n; ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}
inline double DotDouble(absl::Span<const float> a, absl::Span<const float> b) {
  return DotDouble(a.data(), b.data(),
                   static_cast<int>(std::min(a.size(), b.size())));
}

}  // namespace recsys

#endif  // RECSYS_COMMON_DOT_H_
