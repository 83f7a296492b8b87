// recsys_eval: runs every model on the evaluation protocols in one command,
// prints the result tables and writes a JSON report (docs/evaluation.md).
//
//   recsys_eval --data_dir ../shared/data --report_json eval.json
//   recsys_eval --input purchases.csv.gz --cut 2024-01-01
//   recsys_eval --input purchases.csv.gz --holdout_fraction 0.2 --seed 7
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "evaluation/defaults.h"
#include "evaluation/json.h"
#include "evaluation/protocols.h"
#include "training/csv_reader.h"

ABSL_FLAG(std::string, data_dir, "",
          "Directory of the benchmark files; default $RECSYS_DATA_DIR, else "
          "../shared/data.");
ABSL_FLAG(std::string, protocols, "A,B",
          "Protocols to run on --data_dir: A (online_retail time split), B "
          "(NCF ML-1M leave-one-out). Ignored when --input is set.");
ABSL_FLAG(std::string, input, "",
          "A purchase file (canonical CSV or any ReadPurchases layout) to "
          "evaluate instead of the benchmarks, with --cut or "
          "--holdout_fraction.");
ABSL_FLAG(std::string, format, "auto", recsys::training::kFormatFlagHelp);
ABSL_FLAG(std::string, columns, "", recsys::training::kColumnsFlagHelp);
ABSL_FLAG(std::string, delimiter, ",", recsys::training::kDelimiterFlagHelp);
ABSL_FLAG(std::string, cut, "2011-09-01",
          "Time split: train on rows before, test on rows at or after (unix "
          "seconds or YYYY-MM-DD[ HH:MM:SS], UTC).");
ABSL_FLAG(double, holdout_fraction, 0,
          "With --input: per-user random holdout of this share of each user's "
          "items instead of the time split.");
ABSL_FLAG(uint64_t, seed, 1, "Seed of the holdout.");
ABSL_FLAG(std::string, ks, "10,20", "Cut-offs K of the split protocols.");
ABSL_FLAG(std::string, models, "all",
          "Models: popularity,buy_again,item_knn,ials,ease,production_ranker "
          "or all.");
ABSL_FLAG(std::string, ials, recsys::evaluation::kDefaultRetailIals,
          "iALS of the split protocols (the stand-alone vector model): "
          "key=value list, see ParseIalsSpec.");
ABSL_FLAG(std::string, ranker_ials, recsys::evaluation::kDefaultRankerIals,
          "iALS of the production ranker (both its trainings).");
ABSL_FLAG(std::string, ncf_ials, recsys::evaluation::kDefaultNcfIals,
          "iALS of protocol B.");
ABSL_FLAG(std::string, extra_models, recsys::evaluation::kDefaultRetailExtra,
          "Further models for the split protocols, ';'-separated "
          "TrainModelFromSpec texts (e.g. blends).");
ABSL_FLAG(std::string, ncf_extra_models, recsys::evaluation::kDefaultNcfExtra,
          "Further models for protocol B.");
ABSL_FLAG(int, knn_neighbors, recsys::evaluation::kDefaultRetailKnnNeighbors,
          "item_knn of the split protocols: neighbours kept per item (0 = "
          "all).");
ABSL_FLAG(int, ncf_knn_neighbors, recsys::evaluation::kDefaultNcfKnnNeighbors,
          "item_knn of protocol B.");
ABSL_FLAG(double, ease_lambda, recsys::evaluation::kDefaultRetailEaseLambda,
          "ease: L2 weight of the split protocols.");
ABSL_FLAG(double, ncf_ease_lambda, recsys::evaluation::kDefaultNcfEaseLambda,
          "ease: L2 weight of protocol B.");
ABSL_FLAG(bool, ranker_tune, true,
          "Production ranker: the trainer's self-tuning and validation guard "
          "(recsys_train --tune, on in recsys_nightly); false: the plain fit.");
