// recsys_nightly end to end: the real binary on a generated shop split into
// daily exports, a real redis-server, crashes at every step, bad input, the
// gate refusing a model trained on shuffled items.
#include "nightly/nightly.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "intelligence/intel.h"
#include "model/model_format.h"
#include "redis/client.h"
#include "tests/testing/child_process.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"
#include "training/datagen.h"
#include "training/redis_load.h"

namespace recsys::nightly {
namespace {

namespace fs = std::filesystem;

constexpr int kDays = 60;
constexpr int kNewDays = 7;

std::string ReadAll(const std::string& path) {
  return recsys::testing::ReadFileBytes(path);
}

class NightlyTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    absl::StatusOr<recsys::testing::RedisServer*> server =
        recsys::testing::SharedRedisServer();
    ASSERT_TRUE(server.ok()) << server.status();
    redis_ = *server;
    absl::StatusOr<redis::Options> options =
        redis::ParseAddress(redis_->address());
    ASSERT_TRUE(options.ok());
    auto client = redis::Client::Create(*options);
    ASSERT_TRUE(client.ok());
    client_ = client->release();

    dir_ = new std::string(recsys::testing::MakeUniqueDir("nightly"));
    const std::string csv = *dir_ + "/shop.csv";
    training::ShopOptions shop;
    shop.users = 300;
    shop.items = 100;
    shop.days = kDays;
    shop.seed = 9;
    shop.end_date = "2024-06-30";
    ASSERT_TRUE(training::WriteShopCsv(shop, csv).ok());
    // Rows by day, then the exports: all days, and all but the last week.
    std::ifstream in(csv);
    std::string header;
    std::getline(in, header);
    header_ = new std::string(header);
    rows_by_day_ = new std::map<std::string, std::vector<std::string>>();
    for (std::string line; std::getline(in, line);) {
      std::vector<std::string> f = absl::StrSplit(line, ',');
      int64_t ts = 0;
      ASSERT_TRUE(absl::SimpleAtoi(f[2], &ts));
      (*rows_by_day_)[absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(ts),
                                       absl::UTCTimeZone())]
          .push_back(line);
    }
    ASSERT_EQ(rows_by_day_->size(), static_cast<size_t>(kDays));
    WriteDays(*dir_ + "/old", kDays - kNewDays, false);
    WriteDays(*dir_ + "/new", kDays, false);
    WriteDays(*dir_ + "/shuffled", kDays, true);
    // The base every case starts from: a model published from the old
    // exports (no Redis load).
    ASSERT_EQ(RunNightly(*dir_ + "/old", *dir_ + "/base", "", "",
                         *dir_ + "/base.log"),
              0)
        << ReadAll(*dir_ + "/base.log");
  }

  static void TearDownTestSuite() {
    delete client_;
    client_ = nullptr;
    fs::remove_all(*dir_);
    delete dir_;
    delete header_;
    delete rows_by_day_;
  }

  // Writes the first `days` days as daily exports; `shuffle`: the item
  // column shuffled across the rows of the days before the last week (a
  // broken export of the training period; the last week, on which the gate
  // scores, stays as it was).
  static void WriteDays(const std::string& out, int days, bool shuffle) {
    fs::create_directories(out);
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> day_of_row;
    std::vector<size_t> early;
    int d = 0;
    for (const auto& [day, lines] : *rows_by_day_) {
      if (d >= days) break;
      for (const std::string& line : lines) {
        if (d < kDays - kNewDays) early.push_back(rows.size());
        rows.push_back(absl::StrSplit(line, ','));
        day_of_row.push_back(day);
      }
      ++d;
    }
    if (shuffle) {
      std::vector<std::string> items;
      for (size_t i : early) items.push_back(rows[i][1]);
      std::mt19937_64 rng(7);
      std::shuffle(items.begin(), items.end(), rng);
      for (size_t j = 0; j < early.size(); ++j) rows[early[j]][1] = items[j];
    }
    std::map<std::string, std::string> files;
    for (size_t i = 0; i < rows.size(); ++i) {
      std::string& text = files[day_of_row[i]];
      if (text.empty()) text = *header_ + "\n";
      absl::StrAppend(&text, absl::StrJoin(rows[i], ","), "\n");
    }
    for (const auto& [day, text] : files) {
      std::ofstream(out + "/purchases-" + day + ".csv", std::ios::trunc)
          << text;
    }
  }

  // Runs recsys_nightly; returns its exit code. `prefix` empty: no Redis.
  static int RunNightly(const std::string& input, const std::string& root,
                        const std::string& prefix, const std::string& extra,
                        const std::string& log) {
    std::string command =
        absl::StrCat(RECSYS_NIGHTLY, " --input=", input, " --model_root=", root,
                     " --factors=16 --iterations=5 --threads=2 --index=Flat "
                     // Every candidate on any machine: the choice, and so
                     // the gate's scores, depend on the data alone.
                     "--tune_budget_seconds=1e6 --gate_min_users=5 ",
                     extra);
    if (!prefix.empty()) {
      absl::StrAppend(&command, " --redis=", redis_->address(),
                      " --redis_key_prefix=", prefix);
    }
    absl::StrAppend(&command, " > ", log, " 2>&1");
    return recsys::testing::RunCommand(command);
  }

  // A fresh copy of the base model root.
  static std::string CopyBase(const std::string& name) {
    const std::string root = *dir_ + "/" + name;
    fs::remove_all(root);
    fs::copy(*dir_ + "/base", root, fs::copy_options::recursive);
    return root;
  }

  static std::vector<std::string> Versions(const std::string& root) {
    absl::StatusOr<std::vector<std::string>> v = model::ListModelVersions(root);
    return v.ok() ? *v : std::vector<std::string>();
  }

  static std::vector<redis::Value> Redis(const redis::Command& command) {
    absl::StatusOr<std::vector<redis::Value>> r =
        client_->Execute({&command, 1}, absl::Now() + absl::Seconds(10));
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<redis::Value>(1);
  }

  // Keys under `prefix`, without it, sorted.
  static std::vector<std::string> Keys(const std::string& prefix) {
    std::vector<std::string> keys;
    const std::vector<redis::Value> reply = Redis({"KEYS", prefix + "*"});
    for (const redis::Value& v : reply[0].elements) {
      keys.push_back(v.text.substr(prefix.size()));
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  }

  static std::string LoadedVersion(const std::string& prefix) {
    return Redis({"HGET", prefix + "loaded", "model_version"})[0].text;
  }

  static recsys::testing::RedisServer* redis_;
  static redis::Client* client_;
  static std::string* dir_;
  static std::string* header_;
  static std::map<std::string, std::vector<std::string>>* rows_by_day_;
};

