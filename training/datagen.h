// A synthetic shop: deterministic purchase logs with the structure of a real
// general store, for demos, tests and benchmarks.
//
// The model:
//   - 17 categories (grocery, coffee_tea, snacks, baby, beauty, pet,
//     household, electronics, books, toys, home, kitchen, sports, garden,
//     stationery, fashion, gifts), each with its share of the catalogue, a
//     log-normal price distribution and a share of staple (consumable) items
//     with a re-buy cycle of days to weeks.
//   - Within a category, item popularity follows a Zipf law (exponent 1.1).
//   - Users belong to segments (family, tech, foodie, student, gardener,
//     pet_owner, fitness, style) that weight categories differently, with
//     per-user noise. Activity is log-normal (many light users, a few heavy
//     ones); some users join late and about a fifth go dormant part-way.
//   - Orders arrive as a Poisson process per user, thinned by weekday
//     (weekends busier) and placed at an hour drawn from a daily profile.
//     A basket holds the user's due staples (re-bought on their personal
//     cycle, in quantities 1-3), one or more discovery items from the user's
//     categories (gifts and toys boosted in November and December), and now
//     and then a repeat of an earlier purchase.
//
// Kinds of shop (ShopOptions::kind) change that model where real shops
// differ; kGeneral is the store above:
//   - kGrocery: food, drinks, household, baby and pet items, nearly all
//     staples on weekly to fortnightly cycles, many staples per customer,
//     large baskets, orders about weekly, frequent repeats.
//   - kFashion: clothing, beauty, sports and gifts; almost no staples, small
//     baskets, few orders a year, rare repeats, and seasonal collections:
//     each item is listed at a time spread over the log (a quarter before
//     its start) and sells mostly in its first ~60 days.
//   - kElectronics: main devices and their accessories; rare orders of one or
//     two items, almost no repeats, and after buying a main device a
//     customer often buys one to three of its accessories within two weeks.
//
// Output: the canonical CSV, header user_id,item_id,timestamp,quantity,price,
// category; ids "u000123" / "i00042" (zero-padded to at least 6 / 5 digits),
// timestamps as integer unix seconds (UTC) in [end - days, end) where end is
// the midnight after end_date, prices with two decimals, rows in time order.
//
// Determinism: the output is a pure function of ShopOptions. Randomness comes
// from our own xoshiro256** generator and distribution code (never
// std::*_distribution, whose results differ between standard libraries).
//
// Thread safety: the functions keep no shared state.
#ifndef RECSYS_TRAINING_DATAGEN_H_
#define RECSYS_TRAINING_DATAGEN_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "training/csv_reader.h"

namespace recsys::training {

// See the model above.
enum class ShopKind { kGeneral, kGrocery, kFashion, kElectronics };

// "general", "grocery", "fashion", "electronics".
absl::string_view ShopKindName(ShopKind kind);
// Inverse of ShopKindName; InvalidArgument lists the names.
absl::StatusOr<ShopKind> ParseShopKind(absl::string_view name);

struct ShopOptions {
  // Kind of shop; kGeneral's output is unchanged by the other kinds.
  ShopKind kind = ShopKind::kGeneral;
  // Number of users (>= 1).
  int users = 2000;
  // Catalogue size (>= 1).
  int items = 500;
  // Length of the log in days (>= 1), ending at end_date.
  int days = 365;
  // Seed of every random choice.
  uint64_t seed = 1;
  // Last day of the log, "YYYY-MM-DD" (UTC).
  std::string end_date = "2024-12-31";
};

struct ShopStats {
  int64_t rows = 0;
  int64_t orders = 0;
  // Users with at least one order.
  int32_t active_users = 0;
  // Items bought at least once.
  int32_t sold_items = 0;
  // Rows of staple re-buys.
  int64_t staple_rows = 0;
  int64_t first_unix = 0;
  int64_t last_unix = 0;
};

// The category names, in a fixed order.
const std::vector<std::string>& ShopCategories();

// Generates the log and passes every row to `on_row` in time order (the row
// is reused between calls). Memory: about 32 bytes per row.
// InvalidArgument for out-of-range options or a malformed end_date.
absl::StatusOr<ShopStats> GenerateShop(
    const ShopOptions& options,
    const std::function<void(const PurchaseRow&)>& on_row);

// Writes the log as canonical CSV to `path`; gzip-compressed when the path
// ends in ".gz" (byte-identical for identical options). Internal /
// PermissionDenied for write errors.
absl::StatusOr<ShopStats> WriteShopCsv(const ShopOptions& options,
                                       const std::string& path);

}  // namespace recsys::training

#endif  // RECSYS_TRAINING_DATAGEN_H_
