#include "evaluation/production_ranker.h"

#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "evaluation/dataset.h"
#include "gmock/gmock.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "model/model_format.h"
#include "model/model_store.h"
#include "tests/testing/test_files.h"
#include "tests/testing/status_matchers.h"
#include "training/datagen.h"
#include "training/trainer.h"

namespace recsys::evaluation {
namespace {

using recsys::testing::MakeTestDir;
using recsys::testing::WriteFile;

constexpr int64_t kDay = 86400;

// A small synthetic shop: 120 days ending 2024-06-30.
PurchaseLog ShopLog(const std::string& dir) {
  training::ShopOptions shop;
  shop.users = 150;
  shop.items = 60;
  shop.days = 120;
  shop.seed = 3;
  shop.end_date = "2024-06-30";
  const std::string path = dir + "/shop.csv";
  EXPECT_TRUE(training::WriteShopCsv(shop, path).ok());
  absl::StatusOr<PurchaseLog> log = ReadPurchaseLog(path, {});
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? *std::move(log) : PurchaseLog();
}

IalsSpec SmallIals() {
  IalsSpec spec;
  spec.als.factors = 8;
  spec.als.iterations = 4;
  spec.als.threads = 1;
  return spec;
}

TEST(ProductionRankerTest, EvaluatorListsEqualTheServedModelsLists) {
  const std::string dir = MakeTestDir();
  const PurchaseLog log = ShopLog(dir);
  ASSERT_FALSE(log.rows.empty());
  const int64_t now = log.last_unix + 1;
  const EvalSplit split = SplitByTime(log, now);

  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Model> ials,
                              NewIalsModel(&split.train, SmallIals()));
  model::RankerWeights weights = model::DefaultRankerWeights();
  weights.w[model::kFeatPopularity] = 0.7f;
  weights.origin = "test";
  recsys::v1::ModelManifest manifest;
  manifest.set_version("1");
  *manifest.mutable_ranker() = model::RankerWeightsToConfig(weights);
  model::ModelData data =
      training::BuildModelData(split.train, *IalsFactors(*ials), manifest);