recsys::testing::RedisServer* NightlyTest::redis_ = nullptr;
redis::Client* NightlyTest::client_ = nullptr;
std::string* NightlyTest::dir_ = nullptr;
std::string* NightlyTest::header_ = nullptr;
std::map<std::string, std::vector<std::string>>* NightlyTest::rows_by_day_ =
    nullptr;

TEST_F(NightlyTest, PublishesLoadsRedisAndReportsThenARerunChangesNothing) {
  const std::string root = CopyBase("clean");
  const std::string log = *dir_ + "/clean.log";
  const std::string textfile = *dir_ + "/clean.prom";
  const std::string audiences = *dir_ + "/clean.audiences";
  const std::string extra = absl::StrCat(
      "--textfile=", textfile,
      " --audience_command='echo $RECSYS_MODEL_VERSION >> ", audiences, "'");
  const std::vector<std::string> before = Versions(root);
  ASSERT_EQ(before.size(), 1u);
  ASSERT_EQ(RunNightly(*dir_ + "/new", root, "clean:", extra, log), 0)
      << ReadAll(log);
  const std::vector<std::string> after = Versions(root);
  ASSERT_EQ(after.size(), 2u) << ReadAll(log);
  const std::string version = after[0];
  EXPECT_EQ(after[1], before[0]);

  RECSYS_ASSERT_OK_AND_ASSIGN(recsys::v1::ModelManifest m,
                              model::ReadManifest(root + "/" + version));
  EXPECT_EQ(m.gate().decision(), evaluation::kGatePassed) << m.gate().reason();
  EXPECT_EQ(m.gate().current_version(), before[0]);
  EXPECT_GT(m.gate().current_score(), 0);
  EXPECT_EQ(LoadedVersion("clean:"), version);
  EXPECT_FALSE(Keys("clean:").empty());
  EXPECT_EQ(ReadAll(audiences), version + "\n");

  const std::string out = ReadAll(log);
  EXPECT_TRUE(absl::StrContains(
      out, absl::StrCat("recsys_nightly: published version=", version,
                        " gate=passed ndcg@20:all")))
      << out;
  const std::string prom = ReadAll(textfile);
  EXPECT_TRUE(absl::StrContains(
      prom, "recsys_nightly_gate_decision{decision=\"passed\"} 1"))
      << prom;
  EXPECT_TRUE(absl::StrContains(prom, "recsys_nightly_success 1")) << prom;
  EXPECT_TRUE(absl::StrContains(
      prom, "# TYPE recsys_nightly_last_success_timestamp_seconds gauge"));
  EXPECT_TRUE(absl::StrContains(
      prom, absl::StrCat("recsys_nightly_version ", version)));

  // The same input again: the same run, nothing new.
  const std::vector<std::string> keys = Keys("clean:");
  ASSERT_EQ(RunNightly(*dir_ + "/new", root, "clean:", extra, log), 0)
      << ReadAll(log);
  EXPECT_EQ(Versions(root), after);
  EXPECT_EQ(Keys("clean:"), keys);
  EXPECT_EQ(ReadAll(audiences), version + "\n");
  EXPECT_TRUE(absl::StrContains(ReadAll(log),
                                "resuming the run of version " + version));

  // Pruning to one version keeps the newest and removes the base.
  ASSERT_EQ(RunNightly(*dir_ + "/new", root,
                       "clean:", extra + " --keep_versions=1", log),
            0)
      << ReadAll(log);
  EXPECT_EQ(Versions(root), std::vector<std::string>({version}));
  EXPECT_TRUE(absl::StrContains(ReadAll(log), " pruned=1 ")) << ReadAll(log);
}

