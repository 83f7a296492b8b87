// Vectors trained elsewhere: user and item factors exported by Spark
// MLlib's ALS (ALSModel.userFactors / itemFactors, columns `id` and
// `features`), turned into the factor model the trainer publishes instead
// of training one (TrainerOptions::factors; `recsys_import`, or
// `recsys_train --user_factors --item_factors`), so a shop that trains on its
// Spark cluster serves with recsys (docs/scaling.md).
//
// Layouts read (a file, or a directory of Spark's part files: every
// `part-*` file in name order; `_SUCCESS`, `.crc` and hidden files are
// skipped; each file plain or gzip):
//   - JSON lines, as `df.write.json(...)` writes them:
//       {"id":12,"features":[0.1,-0.2,...]}
//   - CSV, as `df.selectExpr("id", "to_json(features)").write.csv(...)` or
//     `concat_ws(";", features)` write them: `12,"[0.1,-0.2]"` or
//     `12,0.1;-0.2`; an optional header `id,features`.
// The layout is detected per line ('{' starts JSON). Ids are text, matched
// to the purchase history's ids as they are; Spark's integer ids can be
// mapped back to the shop's ids with an id map (ReadIdMap).
//
// Malformed lines (bad JSON, a missing id, non-numeric or non-finite
// features, a dimension other than the first line's, a repeated id) are
// counted and the first ones kept with file and line; they never stop the
// read.
//
// Thread safety: pure functions.
#ifndef RECSYS_TRAINING_FACTOR_IMPORT_H_
#define RECSYS_TRAINING_FACTOR_IMPORT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "training/als.h"
#include "training/interactions.h"

namespace recsys::training {

struct FactorTable {
  int dim = 0;
  std::vector<std::string> ids;
  // ids.size() x dim, row-major.
  std::vector<float> values;
};

struct FactorReadStats {
  int64_t rows_read = 0;  // data lines (headers and blank lines excluded)
  int64_t rows_used = 0;
  int64_t malformed = 0;
  // The first `max_error_lines` malformed lines, "part-00000.json line 7:
  // features[3]: not a finite number".
  std::vector<std::string> errors;
  int max_error_lines = 10;
};

// Reads a factor export (file or Spark output directory). NotFound for a
// missing path; InvalidArgument naming the path when no line is usable (the
// message quotes the first errors).
absl::StatusOr<FactorTable> ReadSparkFactors(const std::string& path,
                                             FactorReadStats* stats);

// Reads "spark_id,shop_id" lines (an optional header; e.g. the labels of a
// StringIndexer written back with their index) and renames the table's ids.
// Rows whose id is not in the map are dropped and counted in `*unmapped`.
// InvalidArgument naming the file and line for a malformed line or a
// repeated spark id.
absl::Status ApplyIdMap(const std::string& map_path, FactorTable* table,
                        int64_t* unmapped);

struct ImportStats {
  int32_t users_matched = 0;  // history users with an exported vector
  int32_t users_solved = 0;   // history users without one (solved)
  int32_t items_matched = 0;
  int32_t items_solved = 0;
  // Exported rows whose id is not in the history (not served).
  int64_t users_unknown = 0;
  int64_t items_unknown = 0;
};

// The factor model over `data`'s users and items (its row order), from the
// exported tables. A user or item of the history without an exported vector
// gets one least-squares step against the other side's vectors (the iALS
// step, with `lambda` and the confidence `confidence`: users x items, as
// built by BuildConfidence): items first from the exported users,
// then users from every item. InvalidArgument when the tables' dimensions
// differ or no history user or item has a vector.
absl::StatusOr<AlsModel> ImportFactors(
    const FactorTable& users, const FactorTable& items,
    const InteractionData& data, const CsrMatrix& confidence,
    float lambda, ImportStats* stats);

}  // namespace recsys::training

#endif  // RECSYS_TRAINING_FACTOR_IMPORT_H_
