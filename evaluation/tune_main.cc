// recsys_tune: hyperparameter search for iALS, selected on validation data
// carved from the training data, then one evaluation of the chosen
// configuration on the test data (docs/evaluation.md).
//
//   recsys_tune --protocol A --trials 24 --report_json tune_a.json
//   recsys_tune --protocol B --space "factors=192;reg=0.01|0.05" --trials 0
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "evaluation/dataset.h"
#include "evaluation/defaults.h"
#include "evaluation/evaluator.h"
#include "evaluation/json.h"
#include "evaluation/protocols.h"
#include "evaluation/tuning.h"
#include "training/csv_reader.h"

ABSL_FLAG(std::string, protocol, "A",
          "A: online_retail time split; B: NCF ML-1M leave-one-out; input: "
          "--input with a time split at --cut.");
ABSL_FLAG(
    std::string, data_dir, "",
    "Benchmark directory; default $RECSYS_DATA_DIR, else ../shared/data.");
ABSL_FLAG(std::string, input, "", "Purchase file for --protocol input.");
ABSL_FLAG(std::string, format, "auto", recsys::training::kFormatFlagHelp);
ABSL_FLAG(std::string, columns, "", recsys::training::kColumnsFlagHelp);
ABSL_FLAG(std::string, delimiter, ",", recsys::training::kDelimiterFlagHelp);
ABSL_FLAG(std::string, cut, "2011-09-01",
          "Test cut of the time split (the search only reads rows before it).");
ABSL_FLAG(int, validation_days, 30,
          "Time split: the validation window is the last days before --cut.");
ABSL_FLAG(std::string, base, "",
          "Base iALS spec (key=value list); default: the protocol's default.");
ABSL_FLAG(std::string, space,
          "factors=32|64|128;reg=0.01|0.05|0.2|1;alpha=1|3|10|30;"
          "iterations=15;decay=0|60|180;scaling=log;signal=events|quantity",
          "Search space: key=v1|v2|...; separated by ';'.");
ABSL_FLAG(int, trials, 24,
          "Random iALS configurations drawn from the space (0 = the full "
          "grid).");
ABSL_FLAG(std::string, candidates, "",
          "Further candidates, ';'-separated model specs (e.g. "
          "\"ease[lambda=300];item_knn[neighbors=50];"
          "ials[factors=64]*0.5+ease[lambda=300]*0.5;"
          "production_ranker[factors=64,reg=20]\"). With an empty "
          "--space only these are tried.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the random search and of the carving.");
ABSL_FLAG(std::string, select_setting, "new",
          "Time split: setting of the objective NDCG@K (new | all).");
ABSL_FLAG(int, select_k, 20, "Time split: K of the objective NDCG@K.");
ABSL_FLAG(int, threads, 2, "Worker threads.");
ABSL_FLAG(std::string, report_json, "", "Write every trial here (JSON).");

namespace {

namespace ev = recsys::evaluation;
using ev::Json;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "recsys_tune: %s\n", status.ToString().c_str());
  return 1;
}