// --triggers_config: after the Redis refresh the signal pass runs over
// every user of the published intel.tsv; a rerun schedules nothing twice.
TEST_F(NightlyTest, SignalsStepSchedulesTheNightsChecksOnce) {
  const std::string root = CopyBase("signals");
  const std::string log = *dir_ + "/signals.log";
  const std::string config = recsys::testing::WriteFile(
      *dir_, "signals_triggers.textproto",
      R"pb(rules { name: "refill" on_signal: "replenishment" })pb");
  const std::string extra = absl::StrCat("--triggers_config=", config, " --signals_batch=50");
  ASSERT_EQ(RunNightly(*dir_ + "/new", root, "sig:", extra, log), 0) << ReadAll(log);
  const std::vector<std::string> versions = Versions(root);
  ASSERT_EQ(versions.size(), 2u);
  const std::string tsv = ReadAll(root + "/" + versions[0] + "/intel.tsv");
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<intelligence::UserIntel> records,
                              intelligence::ParseIntelTsv(tsv));
  // Every record with a due item (the data ends in 2024: all are due now).
  int64_t due = 0;
  for (const intelligence::UserIntel& r : records) {
    due += !r.due_items.empty() && r.due_items.front().due_unix > 0;
  }
  ASSERT_GT(due, 0);
  EXPECT_EQ(Redis({"ZCARD", "sig:{trg}:pending"})[0].integer, due);
  EXPECT_TRUE(absl::StrContains(ReadAll(log), absl::StrCat(" signals=", due, "/",
                                                            records.size(), " ")))
      << ReadAll(log);
  // The same input again: the same checks, none scheduled twice.
  ASSERT_EQ(RunNightly(*dir_ + "/new", root, "sig:", extra, log), 0) << ReadAll(log);
  EXPECT_EQ(Redis({"ZCARD", "sig:{trg}:pending"})[0].integer, due);
  EXPECT_TRUE(absl::StrContains(ReadAll(log), absl::StrCat(" signals=0/", records.size(), " ")))
      << ReadAll(log);
  // Without --redis the step cannot run: refused at start.
  EXPECT_EQ(RunNightly(*dir_ + "/new", root, "", extra, log), 2) << ReadAll(log);
  EXPECT_TRUE(absl::StrContains(ReadAll(log), "--triggers_config: needs --redis")) << ReadAll(log);
}

