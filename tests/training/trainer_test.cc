#include "training/trainer.h"

#include <google/protobuf/util/message_differencer.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "feature_store/in_memory_feature_store.h"
#include "feature_store/redis_feature_store.h"
#include "marketing/audience.h"
#include "marketing/coupons.h"
#include "marketing/marketing_proto.h"
#include "marketing/segment_store.h"
#include "marketing/segments.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/model_format.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/test_files.h"
#include "training/datagen.h"

namespace recsys::training {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using recsys::testing::MakeTestDir;
using ::testing::StartsWith;
using recsys::testing::WriteFile;

TrainerOptions SmallOptions(const std::string& input, const std::string& root) {
  TrainerOptions options;
  options.input = input;
  options.model_root = root;
  options.als.factors = 8;
  options.als.iterations = 3;
  options.als.threads = 2;
  return options;
}

std::string WriteSmallShop(const std::string& dir) {
  ShopOptions shop;
  shop.users = 300;
  shop.items = 80;
  shop.seed = 3;
  const std::string path = dir + "/shop.csv.gz";
  EXPECT_TRUE(WriteShopCsv(shop, path).ok());
  return path;
}

TEST(TrainerTest, EndToEndPublishesModelAndLoadsStore) {
  const std::string dir = MakeTestDir();
  const std::string input = WriteSmallShop(dir);
  TrainerOptions options = SmallOptions(input, dir + "/models");
  options.version = "20240101000000";
  std::vector<std::string> lines;
  options.log = [&](absl::string_view line) { lines.emplace_back(line); };
  feature_store::InMemoryFeatureStore store;

  absl::StatusOr<TrainResult> result = Train(options, &store);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->model_dir, dir + "/models/20240101000000");
  EXPECT_GT(result->read_stats.rows_used, 1000);
  EXPECT_EQ(result->read_stats.rows_used, result->read_stats.rows_read);
  EXPECT_EQ(result->users, 300);
  EXPECT_GT(result->items, 60);
  EXPECT_EQ(result->iterations.size(), 3u);
  EXPECT_EQ(result->users_stored, 300);
  EXPECT_EQ(result->items_stored, result->items);

  // Progress lines.
  EXPECT_THAT(lines,
              ::testing::Contains(StartsWith("format canonical: rows read")));
  EXPECT_THAT(lines, ::testing::Contains(StartsWith("iter 3/3 loss 0.")));
  EXPECT_THAT(lines, ::testing::Contains(StartsWith("published ")));

