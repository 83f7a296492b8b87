#include "model/fold_in.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace recsys::model {

float Confidence(const recsys::v1::TrainingParams& params, float r) {
  if (params.signal() == "binary") r = std::min(r, 1.0f);
  const float alpha = params.alpha() > 0 ? params.alpha() : 1.0f;
  if (params.confidence() == "linear") return 1.0f + alpha * r;
  const float eps = params.epsilon() > 0 ? params.epsilon() : 1.0f;
  return 1.0f + alpha * std::log1p(r / eps);
}

absl::StatusOr<std::vector<float>> FoldInUser(
    const ModelBundle& bundle, absl::Span<const WeightedItem> items) {
  if (items.empty()) return absl::InvalidArgumentError("items: empty");
  const int f = bundle.dim();
  const auto& params = bundle.manifest().params();
  const double reg = params.regularization() > 0 ? params.regularization() : 0.05;

  std::vector<double> a(bundle.item_gram());
  std::vector<double> b(f, 0.0);
  std::vector<double> y(f);
  for (int d = 0; d < f; ++d) a[static_cast<size_t>(d) * f + d] += reg;
  for (const WeightedItem& w : items) {
    if (w.item < 0 || w.item >= bundle.num_items()) {
      return absl::InvalidArgumentError(
          absl::StrCat("items: row ", w.item, " out of range"));
    }
    const double c = Confidence(params, std::max(0.0f, w.strength));
    absl::Span<const float> yf = bundle.item_vector(w.item);
    // In double once per item (the products below are the same values).
    for (int d = 0; d < f; ++d) y[d] = yf[d];
    // The Cholesky solve below reads the lower triangle only, so only it is
    // updated (half the work; the same values).
    for (int r = 0; r < f; ++r) {
      b[r] += c * y[r];
      double* row = a.data() + static_cast<size_t>(r) * f;
      const double cy = (c - 1.0) * y[r];
      for (int col = 0; col <= r; ++col) row[col] += cy * y[col];
    }
  }
  // Cholesky A = L Lᵀ in place (lower triangle); A is SPD since reg > 0.
  for (int j = 0; j < f; ++j) {
    double* rj = a.data() + static_cast<size_t>(j) * f;
    double diag = rj[j];
    for (int k = 0; k < j; ++k) diag -= rj[k] * rj[k];
    if (diag <= 0) return absl::InternalError("fold-in: matrix not positive definite");
    const double ljj = std::sqrt(diag);
    rj[j] = ljj;
    for (int i = j + 1; i < f; ++i) {
      double* ri = a.data() + static_cast<size_t>(i) * f;
      double s = ri[j];
      for (int k = 0; k < j; ++k) s -= ri[k] * rj[k];
      ri[j] = s / ljj;
    }
  }
  // Solve L z = b, then Lᵀ x = z.
  for (int i = 0; i < f; ++i) {
    const double* ri = a.data() + static_cast<size_t>(i) * f;
    double s = b[i];
    for (int k = 0; k < i; ++k) s -= ri[k] * b[k];
    b[i] = s / ri[i];
  }
  for (int i = f - 1; i >= 0; --i) {
    double s = b[i];
    for (int k = i + 1; k < f; ++k) s -= a[static_cast<size_t>(k) * f + i] * b[k];
    b[i] = s / a[static_cast<size_t>(i) * f + i];
  }
  return std::vector<float>(b.begin(), b.end());
}

}  // namespace recsys::model
