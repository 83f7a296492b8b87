#include "intelligence/estimators.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace recsys::intelligence {
namespace {

double Sigmoid(double z) {
  if (z >= 0) return 1 / (1 + std::exp(-z));
  const double e = std::exp(z);
  return e / (1 + e);
}

// Solves A x = b (A symmetric positive definite, n x n row-major) by
// Gaussian elimination with partial pivoting. False when singular.
bool Solve(std::vector<double> a, std::vector<double> b, int n,
           std::vector<double>* x) {
  for (int c = 0; c < n; ++c) {
    int pivot = c;
    for (int r = c + 1; r < n; ++r) {
      if (std::abs(a[r * n + c]) > std::abs(a[pivot * n + c])) pivot = r;
    }
    if (std::abs(a[pivot * n + c]) < 1e-300) return false;
    if (pivot != c) {
      for (int k = 0; k < n; ++k) std::swap(a[c * n + k], a[pivot * n + k]);
      std::swap(b[c], b[pivot]);
    }
    for (int r = c + 1; r < n; ++r) {
      const double f = a[r * n + c] / a[c * n + c];
      if (f == 0) continue;
      for (int k = c; k < n; ++k) a[r * n + k] -= f * a[c * n + k];
      b[r] -= f * b[c];
    }
  }
  x->assign(n, 0);
  for (int r = n - 1; r >= 0; --r) {
    double s = b[r];
    for (int k = r + 1; k < n; ++k) s -= a[r * n + k] * (*x)[k];
    (*x)[r] = s / a[r * n + r];
  }
  return true;
}

absl::Status CheckLabels(absl::Span<const int> y) {
  for (size_t i = 0; i < y.size(); ++i) {
    if (y[i] != 0 && y[i] != 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("y[", i, "]: must be 0 or 1, got ", y[i]));
    }
  }
  return absl::OkStatus();
}

// Newton's method on standardised rows z (n x d, row-major) with an
// intercept; returns (weights, bias).
absl::Status Newton(const std::vector<double>& z, int d,
                    absl::Span<const int> y, const LogisticOptions& options,
                    std::vector<double>* w, double* bias, int* iterations) {
  const size_t n = y.size();
  const int m = d + 1;  // weights then bias
  std::vector<double> beta(m, 0);
  // Start the bias at the log-odds of the base rate.
  const double rate = std::clamp(
      std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n), 1e-6,
      1 - 1e-6);
  beta[d] = std::log(rate / (1 - rate));
  int it = 0;
  for (; it < options.max_iterations; ++it) {
    std::vector<double> grad(m, 0), hess(m * m, 0);
    for (size_t i = 0; i < n; ++i) {
      const double* row = &z[i * d];
      double logit = beta[d];
      for (int j = 0; j < d; ++j) logit += beta[j] * row[j];
      const double p = Sigmoid(logit);
      const double r = y[i] - p;
      const double s = p * (1 - p);
      for (int j = 0; j < m; ++j) {
        const double xj = j < d ? row[j] : 1.0;
        grad[j] += r * xj;
        for (int k = 0; k <= j; ++k) {
          const double xk = k < d ? row[k] : 1.0;
          hess[j * m + k] += s * xj * xk;
        }
      }
    }
    for (int j = 0; j < m; ++j) {
      for (int k = j + 1; k < m; ++k) hess[j * m + k] = hess[k * m + j];
    }
    for (int j = 0; j < d; ++j) {
      grad[j] -= options.l2 * beta[j];
      hess[j * m + j] += options.l2;
    }
    hess[d * m + d] += 1e-9;  // keeps a one-class split finite
    std::vector<double> step;
    if (!Solve(hess, grad, m, &step)) {
      return absl::FailedPreconditionError(
          "logistic regression: singular Hessian");
    }
    double largest = 0;
    for (int j = 0; j < m; ++j) {
      beta[j] += step[j];
      largest = std::max(largest, std::abs(step[j]));
    }
    if (largest < options.tolerance) {
      ++it;
      break;
    }
  }
  w->assign(beta.begin(), beta.begin() + d);
  *bias = beta[d];
  *iterations = it;
  return absl::OkStatus();
}

}  // namespace

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  const size_t n = values.size();
  std::nth_element(values.begin(), values.begin() + n / 2, values.end());
  const double upper = values[n / 2];
  if (n % 2 == 1) return upper;
  const double lower =
      *std::max_element(values.begin(), values.begin() + n / 2);
  return (lower + upper) / 2;
}

double ShrunkCycle(absl::Span<const double> intervals_days, double prior_days,
                   double strength) {
  const double sum =
      std::accumulate(intervals_days.begin(), intervals_days.end(), 0.0);
  return (sum + strength * prior_days) /
         (static_cast<double>(intervals_days.size()) + strength);
}

std::vector<double> IntervalsDays(absl::Span<const int64_t> sorted_times_unix) {
  std::vector<double> out;
  for (size_t i = 1; i < sorted_times_unix.size(); ++i) {
    if (sorted_times_unix[i] == sorted_times_unix[i - 1]) continue;
    out.push_back(
        static_cast<double>(sorted_times_unix[i] - sorted_times_unix[i - 1]) /
        86400.0);
  }
  return out;
}

double LogisticModel::Logit(absl::Span<const double> x) const {
  double z = bias;
  for (size_t j = 0; j < weights.size() && j < x.size(); ++j) {
    z += weights[j] * (x[j] - mean[j]) / scale[j];
  }
  return z;
}

