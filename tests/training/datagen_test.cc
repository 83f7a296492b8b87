#include "training/datagen.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_files.h"
#include "training/csv_reader.h"
#include "training/interactions.h"

namespace recsys::training {
namespace {

using ::testing::HasSubstr;
using recsys::testing::MakeTestDir;
using recsys::testing::ReadFileBytes;
using ::testing::StartsWith;

TEST(DatagenTest, SameSeedSameBytes) {
  const std::string dir = MakeTestDir();
  ShopOptions options;
  options.users = 500;
  options.items = 120;
  for (const char* name : {"a.csv", "b.csv", "a.csv.gz", "b.csv.gz"}) {
    ASSERT_TRUE(WriteShopCsv(options, dir + "/" + name).ok()) << name;
  }
  options.seed = 2;
  ASSERT_TRUE(WriteShopCsv(options, dir + "/c.csv").ok());

  const std::string a = ReadFileBytes(dir + "/a.csv");
  EXPECT_GT(a.size(), 10000u);
  EXPECT_THAT(a, StartsWith("user_id,item_id,timestamp,quantity,price,"
                            "category\n"));
  EXPECT_EQ(a, ReadFileBytes(dir + "/b.csv"));
  EXPECT_EQ(ReadFileBytes(dir + "/a.csv.gz"), ReadFileBytes(dir + "/b.csv.gz"));
  EXPECT_NE(a, ReadFileBytes(dir + "/c.csv"));

  // The gzip file holds the same rows.
  std::vector<std::string> plain_ids, gz_ids;
  ReadStats stats;
  ASSERT_TRUE(ReadPurchases(
                  dir + "/a.csv", {},
                  [&](const PurchaseRow& r) { plain_ids.push_back(r.item_id); },
                  &stats)
                  .ok());
  ASSERT_TRUE(ReadPurchases(
                  dir + "/a.csv.gz", {},
                  [&](const PurchaseRow& r) { gz_ids.push_back(r.item_id); },
                  &stats)
                  .ok());
  EXPECT_EQ(plain_ids, gz_ids);
}

TEST(DatagenTest, DefaultShopIsPlausible) {
  const ShopOptions options;  // 2,000 users x 500 items over 365 days
  std::vector<PurchaseRow> rows;
  absl::StatusOr<ShopStats> stats = GenerateShop(
      options, [&](const PurchaseRow& row) { rows.push_back(row); });
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->rows, static_cast<int64_t>(rows.size()));
  EXPECT_GT(stats->rows, 30000);
  EXPECT_LT(stats->rows, 80000);
  EXPECT_GT(stats->active_users, 1900);
  EXPECT_GT(stats->sold_items, 450);
  EXPECT_LT(stats->orders, stats->rows);  // baskets hold several items

  // Time range and order: [2024-01-01 - ..., 2025-01-01), ascending.
  const int64_t end = *ParseTimestamp("2025-01-01");
  const int64_t start = end - 365 * 86400;
  for (size_t i = 0; i < rows.size(); ++i) {
    ASSERT_GE(rows[i].timestamp_unix, start);
    ASSERT_LT(rows[i].timestamp_unix, end);
    if (i > 0) {
      ASSERT_GE(rows[i].timestamp_unix, rows[i - 1].timestamp_unix);
    }
    ASSERT_GT(rows[i].price, 0);
    ASSERT_GE(rows[i].quantity, 1);
  }

  InteractionBuilder builder;
  std::set<std::string> categories;
  for (const PurchaseRow& row : rows) {
    builder.Add(row);
    categories.insert(row.category);
  }
  EXPECT_EQ(categories.size(), ShopCategories().size());
  const InteractionData data = builder.Build();

  // Power law: the top 10% of items take a large share of purchases.
  std::vector<int64_t> purchases;
  for (const ItemInfo& item : data.items) purchases.push_back(item.purchases);
  std::sort(purchases.rbegin(), purchases.rend());
  int64_t top = 0, total = 0;
  for (size_t i = 0; i < purchases.size(); ++i) {
    total += purchases[i];
    if (i < purchases.size() / 10) top += purchases[i];
  }
  EXPECT_GT(static_cast<double>(top) / total, 0.35);

