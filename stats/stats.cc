#include "stats/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "boost/math/distributions/chi_squared.hpp"
#include "boost/math/distributions/normal.hpp"
#include "common/status_macros.h"

namespace recsys::stats {
namespace {

// Boost.Math reports errors through errno instead of exceptions (no
// exception leaves a library but the FAISS wrapper); every argument is
// checked before it reaches a distribution.
using BoostPolicy = boost::math::policies::policy<
    boost::math::policies::domain_error<boost::math::policies::errno_on_error>,
    boost::math::policies::pole_error<boost::math::policies::errno_on_error>,
    boost::math::policies::overflow_error<
        boost::math::policies::errno_on_error>,
    boost::math::policies::evaluation_error<
        boost::math::policies::errno_on_error>>;
using Normal = boost::math::normal_distribution<double, BoostPolicy>;
using ChiSquared = boost::math::chi_squared_distribution<double, BoostPolicy>;

// A centred sum of squares Σ(v - v̄)² = sum_sq - sum²/n may come out
// slightly negative from rounding; below -kRoundingTolerance · sum_sq it
// cannot be rounding and the sums are inconsistent.
constexpr double kRoundingTolerance = 1e-9;

absl::Status CheckFinite(absl::string_view field, double value) {
  if (!std::isfinite(value)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be finite, got ", value));
  }
  return absl::OkStatus();
}

absl::Status CheckCount(absl::string_view field, double n) {
  RECSYS_RETURN_IF_ERROR(CheckFinite(field, n));
  if (n < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be >= 2, got ", n));
  }
  return absl::OkStatus();
}

absl::Status CheckSumOfSquares(absl::string_view field, double sum_sq) {
  RECSYS_RETURN_IF_ERROR(CheckFinite(field, sum_sq));
  if (sum_sq < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be >= 0, got ", sum_sq));
  }
  return absl::OkStatus();
}

// Σ(v - v̄)² from Σv² and Σv; InvalidArgument naming `field` (the sum of
// squares) when it is negative beyond rounding.
absl::StatusOr<double> CentredSquares(absl::string_view field, double sum_sq,
                                      double sum, double n) {
  const double centred = sum_sq - sum * sum / n;
  if (centred < -kRoundingTolerance * sum_sq) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": implies a negative variance (", sum_sq,
                     " < sum² / n = ", sum * sum / n, ")"));
  }
  return std::max(0.0, centred);
}

absl::Status CheckOptions(const CompareOptions& options) {
  if (!(options.confidence > 0 && options.confidence < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "confidence: must be in (0, 1), got ", options.confidence));
  }
  if (!(options.mixing_sd > 0) || !std::isfinite(options.mixing_sd)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "mixing_sd: must be finite and > 0, got ", options.mixing_sd));
  }
  if (!(options.mixing_variance >= 0) ||
      !std::isfinite(options.mixing_variance)) {
    return absl::InvalidArgumentError(
        absl::StrCat("mixing_variance: must be finite and >= 0, got ",
                     options.mixing_variance));
  }
  return absl::OkStatus();
}

// Centred second moments of one variant's Moments, after the checks.
struct Centred {
  double n = 0;
  double mean_y = 0, mean_x = 0;
  double syy = 0, sxx = 0, sxy = 0;  // Σ(y - ȳ)², Σ(x - x̄)², Σ(x - x̄)(y - ȳ)
};