TEST_F(NightlyTest, PruneKeepsTheVersionsExperimentVariantsServe) {
  const std::string root = CopyBase("pinned");
  const std::string log = *dir_ + "/pinned.log";
  const std::vector<std::string> before = Versions(root);
  ASSERT_EQ(before.size(), 1u);
  const std::string base = before[0];
  ASSERT_EQ(RunNightly(*dir_ + "/new", root, "", "", log), 0) << ReadAll(log);
  const std::vector<std::string> after = Versions(root);
  ASSERT_EQ(after.size(), 2u) << ReadAll(log);
  // A variant serves the base version: pruning to one version keeps it.
  const std::string config = recsys::testing::WriteFile(
      *dir_, "pinned_experiments.textproto",
      absl::StrCat("layers { name: \"home\" experiments { name: \"models\" "
                   "traffic_share: 1 slots: \"homepage_feed\" "
                   "variants { name: \"control\" share: 0.5 } "
                   "variants { name: \"old\" share: 0.5 model_version: \"",
                   base, "\" } } }"));
  ASSERT_EQ(RunNightly(*dir_ + "/new", root, "",
                       "--keep_versions=1 --experiments_config=" + config, log),
            0)
      << ReadAll(log);
  EXPECT_EQ(Versions(root), after);
  EXPECT_TRUE(absl::StrContains(ReadAll(log), " pruned=0 ")) << ReadAll(log);
  EXPECT_TRUE(absl::StrContains(ReadAll(log), "keeping " + base + " (pinned)"))
      << ReadAll(log);
  // --keep_model_versions pins it too.
  ASSERT_EQ(RunNightly(*dir_ + "/new", root, "",
                       "--keep_versions=1 --keep_model_versions=" + base, log),
            0)
      << ReadAll(log);
  EXPECT_EQ(Versions(root), after);
  // A bad experiments config stops the job before anything is pruned.
  const std::string bad = recsys::testing::WriteFile(
      *dir_, "bad_experiments.textproto", "layers { name: \"a b\" }");
  EXPECT_NE(RunNightly(*dir_ + "/new", root, "",
                       "--keep_versions=1 --experiments_config=" + bad, log),
            0);
  EXPECT_TRUE(absl::StrContains(ReadAll(log), "--experiments_config"))
      << ReadAll(log);
  EXPECT_EQ(Versions(root), after);
  // Without a pin, the base goes.
  ASSERT_EQ(RunNightly(*dir_ + "/new", root, "", "--keep_versions=1", log), 0)
      << ReadAll(log);
  EXPECT_EQ(Versions(root), std::vector<std::string>({after[0]}));
}

TEST_F(NightlyTest, ACrashAtAnyStepThenARerunEndsAsOneCleanRun) {
  // The reference: one clean run.
  const std::string ref_root = CopyBase("ref");
  const std::string ref_aud = *dir_ + "/ref.audiences";
  ASSERT_EQ(
      RunNightly(*dir_ + "/new", ref_root, "ref:",
                 absl::StrCat("--audience_command='echo x >> ", ref_aud, "'"),
                 *dir_ + "/ref.log"),
      0)
      << ReadAll(*dir_ + "/ref.log");
  const std::vector<std::string> ref_versions = Versions(ref_root);
  const std::vector<std::string> ref_keys = Keys("ref:");
  ASSERT_EQ(ref_versions.size(), 2u);

  for (const char* step : kSteps) {
    SCOPED_TRACE(step);
    const std::string name = absl::StrCat("crash_", step);
    const std::string root = CopyBase(name);
    const std::string prefix = name + ":";
    const std::string aud = *dir_ + "/" + name + ".audiences";
    const std::string extra =
        absl::StrCat("--audience_command='echo x >> ", aud, "'");
    const std::string log = *dir_ + "/" + name + ".log";
    ASSERT_EQ(RunNightly(*dir_ + "/new", root, prefix,
                         absl::StrCat(extra, " --crash_after=", step), log),
              86)
        << ReadAll(log);
    const std::string crashed_log = ReadAll(log);
    ASSERT_EQ(RunNightly(*dir_ + "/new", root, prefix, extra, log), 0)
        << ReadAll(log);

    const std::vector<std::string> versions = Versions(root);
    ASSERT_EQ(versions.size(), ref_versions.size()) << ReadAll(log);
    EXPECT_EQ(versions[1], ref_versions[1]);
    if (std::string(step) != "read") {
      // The run kept the version it chose before the crash.
      EXPECT_TRUE(
          absl::StrContains(crashed_log, "new run, version " + versions[0]))
          << crashed_log;
    }
    RECSYS_ASSERT_OK_AND_ASSIGN(recsys::v1::ModelManifest m,
                                model::ReadManifest(root + "/" + versions[0]));
    EXPECT_EQ(m.gate().decision(), evaluation::kGatePassed);
    EXPECT_EQ(Keys(prefix), ref_keys);
    EXPECT_EQ(LoadedVersion(prefix), versions[0]);
    EXPECT_EQ(ReadAll(aud), "x\n");
    EXPECT_FALSE(fs::exists(root + "/refused"));
    // Nothing half-done is left beside the versions and the job's state.
    for (const auto& entry : fs::directory_iterator(root)) {
      const std::string n = entry.path().filename().string();
      EXPECT_TRUE(n == ".nightly" || n == versions[0] || n == versions[1]) << n;
    }
    EXPECT_FALSE(fs::exists(root + "/.nightly/staging/" + versions[0]));
  }
}

