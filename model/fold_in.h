// Fold-in: a user vector computed from a handful of interactions against the
// served item vectors, by the same least-squares step the iALS trainer uses
// for users (Hu, Koren & Volinsky 2008, eq. 4):
//
//   x = (YᵀY + Σ_i (c_i − 1) y_i y_iᵀ + λI)⁻¹ Σ_i c_i y_i
//
// with c_i = 1 + alpha · log(1 + r_i / epsilon) (or 1 + alpha · r_i for
// linear confidence), the model's own training parameters (r capped at 1
// for models trained on binary signal; live purchase counts stand in for
// units under the quantity signal). It lets a user
// unknown to the model be personalized from their first events.
//
// Thread safety: pure function of its arguments.
#ifndef RECSYS_MODEL_FOLD_IN_H_
#define RECSYS_MODEL_FOLD_IN_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "model/model_store.h"

namespace recsys::model {

struct WeightedItem {
  int32_t item = 0;  // item row in the bundle
  // Interaction strength r (purchase events; fractional for views/carts).
  float strength = 1;
};

// InvalidArgument for an empty list or an out-of-range item row.
absl::StatusOr<std::vector<float>> FoldInUser(
    const ModelBundle& bundle, absl::Span<const WeightedItem> items);

// Confidence c for interaction strength r under the bundle's parameters.
float Confidence(const recsys::v1::TrainingParams& params, float r);

}  // namespace recsys::model

#endif  // RECSYS_MODEL_FOLD_IN_H_