  // Staples are re-bought: many rows repeat a (user, item) pair, and some
  // users buy the same item ten times or more.
  EXPECT_LT(data.events.nnz(), data.total_events * 8 / 10);
  int heavy_repeats = 0;
  for (float events : data.events.values) heavy_repeats += events >= 10;
  EXPECT_GT(heavy_repeats, 50);
  EXPECT_GT(stats->staple_rows, stats->rows / 5);

  // Activity varies: the heaviest users buy far more than the median one.
  std::vector<int64_t> per_user(data.num_users(), 0);
  for (int32_t u = 0; u < data.num_users(); ++u) {
    for (int64_t k = data.events.indptr[u]; k < data.events.indptr[u + 1];
         ++k) {
      per_user[u] += static_cast<int64_t>(data.events.values[k]);
    }
  }
  std::sort(per_user.begin(), per_user.end());
  EXPECT_GT(per_user.back(), 5 * per_user[per_user.size() / 2]);
}

// The shape of a generated log, measured from its rows only.
struct Shape {
  int64_t rows = 0;
  double rows_per_order = 0;
  // Rows whose (user, item) the user bought before.
  double repeat_share = 0;
  // Rows of the last 90 days on items first sold in those 90 days.
  double new_item_share = 0;
  // Cheap electronics rows (< 40) preceded within 14 days by the same user's
  // purchase of an expensive one (>= 100).
  double accessory_after_main = 0;
  double orders_per_user = 0;
};

Shape Measure(ShopKind kind) {
  ShopOptions options;
  options.kind = kind;
  options.users = 1000;
  options.items = 300;
  std::vector<PurchaseRow> rows;
  absl::StatusOr<ShopStats> stats =
      GenerateShop(options, [&](const PurchaseRow& row) { rows.push_back(row); });
  EXPECT_TRUE(stats.ok()) << stats.status();
  Shape shape;
  if (!stats.ok() || rows.empty()) return shape;
  shape.rows = stats->rows;
  std::set<std::pair<std::string, int64_t>> orders;
  std::set<std::pair<std::string, std::string>> bought;
  std::map<std::string, int64_t> first_sale;
  std::map<std::string, std::vector<int64_t>> main_times;  // user -> times
  int64_t repeats = 0, cheap = 0, cheap_after_main = 0;
  for (const PurchaseRow& row : rows) {
    orders.insert({row.user_id, row.timestamp_unix});
    repeats += !bought.insert({row.user_id, row.item_id}).second;
    first_sale.emplace(row.item_id, row.timestamp_unix);
    if (row.category != "electronics") continue;
    if (row.price >= 100) main_times[row.user_id].push_back(row.timestamp_unix);
    if (row.price < 40) {
      ++cheap;
      for (int64_t t : main_times[row.user_id]) {
        if (t <= row.timestamp_unix && row.timestamp_unix - t <= 14 * 86400) {
          ++cheap_after_main;
          break;
        }
      }
    }
  }
  const int64_t recent = rows.back().timestamp_unix - 90 * 86400;
  int64_t recent_rows = 0, recent_new = 0;
  for (const PurchaseRow& row : rows) {
    if (row.timestamp_unix < recent) continue;
    ++recent_rows;
    recent_new += first_sale[row.item_id] >= recent;
  }
  shape.rows_per_order = static_cast<double>(rows.size()) / orders.size();
  shape.repeat_share = static_cast<double>(repeats) / rows.size();
  shape.new_item_share = recent_rows ? static_cast<double>(recent_new) / recent_rows : 0;
  shape.accessory_after_main = cheap ? static_cast<double>(cheap_after_main) / cheap : 0;
  shape.orders_per_user = static_cast<double>(orders.size()) / stats->active_users;
  return shape;
}

TEST(DatagenTest, KindsOfShopDifferAsRealShopsDo) {
  const Shape general = Measure(ShopKind::kGeneral);
  const Shape grocery = Measure(ShopKind::kGrocery);
  const Shape fashion = Measure(ShopKind::kFashion);
  const Shape electronics = Measure(ShopKind::kElectronics);
  for (const auto& [name, shape] : {std::pair{"general", general}, std::pair{"grocery", grocery},
                                    std::pair{"fashion", fashion},
                                    std::pair{"electronics", electronics}}) {
    std::printf("%-11s rows %6lld  rows/order %.2f  orders/user %.1f  repeat %.3f  "
                "new items %.3f  accessory after main %.3f\n",
                name, static_cast<long long>(shape.rows), shape.rows_per_order,
                shape.orders_per_user, shape.repeat_share, shape.new_item_share,
                shape.accessory_after_main);
  }

  // Grocery: large baskets, frequent orders, mostly repeats.
  EXPECT_GT(grocery.rows_per_order, 2 * general.rows_per_order);
  EXPECT_GT(grocery.orders_per_user, 2 * general.orders_per_user);
  EXPECT_GT(grocery.repeat_share, 0.6);
  EXPECT_GT(grocery.repeat_share, general.repeat_share);

  // Fashion: rare repeats, and recent sales go to recently listed items.
  EXPECT_LT(fashion.repeat_share, 0.1);
  EXPECT_GT(fashion.new_item_share, 3 * general.new_item_share);
  EXPECT_LT(fashion.orders_per_user, general.orders_per_user);

  // Electronics: few orders; accessories follow their main device.
  EXPECT_LT(electronics.orders_per_user, fashion.orders_per_user + 1);
  EXPECT_LT(electronics.repeat_share, 0.5 * general.repeat_share);
  EXPECT_GT(electronics.accessory_after_main, 0.35);
  EXPECT_GT(electronics.accessory_after_main, 3 * general.accessory_after_main);
  EXPECT_LT(general.accessory_after_main, 0.2);
}

TEST(DatagenTest, EveryKindIsDeterministicAndNamed) {
  const std::string dir = MakeTestDir();
  for (ShopKind kind : {ShopKind::kGeneral, ShopKind::kGrocery, ShopKind::kFashion,
                        ShopKind::kElectronics}) {
    const std::string name(ShopKindName(kind));
    EXPECT_EQ(*ParseShopKind(name), kind);
    ShopOptions options;
    options.kind = kind;
    options.users = 300;
    options.items = 100;
    ASSERT_TRUE(WriteShopCsv(options, dir + "/" + name + "1.csv").ok()) << name;
    ASSERT_TRUE(WriteShopCsv(options, dir + "/" + name + "2.csv").ok()) << name;
    const std::string bytes = ReadFileBytes(dir + "/" + name + "1.csv");
    EXPECT_GT(bytes.size(), 1000u) << name;
    EXPECT_EQ(bytes, ReadFileBytes(dir + "/" + name + "2.csv")) << name;
  }
  EXPECT_NE(ReadFileBytes(dir + "/general1.csv"), ReadFileBytes(dir + "/grocery1.csv"));
  absl::StatusOr<ShopKind> bad = ParseShopKind("bakery");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("'bakery'"));
}