absl::StatusOr<Centred> CentreMoments(absl::string_view variant,
                                      const Moments& m) {
  auto field = [&](absl::string_view name) {
    return absl::StrCat(variant, variant.empty() ? "" : ".", name);
  };
  RECSYS_RETURN_IF_ERROR(CheckCount(field("n"), m.n));
  RECSYS_RETURN_IF_ERROR(CheckFinite(field("sum_y"), m.sum_y));
  RECSYS_RETURN_IF_ERROR(CheckSumOfSquares(field("sum_y2"), m.sum_y2));
  RECSYS_RETURN_IF_ERROR(CheckFinite(field("sum_x"), m.sum_x));
  RECSYS_RETURN_IF_ERROR(CheckSumOfSquares(field("sum_x2"), m.sum_x2));
  RECSYS_RETURN_IF_ERROR(CheckFinite(field("sum_xy"), m.sum_xy));
  Centred c;
  c.n = m.n;
  c.mean_y = m.sum_y / m.n;
  c.mean_x = m.sum_x / m.n;
  RECSYS_ASSIGN_OR_RETURN(
      c.syy, CentredSquares(field("sum_y2"), m.sum_y2, m.sum_y, m.n));
  RECSYS_ASSIGN_OR_RETURN(
      c.sxx, CentredSquares(field("sum_x2"), m.sum_x2, m.sum_x, m.n));
  c.sxy = m.sum_xy - m.sum_x * m.sum_y / m.n;
  // Cauchy-Schwarz: |Σ(x - x̄)(y - ȳ)| <= sqrt(Σ(x - x̄)² Σ(y - ȳ)²).
  const double bound = std::sqrt(c.sxx * c.syy);
  if (std::abs(c.sxy) >
      bound + kRoundingTolerance * (std::abs(m.sum_xy) + bound)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field("sum_xy"), ": implies a correlation of x and y outside [-1, 1]"));
  }
  return c;
}

VariantSummary SummaryOf(double n, double mean, double variance) {
  VariantSummary s;
  s.n = n;
  s.mean = mean;
  s.variance = variance;
  s.standard_error = std::sqrt(variance / n);
  return s;
}

absl::StatusOr<VariantSummary> SummarizeRatioIn(absl::string_view variant,
                                                const RatioMoments& m) {
  auto field = [&](absl::string_view name) {
    return absl::StrCat(variant, variant.empty() ? "" : ".", name);
  };
  RECSYS_RETURN_IF_ERROR(CheckCount(field("n"), m.n));
  RECSYS_RETURN_IF_ERROR(CheckFinite(field("sum_num"), m.sum_num));
  RECSYS_RETURN_IF_ERROR(CheckFinite(field("sum_den"), m.sum_den));
  if (m.sum_den <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(field("sum_den"), ": must be > 0, got ", m.sum_den));
  }
  RECSYS_RETURN_IF_ERROR(CheckSumOfSquares(field("sum_num2"), m.sum_num2));
  RECSYS_RETURN_IF_ERROR(CheckSumOfSquares(field("sum_den2"), m.sum_den2));
  RECSYS_RETURN_IF_ERROR(CheckFinite(field("sum_num_den"), m.sum_num_den));
  RECSYS_ASSIGN_OR_RETURN(
      const double snn,
      CentredSquares(field("sum_num2"), m.sum_num2, m.sum_num, m.n));
  RECSYS_ASSIGN_OR_RETURN(
      const double sdd,
      CentredSquares(field("sum_den2"), m.sum_den2, m.sum_den, m.n));
  const double snd = m.sum_num_den - m.sum_num * m.sum_den / m.n;
  const double bound = std::sqrt(snn * sdd);
  if (std::abs(snd) >
      bound + kRoundingTolerance * (std::abs(m.sum_num_den) + bound)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field("sum_num_den"),
                     ": implies a correlation of num and den outside [-1, 1]"));
  }
  const double ratio = m.sum_num / m.sum_den;
  const double mean_den = m.sum_den / m.n;
  // The linearisation l = (num - ratio·den) / mean_den has mean 0 and
  // Σl² = (Snn - 2 ratio Snd + ratio² Sdd) / mean_den².
  const double centred = snn - 2 * ratio * snd + ratio * ratio * sdd;
  if (centred < -kRoundingTolerance * (snn + ratio * ratio * sdd)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field("sum_num_den"), ": implies a negative variance of the ratio"));
  }
  const double variance =
      std::max(0.0, centred) / (mean_den * mean_den) / (m.n - 1);
  return SummaryOf(m.n, ratio, variance);
}

