#include "model/ease.h"

#include <cstddef>
#include <utility>

#include "absl/strings/str_cat.h"

// LAPACK (Fortran ABI): Cholesky factorisation and inverse of an SPD matrix.
extern "C" {
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info);
}

namespace recsys::model {

absl::StatusOr<std::vector<float>> EaseWeights(int n, std::vector<double> gram, double lambda) {
  if (n < 1 || n > kEaseMaxItems) {
    return absl::InvalidArgumentError(
        absl::StrCat("ease: ", n, " items; 1 to ", kEaseMaxItems, " supported"));
  }
  if (gram.size() != static_cast<size_t>(n) * n) {
    return absl::InvalidArgumentError(
        absl::StrCat("ease: gram matrix of ", gram.size(), " values for ", n, " items"));
  }
  if (!(lambda > 0)) return absl::InvalidArgumentError("ease: lambda must be > 0");
  std::vector<double> g = std::move(gram);
  for (int i = 0; i < n; ++i) g[static_cast<size_t>(i) * n + i] += lambda;
  const char uplo = 'L';
  int info = 0;
  dpotrf_(&uplo, &n, g.data(), &n, &info);
  if (info != 0) return absl::InternalError(absl::StrCat("ease: dpotrf failed, info ", info));
  dpotri_(&uplo, &n, g.data(), &n, &info);
  if (info != 0) return absl::InternalError(absl::StrCat("ease: dpotri failed, info ", info));
  // dpotri fills the lower triangle (column-major), i.e. the upper triangle
  // of the row-major view; mirror it.
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j < n; ++j) {
      g[static_cast<size_t>(j) * n + i] = g[static_cast<size_t>(i) * n + j];
    }
  }
  // B_ij = -P_ij / P_jj, zero diagonal.
  std::vector<float> b(static_cast<size_t>(n) * n);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      b[static_cast<size_t>(i) * n + j] =
          i == j ? 0.0f
                 : static_cast<float>(-g[static_cast<size_t>(i) * n + j] /
                                      g[static_cast<size_t>(j) * n + j]);
    }
  }
  return b;
}

}  // namespace recsys::model
