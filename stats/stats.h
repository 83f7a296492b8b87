// Experiment statistics: comparisons of a treatment variant against control
// from per-variant aggregates that a counter store can maintain
// incrementally (counts and sums of per-user values, nothing per user).
//
//   Summarize / SummarizeRatio   one variant's mean and per-user variance
//   CompareMeans                 mean of a per-user metric (GMV per exposed
//                                user, conversion rate): absolute and
//                                relative lift, fixed-horizon and
//                                always-valid (mSPRT) inference
//   CompareMeansCuped            the same with a pre-period covariate
//                                (CUPED), and the variance it removed
//   CompareRatios                a ratio of sums over users (CTR = clicks /
//                                impressions) by the delta method
//   SampleRatioMismatch          chi-square goodness of fit of the exposed
//                                counts against the configured shares
//   ChiSquareIndependence        chi-square test of independence of a
//                                contingency table (orthogonal layers)
//
// Method (see docs/experiments.md, "Statistics"):
//   - Fixed horizon: Welch's unequal-variance standard error with a normal
//     reference distribution (a z-test, not Student's t): intervals and
//     p-values are asymptotic, accurate for the hundreds-to-millions of
//     users per variant an experiment has, anti-conservative below ~30.
//   - Relative lift: delta method for the ratio of two independent means.
//   - Always valid: the normal-mixture sequential probability ratio test
//     (mSPRT; Johari, Koomen, Pekelis, Walsh, "Always Valid Inference:
//     Continuous Monitoring of A/B Tests", Operations Research 2022) on the
//     absolute difference, with the plug-in variance of the estimate. Its
//     p-value and confidence sequence stay valid however often the report is
//     looked at.
//
// Every function refuses bad input with InvalidArgument whose message
// starts with the field, e.g. "control.n: must be >= 2, got 1" or
// "treatment.sum_y2: implies a negative variance": n < 2, a non-finite or
// negative count or sum where one is impossible, sums that imply a negative
// variance, an option out of range.
//
// Thread safety: plain structs and free functions without state; safe to
// call concurrently.
#ifndef RECSYS_STATS_STATS_H_
#define RECSYS_STATS_STATS_H_

#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace recsys::stats {

// Moments of a per-user metric y over the users exposed to one variant,
// with an optional pre-period covariate x for CUPED. Every field is a sum
// over those users, so two Moments of disjoint user sets add field by field
// and a store can update them with atomic increments. Counts are doubles:
// exact up to 2^53.
struct Moments {
  double n = 0;       // users exposed
  double sum_y = 0;   // Σ y, e.g. GMV in the experiment window
  double sum_y2 = 0;  // Σ y²
  double sum_x = 0;   // Σ x, the covariate (pre-period spend); 0 if unused
  double sum_x2 = 0;  // Σ x²; 0 if unused
  double sum_xy = 0;  // Σ x·y; 0 if unused

  // Adds one user with metric y and covariate x.
  void Add(double y, double x = 0) {
    n += 1;
    sum_y += y;
    sum_y2 += y * y;
    sum_x += x;
    sum_x2 += x * x;
    sum_xy += x * y;
  }
};

// Moments of a ratio metric Σnum / Σden over the users exposed to one
// variant (CTR = clicks / impressions, conversions per impression). The
// user, not the impression, is the independent unit: the delta method uses
// the per-user sums below.
struct RatioMoments {
  double n = 0;            // users exposed
  double sum_num = 0;      // Σ num (a user's clicks)
  double sum_den = 0;      // Σ den (a user's impressions)
  double sum_num2 = 0;     // Σ num²
  double sum_den2 = 0;     // Σ den²
  double sum_num_den = 0;  // Σ num·den

  // Adds one user with numerator num and denominator den.
  void Add(double num, double den) {
    n += 1;
    sum_num += num;
    sum_den += den;
    sum_num2 += num * num;
    sum_den2 += den * den;
    sum_num_den += num * den;
  }
};

