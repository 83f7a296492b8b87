#include "training/tuner.h"

#include <cmath>
#include <google/protobuf/util/message_differencer.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/model_format.h"
#include "model/ranker.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"
#include "training/datagen.h"
#include "training/trainer.h"

namespace recsys::training {
namespace {

using recsys::testing::MakeTestDir;
using recsys::testing::WriteFile;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kDay = 86400;

// The generated shop's rows (a year ending 2024-12-31), in file order.
std::vector<PurchaseRow> ShopRows(const std::string& dir) {
  ShopOptions shop;
  shop.users = 300;
  shop.items = 80;
  shop.seed = 5;
  const std::string path = dir + "/shop.csv.gz";
  EXPECT_TRUE(WriteShopCsv(shop, path).ok());
  std::vector<PurchaseRow> rows;
  ReadStats stats;
  EXPECT_TRUE(
      ReadPurchases(
          path, {}, [&](const PurchaseRow& r) { rows.push_back(r); }, &stats)
          .ok());
  return rows;
}

std::string ToCsv(const std::vector<PurchaseRow>& rows) {
  std::string csv = "user_id,item_id,timestamp,quantity,price,category\n";
  for (const PurchaseRow& r : rows) {
    absl::StrAppend(&csv, r.user_id, ",", r.item_id, ",", r.timestamp_unix, ",",
                    r.quantity, ",", r.price, ",", r.category, "\n");
  }
  return csv;
}

RowVisitor VisitRows(const std::vector<PurchaseRow>* rows) {
  return [rows](const std::function<void(const PurchaseRow&)>& row) {
    for (const PurchaseRow& r : *rows) row(r);
    return absl::OkStatus();
  };
}

// The test shop's two 30-day windows at the end of its data.
absl::StatusOr<TuneWindows> ShopWindows() {
  const std::vector<PurchaseRow> rows = ShopRows(MakeTestDir());
  int64_t last = 0;
  for (const PurchaseRow& r : rows) last = std::max(last, r.timestamp_unix);
  return BuildTuneWindows(VisitRows(&rows), {}, last, 30);
}

// Cosine neighbours only (EaseNeighboursAreTriedOnTheFirstConfiguration
// turns EASE on).
TunerOptions SmallTuner() {
  TunerOptions options;
  options.fit.threads = 2;
  options.budget_seconds = 1e6;
  options.ease_max_items = 0;
  return options;
}

std::vector<TuneCandidate> SmallGrid(int n) {
  AlsOptions als;
  als.factors = 8;
  als.iterations = 3;
  als.regularization = 5;
  ConfidenceOptions confidence;
  return TuneGrid(als, confidence, n);
}

TEST(TuneGridTest, StartsWithTheConfigurationAndVariesAroundIt) {
  AlsOptions als;
  als.factors = 128;
  als.regularization = 20;
  ConfidenceOptions confidence;
  confidence.alpha = 3;
  confidence.decay_half_life_days = 30;
  const std::vector<TuneCandidate> grid = TuneGrid(als, confidence, 100);
  ASSERT_EQ(grid.size(), 7u);
  EXPECT_EQ(grid[0].spec, "factors=128,reg=20,alpha=3,decay=30");
  EXPECT_EQ(grid[1].spec, "factors=128,reg=80,alpha=3,decay=30");
  EXPECT_EQ(grid[2].spec, "factors=128,reg=5,alpha=3,decay=30");
  EXPECT_EQ(grid[5].spec, "factors=64,reg=20,alpha=3,decay=30");
  EXPECT_EQ(grid[6].spec, "factors=128,reg=20,alpha=3,decay=0");
  for (const TuneCandidate& c : grid)
    EXPECT_EQ(c.als.iterations, als.iterations);
  EXPECT_EQ(TuneGrid(als, confidence, 3).size(), 3u);
}

TEST(TuneWindowDaysTest, AtMostASixthOfTheSpan) {
  EXPECT_EQ(TuneWindowDays(0, 365 * kDay, 30), 30);
  EXPECT_EQ(TuneWindowDays(0, 60 * kDay, 30), 10);
  EXPECT_EQ(TuneWindowDays(0, 5 * kDay, 30), 0);
  EXPECT_EQ(TuneWindowDays(0, 365 * kDay, 0), 0);
}

// The guard's rule for one setting, case by case.
TEST(GuardKeepsRankerTest, AheadBeyondChanceOrTheRivalServes) {
  double lower = -7, upper = -7;
  // Ahead on every user: the interval lies above 0.
  const std::vector<double> strong = {1, 1, 1, 0.5, 1, 1};
  const std::vector<double> weak = {0, 0.1, 0, 0, 0.2, 0};
  EXPECT_TRUE(GuardKeepsRanker(0.917, strong, 0.05, weak, 0.95, &lower, &upper));
  EXPECT_GT(lower, 0);
  EXPECT_GT(upper, lower);
  // Ahead on average (0.5 vs 0.375) but not beyond chance: the rival serves
  // at 95%, the ranker without the interval rule; the interval is reported
  // at 95% either way.
  const std::vector<double> mixed = {1, 0, 1, 0};
  const std::vector<double> other = {0, 1, 0, 0.5};
  EXPECT_FALSE(GuardKeepsRanker(0.5, mixed, 0.375, other, 0.95, &lower, &upper));
  EXPECT_LT(lower, 0);
  EXPECT_GT(upper, 0);
  const double reported = lower;
  lower = upper = -7;
  EXPECT_TRUE(GuardKeepsRanker(0.5, mixed, 0.375, other, 0, &lower, &upper));
  EXPECT_DOUBLE_EQ(lower, reported);
  // Behind the rival: never, whatever the confidence.
  EXPECT_FALSE(GuardKeepsRanker(0.375, other, 0.5, mixed, 0, &lower, &upper));
  // One window user: no interval, so without evidence the rival serves
  // (the ranker only when the rule is off), and nothing is reported.
  lower = upper = -7;
  const std::vector<double> one = {1};
  const std::vector<double> none = {0};
  EXPECT_FALSE(GuardKeepsRanker(1, one, 0, none, 0.95, &lower, &upper));
  EXPECT_EQ(lower, -7);
  EXPECT_EQ(upper, -7);
  EXPECT_TRUE(GuardKeepsRanker(1, one, 0, none, 0, &lower, &upper));
  // Users without new items (NaN) are skipped: two pairs remain, both +1.
  const std::vector<double> with_nan = {1, std::nan(""), 1};
  const std::vector<double> rival_nan = {0, 0.5, 0};
  EXPECT_TRUE(GuardKeepsRanker(1, with_nan, 0.167, rival_nan, 0.95, &lower, &upper));
  EXPECT_DOUBLE_EQ(lower, 1);
}

TEST(TunerTest, ScoresEveryCandidateAndGuardsOnTheWindow) {
  const std::string dir = MakeTestDir();
  const std::vector<PurchaseRow> rows = ShopRows(dir);
  int64_t last = 0;
  for (const PurchaseRow& r : rows) last = std::max(last, r.timestamp_unix);
  RECSYS_ASSERT_OK_AND_ASSIGN(TuneWindows windows,
                              BuildTuneWindows(VisitRows(&rows), {}, last, 30));
  EXPECT_EQ(windows.window2_start_unix, last - 30 * kDay);
  EXPECT_EQ(windows.window1_start_unix, last - 60 * kDay);
  EXPECT_LE(windows.period1.last_event_unix, windows.window1_start_unix);
  EXPECT_LE(windows.period2.last_event_unix, windows.window2_start_unix);
  EXPECT_GT(windows.window1_rows, 0);
  EXPECT_GT(windows.window2_rows, 0);

  std::vector<std::string> lines;
  TunerOptions options = SmallTuner();
  options.log = [&](absl::string_view line) { lines.emplace_back(line); };
  RECSYS_ASSERT_OK_AND_ASSIGN(TuneOutcome out,
                              TuneRanker(windows, SmallGrid(2), options));
  const recsys::v1::TuningReport& report = out.report;
  // The first configuration with three feature sets, the second with the
  // one or two sets the first preferred; all scored.
  ASSERT_GE(report.candidates_size(), 4);
  ASSERT_LE(report.candidates_size(), 5);
  for (const auto& c : report.candidates()) {
    EXPECT_TRUE(c.skipped().empty()) << c.spec();
    EXPECT_DOUBLE_EQ(c.objective(), c.recall_all() + c.recall_new());
    EXPECT_GT(c.recall_all(), 0);
  }
  // The chosen configuration's best entries per setting.
  ASSERT_GE(report.chosen(), 0);
  ASSERT_GE(report.chosen_new(), 0);
  const int first_entry = out.chosen == 0 ? 0 : 3;
  const int last_entry = out.chosen == 0 ? 3 : report.candidates_size();
  for (int i = first_entry; i < last_entry; ++i) {
    EXPECT_LE(report.candidates(i).recall_all(),
              report.candidates(report.chosen()).recall_all());
    EXPECT_LE(report.candidates(i).recall_new(),
              report.candidates(report.chosen_new()).recall_new());
  }
  EXPECT_EQ(report.window_start_unix(), windows.window2_start_unix);
  EXPECT_GT(report.window_users(), 0);
  // Every candidate's score is logged, and the choice.
  int scored = 0;
  for (const std::string& line : lines) {
    scored += line.find(",features=") != std::string::npos;
  }
  EXPECT_EQ(scored, report.candidates_size() + 1);  // + the choice
  EXPECT_THAT(lines.back(), HasSubstr("tune: chose"));

  // The guard's decision follows its recorded scores.
  const recsys::v1::RankerGuardReport& g = out.weights.guard;
  EXPECT_EQ(g.k(), 20);
  EXPECT_DOUBLE_EQ(g.ranker_all(),
                   report.candidates(report.chosen()).recall_all());
  EXPECT_DOUBLE_EQ(g.ranker_new(),
                   report.candidates(report.chosen_new()).recall_new());
  const double best_baseline_all =
      std::max({g.popularity_all(), g.buy_again_all(), g.vector_all(),
                g.neighbors_all(), out.fusion_all});
  const double best_baseline_new = std::max(
      {g.popularity_new(), g.vector_new(), g.neighbors_new(), out.fusion_new});
  EXPECT_GT(g.vector_all(), 0);
  EXPECT_GT(g.neighbors_all(), 0);
  // The rival of each setting is its best baseline; the paired interval
  // holds the difference of the recorded recalls.
  const std::map<std::string, double> all_of = {
      {"popularity", g.popularity_all()}, {"buy_again", g.buy_again_all()},
      {"vector", g.vector_all()}, {"neighbors", g.neighbors_all()}, {"fusion", out.fusion_all}};
  const std::map<std::string, double> new_of = {{"popularity", g.popularity_new()},
                                                {"vector", g.vector_new()},
                                                {"neighbors", g.neighbors_new()},
                                                {"fusion", out.fusion_new}};
  ASSERT_TRUE(all_of.contains(g.rival_all())) << g.rival_all();
  ASSERT_TRUE(new_of.contains(g.rival_new())) << g.rival_new();
  EXPECT_EQ(all_of.at(g.rival_all()), best_baseline_all);
  EXPECT_EQ(new_of.at(g.rival_new()), best_baseline_new);
  EXPECT_EQ(g.confidence(), 0.95);
  EXPECT_LE(g.margin_all_lower(), g.ranker_all() - best_baseline_all + 1e-9);
  EXPECT_GE(g.margin_all_upper(), g.ranker_all() - best_baseline_all - 1e-9);
  EXPECT_LE(g.margin_new_lower(), g.ranker_new() - best_baseline_new + 1e-9);
  EXPECT_GE(g.margin_new_upper(), g.ranker_new() - best_baseline_new - 1e-9);
  // The ranker serves where it is at least the rival and, at the default
  // guard_confidence, the lower end of the interval is above 0; else the
  // rival serves.
  EXPECT_EQ(out.weights.serve_all == model::RankerServe::kRanker,
            g.ranker_all() >= best_baseline_all && g.margin_all_lower() > 0);
  EXPECT_EQ(out.weights.serve_new == model::RankerServe::kRanker,
            g.ranker_new() >= best_baseline_new && g.margin_new_lower() > 0);
  if (out.weights.serve_all != model::RankerServe::kRanker) {
    EXPECT_EQ(model::RankerServeName(out.weights.serve_all), g.rival_all());
  }
  if (out.weights.serve_new != model::RankerServe::kRanker) {
    EXPECT_EQ(model::RankerServeName(out.weights.serve_new), g.rival_new());
  }
  EXPECT_THAT(lines, Contains(HasSubstr("tune: guard: ranker minus the best baseline")));
  // On this shop the ranker beats its rival on all items beyond 95% and
  // serves. Asking for 1 - 1e-8 widens the same interval past 0: the rival
  // serves, with the same recalls. At 0 (the recalls alone) the ranker
  // serves, and the interval is still reported at 95%.
  EXPECT_GT(g.margin_all_lower(), 0);
  EXPECT_EQ(out.weights.serve_all, model::RankerServe::kRanker);
  TunerOptions strict = options;
  strict.guard_confidence = 1 - 1e-8;
  RECSYS_ASSERT_OK_AND_ASSIGN(TuneOutcome sure, TuneRanker(windows, SmallGrid(2), strict));
  EXPECT_EQ(sure.weights.guard.ranker_all(), g.ranker_all());
  EXPECT_LE(sure.weights.guard.margin_all_lower(), 0);
  EXPECT_EQ(model::RankerServeName(sure.weights.serve_all), g.rival_all());
  TunerOptions by_recall = options;
  by_recall.guard_confidence = 0;
  RECSYS_ASSERT_OK_AND_ASSIGN(TuneOutcome recall_only,
                              TuneRanker(windows, SmallGrid(2), by_recall));
  EXPECT_EQ(recall_only.weights.guard.confidence(), 0.95);
  EXPECT_EQ(recall_only.weights.guard.margin_all_lower(), g.margin_all_lower());
  EXPECT_EQ(recall_only.weights.serve_all, model::RankerServe::kRanker);
  EXPECT_TRUE(out.weights.has_discovery);
  EXPECT_THAT(out.weights.origin, HasSubstr("tuned ("));
  EXPECT_GT(out.fusion_all, 0);
  EXPECT_THAT(out.weights.origin,
              HasSubstr("guard: fusion of vector and neighbours R@20"));

  // Without the guard nothing falls back.
  options.guard = false;
  RECSYS_ASSERT_OK_AND_ASSIGN(TuneOutcome unguarded,
                              TuneRanker(windows, SmallGrid(1), options));
  EXPECT_EQ(unguarded.weights.serve_all, model::RankerServe::kRanker);
  EXPECT_EQ(unguarded.weights.serve_new, model::RankerServe::kRanker);
}

// On the first configuration the EASE trial runs the three sets with
// neighbours; the later configurations use the kind of the best trial, and
// the weights name the kind of the chosen entries.
TEST(TunerTest, EaseNeighboursAreTriedOnTheFirstConfiguration) {
  RECSYS_ASSERT_OK_AND_ASSIGN(TuneWindows windows, ShopWindows());
  TunerOptions options = SmallTuner();
  options.ease_max_items = windows.period2.num_items();
  options.ease_lambda = 50;
  RECSYS_ASSERT_OK_AND_ASSIGN(TuneOutcome out,
                              TuneRanker(windows, SmallGrid(2), options));
  const recsys::v1::TuningReport& report = out.report;
  // Cosine: four sets; EASE: three; the second configuration: one or two.
  ASSERT_GE(report.candidates_size(), 8);
  ASSERT_LE(report.candidates_size(), 9);
  for (int i = 0; i < 4; ++i) {
    EXPECT_THAT(report.candidates(i).spec(), Not(HasSubstr("neighbors=ease")));
  }
  EXPECT_THAT(report.candidates(3).spec(), HasSubstr(",features=neighbors+trending+content"));
  EXPECT_THAT(report.candidates(4).spec(),
              HasSubstr(",neighbors=ease,features=neighbors"));
  EXPECT_THAT(report.candidates(5).spec(),
              HasSubstr(",neighbors=ease,features=neighbors+trending"));
  EXPECT_THAT(report.candidates(6).spec(),
              HasSubstr(",neighbors=ease,features=neighbors+trending+content"));
  for (const auto& c : report.candidates()) {
    EXPECT_TRUE(c.skipped().empty()) << c.spec();
    EXPECT_GT(c.recall_all(), 0) << c.spec();
  }
  const bool ease_chosen =
      report.candidates(report.chosen()).spec().find("neighbors=ease") !=
      std::string::npos;
  EXPECT_EQ(report.candidates(report.chosen_new()).spec().find("neighbors=ease") !=
                std::string::npos,
            ease_chosen);
  EXPECT_EQ(out.weights.neighbors, ease_chosen ? model::NeighborKind::kEase
                                               : model::NeighborKind::kCosine);
  EXPECT_EQ(out.weights.ease_lambda, ease_chosen ? 50 : 0);
  // The second configuration used the kind the first preferred.
  const recsys::v1::TuningReport& r = report;
  auto best_of = [&r](int from, int to) {
    double all = 0, fresh = 0;
    for (int i = from; i < to; ++i) {
      all = std::max(all, r.candidates(i).recall_all());
      fresh = std::max(fresh, r.candidates(i).recall_new());
    }
    return all + fresh;
  };
  EXPECT_EQ(r.candidates(7).spec().find("neighbors=ease") != std::string::npos,
            best_of(4, 7) > best_of(0, 4));
  // Without EASE no trial names it.
  options.ease_max_items = windows.period2.num_items() - 1;
  RECSYS_ASSERT_OK_AND_ASSIGN(TuneOutcome cosine,
                              TuneRanker(windows, SmallGrid(1), options));
  for (const auto& c : cosine.report.candidates()) {
    EXPECT_THAT(c.spec(), Not(HasSubstr("neighbors=ease")));
  }
  EXPECT_EQ(cosine.weights.neighbors, model::NeighborKind::kCosine);
}

TEST(TunerTest, TheBudgetSkipsLaterCandidates) {
  RECSYS_ASSERT_OK_AND_ASSIGN(TuneWindows windows, ShopWindows());
  TunerOptions options = SmallTuner();
  options.budget_seconds = 1e-9;  // spent as soon as the first one ran
  RECSYS_ASSERT_OK_AND_ASSIGN(TuneOutcome out,
                              TuneRanker(windows, SmallGrid(3), options));
  ASSERT_EQ(out.report.candidates_size(), 4 + 2);
  EXPECT_EQ(out.report.candidates(4).skipped(), "time budget");
  EXPECT_EQ(out.report.candidates(5).skipped(), "time budget");
  EXPECT_EQ(out.chosen, 0);
  EXPECT_LT(out.report.chosen(), 4);
  EXPECT_LT(out.report.chosen_new(), 4);
  options.budget_seconds = 0;
  EXPECT_EQ(TuneRanker(windows, SmallGrid(1), options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// The trainer's tuner reads only rows before the trainer's cut: two files
// that differ only at and after the cut give the same search, the same
// choice and the same published model.
TEST(TrainerTuneTest, NeverSeesRowsAfterTheCut) {
  const std::string dir = MakeTestDir();
  const std::vector<PurchaseRow> rows = ShopRows(dir);
  const int64_t cut = absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilDay(2024, 11, 1), absl::UTCTimeZone()));
  std::vector<PurchaseRow> loud;
  for (const PurchaseRow& r : rows) {
    if (r.timestamp_unix < cut) {
      loud.push_back(r);
    } else {
      // After the cut: other items, a new user, many more purchases.
      PurchaseRow changed = r;
      changed.item_id = "leak";
      loud.push_back(changed);
      changed.user_id = "leaker";
      loud.push_back(changed);
    }
  }
  const std::string quiet_path = WriteFile(dir, "quiet.csv", ToCsv(rows));
  const std::string loud_path = WriteFile(dir, "loud.csv", ToCsv(loud));
  std::vector<recsys::v1::ModelManifest> manifests;
  std::vector<model::ModelData> models;
  for (const std::string& path : {quiet_path, loud_path}) {
    TrainerOptions options;
    options.input = path;
    options.model_root = dir + "/models" + std::to_string(manifests.size());
    options.version = "1";
    options.read.before_unix = cut;
    options.als.factors = 8;
    options.als.iterations = 3;
    options.als.threads = 2;
    options.compute_segments = false;
    options.tune = true;
    options.tune_max_candidates = 2;
    options.tune_budget_seconds = 1e6;
    std::vector<std::string> lines;
    options.log = [&](absl::string_view line) { lines.emplace_back(line); };
    RECSYS_ASSERT_OK_AND_ASSIGN(TrainResult result, Train(options, nullptr));
    RECSYS_ASSERT_OK_AND_ASSIGN(model::ModelData data,
                                model::ReadModelData(result.model_dir));
    EXPECT_GE(data.manifest.tuning().candidates_size(), 4);
    EXPECT_LT(data.manifest.tuning().window_end_unix(), cut);
    EXPECT_THAT(data.manifest.ranker().origin(), HasSubstr("tuned ("));
    EXPECT_EQ(data.manifest.ranker().guard().k(), 20);
    bool logged_choice = false;
    for (const std::string& line : lines)
      logged_choice |= line.find("tune: chose") == 0;
    EXPECT_TRUE(logged_choice);
    for (const model::ItemMeta& item : data.items)
      EXPECT_NE(item.item_id, "leak");
    for (const std::string& id : data.user_ids) EXPECT_NE(id, "leaker");
    // The model stores the ranker's item neighbours as the loader would
    // compute them from its history for its weights.
    const model::RankerItemStats expected = model::ComputeRankerItemStats(
        static_cast<int32_t>(data.items.size()), data.history_indptr, data.history,
        model::RankerStatsOptionsFor(model::RankerWeightsFromConfig(data.manifest.ranker())));
    ASSERT_FALSE(expected.neighbors.items.empty());
    EXPECT_EQ(data.ranker_neighbors.indptr, expected.neighbors.indptr);
    EXPECT_EQ(data.ranker_neighbors.items, expected.neighbors.items);
    EXPECT_EQ(data.ranker_neighbors.sims, expected.neighbors.sims);
    // Wall times differ between runs; everything else must not.
    recsys::v1::TuningReport* tuning = data.manifest.mutable_tuning();
    tuning->clear_seconds();
    for (auto& c : *tuning->mutable_candidates()) c.clear_seconds();
    manifests.push_back(data.manifest);
    models.push_back(std::move(data));
  }
  google::protobuf::util::MessageDifferencer same;
  EXPECT_TRUE(same.Compare(manifests[0].tuning(), manifests[1].tuning()))
      << manifests[0].tuning().DebugString()
      << manifests[1].tuning().DebugString();
  EXPECT_TRUE(same.Compare(manifests[0].ranker(), manifests[1].ranker()))
      << manifests[0].ranker().DebugString()
      << manifests[1].ranker().DebugString();
  EXPECT_TRUE(same.Compare(manifests[0].params(), manifests[1].params()));
  EXPECT_EQ(models[0].item_factors, models[1].item_factors);
  EXPECT_EQ(models[0].user_factors, models[1].user_factors);
  EXPECT_EQ(models[0].ranker_neighbors.sims, models[1].ranker_neighbors.sims);
}

// The budget's unit is one plain training up to and including its ranker
// fit (read, iALS, the plain ranker fit), not the iALS alone.
TEST(TrainerTuneTest, TheBudgetIsAMultipleOfThePlainTraining) {
  const std::string dir = MakeTestDir();
  const std::vector<PurchaseRow> rows = ShopRows(dir);
  TrainerOptions options;
  options.input = WriteFile(dir, "shop.csv", ToCsv(rows));
  options.model_root = dir + "/models";
  options.version = "1";
  options.als.factors = 8;
  options.als.iterations = 3;
  options.als.threads = 2;
  options.compute_segments = false;
  options.tune = true;
  options.tune_max_candidates = 2;
  options.tune_budget_factor = 3;
  std::vector<std::string> lines;
  options.log = [&](absl::string_view line) { lines.emplace_back(line); };
  RECSYS_ASSERT_OK_AND_ASSIGN(TrainResult result, Train(options, nullptr));
  ASSERT_GT(result.tuning.candidates_size(), 0);
  EXPECT_GE(result.tuning.budget_seconds(),
            3 * (result.read_seconds + result.train_seconds));
  bool logged_budget = false;
  for (const std::string& line : lines) {
    logged_budget |=
        line.find("tune: the plain training (read, iALS, ranker fit") == 0;
  }
  EXPECT_TRUE(logged_budget);
  // The plain fit is measured, not served: the tuned weights are.
  EXPECT_THAT(result.ranker.origin, HasSubstr("tuned ("));
}

}  // namespace
}  // namespace recsys::training
