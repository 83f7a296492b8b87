#include "evaluation/dataset.h"

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_files.h"
#include "tests/testing/status_matchers.h"

namespace recsys::evaluation {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using recsys::testing::MakeTestDir;
using recsys::testing::WriteFile;
using recsys::testing::WriteGzFile;

// 2024-01-10 00:00:00 UTC and one day.
constexpr int64_t kCut = 1704844800;
constexpr int64_t kDay = 86400;

// Canonical CSV: u1 buys a, b before the cut; the planted purchase of "leak"
// by u1 is after it, as are u1's repeat of a and u2's c. u3 buys only
// after the cut (not evaluated), u4 only before.
std::string SplitCsv() {
  return absl::StrCat("user_id,item_id,timestamp,quantity\n", "u1,a,",
                      kCut - 5 * kDay, ",1\n", "u1,b,", kCut - 3 * kDay, ",2\n",
                      "u2,a,", kCut - 2 * kDay, ",1\n", "u4,b,", kCut - 1,
                      ",1\n", "u1,leak,", kCut, ",1\n", "u1,a,",
                      kCut + 2 * kDay, ",1\n", "u2,c,", kCut + 3 * kDay, ",1\n",
                      "u3,a,", kCut + 4 * kDay, ",1\n");
}

int32_t Row(const std::vector<std::string>& ids, const std::string& id) {
  auto it = std::find(ids.begin(), ids.end(), id);
  return it == ids.end() ? -1 : static_cast<int32_t>(it - ids.begin());
}

TEST(SplitByTimeTest, TestPurchasesNeverReachTraining) {
  const std::string dir = MakeTestDir();
  RECSYS_ASSERT_OK_AND_ASSIGN(
      PurchaseLog log,
      ReadPurchaseLog(WriteFile(dir, "p.csv", SplitCsv()), {}));
  ASSERT_EQ(log.rows.size(), 8u);
  const EvalSplit split = SplitByTime(log, kCut);

  // Training holds exactly the rows before the cut.
  EXPECT_EQ(split.stats.train_rows, 4);
  EXPECT_EQ(split.stats.test_rows, 4);
  EXPECT_EQ(split.train.rows, 4);
  EXPECT_THAT(split.train.item_ids, ElementsAre("a", "b"));
  EXPECT_EQ(Row(split.train.item_ids, "leak"), -1);
  EXPECT_EQ(Row(split.train.item_ids, "c"), -1);
  EXPECT_EQ(Row(split.train.user_ids, "u3"), -1);
  EXPECT_LT(split.train.last_event_unix, kCut);
  const int32_t u1 = Row(split.train.user_ids, "u1");
  const int32_t a = Row(split.train.item_ids, "a");
  // u1's training pair (u1, a) has one event: the repeat after the cut is
  // not counted.
  const training::CsrMatrix& m = split.train.events;
  for (int64_t k = m.row_begin(u1); k < m.row_end(u1); ++k) {
    if (m.indices[k] == a) {
      EXPECT_EQ(m.values[k], 1.0f);
    }
    EXPECT_LT(split.train.last_unix[k], kCut);
  }

  // The planted purchase is in u1's test set (as an item unknown to
  // training), and new.
  ASSERT_EQ(split.users.size(), 2u);
  const EvalUser& e1 =
      split.users[0].user == u1 ? split.users[0] : split.users[1];
  EXPECT_EQ(e1.user, u1);
  ASSERT_EQ(e1.test_items.size(), 2u);
  EXPECT_EQ(e1.test_items[0], a);
  EXPECT_GE(e1.test_items[1], split.train.num_items());  // "leak"
  EXPECT_THAT(e1.new_items, ElementsAre(e1.test_items[1]));
  EXPECT_EQ(split.stats.test_period_users, 3);  // u1, u2, u3
  EXPECT_EQ(split.stats.evaluated_users, 2);    // u3 has no training rows
  EXPECT_EQ(split.stats.users_with_new_items, 2);
  EXPECT_EQ(split.stats.test_items, 3);  // leak, a, c
  EXPECT_EQ(split.stats.test_items_unknown, 2);
  EXPECT_EQ(split.now_unix, kCut);
}

TEST(SplitByTimeTest, SliceByTimeKeepsOnlyTheRange) {
  const std::string dir = MakeTestDir();
  RECSYS_ASSERT_OK_AND_ASSIGN(
      PurchaseLog log,
      ReadPurchaseLog(WriteFile(dir, "p.csv", SplitCsv()), {}));
  const PurchaseLog before = SliceByTime(log, INT64_MIN, kCut);
  EXPECT_EQ(before.rows.size(), 4u);
  EXPECT_THAT(before.item_ids, ElementsAre("a", "b"));
  EXPECT_THAT(before.user_ids, ElementsAre("u1", "u2", "u4"));
  EXPECT_LT(before.last_unix, kCut);
  // Reading with the reader's time filter gives the same training data.
  training::ReadOptions read;
  read.before_unix = kCut;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      PurchaseLog filtered,
      ReadPurchaseLog(WriteFile(dir, "q.csv", SplitCsv()), read));
  EXPECT_EQ(filtered.rows.size(), 4u);
  EXPECT_EQ(BuildInteractions(filtered).events.indices,
            SplitByTime(log, kCut).train.events.indices);
}