// log Λ of the normal-mixture SPRT for an estimate d of variance v against
// theta = 0, mixing variance tau2 > 0, v > 0.
double LogLikelihoodRatio(double d, double v, double tau2) {
  return -0.5 * std::log1p(tau2 / v) + d * d * tau2 / (2 * v * (v + tau2));
}

// The comparison of two summaries; tau2 >= 0 the mixing variance.
Comparison Compare(const VariantSummary& control,
                   const VariantSummary& treatment, double confidence,
                   double tau2) {
  const double alpha = 1 - confidence;
  const double z_crit = boost::math::quantile(Normal(), 1 - alpha / 2);
  Comparison c;
  c.control = control;
  c.treatment = treatment;
  c.confidence = confidence;

  const double d = treatment.mean - control.mean;
  const double v = control.standard_error * control.standard_error +
                   treatment.standard_error * treatment.standard_error;
  const double se = std::sqrt(v);
  c.absolute.estimate = d;
  c.absolute.standard_error = se;
  c.absolute.ci = {d - z_crit * se, d + z_crit * se};
  if (se > 0) {
    c.z = d / se;
    c.p_value =
        2 * boost::math::cdf(boost::math::complement(Normal(), std::abs(c.z)));
  } else {
    c.z = 0;
    c.p_value = d == 0 ? 1 : 0;
  }

  if (control.mean != 0) {
    const double m_c = control.mean;
    const double m_t = treatment.mean;
    Lift relative;
    relative.estimate = m_t / m_c - 1;
    // Var(m_t / m_c) ≈ se_t² / m_c² + m_t² se_c² / m_c⁴ (independent means).
    relative.standard_error = std::sqrt(
        treatment.standard_error * treatment.standard_error / (m_c * m_c) +
        m_t * m_t * control.standard_error * control.standard_error /
            (m_c * m_c * m_c * m_c));
    relative.ci = {relative.estimate - z_crit * relative.standard_error,
                   relative.estimate + z_crit * relative.standard_error};
    c.relative = relative;
  }

  c.tau2 = tau2;
  if (v > 0 && tau2 > 0) {
    c.log_likelihood_ratio = LogLikelihoodRatio(d, v, tau2);
    c.always_valid_p_value = std::min(1.0, std::exp(-c.log_likelihood_ratio));
    const double half =
        std::sqrt(v * (v + tau2) / tau2 *
                  (2 * std::log(1 / alpha) + std::log1p(tau2 / v)));
    c.always_valid_ci = {d - half, d + half};
  } else {
    // No variance (or no mixing): the difference is known exactly.
    c.log_likelihood_ratio =
        d == 0 ? 0 : std::numeric_limits<double>::infinity();
    c.always_valid_p_value = d == 0 ? 1 : 0;
    c.always_valid_ci = {d, d};
  }
  return c;
}

double MixingVariance(const CompareOptions& options,
                      const VariantSummary& control,
                      const VariantSummary& treatment) {
  if (options.mixing_variance > 0) return options.mixing_variance;
  const double sigma2 = (control.variance + treatment.variance) / 2;
  return options.mixing_sd * options.mixing_sd * sigma2;
}

}  // namespace

absl::StatusOr<double> NormalQuantile(double p) {
  if (!(p > 0 && p < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("p: must be in (0, 1), got ", p));
  }
  return boost::math::quantile(Normal(), p);
}

absl::StatusOr<VariantSummary> Summarize(const Moments& moments) {
  RECSYS_ASSIGN_OR_RETURN(const Centred c, CentreMoments("", moments));
  return SummaryOf(c.n, c.mean_y, c.syy / (c.n - 1));
}