  // The evaluator's ranker over the in-memory model...
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Model> evaluated,
      NewRankerModelFromData(&split.train, data, weights, now, 200));
  // ... and the server's view of the same model, published and loaded.
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::string model_dir,
      model::PublishModel(dir + "/models", data, {.version = "1"}));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::shared_ptr<const model::ModelBundle> bundle,
      model::ModelBundle::Load(model_dir));
  const BundleRanker served(bundle.get());
  int compared = 0;
  for (int32_t u = 0; u < split.train.num_users(); ++u) {
    RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> rows,
                                evaluated->Recommend(u, 10, false));
    std::vector<std::string> ids;
    for (int32_t i : rows) ids.push_back(split.train.item_ids[i]);
    RECSYS_ASSERT_OK_AND_ASSIGN(
        std::vector<std::string> from_bundle,
        RankForUser(*bundle, split.train.user_ids[u], 10, now));
    EXPECT_EQ(ids, from_bundle) << split.train.user_ids[u];
    // The new-items setting drops the history on both sides.
    RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> fresh,
                                evaluated->Recommend(u, 10, true));
    RECSYS_ASSERT_OK_AND_ASSIGN(
        std::vector<std::string> served_fresh,
        served.Rank(split.train.user_ids[u], 10, now, false));
    ASSERT_EQ(fresh.size(), served_fresh.size());
    for (size_t k = 0; k < fresh.size(); ++k) {
      EXPECT_EQ(split.train.item_ids[fresh[k]], served_fresh[k]);
    }
    ++compared;
  }
  EXPECT_GT(compared, 100);
  EXPECT_EQ(RankForUser(*bundle, "nobody", 10, now).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(
      RankForUser(*bundle, split.train.user_ids[0], 0, now).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST(ProductionRankerTest, FitsOnTheWindowBeforeNow) {
  const std::string dir = MakeTestDir();
  const PurchaseLog log = ShopLog(dir);
  ASSERT_FALSE(log.rows.empty());
  const int64_t cut = log.last_unix - 20 * kDay;
  const EvalSplit split = SplitByTime(log, cut);
  const PurchaseLog training_period =
      SliceByTime(log, std::numeric_limits<int64_t>::min(), cut);
  ProductionRankerOptions options;
  options.ials = SmallIals();
  options.validation_days = 30;
  options.fit.threads = 1;
  options.tune = false;  // the plain fit (the tuned one: below)
  RankerFitReport report;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Model> model,
      NewProductionRankerModel(training_period, &split.train, cut, options,
                               &report));
  EXPECT_EQ(report.window_end_unix, cut);
  EXPECT_EQ(report.window_start_unix, cut - 30 * kDay);
  EXPECT_GT(report.window_rows, 0);
  EXPECT_GT(report.fit.positives, 0);
  EXPECT_EQ(report.fit_period_rows + report.window_rows,
            static_cast<int64_t>(training_period.rows.size()));
  EXPECT_EQ(model->name(), "production_ranker");
  ASSERT_FALSE(split.users.empty());
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> list,
                              model->Recommend(split.users[0].user, 20, false));
  EXPECT_FALSE(list.empty());
  EXPECT_LE(list.size(), 20u);
  std::vector<float> scores(split.train.num_items());
  EXPECT_EQ(model->ScoreAll(0, absl::MakeSpan(scores)).code(),
            absl::StatusCode::kUnimplemented);

  // Rows at or after `now` must never reach the fit.
  EXPECT_EQ(NewProductionRankerModel(log, &split.train, cut, options, nullptr)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// With tuning (as recsys_nightly trains), the evaluated production ranker
// is the tuned trainer's published model: the same choice, the same guard,
// the same lists for every user in both settings.
TEST(ProductionRankerTest, TunedEvaluatorListsEqualTheTunedTrainersLists) {
  const std::string dir = MakeTestDir();
  training::ShopOptions shop;
  shop.users = 150;
  shop.items = 60;
  shop.days = 120;
  shop.seed = 3;
  shop.end_date = "2024-06-30";
  const std::string path = dir + "/shop.csv";
  ASSERT_TRUE(training::WriteShopCsv(shop, path).ok());
  RECSYS_ASSERT_OK_AND_ASSIGN(PurchaseLog log, ReadPurchaseLog(path, {}));
  const int64_t now = log.last_unix + 1;
  const EvalSplit split = SplitByTime(log, now);

  ProductionRankerOptions options;
  options.ials = SmallIals();
  options.validation_days = 14;
  options.fit.threads = 2;
  options.tune_budget_seconds = 1e6;  // every candidate, on any machine
  options.tune_max_candidates = 2;
  RankerFitReport report;
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<Model> evaluated,
      NewProductionRankerModel(log, &split.train, now, options, &report));
  ASSERT_GE(report.tuning.candidates_size(), 4);
  EXPECT_EQ(report.window_end_unix, log.last_unix);
  EXPECT_EQ(report.window_start_unix, log.last_unix - 14 * kDay);

  training::TrainerOptions trainer;
  trainer.input = path;
  trainer.model_root = dir + "/models";
  trainer.version = "1";
  trainer.als = options.ials.als;
  trainer.confidence = options.ials.confidence;
  trainer.ranker_validation_days = 14;
  trainer.ranker_fit.threads = 2;
  trainer.compute_segments = false;
  trainer.compute_complements = false;
  trainer.tune = true;
  trainer.tune_budget_seconds = 1e6;
  trainer.tune_max_candidates = 2;
  RECSYS_ASSERT_OK_AND_ASSIGN(training::TrainResult trained,
                              training::Train(trainer, nullptr));
  EXPECT_EQ(trained.tuning.chosen(), report.tuning.chosen());
  EXPECT_EQ(trained.tuning.chosen_new(), report.tuning.chosen_new());
  ASSERT_EQ(trained.tuning.candidates_size(), report.tuning.candidates_size());
  for (int c = 0; c < report.tuning.candidates_size(); ++c) {
    EXPECT_EQ(trained.tuning.candidates(c).spec(), report.tuning.candidates(c).spec());
    EXPECT_DOUBLE_EQ(trained.tuning.candidates(c).objective(),
                     report.tuning.candidates(c).objective());
  }
  EXPECT_EQ(trained.ranker.serve_all, report.weights.serve_all);
  EXPECT_EQ(trained.ranker.serve_new, report.weights.serve_new);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::shared_ptr<const model::ModelBundle> bundle,
                              model::ModelBundle::Load(trained.model_dir));
  const BundleRanker served(bundle.get());
  int compared = 0;
  for (int32_t u = 0; u < split.train.num_users(); ++u) {
    for (bool exclude_bought : {false, true}) {
      RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> rows,
                                  evaluated->Recommend(u, 10, exclude_bought));
      std::vector<std::string> ids;
      for (int32_t i : rows) ids.push_back(split.train.item_ids[i]);
      RECSYS_ASSERT_OK_AND_ASSIGN(
          std::vector<std::string> from_bundle,
          served.Rank(split.train.user_ids[u], 10, now, !exclude_bought));
      EXPECT_EQ(ids, from_bundle) << split.train.user_ids[u];
    }
    ++compared;
  }
  EXPECT_GT(compared, 100);
}