ABSL_FLAG(bool, ranker_ceiling, false,
          "Time splits: also evaluate ranker_ceiling, the production ranker with "
          "weights fit on the test period itself (a diagnostic bound of what "
          "better weights could reach; never a baseline, never served).");
ABSL_FLAG(double, ranker_tune_budget_seconds, 0,
          "Production ranker with tuning: time budget of the candidates in "
          "seconds; 0: 5 x the measured plain training, as the trainer.");
ABSL_FLAG(double, ranker_guard_confidence, 0.95,
          "Production ranker with tuning: recsys_train's --tune_guard_confidence.");
ABSL_FLAG(int, validation_days, 30,
          "Production ranker: days at the end of the training period whose "
          "purchases label the weight fit.");
ABSL_FLAG(int, vector_candidates, 200,
          "Production ranker: nearest items by vector that are candidates.");
ABSL_FLAG(int, threads, 2, "Worker threads.");
ABSL_FLAG(std::string, report_json, "", "Write the JSON report here.");

namespace {

using recsys::evaluation::Json;

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "recsys_eval: %s\n", status.ToString().c_str());
  return 1;
}

void LogLine(absl::string_view line) {
  std::fprintf(stderr, "%.*s\n", static_cast<int>(line.size()), line.data());
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Offline evaluation of every recommendation model.\n"
      "  recsys_eval --data_dir ../shared/data --report_json eval.json");
  absl::ParseCommandLine(argc, argv);
  namespace ev = recsys::evaluation;

  std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  if (data_dir.empty()) {
    const char* env = std::getenv("RECSYS_DATA_DIR");
    data_dir = env != nullptr && *env != '\0' ? env : "../shared/data";
  }
  std::vector<int> ks;
  for (absl::string_view k : absl::StrSplit(absl::GetFlag(FLAGS_ks), ',')) {
    int v = 0;
    if (!absl::SimpleAtoi(k, &v) || v < 1) {
      return Fail(absl::InvalidArgumentError("--ks: bad cut-off"));
    }
    ks.push_back(v);
  }
  std::optional<int64_t> cut =
      recsys::training::ParseTimestamp(absl::GetFlag(FLAGS_cut));
  if (!cut) return Fail(absl::InvalidArgumentError("--cut: bad time"));
  absl::StatusOr<ev::ModelSelection> models =
      ev::ParseModelSelection(absl::GetFlag(FLAGS_models));
  if (!models.ok()) return Fail(models.status());

  ev::ModelOptions model;
  model.models = *models;
  model.threads = absl::GetFlag(FLAGS_threads);
  model.knn.neighbors = absl::GetFlag(FLAGS_knn_neighbors);
  model.ranker.validation_days = absl::GetFlag(FLAGS_validation_days);
  model.ranker.tune = absl::GetFlag(FLAGS_ranker_tune);
  model.ranker_ceiling = absl::GetFlag(FLAGS_ranker_ceiling);
  model.ranker.tune_budget_seconds = absl::GetFlag(FLAGS_ranker_tune_budget_seconds);
  model.ranker.tune_guard_confidence = absl::GetFlag(FLAGS_ranker_guard_confidence);
  model.ranker.vector_candidates = absl::GetFlag(FLAGS_vector_candidates);
  absl::StatusOr<ev::IalsSpec> ials =
      ev::ParseIalsSpec(absl::GetFlag(FLAGS_ials), ev::IalsSpec());
  if (!ials.ok()) return Fail(ials.status());
  absl::StatusOr<ev::IalsSpec> ranker_ials =
      ev::ParseIalsSpec(absl::GetFlag(FLAGS_ranker_ials), ev::IalsSpec());
  if (!ranker_ials.ok()) return Fail(ranker_ials.status());
  model.ranker.ials = *ranker_ials;
  absl::StatusOr<ev::IalsSpec> ncf_ials =
      ev::ParseIalsSpec(absl::GetFlag(FLAGS_ncf_ials), ev::IalsSpec());
  if (!ncf_ials.ok()) return Fail(ncf_ials.status());

  auto specs = [](const std::string& text) {
    std::vector<std::string> out;
    for (absl::string_view s :
         absl::StrSplit(text, ';', absl::SkipWhitespace())) {
      out.emplace_back(absl::StripAsciiWhitespace(s));
    }
    return out;
  };

  Json report = Json::Object();
  report.Set("data_dir", data_dir);
  Json protocols = Json::Array();
  auto run_split = [&](ev::SplitProtocolOptions options) -> absl::Status {
    options.ks = ks;
    options.model = model;
    options.model.ials = *ials;
    options.model.ease.lambda = absl::GetFlag(FLAGS_ease_lambda);
    options.model.extra_specs = specs(absl::GetFlag(FLAGS_extra_models));
    options.log = LogLine;
    absl::StatusOr<ev::ProtocolOutput> out = ev::RunSplitProtocol(options);
    if (!out.ok()) return out.status();
    std::printf("%s\n", out->text.c_str());
    protocols.Push(std::move(out->report));
    return absl::OkStatus();
  };

  const std::string input = absl::GetFlag(FLAGS_input);
  if (!input.empty()) {
    ev::SplitProtocolOptions options;
    options.input = input;
    if (absl::Status s = recsys::training::ParseInputFlags(
            absl::GetFlag(FLAGS_format), absl::GetFlag(FLAGS_columns),
          absl::GetFlag(FLAGS_delimiter), &options.read);
        !s.ok()) {
      return Fail(s);
    }
    const double fraction = absl::GetFlag(FLAGS_holdout_fraction);
    if (fraction > 0) {
      options.kind = ev::SplitKind::kHoldout;
      options.holdout_fraction = fraction;
      options.seed = absl::GetFlag(FLAGS_seed);
      options.name = absl::StrCat(input, ": per-user holdout");
    } else {
      options.kind = ev::SplitKind::kTime;
      options.cut_unix = *cut;
      options.name = absl::StrCat(input, ": time split");
    }
    if (absl::Status s = run_split(options); !s.ok()) return Fail(s);
  } else {
    for (absl::string_view p :
         absl::StrSplit(absl::GetFlag(FLAGS_protocols), ',')) {
      if (p == "A") {
        ev::SplitProtocolOptions options;
        options.name = "Protocol A: online_retail time split";
        options.input = data_dir + "/online_retail.csv.gz";
        options.read.format = recsys::training::PurchaseFormat::kOnlineRetail;
        options.kind = ev::SplitKind::kTime;
        options.cut_unix = *cut;
        if (absl::Status s = run_split(options); !s.ok()) return Fail(s);
        std::printf("%s\n", ev::kQuotedRetailBaselines);
      } else if (p == "B") {
        ev::LeaveOneOutProtocolOptions options;
        options.name = "Protocol B: NCF ML-1M leave-one-out";
        options.train_path = data_dir + "/ncf_ml-1m.train.pairs.tsv.gz";
        options.test_rating_path = data_dir + "/ncf_ml-1m.test.rating.gz";
        options.test_negative_path = data_dir + "/ncf_ml-1m.test.negative.gz";
        options.model = model;
        options.model.ials = *ncf_ials;
        options.model.ease.lambda = absl::GetFlag(FLAGS_ncf_ease_lambda);
        options.model.knn.neighbors = absl::GetFlag(FLAGS_ncf_knn_neighbors);
        options.model.extra_specs =
            specs(absl::GetFlag(FLAGS_ncf_extra_models));
        options.log = LogLine;
        absl::StatusOr<ev::ProtocolOutput> out =
            ev::RunLeaveOneOutProtocol(options);
        if (!out.ok()) return Fail(out.status());
        std::printf("%s%s\n", out->text.c_str(), ev::kQuotedNcfBaselines);
        protocols.Push(std::move(out->report));
      } else {
        return Fail(absl::InvalidArgumentError(
            absl::StrCat("--protocols: unknown protocol '", p, "' (A, B)")));
      }
    }
  }
  report.Set("protocols", std::move(protocols));
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
