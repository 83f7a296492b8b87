// Data for the offline evaluation: purchase logs, the time split, the
// per-user random holdout, and the NCF leave-one-out benchmark files.
//
// Every split produces an EvalSplit: the training interactions (exactly what
// the trainer would build from the training rows) and, per evaluated user,
// the distinct items bought in the test part. Only rows of the training part
// ever reach EvalSplit::train.
//
// Thread safety: pure functions; results are plain values.
#ifndef RECSYS_EVALUATION_DATASET_H_
#define RECSYS_EVALUATION_DATASET_H_

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "training/csv_reader.h"
#include "training/interactions.h"

namespace recsys::evaluation {

// One purchase row, with ids interned in the owning PurchaseLog.
struct Purchase {
  int32_t user = 0;
  int32_t item = 0;
  int64_t timestamp_unix = 0;
  double quantity = 1;
};

// Purchase rows in file order (after the reader's cleaning: unknown
// customer, non-positive quantity and cancelled invoices are dropped).
struct PurchaseLog {
  std::vector<std::string> user_ids;
  std::vector<std::string> item_ids;
  // Parallel to item_ids: the last non-empty category and title read for
  // the item anywhere in the file (catalog data, the same in every time
  // slice).
  std::vector<std::string> item_categories;
  std::vector<std::string> item_titles;
  std::vector<Purchase> rows;
  training::ReadStats read_stats;
  // Range of the rows' timestamps (0 when empty).
  int64_t first_unix = 0;
  int64_t last_unix = 0;
};

// Reads `path` with training::ReadPurchases (format and time filter from
// `options`). Errors as ReadPurchases; InvalidArgument when no row is usable.
absl::StatusOr<PurchaseLog> ReadPurchaseLog(
    const std::string& path, const training::ReadOptions& options);

// `p` as the reader's row: ids, time, quantity, and the item's category
// and title. Reuses `row`'s strings.
void FillPurchaseRow(const PurchaseLog& log, const Purchase& p, training::PurchaseRow* row);

// The rows with not_before <= timestamp < before, ids re-interned (so the
// result mentions no user or item that only appears outside the range).
PurchaseLog SliceByTime(const PurchaseLog& log, int64_t not_before_unix,
                        int64_t before_unix);

// Feeds the rows (file order) through training::InteractionBuilder, as the
// trainer does.
training::InteractionData BuildInteractions(
    const PurchaseLog& log, const training::InteractionOptions& options = {});

// One evaluated user.
struct EvalUser {
  // Row in EvalSplit::train.
  int32_t user = 0;
  // Distinct items of the test part, sorted. Item rows of the training
  // catalog; an item unknown to training gets an id >= train.num_items()
  // (it counts in |T| but no model can recommend it).
  std::vector<int32_t> test_items;
  // The test items the user had not bought in the training part.
  std::vector<int32_t> new_items;
};

struct SplitStats {
  int64_t train_rows = 0;
  int64_t test_rows = 0;
  // Users with test rows, and those also present in training (evaluated).
  int64_t test_period_users = 0;
  int64_t evaluated_users = 0;
  // Evaluated users with a non-empty new-item set.
  int64_t users_with_new_items = 0;
  // Distinct test items, and those unknown to training.
  int64_t test_items = 0;
  int64_t test_items_unknown = 0;
  // Mean |T| and mean |new items| over evaluated users.
  double mean_test_items = 0;
  double mean_new_items = 0;
};

struct EvalSplit {
  // "time" or "holdout".
  std::string kind;
  training::InteractionData train;
  // Sorted by user row.
  std::vector<EvalUser> users;
  SplitStats stats;
  // Time split: the cut (test = timestamp >= cut); also the "now" at which
  // time-aware models rank. Holdout: the latest training timestamp.
  int64_t now_unix = 0;
  // Holdout splits remove test pairs from training, so every test item is
  // "new"; models must exclude training items in both settings.
  bool test_items_all_new = false;
};

// Time split: rows with timestamp < cut_unix train, the others test.
// Evaluated users: present in both parts.
EvalSplit SplitByTime(const PurchaseLog& log, int64_t cut_unix,
                      const training::InteractionOptions& options = {});

// Per-user random holdout: for every user with >= 2 distinct items,
// round(fraction * items) of them (at least 1, at most items - 1) are drawn
// with a generator seeded by `seed`; all rows of drawn (user, item) pairs are
// test rows. Deterministic for a given log and seed. REQUIRES: 0 < fraction
// < 1.
EvalSplit SplitByHoldout(const PurchaseLog& log, double fraction, uint64_t seed,
                         const training::InteractionOptions& options = {});

// The NCF leave-one-out benchmark (He et al. 2017).
struct LeaveOneOutData {
  // Users and items are the files' integer ids (rows = ids); user_ids /
  // item_ids are their decimal strings. events = 1 per training pair.
  training::InteractionData train;
  // Per user row: the held-out item (-1 when the user has none) and its
  // sampled negatives.
  std::vector<int32_t> test_item;
  std::vector<std::vector<int32_t>> negatives;
  int64_t test_users = 0;
  // Negatives equal to the user's own held-out item (skipped when ranking,
  // as the original evaluation code collapses them).
  int64_t negatives_equal_to_positive = 0;
};

// Reads the three files (plain or gzip):
//   train: "user<TAB>item[<TAB>...]" per line (a non-numeric first line is a
//     header and skipped);
//   test_rating: "user<TAB>item<TAB>rating<TAB>timestamp";
//   test_negative: "(user,item)<TAB>neg1<TAB>...".
// InvalidArgument names the file and line of a malformed row, a negative id,
// or a negative line that does not match the test rating of its user.
absl::StatusOr<LeaveOneOutData> ReadLeaveOneOut(
    const std::string& train_path, const std::string& test_rating_path,
    const std::string& test_negative_path);

// Validation data carved from training pairs only: for every user with >= 2
// training items one random item (seeded) is held out and `num_negatives`
// items the user never interacted with in `train` are sampled (without
// replacement). The held-out pairs are removed from the returned training
// matrix. Never looks at any test data.
LeaveOneOutData CarveLeaveOneOut(const training::InteractionData& train,
                                 int num_negatives, uint64_t seed);

}  // namespace recsys::evaluation

#endif  // RECSYS_EVALUATION_DATASET_H_
