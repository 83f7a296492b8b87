#include "evaluation/protocols.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_files.h"
#include "tests/testing/status_matchers.h"
#include "training/datagen.h"

namespace recsys::evaluation {
namespace {

using ::testing::HasSubstr;
using recsys::testing::MakeTestDir;
using recsys::testing::WriteFile;

std::string ShopCsv(const std::string& dir) {
  training::ShopOptions shop;
  shop.users = 150;
  shop.items = 60;
  shop.days = 150;
  shop.seed = 11;
  shop.end_date = "2024-06-30";
  const std::string path = dir + "/shop.csv.gz";
  EXPECT_TRUE(training::WriteShopCsv(shop, path).ok());
  return path;
}

ModelOptions SmallModels() {
  ModelOptions m;
  m.threads = 1;
  m.ials.als.factors = 8;
  m.ials.als.iterations = 3;
  m.knn.neighbors = 20;
  m.ease.lambda = 50;
  m.ranker.fit.threads = 1;
  return m;
}

TEST(RunSplitProtocolTest, TimeSplitRunsEveryModel) {
  const std::string dir = MakeTestDir();
  SplitProtocolOptions options;
  options.name = "shop";
  options.input = ShopCsv(dir);
  options.kind = SplitKind::kTime;
  options.cut_unix = 1717200000;  // 2024-06-01
  options.model = SmallModels();
  RECSYS_ASSERT_OK_AND_ASSIGN(ProtocolOutput out, RunSplitProtocol(options));
  ASSERT_EQ(out.rows.size(), 6u);
  for (const TableRow& row : out.rows) {
    ASSERT_EQ(row.results.size(), 2u) << row.model;
    EXPECT_EQ(row.results[0].setting, kSettingAll);
    EXPECT_EQ(row.results[1].setting, kSettingNew);
    EXPECT_GT(row.results[0].users, 0);
  }
  EXPECT_THAT(out.text, HasSubstr("production_ranker"));
  const std::string json = out.report.Dump(-1);
  EXPECT_THAT(json, HasSubstr("\"evaluated_users\""));
  EXPECT_THAT(json, HasSubstr("\"ranker_fit\""));
  EXPECT_THAT(json, HasSubstr("\"params\""));
  EXPECT_THAT(json, HasSubstr("\"cut\":\"2024-06-01\""));

  // Per-user recalls average to the reported recall; the paired difference
  // of two models over the same users is the difference of their recalls,
  // inside its interval.
  const TableRow* ranker = nullptr;
  const TableRow* popularity = nullptr;
  for (const TableRow& row : out.rows) {
    if (row.model == "production_ranker") ranker = &row;
    if (row.model == "popularity") popularity = &row;
  }
  ASSERT_NE(ranker, nullptr);
  ASSERT_NE(popularity, nullptr);
  for (int s = 0; s < 2; ++s) {
    const SettingResult& mine = ranker->results[s];
    const SettingResult& theirs = popularity->results[s];
    ASSERT_EQ(mine.user_recall.size(), 2u);  // k = 10, 20
    double sum = 0;
    int64_t users = 0;
    for (double r : mine.user_recall[1]) {
      if (std::isnan(r)) continue;
      sum += r;
      ++users;
    }
    EXPECT_EQ(users, mine.users);
    EXPECT_NEAR(sum / users, mine.metrics[1].recall, 1e-12);
    RECSYS_ASSERT_OK_AND_ASSIGN(PairedDifference d,
                                PairedRecallDifference(mine, theirs, 1));
    EXPECT_EQ(d.users, mine.users);
    EXPECT_NEAR(d.difference, mine.metrics[1].recall - theirs.metrics[1].recall, 1e-12);
    EXPECT_LT(d.lower, d.difference);
    EXPECT_GT(d.upper, d.difference);
  }
  EXPECT_EQ(PairedRecallDifference(ranker->results[0], popularity->results[1], 1)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PairedRecallDifference(ranker->results[0], popularity->results[0], 2)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(json, HasSubstr("\"production_ranker_paired\""));
  EXPECT_THAT(json, HasSubstr("\"ci95_lower\""));
}

// The ceiling is evaluated only when asked for, after the named models.
TEST(RunSplitProtocolTest, RankerCeilingOnRequest) {
  const std::string dir = MakeTestDir();
  SplitProtocolOptions options;
  options.input = ShopCsv(dir);
  options.kind = SplitKind::kTime;
  options.cut_unix = 1717200000;  // 2024-06-01
  options.model = SmallModels();
  RECSYS_ASSERT_OK_AND_ASSIGN(options.model.models, ParseModelSelection("popularity"));
  RECSYS_ASSERT_OK_AND_ASSIGN(ProtocolOutput plain, RunSplitProtocol(options));
  ASSERT_EQ(plain.rows.size(), 1u);
  options.model.ranker_ceiling = true;
  RECSYS_ASSERT_OK_AND_ASSIGN(ProtocolOutput out, RunSplitProtocol(options));
  ASSERT_EQ(out.rows.size(), 2u);
  EXPECT_EQ(out.rows[1].model, "ranker_ceiling");
  ASSERT_EQ(out.rows[1].results.size(), 2u);
  EXPECT_GT(out.rows[1].results[0].users, 0);
  EXPECT_THAT(out.report.Dump(-1), HasSubstr("the test period (a ceiling, never served)"));
}

TEST(RunSplitProtocolTest, HoldoutSkipsTheTimeAwareRanker) {
  const std::string dir = MakeTestDir();
  SplitProtocolOptions options;
  options.input = ShopCsv(dir);
  options.kind = SplitKind::kHoldout;
  options.holdout_fraction = 0.2;
  options.seed = 3;
  options.model = SmallModels();
  RECSYS_ASSERT_OK_AND_ASSIGN(
      options.model.models,
      ParseModelSelection("popularity,ials,production_ranker"));
  options.model.ranker_ceiling = true;
  RECSYS_ASSERT_OK_AND_ASSIGN(ProtocolOutput out, RunSplitProtocol(options));
  ASSERT_EQ(out.rows.size(), 2u);
  EXPECT_EQ(out.rows[0].results.size(), 1u);  // "all" only
  EXPECT_THAT(out.text, HasSubstr("production_ranker skipped"));
  EXPECT_THAT(out.text, HasSubstr("ranker_ceiling skipped: it needs a time split"));
  options.holdout_fraction = 1.5;
  EXPECT_FALSE(RunSplitProtocol(options).ok());
  EXPECT_FALSE(ParseModelSelection("popularity,magic").ok());
}

TEST(RunLeaveOneOutProtocolTest, RanksHeldOutItems) {
  const std::string dir = MakeTestDir();
  std::string pairs;
  std::string ratings;
  std::string negatives;
  for (int u = 0; u < 40; ++u) {
    for (int i = 0; i < 20; ++i) {
      if (i % 2 == u % 2 && i != (u % 10) * 2 + u % 2) {
        absl::StrAppend(&pairs, u, "\t", i, "\n");
      }
    }
    const int held = (u % 10) * 2 + u % 2;
    absl::StrAppend(&ratings, u, "\t", held, "\t5\t1\n");
    absl::StrAppend(&negatives, "(", u, ",", held, ")");
    for (int i = 0; i < 20; ++i) {
      if (i % 2 != u % 2) absl::StrAppend(&negatives, "\t", i);
    }
    absl::StrAppend(&negatives, "\n");
  }
  LeaveOneOutProtocolOptions options;
  options.train_path = WriteFile(dir, "train", pairs);
  options.test_rating_path = WriteFile(dir, "rating", ratings);
  options.test_negative_path = WriteFile(dir, "negative", negatives);
  options.model = SmallModels();
  RECSYS_ASSERT_OK_AND_ASSIGN(ProtocolOutput out,
                              RunLeaveOneOutProtocol(options));
  ASSERT_EQ(out.loo.size(), 4u);  // popularity, item_knn, ials, ease
  for (const auto& [name, r] : out.loo) {
    EXPECT_EQ(r.users, 40) << name;
  }
  // Item-kNN sees the parity structure: the held-out item always wins.
  EXPECT_EQ(out.loo[1].first, "item_knn");
  EXPECT_DOUBLE_EQ(out.loo[1].second.hit_rate, 1.0);
  EXPECT_THAT(out.text, HasSubstr("buy_again skipped"));
  EXPECT_THAT(out.report.Dump(-1), HasSubstr("\"test_users\":40"));
}

}  // namespace
}  // namespace recsys::evaluation