TEST_F(NightlyTest, AKillInsideTheRedisStepLeavesTheLiveDataThenARerunEndsAsOneCleanRun) {
  // The reference: one clean run (generation 1 live).
  const std::string ref_root = CopyBase("rref");
  ASSERT_EQ(RunNightly(*dir_ + "/new", ref_root, "rref:", "", *dir_ + "/rref.log"), 0)
      << ReadAll(*dir_ + "/rref.log");
  const std::vector<std::string> ref_keys = Keys("rref:");
  EXPECT_EQ(Redis({"HGET", "rref:{gen}", "live"})[0].text, "1");

  for (const char* sub : training::kRedisLoadSteps) {
    const std::string step = absl::StrCat("redis:", sub);
    SCOPED_TRACE(step);
    const std::string name = absl::StrCat("rcrash_", sub);
    const std::string root = CopyBase(name);
    const std::string prefix = name + ":";
    const std::string log = *dir_ + "/" + name + ".log";
    ASSERT_EQ(RunNightly(*dir_ + "/new", root, prefix, " --crash_after=" + step, log), 86)
        << ReadAll(log);
    // Before the flip nothing is live (this Redis held no load before);
    // from the flip on, generation 1 is, complete.
    const bool flipped = std::string(sub) == "flip" || std::string(sub) == "prune";
    EXPECT_EQ(Redis({"HGET", prefix + "{gen}", "live"})[0].text, flipped ? "1" : "");
    EXPECT_EQ(LoadedVersion(prefix).empty(), !flipped);
    ASSERT_EQ(RunNightly(*dir_ + "/new", root, prefix, "", log), 0) << ReadAll(log);
    EXPECT_EQ(Keys(prefix), ref_keys);
    EXPECT_EQ(Redis({"HGET", prefix + "{gen}", "live"})[0].text, "1");
    EXPECT_EQ(LoadedVersion(prefix), Versions(root)[0]);
  }
}

TEST_F(NightlyTest, RedisRollbackGoesBackToThePreviousGeneration) {
  const std::string root = CopyBase("rollback");
  const std::string log = *dir_ + "/rollback.log";
  ASSERT_EQ(RunNightly(*dir_ + "/new", root, "rb:", "", log), 0) << ReadAll(log);
  const std::vector<std::string> versions = Versions(root);
  ASSERT_EQ(versions.size(), 2u);
  auto rollback = [&]() {
    return recsys::testing::RunCommand(absl::StrCat(
        RECSYS_NIGHTLY, " --redis=", redis_->address(),
        " --redis_key_prefix=rb: --redis_rollback > ", log, " 2>&1"));
  };
  // One generation only: nothing to go back to.
  EXPECT_EQ(rollback(), 1) << ReadAll(log);
  EXPECT_TRUE(absl::StrContains(ReadAll(log), "no previous generation")) << ReadAll(log);

  // The older model loaded on top (generation 2), then rolled back.
  RECSYS_ASSERT_OK_AND_ASSIGN(model::ModelData older,
                              model::ReadModelData(root + "/" + versions[1]));
  training::RedisLoadOptions load;
  load.key_prefix = "rb:";
  RECSYS_ASSERT_OK_AND_ASSIGN(training::RedisLoadResult loaded,
                              training::LoadRedisGeneration(older, client_, load));
  EXPECT_EQ(loaded.generation, 2);
  EXPECT_EQ(LoadedVersion("rb:"), versions[1]);
  EXPECT_EQ(rollback(), 0) << ReadAll(log);
  EXPECT_TRUE(absl::StrContains(ReadAll(log), "generation 1 is live")) << ReadAll(log);
  EXPECT_EQ(Redis({"HGET", "rb:{gen}", "live"})[0].text, "1");
  EXPECT_EQ(LoadedVersion("rb:"), versions[0]);
}

