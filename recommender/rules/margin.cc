#include "recommender/rules/margin.h"

#include <algorithm>

namespace recsys::recommender {

double ItemMargin(const RequestContext& ctx, int32_t row) {
  const feature_store::ItemFeatures* f = ctx.features.Of(row);
  if (f == nullptr || f->cost < 0) return 0;
  const double price = f->price > 0 ? f->price : ctx.model().item(row).price;
  return std::max(0.0, price - f->cost);
}

void WeighMargin(const RequestContext& ctx, float weight,
                 std::vector<FusedCandidate>* candidates) {
  float best = 0;
  for (const FusedCandidate& c : *candidates) best = std::max(best, c.score);
  if (!(best > 0)) return;
  std::vector<double> expected(candidates->size());
  double best_expected = 0;
  for (size_t i = 0; i < candidates->size(); ++i) {
    expected[i] =
        ((*candidates)[i].score / best) * ItemMargin(ctx, (*candidates)[i].row);
    best_expected = std::max(best_expected, expected[i]);
  }
  for (size_t i = 0; i < candidates->size(); ++i) {
    FusedCandidate& c = (*candidates)[i];
    const double relevance = c.score / best;
    const double margin = best_expected > 0 ? expected[i] / best_expected : 0;
    c.score = static_cast<float>((1 - weight) * relevance + weight * margin);
  }
}

}  // namespace recsys::recommender