// The catalog's titles and categories reach the slices, the rows the tuner
// reads and the training data (the ranker's title features need them).
TEST(SplitByTimeTest, TitlesAndCategoriesFollowTheItems) {
  const std::string dir = MakeTestDir();
  const std::string csv = absl::StrCat(
      "user_id,item_id,timestamp,quantity,price,category,title\n",
      "u1,a,", kCut - 5 * kDay, ",1,2.5,home,Red lantern\n",
      "u1,b,", kCut - 3 * kDay, ",1,1,,\n",
      "u2,b,", kCut - 2 * kDay, ",1,1,kitchen,Blue mug\n",
      "u2,c,", kCut + kDay, ",1,1,home,Paper lantern\n");
  RECSYS_ASSERT_OK_AND_ASSIGN(PurchaseLog log,
                              ReadPurchaseLog(WriteFile(dir, "t.csv", csv), {}));
  EXPECT_THAT(log.item_titles, ElementsAre("Red lantern", "Blue mug", "Paper lantern"));
  EXPECT_THAT(log.item_categories, ElementsAre("home", "kitchen", "home"));
  const PurchaseLog after = SliceByTime(log, kCut, INT64_MAX);
  EXPECT_THAT(after.item_ids, ElementsAre("c"));
  EXPECT_THAT(after.item_titles, ElementsAre("Paper lantern"));
  training::PurchaseRow row;
  FillPurchaseRow(log, log.rows[1], &row);
  EXPECT_EQ(row.item_id, "b");
  EXPECT_EQ(row.title, "Blue mug");
  EXPECT_EQ(row.category, "kitchen");
  const training::InteractionData data = SplitByTime(log, kCut).train;
  ASSERT_EQ(data.item_ids.size(), 2u);
  EXPECT_EQ(data.items[Row(data.item_ids, "a")].title, "Red lantern");
  EXPECT_EQ(data.items[Row(data.item_ids, "b")].category, "kitchen");
}

TEST(SplitByHoldoutTest, DeterministicAndDisjoint) {
  std::string csv = "user_id,item_id,timestamp\n";
  for (int u = 0; u < 20; ++u) {
    for (int i = 0; i < 10; ++i) {
      if ((u + i) % 3 == 0) continue;
      absl::StrAppend(&csv, "u", u, ",i", i, ",", 1000 + u * 10 + i, "\n");
    }
  }
  const std::string dir = MakeTestDir();
  RECSYS_ASSERT_OK_AND_ASSIGN(
      PurchaseLog log, ReadPurchaseLog(WriteFile(dir, "p.csv", csv), {}));
  const EvalSplit a = SplitByHoldout(log, 0.25, 7);
  const EvalSplit b = SplitByHoldout(log, 0.25, 7);
  const EvalSplit c = SplitByHoldout(log, 0.25, 8);
  EXPECT_TRUE(a.test_items_all_new);
  ASSERT_EQ(a.users.size(), 20u);
  bool differs = false;
  for (size_t k = 0; k < a.users.size(); ++k) {
    EXPECT_EQ(a.users[k].test_items, b.users[k].test_items);
    differs |= a.users[k].test_items != c.users[k].test_items;
    // Held-out items are not in the user's training row.
    const training::CsrMatrix& m = a.train.events;
    const int32_t u = a.users[k].user;
    for (int32_t i : a.users[k].test_items) {
      for (int64_t q = m.row_begin(u); q < m.row_end(u); ++q) {
        EXPECT_NE(m.indices[q], i);
      }
    }
    // 6 or 7 items per user, a quarter rounded: 2.
    EXPECT_EQ(a.users[k].test_items.size(), 2u);
    EXPECT_EQ(a.users[k].new_items, a.users[k].test_items);
  }
  EXPECT_TRUE(differs);
  EXPECT_EQ(a.stats.train_rows + a.stats.test_rows,
            static_cast<int64_t>(log.rows.size()));
}