void Progress(const ev::Trial& t, int index, int total) {
  std::fprintf(stderr, "trial %d/%d %s -> %.4f (%.1fs)\n", index + 1, total,
               t.spec.c_str(), t.objective, t.seconds);
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Hyperparameter search for iALS on validation data carved from the "
      "training data.\n  recsys_tune --protocol A --trials 24");
  absl::ParseCommandLine(argc, argv);

  std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  if (data_dir.empty()) {
    const char* env = std::getenv("RECSYS_DATA_DIR");
    data_dir = env != nullptr && *env != '\0' ? env : "../shared/data";
  }
  const std::string protocol = absl::GetFlag(FLAGS_protocol);
  const bool loo = protocol == "B";
  if (!loo && protocol != "A" && protocol != "input") {
    return Fail(absl::InvalidArgumentError("--protocol: A | B | input"));
  }
  std::string base_text = absl::GetFlag(FLAGS_base);
  if (base_text.empty()) {
    base_text = loo ? ev::kDefaultNcfIals : ev::kDefaultRetailIals;
  }
  absl::StatusOr<ev::IalsSpec> base = ev::ParseIalsSpec(base_text, {});
  if (!base.ok()) return Fail(base.status());
  std::vector<std::string> configs;
  if (!absl::GetFlag(FLAGS_space).empty()) {
    absl::StatusOr<ev::SearchSpace> space =
        ev::ParseSearchSpace(absl::GetFlag(FLAGS_space));
    if (!space.ok()) return Fail(space.status());
    const int trials = absl::GetFlag(FLAGS_trials);
    configs = ev::IalsCandidates(
        trials > 0 ? ev::RandomConfigs(*base, *space, trials,
                                       absl::GetFlag(FLAGS_seed))
                   : ev::GridConfigs(*base, *space));
  }
  for (absl::string_view c : absl::StrSplit(absl::GetFlag(FLAGS_candidates),
                                            ';', absl::SkipWhitespace())) {
    configs.emplace_back(absl::StripAsciiWhitespace(c));
  }
  const int threads = absl::GetFlag(FLAGS_threads);

  Json report = Json::Object();
  report.Set("protocol", protocol);
  report.Set("space", absl::GetFlag(FLAGS_space));
  report.Set("base", ev::FormatIalsSpec(*base));
  absl::StatusOr<ev::TuneResult> tuned;
  Json test = Json::Object();
  std::string test_text;

  if (loo) {
    const std::string train_path = data_dir + "/ncf_ml-1m.train.pairs.tsv.gz";
    absl::StatusOr<ev::LeaveOneOutData> data =
        ev::ReadLeaveOneOut(train_path, data_dir + "/ncf_ml-1m.test.rating.gz",
                            data_dir + "/ncf_ml-1m.test.negative.gz");
    if (!data.ok()) return Fail(data.status());
    ev::LeaveOneOutTuneOptions options;
    options.seed = absl::GetFlag(FLAGS_seed);
    options.threads = threads;
    options.on_trial = Progress;
    // Selection sees the training pairs only.
    tuned = ev::TuneOnLeaveOneOut(data->train, configs, options);
    if (!tuned.ok()) return Fail(tuned.status());
    const std::string& best = tuned->trials[tuned->best].spec;
    absl::StatusOr<std::unique_ptr<ev::Model>> model =
        ev::TrainModelFromSpec(best, &data->train, threads);
    if (!model.ok()) return Fail(model.status());
    absl::StatusOr<ev::LeaveOneOutResult> r =
        ev::EvaluateLeaveOneOut(**model, *data, options.k, threads);
    if (!r.ok()) return Fail(r.status());
    test = ev::LeaveOneOutToJson(*r);
    test_text =
        absl::StrFormat("test (once): HR@%d %.4f NDCG@%d %.4f, %d users", r->k,
                        r->hit_rate, r->k, r->ndcg, r->users);
  } else {
    std::optional<int64_t> cut =
        recsys::training::ParseTimestamp(absl::GetFlag(FLAGS_cut));
    if (!cut) return Fail(absl::InvalidArgumentError("--cut: bad time"));
    recsys::training::ReadOptions read;
    std::string input = absl::GetFlag(FLAGS_input);
    if (protocol == "A") {
      input = data_dir + "/online_retail.csv.gz";
      read.format = recsys::training::PurchaseFormat::kOnlineRetail;
    } else {
      if (absl::Status s = recsys::training::ParseInputFlags(
              absl::GetFlag(FLAGS_format), absl::GetFlag(FLAGS_columns),
          absl::GetFlag(FLAGS_delimiter), &read);
          !s.ok()) {
        return Fail(s);
      }
    }
    // The search reads the training period only: rows before the cut.
    recsys::training::ReadOptions train_read = read;
    train_read.before_unix = *cut;
    absl::StatusOr<ev::PurchaseLog> training_period =
        ev::ReadPurchaseLog(input, train_read);
    if (!training_period.ok()) return Fail(training_period.status());
    ev::TimeTuneOptions options;
    options.cut_unix = *cut;
    options.validation_days = absl::GetFlag(FLAGS_validation_days);
    options.select_setting = absl::GetFlag(FLAGS_select_setting);
    options.ranker.validation_days = absl::GetFlag(FLAGS_validation_days);
    options.select_k = absl::GetFlag(FLAGS_select_k);
    options.threads = threads;
    options.on_trial = Progress;
    tuned = ev::TuneOnTimeWindow(*training_period, configs, options);
    if (!tuned.ok()) return Fail(tuned.status());
    // Then, once, the test window with the chosen configuration.
    absl::StatusOr<ev::PurchaseLog> log = ev::ReadPurchaseLog(input, read);
    if (!log.ok()) return Fail(log.status());
    const ev::EvalSplit split = ev::SplitByTime(*log, *cut);
    const std::string& best = tuned->trials[tuned->best].spec;
    absl::StatusOr<std::unique_ptr<ev::Model>> model = ev::TrainCandidate(
        best, &*training_period, &split.train, *cut, options.ranker, threads);
    if (!model.ok()) return Fail(model.status());
    ev::SplitEvalOptions eval;
    eval.threads = threads;
    absl::StatusOr<std::vector<ev::SettingResult>> r =
        ev::EvaluateSplit(**model, split, eval);
    if (!r.ok()) return Fail(r.status());
    test = ev::SettingResultsToJson(*r);
    test.Set("split", ev::SplitStatsToJson(split));
    test_text =
        absl::StrCat("test (once), chosen configuration:\n",
                     ev::FormatSplitTable(
                         {ev::TableRow{(*model)->name(), *r, ""}}, eval.ks));
  }
  const ev::TuneResult& result = *tuned;
  std::printf("%s\nobjective: %s\n%s", protocol.c_str(),
              result.objective.c_str(), ev::FormatTuneTable(result).c_str());
  std::printf("chosen: %s\n%s\n", result.trials[result.best].spec.c_str(),
              test_text.c_str());
  report.Set("search", ev::TuneResultToJson(result));
  report.Set("chosen", result.trials[result.best].spec);
  report.Set("test", std::move(test));
  const std::string path = absl::GetFlag(FLAGS_report_json);
  if (!path.empty()) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << report.Dump();
    if (!out) {
      return Fail(absl::InternalError(absl::StrCat("cannot write ", path)));
    }
    std::fprintf(stderr, "report written to %s\n", path.c_str());
  }
  return 0;
}