TEST(DatagenTest, IdsArePaddedAndOptionsChecked) {
  ShopOptions options;
  options.users = 3;
  options.items = 2;
  options.days = 30;
  options.end_date = "2023-06-30";
  std::set<std::string> users, items;
  int64_t first = 0;
  ASSERT_TRUE(GenerateShop(options, [&](const PurchaseRow& r) {
                users.insert(r.user_id);
                items.insert(r.item_id);
                if (first == 0) first = r.timestamp_unix;
              }).ok());
  EXPECT_THAT(*users.begin(), StartsWith("u00000"));
  EXPECT_EQ(users.begin()->size(), 7u);
  EXPECT_EQ(items.begin()->size(), 6u);
  EXPECT_GE(first, *ParseTimestamp("2023-06-01"));

  auto noop = [](const PurchaseRow&) {};
  options.users = 0;
  EXPECT_EQ(GenerateShop(options, noop).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.users = 3;
  options.end_date = "2023-02-30";
  absl::Status bad_date = GenerateShop(options, noop).status();
  EXPECT_EQ(bad_date.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_date.message(), HasSubstr("end_date"));
  options.end_date = "2023-06-30";
  EXPECT_EQ(WriteShopCsv(options, "/nonexistent/dir/x.csv").status().code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace recsys::training
