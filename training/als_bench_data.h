// Confidence matrices for the iALS training benchmark (recsys_bench_als),
// built straight into CSR:
//   - ReadPairsConfidence: a user,item pairs file.
//   - GenerateSyntheticConfidence: a random matrix with power-law (Zipf)
//     item popularity.
// Neither goes through InteractionBuilder, which keeps per-pair statistics,
// ids and item metadata the benchmark does not need; peak memory is the CSR
// plus O(users + items) (plus 8 bytes per input row while reading pairs).
//
// The confidence of a pair seen r times is the trainer's default weighting
// (BuildConfidence without decay):
//   kLog:    c = 1 + alpha * log(1 + r / epsilon)
//   kLinear: c = 1 + alpha * r
//
// Thread safety: the functions keep no shared state.
#ifndef RECSYS_TRAINING_ALS_BENCH_DATA_H_
#define RECSYS_TRAINING_ALS_BENCH_DATA_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "training/csv_reader.h"
#include "training/interactions.h"

namespace recsys::training {

// The confidence of a pair seen `r` times (see the top of this file).
// REQUIRES: ValidateConfidenceOptions(options).ok().
float PairConfidence(double r, const ConfidenceOptions& options);

// Reads a two-column pairs file (header line, then user,item per line; plain
// or .gz; see PurchaseFormat::kPairs) into a users x items confidence matrix.
// Rows and columns are numbered in order of first appearance; a pair that
// occurs r times becomes one entry with PairConfidence(r). `*stats`
// (required) receives the reader's counts, including skipped rows.
//
// Errors: those of ReadPurchases; InvalidArgument when `confidence` is
// invalid or asks for time decay (pairs have no timestamps);
// ResourceExhausted with more than 2^31 - 1 users or items.
absl::StatusOr<CsrMatrix> ReadPairsConfidence(
    const std::string& path, const ConfidenceOptions& confidence,
    ReadStats* stats);

struct SyntheticMatrixOptions {
  // Shape and number of stored entries (users, items >= 1;
  // 0 <= nnz <= users * items).
  int32_t users = 1000000;
  int32_t items = 100000;
  int64_t nnz = 20000000;
  // Item popularity: the item of popularity rank k (1-based) is drawn with
  // probability proportional to k^-zipf_exponent (>= 0; 0 = uniform). Ranks
  // are mapped to item columns by a random permutation, so popularity is not
  // correlated with the column index.
  double zipf_exponent = 1.0;
  // Seed of every random choice.
  uint64_t seed = 1;
};

// A users x items confidence matrix with exactly `nnz` entries, generated
// row by row: row lengths are geometric with mean nnz / users (at least 1
// before an exact-total correction, at most `items`), each row's items are
// distinct draws from the Zipf law above, and each pair's count r is
// geometric on {1, 2, ...} with mean 1.5, weighted by PairConfidence.
// Deterministic: a pure function of the options (our own splitmix64 stream,
// no std:: distributions).
//
// InvalidArgument for out-of-range options.
absl::StatusOr<CsrMatrix> GenerateSyntheticConfidence(
    const SyntheticMatrixOptions& options, const ConfidenceOptions& confidence);

}  // namespace recsys::training

#endif  // RECSYS_TRAINING_ALS_BENCH_DATA_H_
