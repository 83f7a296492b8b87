#include "evaluation/gate.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"
#include "training/datagen.h"
#include "training/trainer.h"

namespace recsys::evaluation {
namespace {

using recsys::testing::MakeTestDir;

constexpr int64_t kDay = 86400;

struct Shop {
  std::string dir;
  std::string csv;
  int64_t last_unix = 0;
};

Shop MakeShop() {
  Shop shop;
  shop.dir = MakeTestDir();
  shop.csv = shop.dir + "/shop.csv";
  training::ShopOptions options;
  options.users = 400;
  options.items = 120;
  options.days = 150;
  options.seed = 5;
  options.end_date = "2024-06-30";
  absl::StatusOr<training::ShopStats> stats =
      training::WriteShopCsv(options, shop.csv);
  EXPECT_TRUE(stats.ok()) << stats.status();
  if (stats.ok()) shop.last_unix = stats->last_unix;
  return shop;
}

// The same rows with the item column shuffled across the rows before
// `before_unix`: every user and time stays, every purchase of that period
// names a random item (a broken export of the training period); the rows
// from `before_unix` on, which the gate scores on, stay as they were.
std::string WriteShuffled(const std::string& csv, int64_t before_unix,
                          const std::string& out) {
  std::ifstream in(csv);
  std::string header;
  std::getline(in, header);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    rows.push_back(absl::StrSplit(line, ','));
  }
  auto early = [&](const std::vector<std::string>& r) {
    int64_t ts = 0;
    return absl::SimpleAtoi(r[2], &ts) && ts < before_unix;
  };
  std::vector<std::string> items;
  for (const auto& r : rows) {
    if (early(r)) items.push_back(r[1]);
  }
  std::mt19937_64 rng(7);
  std::shuffle(items.begin(), items.end(), rng);
  std::ofstream o(out, std::ios::trunc);
  o << header << "\n";
  size_t next = 0;
  for (auto& r : rows) {
    if (early(r)) r[1] = items[next++];
    o << absl::StrJoin(r, ",") << "\n";
  }
  return out;
}

training::TrainerOptions Trainer(const std::string& input,
                                 const std::string& root) {
  training::TrainerOptions o;
  o.input = input;
  o.model_root = root;
  o.index_spec = "Flat";
  o.als.factors = 16;
  o.als.iterations = 6;
  o.als.threads = 2;
  o.als.compute_loss = false;
  o.compute_segments = false;
  return o;
}

// The served model: trained on the shop up to two weeks before its end.
void PublishServed(const Shop& shop, const std::string& root) {
  training::TrainerOptions o = Trainer(shop.csv, root);
  o.read.before_unix = shop.last_unix - 14 * kDay;
  o.version = "100";
  absl::StatusOr<training::TrainResult> r = training::Train(o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
}

GateOptions Gate() {
  GateOptions g;
  g.threads = 2;
  return g;
}

TEST(GateTest, FirstModelPasses) {
  const Shop shop = MakeShop();
  RECSYS_ASSERT_OK_AND_ASSIGN(recsys::v1::GateDecision d,
                              RunGate(Trainer(shop.csv, shop.dir + "/models"),
                                      shop.dir + "/models", Gate()));
  EXPECT_EQ(d.decision(), kGateFirstModel);
}

TEST(GateTest, PassesANormalModelAndRefusesOneTrainedOnShuffledItems) {
  const Shop shop = MakeShop();
  const std::string root = shop.dir + "/models";
  PublishServed(shop, root);

  RECSYS_ASSERT_OK_AND_ASSIGN(recsys::v1::GateDecision normal,
                              RunGate(Trainer(shop.csv, root), root, Gate()));
  EXPECT_EQ(normal.decision(), kGatePassed) << DescribeGate(normal);
  std::printf("%s\n", DescribeGate(normal).c_str());
  EXPECT_EQ(normal.current_version(), "100");
  EXPECT_EQ(normal.key_metric(), "ndcg@20:all");
  EXPECT_GT(normal.current_score(), 0);
  EXPECT_GE(normal.window_users(), 20);
  // The window starts after the served model's data and holds only
  // purchases neither model was fit on.
  EXPECT_GT(normal.window_start_unix(), shop.last_unix - 14 * kDay - 1);
  EXPECT_EQ(normal.window_end_unix(), shop.last_unix);
  // Both settings and every reported cut-off are recorded.
  bool has_new = false;
  for (const auto& s : normal.scores()) has_new |= s.setting() == kSettingNew;
  EXPECT_TRUE(has_new);

  const std::string shuffled = WriteShuffled(
      shop.csv, shop.last_unix - 14 * kDay, shop.dir + "/shuffled.csv");
  RECSYS_ASSERT_OK_AND_ASSIGN(recsys::v1::GateDecision bad,
                              RunGate(Trainer(shuffled, root), root, Gate()));
  EXPECT_EQ(bad.decision(), kGateRefused) << DescribeGate(bad);
  std::printf("%s\n", DescribeGate(bad).c_str());
  EXPECT_LT(bad.candidate_score(), bad.current_score() * (1 - Gate().margin));
  EXPECT_NE(DescribeGate(bad).find("refused"), std::string::npos);
  // The scratch fit is gone: only the served version is under the root.
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<std::string> versions,
                              model::ListModelVersions(root));
  EXPECT_EQ(versions, std::vector<std::string>({"100"}));
}

TEST(GateTest, RefusesWhenTheWindowHasTooFewUsers) {
  std::vector<SettingResult> results(1);
  results[0].setting = kSettingAll;
  results[0].users = 3;
  results[0].metrics.push_back(MetricsAtK{});
  results[0].metrics[0].k = 20;
  results[0].metrics[0].ndcg = 0.5;
  EvalSplit split;
  split.now_unix = 1000;
  recsys::v1::GateDecision d = DecideGate(results, results, "7", split, Gate());
  EXPECT_EQ(d.decision(), kGateRefused);
  EXPECT_NE(d.reason().find("window too small"), std::string::npos);
}

TEST(GateTest, MarginIsRelative) {
  auto results = [](double ndcg) {
    std::vector<SettingResult> r(1);
    r[0].setting = kSettingAll;
    r[0].users = 100;
    r[0].metrics.push_back(MetricsAtK{});
    r[0].metrics[0].k = 20;
    r[0].metrics[0].ndcg = ndcg;
    return r;
  };
  EvalSplit split;
  GateOptions g = Gate();
  g.margin = 0.1;
  EXPECT_EQ(DecideGate(results(0.091), results(0.1), "7", split, g).decision(),
            kGatePassed);
  EXPECT_EQ(DecideGate(results(0.089), results(0.1), "7", split, g).decision(),
            kGateRefused);
  GateOptions bad = Gate();
  bad.margin = 1.5;
  EXPECT_FALSE(ValidateGateOptions(bad).ok());
}

}  // namespace
}  // namespace recsys::evaluation
