#include "evaluation/tuning.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_files.h"
#include "tests/testing/status_matchers.h"
#include "training/datagen.h"

namespace recsys::evaluation {
namespace {

using recsys::testing::MakeTestDir;
using recsys::testing::WriteFile;

constexpr int64_t kDay = 86400;

TEST(SearchSpaceTest, ParsesAndEnumerates) {
  RECSYS_ASSERT_OK_AND_ASSIGN(
      SearchSpace space,
      ParseSearchSpace("factors=8|16; reg=0.1|1;alpha=3;signal=events|binary"));
  EXPECT_EQ(space.factors, (std::vector<int>{8, 16}));
  EXPECT_EQ(space.regularization.size(), 2u);
  const std::vector<IalsSpec> grid = GridConfigs(IalsSpec(), space);
  EXPECT_EQ(grid.size(), 8u);
  const std::vector<IalsSpec> draw = RandomConfigs(IalsSpec(), space, 3, 9);
  ASSERT_EQ(draw.size(), 3u);
  // Seeded: the same draw twice, all distinct.
  EXPECT_EQ(IalsCandidates(RandomConfigs(IalsSpec(), space, 3, 9)),
            IalsCandidates(draw));
  const std::vector<std::string> c = IalsCandidates(draw);
  EXPECT_NE(c[0], c[1]);
  EXPECT_NE(c[1], c[2]);
  EXPECT_NE(c[0], c[2]);
  EXPECT_EQ(RandomConfigs(IalsSpec(), space, 100, 9).size(), 8u);
  EXPECT_FALSE(ParseSearchSpace("factors=x").ok());
  EXPECT_FALSE(ParseSearchSpace("colour=red").ok());
}

// Writes the synthetic shop with its rows from `cut` on replaced by
// `test_rows` (canonical CSV lines).
std::string ShopWithTestWindow(const std::string& dir, const std::string& name,
                               int64_t cut, const std::string& test_rows) {
  training::ShopOptions shop;
  shop.users = 150;
  shop.items = 60;
  shop.days = 150;
  shop.seed = 5;
  shop.end_date = "2024-06-30";
  std::string csv = "user_id,item_id,timestamp,quantity\n";
  EXPECT_TRUE(training::GenerateShop(shop, [&](const training::PurchaseRow& r) {
                if (r.timestamp_unix < cut) {
                  absl::StrAppend(&csv, r.user_id, ",", r.item_id, ",",
                                  r.timestamp_unix, ",", r.quantity, "\n");
                }
              }).ok());
  csv += test_rows;
  return WriteFile(dir, name, csv);
}

TEST(TuneOnTimeWindowTest, SelectionNeverReadsTheTestWindow) {
  const std::string dir = MakeTestDir();
  // 2024-06-10 00:00 UTC.
  const int64_t cut = 1717977600;
  // Two files with the same training period and different test windows:
  // in the second, every user buys the same two items many times.
  std::string loud;
  for (int u = 0; u < 150; ++u) {
    for (int k = 0; k < 5; ++k) {
      absl::StrAppend(&loud, "u", 100000 + u, ",i00001,", cut + k * kDay,
                      ",9\n", "u", 100000 + u, ",zz_new,", cut + k * kDay,
                      ",9\n");
    }
  }
  const std::string quiet_path = ShopWithTestWindow(dir, "quiet.csv", cut, "");
  const std::string loud_path = ShopWithTestWindow(dir, "loud.csv", cut, loud);

  TimeTuneOptions options;
  options.cut_unix = cut;
  options.validation_days = 30;
  options.threads = 1;
  const std::vector<std::string> candidates = {
      "popularity", "ials[factors=4,iterations=3,reg=1]",
      "ials[factors=8,iterations=3,reg=5,decay=30]"};
  std::vector<TuneResult> results;
  for (const std::string& path : {quiet_path, loud_path}) {
    // As recsys_tune does: the search reads only rows before the cut.
    training::ReadOptions read;
    read.before_unix = cut;
    RECSYS_ASSERT_OK_AND_ASSIGN(PurchaseLog training_period,
                                ReadPurchaseLog(path, read));
    RECSYS_ASSERT_OK_AND_ASSIGN(
        TuneResult r, TuneOnTimeWindow(training_period, candidates, options));
    results.push_back(std::move(r));

    // A log that still holds the test window is refused.
    RECSYS_ASSERT_OK_AND_ASSIGN(PurchaseLog full, ReadPurchaseLog(path, {}));
    if (full.last_unix >= cut) {
      EXPECT_EQ(TuneOnTimeWindow(full, candidates, options).status().code(),
                absl::StatusCode::kInvalidArgument);
    }
  }
  ASSERT_EQ(results[0].trials.size(), 3u);
  EXPECT_EQ(results[0].best, results[1].best);
  for (size_t t = 0; t < 3; ++t) {
    EXPECT_EQ(results[0].trials[t].objective, results[1].trials[t].objective);
    EXPECT_EQ(
        PickMetric(results[0].trials[t].validation, kSettingAll, 20, "recall"),
        PickMetric(results[1].trials[t].validation, kSettingAll, 20, "recall"));
  }
  EXPECT_GE(results[0].best, 0);
  EXPECT_GT(results[0].trials[results[0].best].objective, 0);
  // The validation window is the last 30 days before the cut.
  const std::string info = results[0].validation_info.Dump(-1);
  EXPECT_THAT(info, ::testing::HasSubstr(absl::StrCat(
                        "\"validation_cut_unix\":", cut - 30 * kDay)));
  EXPECT_FALSE(FormatTuneTable(results[0]).empty());
  EXPECT_THAT(TuneResultToJson(results[0]).Dump(-1),
              ::testing::HasSubstr("\"best_trial\""));
}

TEST(TuneOnLeaveOneOutTest, SelectsOnCarvedValidation) {
  const std::string dir = MakeTestDir();
  std::string pairs;
  for (int u = 0; u < 60; ++u) {
    for (int i = 0; i < 30; ++i) {
      // Two tastes: even users like even items.
      if ((i % 2 == u % 2 && (i + u) % 3 != 0) || (i + 2 * u) % 11 == 0) {
        absl::StrAppend(&pairs, u, "\t", i, "\n");
      }
    }
  }
  const std::string train = WriteFile(dir, "train", pairs);
  const std::string rating = WriteFile(dir, "rating", "0\t1\t5\t1\n");
  const std::string negative = WriteFile(dir, "negative", "(0,1)\t2\n");
  RECSYS_ASSERT_OK_AND_ASSIGN(LeaveOneOutData data,
                              ReadLeaveOneOut(train, rating, negative));
  LeaveOneOutTuneOptions options;
  options.negatives = 10;
  options.threads = 1;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      TuneResult r,
      TuneOnLeaveOneOut(data.train,
                        {"popularity", "ials[factors=4,iterations=5,reg=0.5]"},
                        options));
  ASSERT_EQ(r.trials.size(), 2u);
  EXPECT_EQ(r.trials[0].loo.users, 60);
  // The taste structure beats popularity.
  EXPECT_EQ(r.best, 1);
  EXPECT_FALSE(TuneOnLeaveOneOut(data.train, {}, options).ok());
}

}  // namespace
}  // namespace recsys::evaluation
