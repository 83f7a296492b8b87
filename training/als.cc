#include "training/als.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#if defined(__x86_64__) && defined(__GNUC__)
#define RECSYS_ALS_X86_64 1
#include <immintrin.h>
#endif

#include "absl/strings/str_cat.h"
#include "common/dot.h"
#include "common/parallel.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace recsys::training {
namespace {

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

void InitFactors(std::vector<float>* factors, float scale, SplitMix64* rng) {
  for (float& v : *factors) v = static_cast<float>(rng->Uniform() * scale);
}

// ---------------------------------------------------------------------------
// Portable kernels (AlsKernel::kScalar).

void SolveRowCgScalar(const float* gramian_reg, const float* item_factors,
                      int dim, const int32_t* items, const float* confidences,
                      int64_t n, int cg_steps, float* x, float* scratch) {
  float* r = scratch;
  float* p = scratch + dim;
  float* ap = scratch + 2 * dim;

  // r = b - A x = sum_k (c_k - (c_k - 1) y_k.x) y_k - G x
  SymMatVec(gramian_reg, x, r, dim);
  for (int a = 0; a < dim; ++a) r[a] = -r[a];
  for (int64_t k = 0; k < n; ++k) {
    const float* y = item_factors + static_cast<size_t>(items[k]) * dim;
    const float c = confidences[k];
    Axpy(c - (c - 1.0f) * DotSimd(y, x, dim), y, r, dim);
  }
  std::copy(r, r + dim, p);
  float rs_old = DotSimd(r, r, dim);
  for (int step = 0; step < cg_steps; ++step) {
    if (rs_old < 1e-20f) break;
    // ap = A p = G p + sum_k (c_k - 1)(y_k.p) y_k
    SymMatVec(gramian_reg, p, ap, dim);
    for (int64_t k = 0; k < n; ++k) {
      const float* y = item_factors + static_cast<size_t>(items[k]) * dim;
      Axpy((confidences[k] - 1.0f) * DotSimd(y, p, dim), y, ap, dim);
    }
    const float pap = DotSimd(p, ap, dim);
    if (!(pap > 0)) break;  // Not positive definite along p (or NaN).
    const float step_size = rs_old / pap;
    Axpy(step_size, p, x, dim);
    Axpy(-step_size, ap, r, dim);
    const float rs_new = DotSimd(r, r, dim);
    if (rs_new < 1e-20f) break;
    const float beta = rs_new / rs_old;
    for (int a = 0; a < dim; ++a) p[a] = r[a] + beta * p[a];
    rs_old = rs_new;
  }
}

// g += sum over `rows` rows of f f^T (dim x dim, row-major, all entries).
void GramianBlockScalar(const float* factors, int64_t rows, int dim, float* g) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* f = factors + r * dim;
    for (int a = 0; a < dim; ++a) {
      Axpy(f[a], f, g + static_cast<size_t>(a) * dim, dim);
    }
  }
}

// ---------------------------------------------------------------------------
// AVX2 + FMA kernels (AlsKernel::kAvx2), for dim = 8 * K. Compiled with a
// target attribute and called only after a run-time CPU check, so the rest
// of the binary keeps the baseline instruction set.
//
// Each pass of the CG kernel over the row's items (the residual, then A p
// per step) fetches every y_i once for both its dot product and its axpy,
// and keeps the vector being accumulated in registers: all of it for up to
// 64 factors, otherwise one 64-float panel at a time over blocks of items.
// Factor rows are prefetched a few items ahead.

using CgKernel = void (*)(const float* gramian_reg, const float* item_factors,
                          const int32_t* items, const float* confidences,
                          int64_t n, int cg_steps, float* x, float* scratch);
using GramianKernel = void (*)(const float* factors, int64_t rows, float* g);

#ifdef RECSYS_ALS_X86_64
#define RECSYS_ALS_AVX2 __attribute__((target("avx2,fma")))

bool CpuHasAvx2Fma() {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  return has;
}