absl::StatusOr<PairedDifference> ComparePaired(absl::Span<const double> a,
                                               absl::Span<const double> b,
                                               double confidence) {
  if (a.size() != b.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("b: ", b.size(), " values for ", a.size(), " in a"));
  }
  if (!(confidence > 0 && confidence < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("confidence: must be in (0, 1), got ", confidence));
  }
  Moments diff;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::isnan(a[i]) || std::isnan(b[i])) continue;
    diff.Add(a[i] - b[i]);
  }
  RECSYS_ASSIGN_OR_RETURN(const VariantSummary summary, Summarize(diff));
  RECSYS_ASSIGN_OR_RETURN(const double z, NormalQuantile(0.5 + confidence / 2));
  PairedDifference out;
  out.n = static_cast<int64_t>(diff.n);
  out.mean = summary.mean;
  out.ci.lower = summary.mean - z * summary.standard_error;
  out.ci.upper = summary.mean + z * summary.standard_error;
  return out;
}

absl::StatusOr<VariantSummary> SummarizeRatio(const RatioMoments& moments) {
  return SummarizeRatioIn("", moments);
}

absl::StatusOr<Comparison> CompareMeans(const Moments& control,
                                        const Moments& treatment,
                                        const CompareOptions& options) {
  RECSYS_RETURN_IF_ERROR(CheckOptions(options));
  RECSYS_ASSIGN_OR_RETURN(const Centred c, CentreMoments("control", control));
  RECSYS_ASSIGN_OR_RETURN(const Centred t,
                          CentreMoments("treatment", treatment));
  const VariantSummary sc = SummaryOf(c.n, c.mean_y, c.syy / (c.n - 1));
  const VariantSummary st = SummaryOf(t.n, t.mean_y, t.syy / (t.n - 1));
  return Compare(sc, st, options.confidence, MixingVariance(options, sc, st));
}

absl::StatusOr<CupedComparison> CompareMeansCuped(
    const Moments& control, const Moments& treatment,
    const CompareOptions& options) {
  RECSYS_RETURN_IF_ERROR(CheckOptions(options));
  RECSYS_ASSIGN_OR_RETURN(const Centred c, CentreMoments("control", control));
  RECSYS_ASSIGN_OR_RETURN(const Centred t,
                          CentreMoments("treatment", treatment));
  const double sxx = c.sxx + t.sxx;
  if (!(sxx > kRoundingTolerance * (control.sum_x2 + treatment.sum_x2))) {
    return absl::InvalidArgumentError(
        "sum_x2: the covariate has zero variance within the variants");
  }
  CupedComparison result;
  result.theta = (c.sxy + t.sxy) / sxx;
  const double theta = result.theta;

  const VariantSummary sc = SummaryOf(c.n, c.mean_y, c.syy / (c.n - 1));
  const VariantSummary st = SummaryOf(t.n, t.mean_y, t.syy / (t.n - 1));
  const double tau2 = MixingVariance(options, sc, st);
  result.unadjusted = Compare(sc, st, options.confidence, tau2);

  // y_adj = y - theta (x - x̄): Σ(y_adj - ȳ_adj)² = Syy - 2 theta Sxy +
  // theta² Sxx within a variant.
  const double mean_x = (control.sum_x + treatment.sum_x) / (c.n + t.n);
  auto adjust = [&](const Centred& v) {
    const double ss =
        std::max(0.0, v.syy - 2 * theta * v.sxy + theta * theta * v.sxx);
    return SummaryOf(v.n, v.mean_y - theta * (v.mean_x - mean_x),
                     ss / (v.n - 1));
  };
  result.adjusted = Compare(adjust(c), adjust(t), options.confidence, tau2);
  const double v_unadjusted = result.unadjusted.absolute.standard_error *
                              result.unadjusted.absolute.standard_error;
  const double v_adjusted = result.adjusted.absolute.standard_error *
                            result.adjusted.absolute.standard_error;
  result.variance_reduction =
      v_unadjusted > 0 ? 1 - v_adjusted / v_unadjusted : 0;
  return result;
}

