#include "training/datagen.h"

#include <algorithm>
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