TEST(LeaveOneOutReaderTest, ReadsTinyFiles) {
  const std::string dir = MakeTestDir();
  const std::string train = WriteGzFile(
      dir, "train.tsv.gz", "user\titem\n0\t0\n0\t1\n1\t1\n1\t2\n1\t2\n");
  const std::string rating =
      WriteFile(dir, "test.rating", "0\t3\t5\t978300760\n1\t0\t4\t978300761\n");
  const std::string negative =
      WriteFile(dir, "test.negative", "(0,3)\t2\t4\t3\n(1,0)\t3\t4\n");
  RECSYS_ASSERT_OK_AND_ASSIGN(LeaveOneOutData data,
                              ReadLeaveOneOut(train, rating, negative));
  EXPECT_EQ(data.train.num_users(), 2);
  EXPECT_EQ(data.train.num_items(), 5);  // ids up to 4 (a negative)
  EXPECT_THAT(data.train.events.indptr, ElementsAre(0, 2, 4));
  EXPECT_THAT(data.train.events.indices, ElementsAre(0, 1, 1, 2));
  EXPECT_THAT(data.test_item, ElementsAre(3, 0));
  // User 0's negative equal to its own test item is dropped.
  EXPECT_THAT(data.negatives[0], ElementsAre(2, 4));
  EXPECT_THAT(data.negatives[1], ElementsAre(3, 4));
  EXPECT_EQ(data.negatives_equal_to_positive, 1);
  EXPECT_EQ(data.test_users, 2);
  EXPECT_EQ(data.train.items[1].buyers, 2);
}

TEST(LeaveOneOutReaderTest, RejectsMalformedFiles) {
  const std::string dir = MakeTestDir();
  const std::string train = WriteFile(dir, "train", "0\t0\n0\tx\n");
  const std::string rating = WriteFile(dir, "rating", "0\t1\t5\t1\n");
  const std::string negative = WriteFile(dir, "negative", "(0,1)\t2\n");
  absl::StatusOr<LeaveOneOutData> bad =
      ReadLeaveOneOut(train, rating, negative);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("train:2"));

  const std::string good_train = WriteFile(dir, "train2", "0\t0\n");
  const std::string mismatch = WriteFile(dir, "negative2", "(0,2)\t3\n");
  EXPECT_EQ(ReadLeaveOneOut(good_train, rating, mismatch).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadLeaveOneOut(dir + "/missing", rating, negative).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(CarveLeaveOneOutTest, HoldsOutOneTrainingItemPerUser) {
  const std::string dir = MakeTestDir();
  std::string pairs;
  for (int u = 0; u < 30; ++u) {
    for (int i = 0; i < 40; i += 1 + u % 4)
      absl::StrAppend(&pairs, u, "\t", i, "\n");
  }
  absl::StrAppend(&pairs, "30\t59\n");  // one item: kept whole
  const std::string train = WriteFile(dir, "train", pairs);
  const std::string rating = WriteFile(dir, "rating", "0\t39\t5\t1\n");
  const std::string negative = WriteFile(dir, "negative", "(0,39)\t1\n");
  RECSYS_ASSERT_OK_AND_ASSIGN(LeaveOneOutData data,
                              ReadLeaveOneOut(train, rating, negative));
  const LeaveOneOutData v = CarveLeaveOneOut(data.train, 10, 3);
  EXPECT_EQ(v.test_users, 30);
  EXPECT_EQ(v.test_item[30], -1);
  EXPECT_EQ(v.train.events.nnz(), data.train.events.nnz() - 30);
  const training::CsrMatrix& full = data.train.events;
  const training::CsrMatrix& rest = v.train.events;
  for (int32_t u = 0; u < 30; ++u) {
    const int32_t held = v.test_item[u];
    const auto in_row = [&](const training::CsrMatrix& m, int32_t i) {
      return std::binary_search(m.indices.begin() + m.row_begin(u),
                                m.indices.begin() + m.row_end(u), i);
    };
    EXPECT_TRUE(in_row(full, held));
    EXPECT_FALSE(in_row(rest, held));
    ASSERT_EQ(v.negatives[u].size(), 10u);
    for (int32_t n : v.negatives[u]) EXPECT_FALSE(in_row(full, n));
  }
  // Deterministic for a seed.
  EXPECT_EQ(CarveLeaveOneOut(data.train, 10, 3).test_item, v.test_item);
}

}  // namespace
}  // namespace recsys::evaluation