struct CompareOptions {
  // Two-sided confidence level of every interval; alpha = 1 - confidence is
  // also the level of the always-valid test. In (0, 1).
  double confidence = 0.95;
  // Mixing distribution of the mSPRT: the true difference is weighted by
  // N(0, tau²). tau² = (mixing_sd · sigma)², sigma² the per-user variance
  // averaged over the two variants, so the default is scale free: the test
  // is most sensitive to differences near 0.05 standard deviations of the
  // metric (it stays valid for any tau; a larger tau detects large effects
  // sooner and small ones later). > 0.
  double mixing_sd = 0.05;
  // If > 0, tau² in squared metric units, used instead of mixing_sd (e.g.
  // fixed from pre-period data so that tau does not move with the data).
  double mixing_variance = 0;
};

// A closed interval [lower, upper].
struct Interval {
  double lower = 0;
  double upper = 0;
};

// One variant's estimate.
struct VariantSummary {
  double n = 0;     // users
  double mean = 0;  // Σy/n; for a ratio metric Σnum/Σden
  // Per-user sample variance (n - 1 denominator). For a ratio metric the
  // variance of the delta-method linearisation (num - mean·den) / mean_den,
  // so that standard_error = sqrt(variance / n) in both cases.
  double variance = 0;
  double standard_error = 0;  // of mean
};

// An estimate with its standard error and fixed-horizon interval.
struct Lift {
  double estimate = 0;
  double standard_error = 0;
  Interval ci;  // estimate ± z_{1-alpha/2} · standard_error
};

struct Comparison {
  VariantSummary control;
  VariantSummary treatment;
  double confidence = 0;  // of the intervals below (CompareOptions)

  // treatment.mean - control.mean, Welch standard error
  // sqrt(se_c² + se_t²).
  Lift absolute;
  // treatment.mean / control.mean - 1 by the delta method; empty when
  // control.mean is 0.
  std::optional<Lift> relative;
  // absolute.estimate / absolute.standard_error; 0 when the standard error
  // is 0.
  double z = 0;
  // Two-sided fixed-horizon p-value, 2·(1 - Φ(|z|)). Valid for ONE look at
  // a sample size fixed in advance; looking repeatedly and stopping at the
  // first p < alpha inflates the false positive rate.
  double p_value = 1;

  // The mSPRT. tau2 is the mixing variance used (squared metric units);
  // log_likelihood_ratio is log Λ, Λ = sqrt(V / (V + tau²)) · exp(d² tau² /
  // (2V(V + tau²))), d = absolute.estimate, V = absolute.standard_error²
  // (+infinity when V = 0 and d != 0; 0 when V = 0 and d = 0).
  double tau2 = 0;
  double log_likelihood_ratio = 0;
  // min(1, 1/Λ) at this look. This is the formula's value, not its running
  // minimum: a caller that looks repeatedly reports min over its looks of
  // this value (the always-valid p-value is non-increasing), and may
  // intersect the successive always_valid_ci.
  double always_valid_p_value = 1;
  // The confidence sequence {theta : Λ(theta) < 1/alpha}: d ± sqrt(V (V +
  // tau²) / tau² · (2 log(1/alpha) + log((V + tau²) / V))). Always wider
  // than absolute.ci.
  Interval always_valid_ci;
};

// Compares the mean of y, treatment vs control. CompareOptions as above.
// When both variances are 0: standard errors 0, p-values 1 if the means
// are equal and 0 otherwise, intervals collapsed onto the estimate.
absl::StatusOr<Comparison> CompareMeans(const Moments& control,
                                        const Moments& treatment,
                                        const CompareOptions& options = {});

struct CupedComparison {
  // theta = Σ_v Σ(x - x̄_v)(y - ȳ_v) / Σ_v Σ(x - x̄_v)², the regression
  // slope of y on x pooled within the two variants.
  double theta = 0;
  // Unadjusted comparison of y (as CompareMeans).
  Comparison unadjusted;
  // Comparison of y_adj = y - theta·(x - x̄), x̄ the mean of x over both
  // variants: means ȳ_v - theta·(x̄_v - x̄), variances var_y - 2 theta
  // cov_xy + theta² var_x per variant. Its mSPRT uses the same tau² as
  // `unadjusted` so that the two are comparable.
  Comparison adjusted;
  // 1 - adjusted.absolute.standard_error² /
  // unadjusted.absolute.standard_error²: the share of the lift estimate's
  // variance that the covariate removed (about rho², rho the correlation
  // of x and y). 0 when the unadjusted variance is 0.
  double variance_reduction = 0;
};