TEST_F(NightlyTest, BadInputStopsBeforePublishingAndLeavesRedisAsItWas) {
  const std::string root = CopyBase("bad");
  const std::string log = *dir_ + "/bad.log";
  ASSERT_EQ(RunNightly(*dir_ + "/old", root, "bad:", "", log), 0)
      << ReadAll(log);
  const std::vector<std::string> versions = Versions(root);
  const std::vector<std::string> keys = Keys("bad:");
  const std::string loaded = LoadedVersion("bad:");
  ASSERT_FALSE(loaded.empty());

  auto copy_new = [&](const std::string& name) {
    const std::string out = *dir_ + "/" + name;
    fs::remove_all(out);
    fs::copy(*dir_ + "/new", out, fs::copy_options::recursive);
    return out;
  };
  const std::string day = std::prev(rows_by_day_->end(), 3)->first;
  struct Case {
    std::string name;
    std::string input;
    std::vector<std::string> expected;
  };
  std::vector<Case> cases;
  {
    const std::string in = copy_new("missing_day");
    fs::remove(in + "/purchases-" + day + ".csv");
    cases.push_back(
        {"missing day", in, {"purchases-" + day + ".csv", "missing"}});
  }
  {
    const std::string in = copy_new("missing_column");
    const std::string file = in + "/purchases-" + day + ".csv";
    std::ofstream(file, std::ios::trunc)
        << "user_id,item_id,quantity\nu1,i1,1\n";
    cases.push_back({"missing column", in, {file, "line 1", "timestamp"}});
  }
  {
    const std::string in = copy_new("no_usable_row");
    const std::string file = in + "/purchases-" + day + ".csv";
    std::ofstream(file, std::ios::trunc)
        << *header_ << "\nu1,i1,not-a-time,1,2.5,c\n";
    cases.push_back(
        {"no usable row", in, {file, "no usable purchase rows", "line 2"}});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(RunNightly(c.input, root, "bad:", "", log), 1) << ReadAll(log);
    const std::string out = ReadAll(log);
    for (const std::string& e : c.expected)
      EXPECT_TRUE(absl::StrContains(out, e)) << out;
    EXPECT_EQ(Versions(root), versions);
    EXPECT_FALSE(fs::exists(root + "/refused"));
    EXPECT_EQ(Keys("bad:"), keys);
    EXPECT_EQ(LoadedVersion("bad:"), loaded);
  }
}

TEST_F(NightlyTest, TheGateRefusesAModelTrainedOnShuffledItemsUnlessForced) {
  const std::string root = CopyBase("gate");
  const std::string log = *dir_ + "/gate.log";
  ASSERT_EQ(RunNightly(*dir_ + "/old", root, "gate:", "", log), 0)
      << ReadAll(log);
  const std::vector<std::string> versions = Versions(root);
  const std::vector<std::string> keys = Keys("gate:");
  const std::string loaded = LoadedVersion("gate:");

  ASSERT_EQ(RunNightly(*dir_ + "/shuffled", root, "gate:", "", log), 3)
      << ReadAll(log);
  const std::string out = ReadAll(log);
  EXPECT_TRUE(absl::StrContains(out, "gate: refused")) << out;
  EXPECT_TRUE(absl::StrContains(out, "recsys_nightly: refused version="))
      << out;
  EXPECT_EQ(Versions(root), versions);
  EXPECT_EQ(Keys("gate:"), keys);
  EXPECT_EQ(LoadedVersion("gate:"), loaded);
  const std::vector<std::string> refused = Versions(root + "/refused");
  ASSERT_EQ(refused.size(), 1u);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      recsys::v1::ModelManifest m,
      model::ReadManifest(root + "/refused/" + refused[0]));
  EXPECT_EQ(m.gate().decision(), evaluation::kGateRefused);
  EXPECT_EQ(m.gate().current_version(), versions[0]);
  EXPECT_LT(m.gate().candidate_score(),
            m.gate().current_score() * (1 - m.gate().margin()));

  // The operator forces it: the refused version is published as it is,
  // recorded as forced, and loaded into Redis.
  ASSERT_EQ(RunNightly(*dir_ + "/shuffled", root, "gate:", "--force", log), 0)
      << ReadAll(log);
  const std::vector<std::string> forced = Versions(root);
  ASSERT_EQ(forced.size(), 2u);
  EXPECT_EQ(forced[0], refused[0]);
  EXPECT_TRUE(Versions(root + "/refused").empty());
  RECSYS_ASSERT_OK_AND_ASSIGN(recsys::v1::ModelManifest f,
                              model::ReadManifest(root + "/" + forced[0]));
  EXPECT_EQ(f.gate().decision(), evaluation::kGateForced);
  EXPECT_EQ(f.gate().candidate_score(), m.gate().candidate_score());
  EXPECT_EQ(LoadedVersion("gate:"), forced[0]);
}

}  // namespace
}  // namespace recsys::nightly