namespace avx2 {

// How many items ahead the CG passes prefetch factor rows.
constexpr int64_t kPrefetchAhead = 8;

// The sum of v's lanes, in every lane.
RECSYS_ALS_AVX2 inline __m256 SumLanes(__m256 v) {
  v = _mm256_add_ps(v, _mm256_permute2f128_ps(v, v, 1));
  v = _mm256_add_ps(v, _mm256_shuffle_ps(v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm256_add_ps(v, _mm256_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
}

// Reduces P partial sums (P <= 4) to their total, in every lane.
template <int P>
RECSYS_ALS_AVX2 inline __m256 SumPartials(__m256* d) {
  if constexpr (P == 4) {
    d[0] = _mm256_add_ps(d[0], d[2]);
    d[1] = _mm256_add_ps(d[1], d[3]);
    d[0] = _mm256_add_ps(d[0], d[1]);
  } else if constexpr (P == 3) {
    d[0] = _mm256_add_ps(d[0], d[2]);
    d[0] = _mm256_add_ps(d[0], d[1]);
  } else if constexpr (P == 2) {
    d[0] = _mm256_add_ps(d[0], d[1]);
  }
  return SumLanes(d[0]);
}

// a.b for two 8K-float vectors in memory, in every lane.
template <int K>
RECSYS_ALS_AVX2 inline __m256 Dot(const float* a, const float* b) {
  constexpr int P = K < 4 ? K : 4;
  __m256 d[P];
#pragma GCC unroll 4
  for (int j = 0; j < P; ++j) {
    d[j] =
        _mm256_mul_ps(_mm256_loadu_ps(a + 8 * j), _mm256_loadu_ps(b + 8 * j));
  }
#pragma GCC unroll 32
  for (int j = P; j < K; ++j) {
    d[j % P] = _mm256_fmadd_ps(_mm256_loadu_ps(a + 8 * j),
                               _mm256_loadu_ps(b + 8 * j), d[j % P]);
  }
  return SumPartials<P>(d);
}

// At most this many vectors are accumulated in registers at a time (16
// ymm registers in all); longer vectors are processed in panels.
constexpr int kPanel = 8;
// Items per block when the vectors are longer than a panel: their
// coefficients are computed first, then added panel by panel while the
// block's rows are still in L1.
constexpr int kBlockItems = 16;

// acc = G[:, panel] v (or its negative) for the panel of kWidth vectors
// starting at vector kFirst.
template <int K, int kFirst, int kWidth, bool kNegate>
RECSYS_ALS_AVX2 inline void GramianTimesPanel(const float* g, const float* v,
                                              __m256* acc) {
  constexpr int D = 8 * K;
#pragma GCC unroll 8
  for (int j = 0; j < kWidth; ++j) acc[j] = _mm256_setzero_ps();
  for (int b = 0; b < D; ++b) {
    const __m256 vb = _mm256_broadcast_ss(v + b);
    const float* gb = g + static_cast<size_t>(b) * D + 8 * kFirst;
#pragma GCC unroll 8
    for (int j = 0; j < kWidth; ++j) {
      acc[j] = kNegate
                   ? _mm256_fnmadd_ps(vb, _mm256_loadu_ps(gb + 8 * j), acc[j])
                   : _mm256_fmadd_ps(vb, _mm256_loadu_ps(gb + 8 * j), acc[j]);
    }
  }
}

// out = G v (or -G v) for the symmetric 8K x 8K matrix G, as a sum of G's
// rows weighted by v (no reductions), one panel of columns at a time.
template <int K, bool kNegate, int kFirst = 0>
RECSYS_ALS_AVX2 inline void GramianTimes(const float* g, const float* v,
                                         float* out) {
  if constexpr (kFirst < K) {
    constexpr int kWidth = K - kFirst < kPanel ? K - kFirst : kPanel;
    __m256 acc[kWidth];
    GramianTimesPanel<K, kFirst, kWidth, kNegate>(g, v, acc);
#pragma GCC unroll 8
    for (int j = 0; j < kWidth; ++j) {
      _mm256_storeu_ps(out + 8 * (kFirst + j), acc[j]);
    }
    GramianTimes<K, kNegate, kFirst + kWidth>(g, v, out);
  }
}

template <int K>
RECSYS_ALS_AVX2 inline void PrefetchRow(const float* row) {
  constexpr int kLines = (K * 32 + 63) / 64;
#pragma GCC unroll 32
  for (int l = 0; l < kLines; ++l) {
    _mm_prefetch(reinterpret_cast<const char*>(row) + 64 * l, _MM_HINT_T0);
  }
}

// The weight of y in a pass over the row's items, in every lane:
// c - (c - 1) y.v for the residual, (c - 1) y.v for A p.
template <int K, bool kResidual>
RECSYS_ALS_AVX2 inline __m256 Coefficient(float c, const float* y,
                                          const float* v) {
  const __m256 c_minus_1 = _mm256_set1_ps(c - 1.0f);
  if constexpr (kResidual) {
    return _mm256_fnmadd_ps(c_minus_1, Dot<K>(y, v), _mm256_set1_ps(c));
  } else {
    return _mm256_mul_ps(c_minus_1, Dot<K>(y, v));
  }
}

// acc += coef * y. `y` goes through an empty asm statement so that the
// compiler reloads it (from L1) instead of keeping the row in registers
// since the dot product, which would leave too few registers for acc.
template <int K>
RECSYS_ALS_AVX2 inline void AddScaledRow(__m256 coef, const float* y,
                                         __m256* acc) {
  asm("" : "+r"(y));
#pragma GCC unroll 8
  for (int j = 0; j < K; ++j) {
    acc[j] = _mm256_fmadd_ps(coef, _mm256_loadu_ps(y + 8 * j), acc[j]);
  }
}

// out[panel] += sum_i coef[i] y_i[panel] over one block of items.
template <int K, int kFirst, int kWidth>
RECSYS_ALS_AVX2 inline void AddBlockPanel(const float* item_factors,
                                          const int32_t* items,
                                          const float* coef, int count,
                                          float* out) {
  constexpr int D = 8 * K;
  __m256 acc[kWidth];
#pragma GCC unroll 8
  for (int j = 0; j < kWidth; ++j) {
    acc[j] = _mm256_loadu_ps(out + 8 * (kFirst + j));
  }
  for (int i = 0; i < count; ++i) {
    const float* y =
        item_factors + static_cast<size_t>(items[i]) * D + 8 * kFirst;
    const __m256 c = _mm256_broadcast_ss(coef + i);
#pragma GCC unroll 8
    for (int j = 0; j < kWidth; ++j) {
      acc[j] = _mm256_fmadd_ps(c, _mm256_loadu_ps(y + 8 * j), acc[j]);
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < kWidth; ++j) {
    _mm256_storeu_ps(out + 8 * (kFirst + j), acc[j]);
  }
}

template <int K, int kFirst = 0>
RECSYS_ALS_AVX2 inline void AddBlock(const float* item_factors,
                                     const int32_t* items, const float* coef,
                                     int count, float* out) {
  if constexpr (kFirst < K) {
    constexpr int kWidth = K - kFirst < kPanel ? K - kFirst : kPanel;
    AddBlockPanel<K, kFirst, kWidth>(item_factors, items, coef, count, out);
    AddBlock<K, kFirst + kWidth>(item_factors, items, coef, count, out);
  }
}

// out = sign * G v + sum_k coef_k y_k over the row's items (see
// Coefficient; sign is -1 for the residual), for K > kPanel: one block of
// items at a time, coefficients first, then one panel of out at a time.
// Each y_k is fetched from memory once for its dot product and its axpy.
template <int K, bool kResidual>
RECSYS_ALS_AVX2 inline void PanelPass(const float* gramian_reg,
                                      const float* item_factors,
                                      const int32_t* items,
                                      const float* confidences, int64_t n,
                                      const float* v, float* out) {
  constexpr int D = 8 * K;
  GramianTimes<K, kResidual>(gramian_reg, v, out);
  float coef[kBlockItems];
  for (int64_t k0 = 0; k0 < n; k0 += kBlockItems) {
    const int count = static_cast<int>(std::min<int64_t>(kBlockItems, n - k0));
    for (int i = 0; i < count; ++i) {
      const int64_t k = k0 + i;
      if (k + kPrefetchAhead < n) {
        PrefetchRow<K>(item_factors +
                       static_cast<size_t>(items[k + kPrefetchAhead]) * D);
      }
      const float* y = item_factors + static_cast<size_t>(items[k]) * D;
      coef[i] =
          _mm256_cvtss_f32(Coefficient<K, kResidual>(confidences[k], y, v));
    }
    AddBlock<K>(item_factors, items + k0, coef, count, out);
  }
}

// a.b for a vector held in registers and one in memory, in every lane.
template <int K>
RECSYS_ALS_AVX2 inline __m256 Dot(const __m256* a, const float* b) {
  constexpr int P = K < 4 ? K : 4;
  __m256 d[P];
#pragma GCC unroll 4
  for (int j = 0; j < P; ++j) {
    d[j] = _mm256_mul_ps(a[j], _mm256_loadu_ps(b + 8 * j));
  }
#pragma GCC unroll 8
  for (int j = P; j < K; ++j) {
    d[j % P] = _mm256_fmadd_ps(a[j], _mm256_loadu_ps(b + 8 * j), d[j % P]);
  }
  return SumPartials<P>(d);
}

// The same iteration as SolveRowCgScalar for K <= kPanel: the vector being
// accumulated over the row's items (r, then A p) stays in registers through
// the pass and the update of x, r and p that follows it.
template <int K>
RECSYS_ALS_AVX2 void SolveRowCgInRegisters(const float* gramian_reg,
                                           const float* item_factors,
                                           const int32_t* items,
                                           const float* confidences, int64_t n,
                                           int cg_steps, float* x,
                                           float* scratch) {
  static_assert(K <= kPanel);
  constexpr int D = 8 * K;
  float* r = scratch;
  float* p = scratch + D;
  __m256 acc[K];

  // Start fetching the first rows; the G x product below hides the latency.
  for (int64_t k = 0; k < std::min(n, kPrefetchAhead); ++k) {
    PrefetchRow<K>(item_factors + static_cast<size_t>(items[k]) * D);
  }
  // r = sum_k (c_k - (c_k - 1) y_k.x) y_k - G x
  GramianTimesPanel<K, 0, K, true>(gramian_reg, x, acc);
  for (int64_t k = 0; k < n; ++k) {
    if (k + kPrefetchAhead < n) {
      PrefetchRow<K>(item_factors +
                     static_cast<size_t>(items[k + kPrefetchAhead]) * D);
    }
    const float* y = item_factors + static_cast<size_t>(items[k]) * D;
    AddScaledRow<K>(Coefficient<K, true>(confidences[k], y, x), y, acc);
  }
#pragma GCC unroll 8
  for (int j = 0; j < K; ++j) {
    _mm256_storeu_ps(r + 8 * j, acc[j]);
    _mm256_storeu_ps(p + 8 * j, acc[j]);
  }
  float rs_old = _mm256_cvtss_f32(Dot<K>(acc, r));
  for (int step = 0; step < cg_steps; ++step) {
    if (rs_old < 1e-20f) break;
    // acc = A p = G p + sum_k (c_k - 1)(y_k.p) y_k
    GramianTimesPanel<K, 0, K, false>(gramian_reg, p, acc);
    for (int64_t k = 0; k < n; ++k) {
      if (k + kPrefetchAhead < n) {
        PrefetchRow<K>(item_factors +
                       static_cast<size_t>(items[k + kPrefetchAhead]) * D);
      }
      const float* y = item_factors + static_cast<size_t>(items[k]) * D;
      AddScaledRow<K>(Coefficient<K, false>(confidences[k], y, p), y, acc);
    }
    const float pap = _mm256_cvtss_f32(Dot<K>(acc, p));
    if (!(pap > 0)) break;  // Not positive definite along p (or NaN).
    const __m256 step_size = _mm256_set1_ps(rs_old / pap);
    __m256 rs[K];
#pragma GCC unroll 8
    for (int j = 0; j < K; ++j) {
      _mm256_storeu_ps(x + 8 * j,
                       _mm256_fmadd_ps(step_size, _mm256_loadu_ps(p + 8 * j),
                                       _mm256_loadu_ps(x + 8 * j)));
      rs[j] = _mm256_fnmadd_ps(step_size, acc[j], _mm256_loadu_ps(r + 8 * j));
      _mm256_storeu_ps(r + 8 * j, rs[j]);
    }
    const float rs_new = _mm256_cvtss_f32(Dot<K>(rs, r));
    if (rs_new < 1e-20f) break;
    const __m256 beta = _mm256_set1_ps(rs_new / rs_old);
#pragma GCC unroll 8
    for (int j = 0; j < K; ++j) {
      _mm256_storeu_ps(
          p + 8 * j, _mm256_fmadd_ps(beta, _mm256_loadu_ps(p + 8 * j), rs[j]));
    }
    rs_old = rs_new;
  }
}

// The same iteration as SolveRowCgScalar for K > kPanel, with x, r, p and
// A p in `scratch` (L1).
template <int K>
RECSYS_ALS_AVX2 void SolveRowCgPanels(const float* gramian_reg,
                                      const float* item_factors,
                                      const int32_t* items,
                                      const float* confidences, int64_t n,
                                      int cg_steps, float* x, float* scratch) {
  constexpr int D = 8 * K;
  float* r = scratch;
  float* p = scratch + D;
  float* ap = scratch + 2 * D;

  // Start fetching the first rows; the G x product below hides the latency.
  for (int64_t k = 0; k < std::min(n, kPrefetchAhead); ++k) {
    PrefetchRow<K>(item_factors + static_cast<size_t>(items[k]) * D);
  }
  // r = sum_k (c_k - (c_k - 1) y_k.x) y_k - G x
  PanelPass<K, true>(gramian_reg, item_factors, items, confidences, n, x, r);
  std::copy(r, r + D, p);
  float rs_old = _mm256_cvtss_f32(Dot<K>(r, r));
  for (int step = 0; step < cg_steps; ++step) {
    if (rs_old < 1e-20f) break;
    // ap = A p = G p + sum_k (c_k - 1)(y_k.p) y_k
    PanelPass<K, false>(gramian_reg, item_factors, items, confidences, n, p,
                        ap);
    const float pap = _mm256_cvtss_f32(Dot<K>(p, ap));
    if (!(pap > 0)) break;  // Not positive definite along p (or NaN).
    const __m256 step_size = _mm256_set1_ps(rs_old / pap);
#pragma GCC unroll 8
    for (int j = 0; j < K; ++j) {
      _mm256_storeu_ps(x + 8 * j,
                       _mm256_fmadd_ps(step_size, _mm256_loadu_ps(p + 8 * j),
                                       _mm256_loadu_ps(x + 8 * j)));
      _mm256_storeu_ps(r + 8 * j,
                       _mm256_fnmadd_ps(step_size, _mm256_loadu_ps(ap + 8 * j),
                                        _mm256_loadu_ps(r + 8 * j)));
    }
    const float rs_new = _mm256_cvtss_f32(Dot<K>(r, r));
    if (rs_new < 1e-20f) break;
    const __m256 beta = _mm256_set1_ps(rs_new / rs_old);
#pragma GCC unroll 8
    for (int j = 0; j < K; ++j) {
      _mm256_storeu_ps(p + 8 * j,
                       _mm256_fmadd_ps(beta, _mm256_loadu_ps(p + 8 * j),
                                       _mm256_loadu_ps(r + 8 * j)));
    }
    rs_old = rs_new;
  }
}

template <int K>
RECSYS_ALS_AVX2 void SolveRowCg(const float* gramian_reg,
                                const float* item_factors, const int32_t* items,
                                const float* confidences, int64_t n,
                                int cg_steps, float* x, float* scratch) {
  if constexpr (K <= kPanel) {
    SolveRowCgInRegisters<K>(gramian_reg, item_factors, items, confidences, n,
                             cg_steps, x, scratch);
  } else {
    SolveRowCgPanels<K>(gramian_reg, item_factors, items, confidences, n,
                        cg_steps, x, scratch);
  }
}

// g += sum over `rows` rows of f f^T, for the upper triangle of g in whole
// vectors (columns >= 8 * (a / 8) of row a); the rest of g is not written.
// Four rows at a time, so each load and store of g serves four FMAs.
template <int K>
RECSYS_ALS_AVX2 void GramianBlock(const float* factors, int64_t rows,
                                  float* g) {
  constexpr int D = 8 * K;
  int64_t r = 0;
  for (; r + 4 <= rows; r += 4) {
    const float* f0 = factors + r * D;
    const float* f1 = f0 + D;
    const float* f2 = f1 + D;
    const float* f3 = f2 + D;
    for (int a = 0; a < D; ++a) {
      const __m256 b0 = _mm256_broadcast_ss(f0 + a);
      const __m256 b1 = _mm256_broadcast_ss(f1 + a);
      const __m256 b2 = _mm256_broadcast_ss(f2 + a);
      const __m256 b3 = _mm256_broadcast_ss(f3 + a);
      float* ga = g + static_cast<size_t>(a) * D;
      for (int j = a / 8; j < K; ++j) {
        __m256 v = _mm256_loadu_ps(ga + 8 * j);
        v = _mm256_fmadd_ps(b0, _mm256_loadu_ps(f0 + 8 * j), v);
        v = _mm256_fmadd_ps(b1, _mm256_loadu_ps(f1 + 8 * j), v);
        v = _mm256_fmadd_ps(b2, _mm256_loadu_ps(f2 + 8 * j), v);
        v = _mm256_fmadd_ps(b3, _mm256_loadu_ps(f3 + 8 * j), v);
        _mm256_storeu_ps(ga + 8 * j, v);
      }
    }
  }
  for (; r < rows; ++r) {
    const float* f = factors + r * D;
    for (int a = 0; a < D; ++a) {
      const __m256 b = _mm256_broadcast_ss(f + a);
      float* ga = g + static_cast<size_t>(a) * D;
      for (int j = a / 8; j < K; ++j) {
        _mm256_storeu_ps(ga + 8 * j,
                         _mm256_fmadd_ps(b, _mm256_loadu_ps(f + 8 * j),
                                         _mm256_loadu_ps(ga + 8 * j)));
      }
    }
  }
}

template <size_t... I>
constexpr std::array<CgKernel, sizeof...(I)> CgTable(
    std::index_sequence<I...>) {
  return {&SolveRowCg<static_cast<int>(I) + 1>...};
}
template <size_t... I>
constexpr std::array<GramianKernel, sizeof...(I)> GramianTable(
    std::index_sequence<I...>) {
  return {&GramianBlock<static_cast<int>(I) + 1>...};
}

constexpr int kMaxVectors = kMaxAvx2Factors / 8;
constexpr std::array<CgKernel, kMaxVectors> kCgKernels =
    CgTable(std::make_index_sequence<kMaxVectors>());
constexpr std::array<GramianKernel, kMaxVectors> kGramianKernels =
    GramianTable(std::make_index_sequence<kMaxVectors>());

}  // namespace avx2
#else
bool CpuHasAvx2Fma() { return false; }
#endif  // RECSYS_ALS_X86_64

bool Avx2CoversDim(int dim) {
  return dim >= 8 && dim % 8 == 0 && dim <= kMaxAvx2Factors;
}

// The AVX2 kernels for `dim`, or null when `kernel` resolves to kScalar.
CgKernel Avx2CgKernel(AlsKernel kernel, int dim) {
#ifdef RECSYS_ALS_X86_64
  if (EffectiveAlsKernel(kernel, dim) == AlsKernel::kAvx2) {
    return avx2::kCgKernels[dim / 8 - 1];
  }
#endif
  return nullptr;
}

GramianKernel Avx2GramianKernel(AlsKernel kernel, int dim) {
#ifdef RECSYS_ALS_X86_64
  if (EffectiveAlsKernel(kernel, dim) == AlsKernel::kAvx2) {
    return avx2::kGramianKernels[dim / 8 - 1];
  }
#endif
  return nullptr;
}

// ---------------------------------------------------------------------------
// Scheduling.

// Rows cut into contiguous chunks of similar work, to be handed out
// heaviest first. Which thread solves a row never changes its result, so
// the schedule only affects speed.
struct RowSchedule {
  // Chunk c is rows [begin[c], begin[c + 1]).
  std::vector<int32_t> begin;
  // Chunk ids, heaviest first.
  std::vector<int32_t> order;
};

// Work of one row, in units of one item's dot product and axpy: the items
// plus the Gramian matrix-vector products (dim^2 each, i.e. dim / 2 items).
int64_t RowCost(const CsrMatrix& m, int32_t r, int dim) {
  return m.indptr[r + 1] - m.indptr[r] + dim / 2 + 4;
}

RowSchedule MakeSchedule(const CsrMatrix& m, int dim, int threads) {
  RowSchedule s;
  int64_t total = 0;
  for (int32_t r = 0; r < m.rows; ++r) total += RowCost(m, r, dim);
  // About 64 chunks per thread, so the last ones are small.
  const int64_t target = std::max<int64_t>(
      1, total / (static_cast<int64_t>(std::max(1, threads)) * 64));
  std::vector<int64_t> cost;
  int64_t current = 0;
  for (int32_t r = 0; r < m.rows; ++r) {
    if (current == 0) s.begin.push_back(r);
    current += RowCost(m, r, dim);
    if (current >= target) {
      cost.push_back(current);
      current = 0;
    }
  }
  if (current > 0) cost.push_back(current);
  s.begin.push_back(m.rows);
  s.order.resize(cost.size());
  for (size_t c = 0; c < cost.size(); ++c) s.order[c] = static_cast<int32_t>(c);
  std::stable_sort(s.order.begin(), s.order.end(),
                   [&](int32_t a, int32_t b) { return cost[a] > cost[b]; });
  return s;
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
void SolveSide(const CsrMatrix& m, const RowSchedule& schedule,
               const std::vector<float>& other, std::vector<float>* self,
               int dim, const AlsOptions& options) {
  const std::vector<float> gramian = ComputeGramian(
      other, dim, options.regularization, options.threads, options.kernel);
  const bool cg = options.solver == AlsSolver::kConjugateGradient;
  const int threads = options.threads;
  std::vector<std::vector<float>> float_scratch(threads);
  std::vector<std::vector<double>> double_scratch(threads);
  for (int t = 0; t < threads; ++t) {
    if (cg) {
      // 64 spare bytes, so no two threads write to one cache line.
      float_scratch[t].resize(3 * static_cast<size_t>(dim) + 16);
    } else {
      double_scratch[t].resize(static_cast<size_t>(dim) * dim + dim);
    }
  }
  const CgKernel avx2 = cg ? Avx2CgKernel(options.kernel, dim) : nullptr;
  const int64_t chunks = static_cast<int64_t>(schedule.order.size());
  ParallelFor(chunks, threads, 1, [&](int thread, int64_t first, int64_t last) {
    for (int64_t c = first; c < last; ++c) {
      const int32_t chunk = schedule.order[c];
      for (int32_t r = schedule.begin[chunk]; r < schedule.begin[chunk + 1];
           ++r) {
        const int64_t b = m.indptr[r];
        const int64_t n = m.indptr[r + 1] - b;
        float* x = self->data() + static_cast<size_t>(r) * dim;
        if (avx2 != nullptr) {
          avx2(gramian.data(), other.data(), m.indices.data() + b,
               m.values.data() + b, n, options.cg_steps, x,
               float_scratch[thread].data());
        } else if (cg) {
          SolveRowCgScalar(gramian.data(), other.data(), dim,
                           m.indices.data() + b, m.values.data() + b, n,
                           options.cg_steps, x, float_scratch[thread].data());
        } else {
          // Fails only for regularization 0 and a degenerate system; the row
          // then keeps its previous value.
          SolveRowCholesky(gramian.data(), other.data(), dim,
                           m.indices.data() + b, m.values.data() + b, n, x,
                           double_scratch[thread].data());
        }
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

absl::string_view AlsKernelName(AlsKernel kernel) {
  switch (kernel) {
    case AlsKernel::kAuto:
      return "auto";
    case AlsKernel::kScalar:
      return "scalar";
    case AlsKernel::kAvx2:
      return "avx2";
  }
  return "unknown";
}

absl::StatusOr<AlsKernel> ParseAlsKernel(absl::string_view name) {
  for (AlsKernel k : {AlsKernel::kAuto, AlsKernel::kScalar, AlsKernel::kAvx2}) {
    if (name == AlsKernelName(k)) return k;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown kernel '", name, "' (expected auto, scalar or avx2)"));
}

bool AlsKernelSupported(AlsKernel kernel) {
  return kernel != AlsKernel::kAvx2 || CpuHasAvx2Fma();
}

AlsKernel EffectiveAlsKernel(AlsKernel kernel, int dim) {
  if (kernel == AlsKernel::kAuto) {
    kernel = CpuHasAvx2Fma() ? AlsKernel::kAvx2 : AlsKernel::kScalar;
  }
  if (kernel == AlsKernel::kAvx2 && !Avx2CoversDim(dim)) {
    kernel = AlsKernel::kScalar;
  }
  return kernel;
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
  if (!AlsKernelSupported(o.kernel)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "kernel ", AlsKernelName(o.kernel), " is not supported by this CPU"));
  }
  return absl::OkStatus();
}

std::vector<float> ComputeGramian(absl::Span<const float> factors, int dim,
                                  float reg, int threads, AlsKernel kernel) {
  const GramianKernel avx2 = Avx2GramianKernel(kernel, dim);
  const size_t dd = static_cast<size_t>(dim) * dim;
  const int64_t rows = dim > 0 ? static_cast<int64_t>(factors.size()) / dim : 0;
  const int64_t block = BlockRows(rows);
  const int64_t blocks = (rows + block - 1) / block;
  std::vector<float> partial(static_cast<size_t>(blocks) * dd, 0.0f);
  ParallelFor(blocks, std::max(1, threads), 1,
              [&](int, int64_t begin, int64_t end) {
                for (int64_t bl = begin; bl < end; ++bl) {
                  float* g = partial.data() + bl * dd;
                  const int64_t r_begin = bl * block;
                  const int64_t r_end = std::min(rows, r_begin + block);
                  const float* f = factors.data() + r_begin * dim;
                  if (avx2 != nullptr) {
                    avx2(f, r_end - r_begin, g);
                  } else {
                    GramianBlockScalar(f, r_end - r_begin, dim, g);
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
  if (avx2 != nullptr) {
    // The AVX2 blocks fill only the upper triangle; mirror it.
    for (int a = 1; a < dim; ++a) {
      for (int b = 0; b < a; ++b) {
        out[static_cast<size_t>(a) * dim + b] =
            out[static_cast<size_t>(b) * dim + a];
      }
    }
  }
  for (int a = 0; a < dim; ++a) out[static_cast<size_t>(a) * dim + a] += reg;
  return out;
}

void SolveRowCg(const float* gramian_reg, const float* item_factors, int dim,
                const int32_t* items, const float* confidences, int64_t n,
                int cg_steps, float* x, float* scratch, AlsKernel kernel) {
  if (const CgKernel avx2 = Avx2CgKernel(kernel, dim); avx2 != nullptr) {
    avx2(gramian_reg, item_factors, items, confidences, n, cg_steps, x,
         scratch);
  } else {
    SolveRowCgScalar(gramian_reg, item_factors, dim, items, confidences, n,
                     cg_steps, x, scratch);
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
            e += DotSimd(x, v.data(), dim);  // sum over all items of p^2
            for (int64_t k = confidence.indptr[u]; k < confidence.indptr[u + 1];
                 ++k) {
              const float* y = item_factors.data() +
                               static_cast<size_t>(confidence.indices[k]) * dim;
              const double p = DotSimd(x, y, dim);
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
  SplitMix64 rng(options.seed);
  const float scale = options.init_scale / std::sqrt(static_cast<float>(dim));
  InitFactors(&model.user_factors, scale, &rng);
  InitFactors(&model.item_factors, scale, &rng);

  const CsrMatrix by_item = Transpose(confidence);
  const RowSchedule user_schedule =
      MakeSchedule(confidence, dim, options.threads);
  const RowSchedule item_schedule = MakeSchedule(by_item, dim, options.threads);
  using Clock = std::chrono::steady_clock;
  for (int it = 1; it <= options.iterations; ++it) {
    const Clock::time_point start = Clock::now();
    SolveSide(confidence, user_schedule, model.item_factors,
              &model.user_factors, dim, options);
    SolveSide(by_item, item_schedule, model.user_factors, &model.item_factors,
              dim, options);
    AlsIterationStats stats;
    stats.iteration = it;
    stats.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    stats.loss = std::numeric_limits<double>::quiet_NaN();
    if (options.compute_loss) {
      const Clock::time_point loss_start = Clock::now();
      stats.loss =
          ComputeAlsLoss(confidence, model.user_factors, model.item_factors,
                         dim, options.regularization, options.threads);
      stats.loss_seconds =
          std::chrono::duration<double>(Clock::now() - loss_start).count();
    }
    model.iterations.push_back(stats);
    if (options.on_iteration) options.on_iteration(stats);
  }
  return model;
}

}  // namespace recsys::training