// CUPED (Deng, Xu, Kohavi, Walker 2013) with x the pre-period covariate.
// InvalidArgument also when x has no variance within the variants (e.g.
// sum_x2 unset): "sum_x2: the covariate has zero variance".
absl::StatusOr<CupedComparison> CompareMeansCuped(
    const Moments& control, const Moments& treatment,
    const CompareOptions& options = {});

// Compares a ratio metric Σnum/Σden, treatment vs control, by the delta
// method (users are the independent unit). InvalidArgument also when
// sum_den <= 0 in a variant.
absl::StatusOr<Comparison> CompareRatios(const RatioMoments& control,
                                         const RatioMoments& treatment,
                                         const CompareOptions& options = {});

// The standard normal quantile Φ⁻¹(p); InvalidArgument naming `p` outside
// (0, 1).
absl::StatusOr<double> NormalQuantile(double p);

// Two measurements of the same units (e.g. two models' recall per user):
// the mean of the differences a[i] - b[i], pairs with a NaN skipped, and
// its normal interval at `confidence`, mean ± z·(standard error).
struct PairedDifference {
  int64_t n = 0;
  double mean = 0;
  Interval ci;
};
// InvalidArgument naming `b` when the sizes differ, `confidence` outside
// (0, 1), `n` when fewer than 2 pairs remain.
absl::StatusOr<PairedDifference> ComparePaired(absl::Span<const double> a,
                                               absl::Span<const double> b,
                                               double confidence = 0.95);

// One variant's mean and per-user variance, checked as above.
absl::StatusOr<VariantSummary> Summarize(const Moments& moments);
absl::StatusOr<VariantSummary> SummarizeRatio(const RatioMoments& moments);

struct SrmOptions {
  // The mismatch flag is raised when p_value < alpha. In (0, 1). Small by
  // default: the check runs on every look at every experiment, and a
  // mismatch of real traffic is usually far below it.
  double alpha = 0.001;
};

struct SrmResult {
  double chi_square = 0;          // Σ (observed - expected)² / expected
  double degrees_of_freedom = 0;  // variants - 1
  double p_value = 1;             // P(chi2(df) >= chi_square)
  bool mismatch = false;          // p_value < alpha
  std::vector<double> expected;   // total · share, per variant
};

// Sample-ratio-mismatch check: Pearson's chi-square goodness of fit of the
// users exposed per variant (`observed`) against the configured traffic
// `shares` (relative weights, normalised to sum to 1 here, so a layer's
// 0.1/0.1 split of 20% of traffic may be passed as is). InvalidArgument
// naming the field: fewer than 2 variants, sizes differ, a negative or
// non-finite count, a share <= 0 or non-finite, a total of 0 users.
absl::StatusOr<SrmResult> SampleRatioMismatch(absl::Span<const double> observed,
                                              absl::Span<const double> shares,
                                              const SrmOptions& options = {});

struct ChiSquareResult {
  double chi_square = 0;          // Σ (observed - expected)² / expected
  double degrees_of_freedom = 0;  // (rows - 1)(cols - 1)
  double p_value = 1;             // P(chi2(df) >= chi_square)
};

// Pearson's chi-square test of independence of the rows and the columns of
// a contingency table of counts, row-major `counts` of rows × cols (e.g.
// users per variant of layer A × variant of layer B: orthogonal layers are
// independent). InvalidArgument naming the field: rows or cols < 2, a size
// other than rows · cols, a negative or non-finite count, a row or column
// without counts.
absl::StatusOr<ChiSquareResult> ChiSquareIndependence(
    absl::Span<const double> counts, int rows, int cols);

}  // namespace recsys::stats

#endif  // RECSYS_STATS_STATS_H_