double LogisticModel::Raw(absl::Span<const double> x) const {
  return Sigmoid(Logit(x));
}

double LogisticModel::Probability(absl::Span<const double> x) const {
  return Sigmoid(platt_a * Logit(x) + platt_b);
}

absl::StatusOr<LogisticModel> FitLogistic(
    const std::vector<std::vector<double>>& x, absl::Span<const int> y,
    const LogisticOptions& options) {
  if (x.empty()) return absl::InvalidArgumentError("x: no rows");
  if (x.size() != y.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("y: ", y.size(), " labels for ", x.size(), " rows"));
  }
  if (!(options.l2 >= 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("l2: must be >= 0, got ", options.l2));
  }
  RECSYS_RETURN_IF_ERROR(CheckLabels(y));
  const int d = static_cast<int>(x[0].size());
  LogisticModel model;
  model.mean.assign(d, 0);
  model.scale.assign(d, 1);
  for (size_t i = 0; i < x.size(); ++i) {
    if (static_cast<int>(x[i].size()) != d) {
      return absl::InvalidArgumentError(
          absl::StrCat("x[", i, "]: ", x[i].size(), " features, expected ", d));
    }
    for (int j = 0; j < d; ++j) {
      if (!std::isfinite(x[i][j])) {
        return absl::InvalidArgumentError(
            absl::StrCat("x[", i, "][", j, "]: not finite"));
      }
      model.mean[j] += x[i][j];
    }
  }
  const double n = static_cast<double>(x.size());
  for (int j = 0; j < d; ++j) model.mean[j] /= n;
  std::vector<double> var(d, 0);
  for (const auto& row : x) {
    for (int j = 0; j < d; ++j)
      var[j] += (row[j] - model.mean[j]) * (row[j] - model.mean[j]);
  }
  for (int j = 0; j < d; ++j) {
    const double sd = std::sqrt(var[j] / n);
    model.scale[j] = sd > 1e-12 ? sd : 1;
  }
  std::vector<double> z(x.size() * d);
  for (size_t i = 0; i < x.size(); ++i) {
    for (int j = 0; j < d; ++j)
      z[i * d + j] = (x[i][j] - model.mean[j]) / model.scale[j];
  }
  RECSYS_RETURN_IF_ERROR(
      Newton(z, d, y, options, &model.weights, &model.bias, &model.iterations));
  return model;
}

absl::Status FitPlatt(absl::Span<const double> logits, absl::Span<const int> y,
                      LogisticModel* model) {
  if (logits.empty()) return absl::InvalidArgumentError("logits: none");
  if (logits.size() != y.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "y: ", y.size(), " labels for ", logits.size(), " logits"));
  }
  RECSYS_RETURN_IF_ERROR(CheckLabels(y));
  for (size_t i = 0; i < logits.size(); ++i) {
    if (!std::isfinite(logits[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("logits[", i, "]: not finite"));
    }
  }
  // Unstandardised one-feature fit: the weight is a, the bias b.
  std::vector<double> z(logits.begin(), logits.end());
  std::vector<double> w;
  double b = 0;
  int iterations = 0;
  RECSYS_RETURN_IF_ERROR(Newton(z, 1, y, {.l2 = 1e-6}, &w, &b, &iterations));
  model->platt_a = w[0];
  model->platt_b = b;
  return absl::OkStatus();
}

double Auc(absl::Span<const double> scores, absl::Span<const int> y) {
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double rank_sum = 0;  // of positives, 1-based mid-ranks
  double positives = 0;
  for (size_t i = 0; i < n;) {
    size_t j = i;
    while (j < n && scores[order[j]] == scores[order[i]]) ++j;
    const double mid =
        (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
    for (size_t k = i; k < j; ++k) {
      if (y[order[k]] == 1) {
        rank_sum += mid;
        positives += 1;
      }
    }
    i = j;
  }
  const double negatives = static_cast<double>(n) - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives);
}

double ExpectedCalibrationError(absl::Span<const double> p,
                                absl::Span<const int> y, int bins) {
  if (p.empty() || bins < 1) return 0;
  std::vector<double> sum_p(bins, 0), sum_y(bins, 0), count(bins, 0);
  for (size_t i = 0; i < p.size(); ++i) {
    const int b = std::clamp(static_cast<int>(p[i] * bins), 0, bins - 1);
    sum_p[b] += p[i];
    sum_y[b] += y[i];
    count[b] += 1;
  }
  double ece = 0;
  for (int b = 0; b < bins; ++b) {
    if (count[b] == 0) continue;
    ece += count[b] / static_cast<double>(p.size()) *
           std::abs(sum_p[b] - sum_y[b]) / count[b];
  }
  return ece;
}

double TopDecileLift(absl::Span<const double> scores, absl::Span<const int> y) {
  const size_t n = scores.size();
  if (n == 0) return 0;
  const double all =
      std::accumulate(y.begin(), y.end(), 0.0) / static_cast<double>(n);
  if (all == 0) return 0;
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  const size_t top = (n + 9) / 10;
  std::partial_sort(order.begin(), order.begin() + top, order.end(),
                    [&](size_t a, size_t b) {
                      if (scores[a] != scores[b]) return scores[a] > scores[b];
                      return a < b;
                    });
  double hits = 0;
  for (size_t i = 0; i < top; ++i) hits += y[order[i]];
  return hits / static_cast<double>(top) / all;
}

}  // namespace recsys::intelligence
