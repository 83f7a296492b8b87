// EASE (Steck, "Embarrassingly Shallow Autoencoders for Sparse Data", WWW
// 2019): the item-item weights B = I - P / diag(P), P = (G + lambda I)^-1,
// where G is the Gram matrix XᵀX of the binary user x item matrix. A user's
// score of item j is Σ over the user's items i of B_ij. Used by the
// production ranker's item neighbours (RankerStatsOptions) and by the
// evaluation's EASE model.
//
// Thread safety: a pure function; LAPACK's Cholesky runs on the caller's
// thread (the BLAS library may use its own threads).
#ifndef RECSYS_MODEL_EASE_H_
#define RECSYS_MODEL_EASE_H_

#include <vector>

#include "absl/status/statusor.h"

namespace recsys::model {

// Largest item count EaseWeights accepts: the dense n x n matrix in doubles
// is 3.2 GB at 20,000 items.
inline constexpr int kEaseMaxItems = 20000;

// B (row-major n x n, zero diagonal) from the Gram matrix `gram` (row-major
// n x n, symmetric; consumed) and lambda > 0. InvalidArgument for n out of
// [1, kEaseMaxItems], a gram of the wrong size or lambda <= 0; Internal when
// the Cholesky factorisation fails.
absl::StatusOr<std::vector<float>> EaseWeights(int n, std::vector<double> gram, double lambda);

}  // namespace recsys::model

#endif  // RECSYS_MODEL_EASE_H_