  // The published model.
  absl::StatusOr<model::ModelData> model =
      model::ReadModelData(result->model_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  const recsys::v1::ModelManifest& m = model->manifest;
  EXPECT_EQ(m.version(), "20240101000000");
  EXPECT_EQ(m.num_users(), 300);
  EXPECT_EQ(m.num_items(), result->items);
  EXPECT_EQ(m.dim(), 8);
  EXPECT_EQ(m.params().factors(), 8);
  EXPECT_EQ(m.params().iterations(), 3);
  EXPECT_EQ(m.params().confidence(), "log");
  EXPECT_EQ(m.params().cg_steps(), 3);
  // The default "auto" index is exact for a catalog this small.
  EXPECT_EQ(m.params().index_spec(), "auto");
  EXPECT_EQ(m.index_type(), "Flat");
  EXPECT_EQ(m.index().ip().recall(), 1.0);
  EXPECT_EQ(m.data().format(), "canonical");
  EXPECT_EQ(m.data().source(), input);
  EXPECT_EQ(m.data().rows_used(), result->read_stats.rows_used);
  EXPECT_EQ(m.data().interactions(), result->interactions);
  EXPECT_GT(m.data().density(), 0);
  ASSERT_EQ(m.iterations_size(), 3);
  EXPECT_GT(m.iterations(0).loss(), m.iterations(2).loss());
  EXPECT_GT(m.created_unix(), 0);
  EXPECT_GT(m.train_seconds(), 0);

  ASSERT_EQ(model->history_indptr.size(), 301u);
  // The ranker's item neighbours are stored (tuner_test checks their values).
  EXPECT_TRUE(m.files().contains("neighbors.bin"));
  EXPECT_EQ(model->ranker_neighbors.indptr.size(), model->items.size() + 1);
  EXPECT_THAT(lines, ::testing::Contains(StartsWith("ranker neighbours (cosine): ")));
  EXPECT_EQ(static_cast<int64_t>(model->history.size()), result->interactions);
  for (const model::ItemMeta& item : model->items) {
    EXPECT_THAT(item.item_id, StartsWith("i"));
    EXPECT_FALSE(item.category.empty());
    EXPECT_GT(item.price, 0);
    EXPECT_GE(item.purchases, item.buyers);
  }

  // The store holds each user's history, as in the model.
  const std::string& user = model->user_ids[0];
  absl::StatusOr<feature_store::UserFeatures> features =
      store.GetUser(user, absl::InfiniteFuture());
  ASSERT_TRUE(features.ok()) << features.status();
  std::map<std::string, int> from_store, from_model;
  for (const auto& p : features->purchases) from_store[p.item_id] = p.count;
  for (int64_t k = model->history_indptr[0]; k < model->history_indptr[1];
       ++k) {
    from_model[model->items[model->history[k].item].item_id] =
        model->history[k].count;
  }
  EXPECT_EQ(from_store, from_model);
  const std::vector<std::string> ids = {model->items[0].item_id};
  auto items = store.GetItems(ids, absl::InfiniteFuture());
  ASSERT_TRUE(items.ok());
  ASSERT_TRUE((*items)[0].has_value());
  EXPECT_EQ((*items)[0]->category, model->items[0].category);

  // Same version again: refused, nothing overwritten.
  EXPECT_EQ(Train(options, nullptr).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(TrainerTest, RecordsThePeakMemoryOfEachPhase) {
  const std::string dir = MakeTestDir();
  TrainerOptions options = SmallOptions(WriteSmallShop(dir), dir + "/models");
  std::vector<std::string> lines;
  options.log = [&](absl::string_view line) { lines.emplace_back(line); };
  feature_store::InMemoryFeatureStore store;
  absl::StatusOr<TrainResult> result = Train(options, &store);
  ASSERT_TRUE(result.ok()) << result.status();

  std::vector<std::string> phases;
  for (const TrainPhaseMemory& m : result->memory) {
    phases.push_back(m.phase);
    EXPECT_GT(m.peak_kb, 0) << m.phase;
    EXPECT_GT(m.resident_kb, 0) << m.phase;
    // The peak of a phase covers its end.
    EXPECT_GE(m.peak_kb, m.resident_kb) << m.phase;
  }
  // Intelligence first, from its own pass; bundles before either iALS;
  // without tuning, the ranker's own iALS runs before the main one.
  EXPECT_THAT(phases, ElementsAre("intelligence", "read", "segments", "bundles", "ranker",
                                  "factorise", "publish", "store loads"));
  EXPECT_THAT(lines, ::testing::Contains(StartsWith("memory: factorise peak ")));
  // Intelligence, segments and the ranker fit come before the factorisation.
  auto at = [&lines](absl::string_view prefix) {
    for (size_t i = 0; i < lines.size(); ++i) {
      if (absl::StartsWith(lines[i], prefix)) return static_cast<int>(i);
    }
    return -1;
  };
  ASSERT_GE(at("segments as of "), 0);
  ASSERT_GE(at("intelligence: "), 0);
  EXPECT_LT(at("segments as of "), at("iter 1/3 "));
  EXPECT_LT(at("intelligence: "), at("iter 1/3 "));
  // So is the ranker fit, reported as it ends.
  ASSERT_GE(at("ranker fit on the window "), 0);
  EXPECT_LT(at("ranker fit on the window "), at("iter 1/3 "));
}

TEST(TrainerTest, MalformedRowsAreCountedAndRecorded) {
  const std::string dir = MakeTestDir();
  const std::string input =
      WriteFile(dir, "p.csv",
                "user_id,item_id,timestamp,quantity,price,category\n"
                "u1,a,2024-01-01 10:00:00,1,2.5,food\n"
                "u1,b,2024-01-02 10:00:00,1,3.5,food\n"
                "u2,a,2024-01-03 10:00:00,x,2.5,food\n"
                "u2,b,1704362400,1,3.5,food\n"
                "u3,c,not-a-time,1,1,toys\n"
                "u3,a,1704362400,1,2.5\n");
  TrainerOptions options = SmallOptions(input, dir + "/models");
  options.als.factors = 2;
  std::vector<std::string> lines;
  options.log = [&](absl::string_view line) { lines.emplace_back(line); };
  absl::StatusOr<TrainResult> result = Train(options, nullptr);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->read_stats.rows_read, 6);
  EXPECT_EQ(result->read_stats.rows_used, 3);
  EXPECT_EQ(result->users, 2);
  EXPECT_EQ(result->items, 2);
  EXPECT_THAT(lines, ::testing::Contains("    line 4: bad quantity 'x'"));
  EXPECT_THAT(lines, ::testing::Contains("  skipped wrong_column_count: 1"));

  absl::StatusOr<model::ModelData> model =
      model::ReadModelData(result->model_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  std::map<std::string, int64_t> skipped;
  for (const auto& s : model->manifest.data().skipped()) {
    skipped[s.reason()] = s.rows();
  }
  EXPECT_EQ(
      skipped,
      (std::map<std::string, int64_t>{
          {"bad_number", 1}, {"bad_timestamp", 1}, {"wrong_column_count", 1}}));
  EXPECT_EQ(model->manifest.data().first_event_unix(), 1704103200);
  EXPECT_EQ(model->manifest.data().last_event_unix(), 1704362400);
}

TEST(TrainerTest, NoUsableRowsPublishesNothing) {
  const std::string dir = MakeTestDir();
  const std::string input =
      WriteFile(dir, "p.csv", "user_id,item_id,timestamp\nu1,a,never\nu2,,5\n");
  const std::string root = dir + "/models";
  absl::StatusOr<TrainResult> result =
      Train(SmallOptions(input, root), nullptr);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(result.status().message(), HasSubstr("no usable purchase rows"));
  EXPECT_THAT(result.status().message(),
              HasSubstr("bad_timestamp 1, empty_id 1"));
  EXPECT_FALSE(std::filesystem::exists(root));
}

TEST(TrainerTest, ReportsInputErrors) {
  const std::string dir = MakeTestDir();
  EXPECT_EQ(Train(SmallOptions(dir + "/missing.csv", dir + "/m"), nullptr)
                .status()
                .code(),
            absl::StatusCode::kNotFound);
  const std::string empty = WriteFile(dir, "empty.csv", "");
  absl::Status status =
      Train(SmallOptions(empty, dir + "/m"), nullptr).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("empty file"));
}

TEST(TrainerTest, ValidatesOptionsBeforeReading) {
  TrainerOptions options = SmallOptions("/nonexistent.csv", "/tmp/x");
  options.version = "v1";
  EXPECT_EQ(Train(options, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = SmallOptions("/nonexistent.csv", "");
  EXPECT_EQ(Train(options, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = SmallOptions("/nonexistent.csv", "/tmp/x");
  options.als.cg_steps = 0;
  EXPECT_EQ(Train(options, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = SmallOptions("/nonexistent.csv", "/tmp/x");
  options.confidence.epsilon = -1;
  EXPECT_EQ(Train(options, nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  options = SmallOptions("/nonexistent.csv", "/tmp/x");
  options.ranker_max_users = -1;
  EXPECT_EQ(Train(options, nullptr).status(),
            absl::InvalidArgumentError("ranker_max_users: must be >= 0"));
}

TEST(TrainerTest, TheRankersIalsUsesASampleOfUsersBeyondItsCap) {
  const std::string dir = MakeTestDir();
  const std::string input = WriteSmallShop(dir);
  auto run = [&](int32_t cap, std::vector<std::string>* lines) {
    TrainerOptions options = SmallOptions(input, dir + "/models" + std::to_string(cap));
    options.ranker_max_users = cap;
    options.log = [lines](absl::string_view line) { lines->emplace_back(line); };
    return Train(options, nullptr);
  };
  std::vector<std::string> all_lines, capped_lines, again_lines;
  absl::StatusOr<TrainResult> all = run(0, &all_lines);
  absl::StatusOr<TrainResult> capped = run(100, &capped_lines);
  absl::StatusOr<TrainResult> again = run(100, &again_lines);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_TRUE(capped.ok()) << capped.status();
  ASSERT_TRUE(again.ok()) << again.status();
  auto sample_line = [](const std::vector<std::string>& lines) {
    for (const std::string& line : lines) {
      if (absl::StartsWith(line, "ranker: its iALS on a sample of ")) return line;
    }
    return std::string();
  };
  EXPECT_EQ(sample_line(all_lines), "");
  // About a third of the 300 users (a hash sample), the same ones every run.
  const std::string line = sample_line(capped_lines);
  int sampled = 0;
  ASSERT_EQ(std::sscanf(line.c_str(), "ranker: its iALS on a sample of %d of 300 users", &sampled),
            1)
      << line;
  EXPECT_GT(sampled, 60);
  EXPECT_LT(sampled, 140);
  EXPECT_EQ(sample_line(again_lines), line);
  // The fit ran on the sample; the served model still has every user.
  EXPECT_THAT(capped->ranker.origin, StartsWith("fit on the window "));
  EXPECT_EQ(capped->users, 300);
  EXPECT_EQ(capped->ranker.origin, again->ranker.origin);
}

TEST(TrainerTest, ComputesSegmentsFromTheSameRows) {
  const std::string dir = MakeTestDir();
  constexpr int64_t kT = 1700000000, kDay = 86400;
  std::string csv = "user_id,item_id,timestamp,quantity,price\n";
  auto row = [&](const char* user, const char* item, int64_t t, int q, double price) {
    absl::StrAppend(&csv, user, ",", item, ",", t, ",", q, ",", price, "\n");
  };
  row("dormant", "i1", kT - 200 * kDay, 1, 5);
  row("dormant", "i2", kT - 100 * kDay, 2, 10);  // same order time: one order
  row("dormant", "i3", kT - 100 * kDay, 1, 1);
  row("deep", "i1", kT - 400 * kDay, 1, 700);
  row("deep", "i2", kT - 180 * kDay, 1, 1);
  row("new", "i3", kT - 5 * kDay, 1, 30);
  row("gold", "i1", kT - 300 * kDay, 10, 100);
  row("gold", "i2", kT - 2 * kDay, 6, 100);
  row("latest", "i2", kT, 1, 3);
  TrainerOptions options = SmallOptions(WriteFile(dir, "p.csv", csv), dir + "/models");
  options.version = "1";
  std::vector<std::string> lines;
  options.log = [&](absl::string_view line) { lines.emplace_back(line); };
  std::unique_ptr<marketing::SegmentStore> segments = marketing::NewInMemorySegmentStore();
  absl::StatusOr<TrainResult> result = Train(options, nullptr, segments.get());
  ASSERT_TRUE(result.ok()) << result.status();

  EXPECT_EQ(result->segments.users, 5);
  EXPECT_EQ(result->segments.as_of_unix, kT);
  EXPECT_DOUBLE_EQ(result->segments.spend, 5 + 21 + 701 + 30 + 1600 + 3);
  EXPECT_EQ(result->segments_stored, 5);
  EXPECT_THAT(lines, ::testing::Contains(StartsWith("segments as of 2023-11-14 22:13:20 UTC: 5 users")));
  EXPECT_THAT(lines, ::testing::Contains(StartsWith("  deep_dormant           1   20.0%")));

  absl::StatusOr<marketing::UserSegment> dormant =
      segments->GetSegment("dormant", absl::InfiniteFuture());
  ASSERT_TRUE(dormant.ok()) << dormant.status();
  EXPECT_EQ(dormant->segment, marketing::Segment::kDormant);
  EXPECT_EQ(dormant->frequency, 2);
  EXPECT_EQ(dormant->recency_days, 100);
  EXPECT_DOUBLE_EQ(dormant->monetary, 26);
  absl::StatusOr<marketing::UserSegment> gold = segments->GetSegment("gold", absl::InfiniteFuture());
  ASSERT_TRUE(gold.ok());
  EXPECT_EQ(gold->tier, marketing::Tier::kGold);  // 1600 in the trailing year
  EXPECT_EQ(segments->GetSegment("new", absl::InfiniteFuture())->segment,
            marketing::Segment::kNew);
  EXPECT_EQ(segments->GetSegment("deep", absl::InfiniteFuture())->segment,
            marketing::Segment::kDeepDormant);

  // The model directory carries segments.tsv and the manifest the summary.
  absl::StatusOr<model::ModelData> model = model::ReadModelData(result->model_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<std::vector<marketing::UserSegment>> tsv =
      marketing::ParseSegmentsTsv(model->segments_tsv);
  ASSERT_TRUE(tsv.ok()) << tsv.status();
  ASSERT_EQ(tsv->size(), 5u);
  EXPECT_EQ((*tsv)[0].user_id, "deep");
  const recsys::v1::SegmentSummary& summary = model->manifest.segments();
  EXPECT_EQ(summary.users(), 5);
  EXPECT_EQ(summary.as_of_unix(), kT);
  ASSERT_EQ(summary.segments_size(), marketing::kNumSegments);
  EXPECT_EQ(summary.segments(4).name(), "dormant");
  EXPECT_EQ(summary.segments(4).users(), 1);
  EXPECT_EQ(summary.config().segments().dormant_days(), 90);
  // Every group as the trainer summarized it, and the config it used.
  ASSERT_EQ(summary.tiers_size(), marketing::kNumTiers);
  EXPECT_DOUBLE_EQ(summary.spend(), result->segments.spend);
  for (int i = 0; i < marketing::kNumSegments + marketing::kNumTiers; ++i) {
    const bool tier = i >= marketing::kNumSegments;
    const int g = tier ? i - marketing::kNumSegments : i;
    const recsys::v1::SegmentShare& got = tier ? summary.tiers(g) : summary.segments(g);
    const marketing::GroupShare& want = tier ? result->segments.tiers[g] : result->segments.segments[g];
    EXPECT_EQ(got.name(), want.name);
    EXPECT_EQ(got.users(), want.users) << want.name;
    EXPECT_DOUBLE_EQ(got.user_share(), want.user_share) << want.name;
    EXPECT_DOUBLE_EQ(got.spend(), want.spend) << want.name;
    EXPECT_DOUBLE_EQ(got.spend_share(), want.spend_share) << want.name;
  }
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(
      summary.config(), marketing::ToProto(marketing::WithDefaults(options.marketing))))
      << summary.config().DebugString();

  // A configured threshold and reference time change the answer.
  options.version = "2";
  options.marketing.segments.dormant_days = 150;
  options.segments_as_of_unix = kT + 60 * kDay;
  result = Train(options, nullptr, segments.get());
  ASSERT_TRUE(result.ok()) << result.status();
  dormant = segments->GetSegment("dormant", absl::InfiniteFuture());
  EXPECT_EQ(dormant->recency_days, 160);
  EXPECT_EQ(dormant->segment, marketing::Segment::kDormant);
  EXPECT_EQ(segments->GetSegment("new", absl::InfiniteFuture())->segment,
            marketing::Segment::kAtRisk);
}

// The dormant audience of a generated shop: users past 90 days only, all of
// them, best affinity first.
TEST(TrainerTest, DormantAudienceOnAGeneratedShop) {
  const std::string dir = MakeTestDir();
  TrainerOptions options = SmallOptions(WriteSmallShop(dir), dir + "/models");
  absl::StatusOr<TrainResult> result = Train(options, nullptr);
  ASSERT_TRUE(result.ok()) << result.status();
  absl::StatusOr<model::ModelData> model = model::ReadModelData(result->model_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  absl::StatusOr<std::vector<marketing::UserSegment>> records =
      marketing::ParseSegmentsTsv(model->segments_tsv);
  ASSERT_TRUE(records.ok()) << records.status();
  std::map<std::string, const marketing::UserSegment*> by_id;
  for (const marketing::UserSegment& r : *records) by_id[r.user_id] = &r;

  std::vector<marketing::AudienceUser> users;
  int64_t dormant = 0;
  for (const std::string& id : model->user_ids) {
    const marketing::UserSegment* r = by_id.at(id);
    marketing::AudienceUser user;
    user.user_id = id;
    user.segment = r->segment;
    user.tier = r->tier;
    user.last_purchase_unix = r->last_purchase_unix;
    users.push_back(std::move(user));
    dormant += r->recency_days >= 90;
  }
  ASSERT_GT(dormant, 10);
  ASSERT_LT(dormant, static_cast<int64_t>(users.size()));
  absl::StatusOr<std::unique_ptr<const marketing::AudienceTable>> table =
      marketing::AudienceTable::Create(model->dim, model->user_factors, std::move(users));
  ASSERT_TRUE(table.ok()) << table.status();
  const std::vector<float> target(model->item_factors.begin(),
                                  model->item_factors.begin() + model->dim);
  marketing::AudienceFilter filter;
  filter.segments = {marketing::Segment::kDormant, marketing::Segment::kDeepDormant};
  filter.min_days_since_purchase = 90;
  std::vector<marketing::AudienceMember> got;
  marketing::AudienceOptions scan;
  scan.chunk_size = 16;
  absl::StatusOr<marketing::AudienceStats> stats = marketing::ScanAudience(
      **table, target, filter, absl::FromUnixSeconds(result->segments.as_of_unix), nullptr,
      scan, [&](absl::Span<const marketing::AudienceMember> chunk) {
        got.insert(got.end(), chunk.begin(), chunk.end());
        return true;
      });
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(static_cast<int64_t>(got.size()), dormant);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_GE(got[i].days_since_purchase, 90) << got[i].user_id;
    EXPECT_GE(by_id.at(std::string(got[i].user_id))->recency_days, 90);
    if (i > 0) {
      EXPECT_GE(got[i - 1].score, got[i].score);
    }
  }
}

TEST(TrainerTest, SegmentsNeedTimestamps) {
  const std::string dir = MakeTestDir();
  TrainerOptions options = SmallOptions(
      WriteFile(dir, "pairs.csv", "user,item\nu1,a\nu1,b\nu2,a\nu3,b\nu3,c\n"),
      dir + "/models");
  std::vector<std::string> lines;
  options.log = [&](absl::string_view line) { lines.emplace_back(line); };
  absl::StatusOr<TrainResult> result = Train(options, nullptr);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->segments.users, 0);
  EXPECT_THAT(lines, ::testing::Contains("segments: skipped (the data has no timestamps)"));
  absl::StatusOr<model::ModelData> model = model::ReadModelData(result->model_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(model->segments_tsv.empty());
  EXPECT_FALSE(model->manifest.has_segments());
}

TEST(TrainerTest, RejectsABadMarketingConfig) {
  TrainerOptions options = SmallOptions("/nonexistent.csv", "/tmp/x");
  options.marketing.tiers.gold = 1;
  const absl::Status status = Train(options, nullptr).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()), HasSubstr("marketing config: tiers.gold"));
}

TEST(BuildModelDataTest, CopiesHistoryAndMetadata) {
  InteractionBuilder builder;
  PurchaseRow row;
  row.user_id = "u";
  row.item_id = "x";
  row.category = "with\ttab";
  row.price = 2;
  row.timestamp_unix = 10;
  builder.Add(row);
  row.timestamp_unix = 20;
  builder.Add(row);
  const InteractionData data = builder.Build();
  AlsModel model;
  model.factors = 2;
  model.num_users = 1;
  model.num_items = 1;
  model.user_factors = {1, 2};
  model.item_factors = {3, 4};
  const model::ModelData out =
      BuildModelData(data, model, recsys::v1::ModelManifest());
  EXPECT_THAT(out.user_ids, ElementsAre("u"));
  ASSERT_EQ(out.items.size(), 1u);
  EXPECT_EQ(out.items[0].category, "with tab");
  EXPECT_EQ(out.items[0].purchases, 2);
  EXPECT_EQ(out.items[0].buyers, 1);
  EXPECT_THAT(out.history_indptr, ElementsAre(0, 1));
  ASSERT_EQ(out.history.size(), 1u);
  EXPECT_EQ(out.history[0].item, 0);
  EXPECT_EQ(out.history[0].count, 2);
  EXPECT_EQ(out.history[0].last_unix, 20);
  EXPECT_THAT(out.item_factors, ElementsAre(3, 4));
}

// Integration: bulk load into a real redis-server on a free port.
TEST(TrainerRedisTest, BulkLoadsIntoRedis) {
  absl::StatusOr<std::unique_ptr<recsys::testing::RedisServer>> redis =
      recsys::testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  absl::StatusOr<recsys::redis::Options> redis_options =
      recsys::redis::ParseAddress((*redis)->address());
  ASSERT_TRUE(redis_options.ok()) << redis_options.status();
  // One pool for both stores, as recsys_train builds them.
  absl::StatusOr<std::unique_ptr<recsys::redis::Client>> client =
      recsys::redis::Client::Create(*redis_options);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::StatusOr<std::unique_ptr<feature_store::FeatureStore>> store =
      feature_store::NewRedisFeatureStore(client->get());
  ASSERT_TRUE(store.ok()) << store.status();

  absl::StatusOr<std::unique_ptr<marketing::SegmentStore>> segments =
      marketing::NewRedisSegmentStore(client->get());
  ASSERT_TRUE(segments.ok()) << segments.status();

  const std::string dir = MakeTestDir();
  TrainerOptions options = SmallOptions(WriteSmallShop(dir), dir + "/models");
  options.store_batch = 64;  // several pipelined batches
  absl::StatusOr<TrainResult> result = Train(options, store->get(), segments->get());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->users_stored, 300);
  EXPECT_EQ(result->segments_stored, 300);
  absl::StatusOr<std::string> segment =
      (*redis)->Command({"HGET", "rs:u:u000001:seg", "segment"});
  ASSERT_TRUE(segment.ok()) << segment.status();
  EXPECT_TRUE(marketing::SegmentFromName(*segment).has_value()) << *segment;

  absl::StatusOr<model::ModelData> model =
      model::ReadModelData(result->model_dir);
  ASSERT_TRUE(model.ok()) << model.status();
  for (int u : {0, 150, 299}) {
    absl::StatusOr<feature_store::UserFeatures> features =
        (*store)->GetUser(model->user_ids[u], absl::InfiniteFuture());
    ASSERT_TRUE(features.ok()) << features.status();
    std::map<std::string, std::pair<int, int64_t>> from_store, from_model;
    for (const auto& p : features->purchases) {
      from_store[p.item_id] = {p.count, absl::ToUnixSeconds(p.last_purchase)};
    }
    for (int64_t k = model->history_indptr[u]; k < model->history_indptr[u + 1];
         ++k) {
      const model::HistoryEntry& h = model->history[k];
      from_model[model->items[h.item].item_id] = {h.count, h.last_unix};
    }
    EXPECT_EQ(from_store, from_model) << "user row " << u;
  }
}

}  // namespace
}  // namespace recsys::training