// The ceiling fits its weights on the test period: the same training rows
// with two different test periods give opposite first picks. Every user
// bought three items 70, 40 and 10 days before the cut; in one test period
// each re-buys the oldest, in the other the newest.
TEST(RankerCeilingTest, FitsOnTheTestPeriod) {
  const std::string dir = MakeTestDir();
  constexpr int kUsers = 90;
  constexpr int kItems = 30;
  const int64_t cut = 1'717'200'000;  // 2024-06-01
  auto log_for = [&](bool oldest) {
    std::string csv = "user_id,item_id,timestamp\n";
    for (int u = 0; u < kUsers; ++u) {
      const int items[3] = {u % kItems, (u + 7) % kItems, (u + 13) % kItems};
      const int days[3] = {70, 40, 10};
      for (int j = 0; j < 3; ++j) {
        absl::StrAppendFormat(&csv, "u%03d,i%02d,%d\n", u, items[j], cut - days[j] * kDay);
      }
      absl::StrAppendFormat(&csv, "u%03d,i%02d,%d\n", u, oldest ? items[0] : items[2],
                            cut + 5 * kDay);
    }
    const std::string path = WriteFile(dir, oldest ? "oldest.csv" : "newest.csv", csv);
    absl::StatusOr<PurchaseLog> log = ReadPurchaseLog(path, {});
    EXPECT_TRUE(log.ok()) << log.status();
    return log.ok() ? *std::move(log) : PurchaseLog();
  };
  ProductionRankerOptions options;
  options.ials = SmallIals();
  options.fit.threads = 1;
  for (bool oldest : {true, false}) {
    const PurchaseLog log = log_for(oldest);
    ASSERT_FALSE(log.rows.empty());
    const EvalSplit split = SplitByTime(log, cut);
    ASSERT_EQ(split.users.size(), static_cast<size_t>(kUsers));
    RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<Model> ceiling,
                                NewRankerCeilingModel(split, options, /*k=*/1));
    EXPECT_EQ(ceiling->name(), "ranker_ceiling");
    int hits = 0;
    for (const EvalUser& u : split.users) {
      RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<int32_t> list,
                                  ceiling->Recommend(u.user, 1, /*exclude_bought=*/false));
      ASSERT_EQ(list.size(), 1u);
      hits += list[0] == u.test_items[0];
    }
    // Guessing among the three bought items would hit a third of them.
    EXPECT_GE(hits, kUsers * 9 / 10) << (oldest ? "oldest" : "newest");
  }
}

TEST(RankerCeilingTest, NeedsATimeSplitWithCatalogTestItems) {
  const std::string dir = MakeTestDir();
  const PurchaseLog log = ShopLog(dir);
  ASSERT_FALSE(log.rows.empty());
  ProductionRankerOptions options;
  options.ials = SmallIals();
  options.fit.threads = 1;
  EXPECT_EQ(NewRankerCeilingModel(SplitByHoldout(log, 0.2, 1), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A cut after the last row: no test period.
  EXPECT_EQ(NewRankerCeilingModel(SplitByTime(log, log.last_unix + 1), options).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace recsys::evaluation