absl::StatusOr<Comparison> CompareRatios(const RatioMoments& control,
                                         const RatioMoments& treatment,
                                         const CompareOptions& options) {
  RECSYS_RETURN_IF_ERROR(CheckOptions(options));
  RECSYS_ASSIGN_OR_RETURN(const VariantSummary sc,
                          SummarizeRatioIn("control", control));
  RECSYS_ASSIGN_OR_RETURN(const VariantSummary st,
                          SummarizeRatioIn("treatment", treatment));
  return Compare(sc, st, options.confidence, MixingVariance(options, sc, st));
}

absl::StatusOr<SrmResult> SampleRatioMismatch(absl::Span<const double> observed,
                                              absl::Span<const double> shares,
                                              const SrmOptions& options) {
  if (!(options.alpha > 0 && options.alpha < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("alpha: must be in (0, 1), got ", options.alpha));
  }
  if (observed.size() < 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "observed: needs at least 2 variants, got ", observed.size()));
  }
  if (shares.size() != observed.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("shares: ", shares.size(), " shares for ", observed.size(),
                     " observed counts"));
  }
  double total = 0;
  double share_total = 0;
  for (size_t i = 0; i < observed.size(); ++i) {
    if (!std::isfinite(observed[i]) || observed[i] < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "observed[", i, "]: must be finite and >= 0, got ", observed[i]));
    }
    if (!std::isfinite(shares[i]) || !(shares[i] > 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "shares[", i, "]: must be finite and > 0, got ", shares[i]));
    }
    total += observed[i];
    share_total += shares[i];
  }
  if (!(total > 0)) {
    return absl::InvalidArgumentError("observed: no users exposed");
  }
  if (!std::isfinite(total) || !std::isfinite(share_total)) {
    return absl::InvalidArgumentError("observed: the total is not finite");
  }
  SrmResult result;
  result.expected.reserve(observed.size());
  for (size_t i = 0; i < observed.size(); ++i) {
    const double expected = total * shares[i] / share_total;
    const double diff = observed[i] - expected;
    result.chi_square += diff * diff / expected;
    result.expected.push_back(expected);
  }
  result.degrees_of_freedom = static_cast<double>(observed.size() - 1);
  result.p_value =
      std::isfinite(result.chi_square)
          ? boost::math::cdf(boost::math::complement(
                ChiSquared(result.degrees_of_freedom), result.chi_square))
          : 0;
  result.mismatch = result.p_value < options.alpha;
  return result;
}

absl::StatusOr<ChiSquareResult> ChiSquareIndependence(
    absl::Span<const double> counts, int rows, int cols) {
  if (rows < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("rows: must be >= 2, got ", rows));
  }
  if (cols < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("cols: must be >= 2, got ", cols));
  }
  if (counts.size() != static_cast<size_t>(rows) * cols) {
    return absl::InvalidArgumentError(absl::StrCat("counts: ", counts.size(),
                                                   " counts for a ", rows,
                                                   " x ", cols, " table"));
  }
  std::vector<double> row_sum(rows, 0), col_sum(cols, 0);
  double total = 0;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const double v = counts[r * cols + c];
      if (!std::isfinite(v) || v < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "counts[", r * cols + c, "]: must be finite and >= 0, got ", v));
      }
      row_sum[r] += v;
      col_sum[c] += v;
      total += v;
    }
  }
  for (int r = 0; r < rows; ++r) {
    if (!(row_sum[r] > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("counts: row ", r, " has no counts"));
    }
  }
  for (int c = 0; c < cols; ++c) {
    if (!(col_sum[c] > 0)) {
      return absl::InvalidArgumentError(
          absl::StrCat("counts: column ", c, " has no counts"));
    }
  }
  ChiSquareResult result;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const double expected = row_sum[r] * col_sum[c] / total;
      const double diff = counts[r * cols + c] - expected;
      result.chi_square += diff * diff / expected;
    }
  }
  result.degrees_of_freedom = static_cast<double>(rows - 1) * (cols - 1);
  result.p_value =
      std::isfinite(result.chi_square)
          ? boost::math::cdf(boost::math::complement(
                ChiSquared(result.degrees_of_freedom), result.chi_square))
          : 0;
  return result;
}

}  // namespace recsys::stats
