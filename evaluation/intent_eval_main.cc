// recsys_eval_intent: the purchase-intent model against the RFM-rule
// baseline on a time split of a purchase file (evaluation/intent_eval.h).
//
//   recsys_eval_intent --input=online_retail.csv.gz --as_of=2011-11-09
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "evaluation/intent_eval.h"
#include "intelligence/config.h"
#include "training/csv_reader.h"

ABSL_FLAG(std::string, input, "",
          "Purchase file (any layout recsys_train reads), plain or .gz.");
ABSL_FLAG(std::string, as_of, "",
          "Split time (unix seconds or YYYY-MM-DD[ HH:MM:SS]): the model sees "
          "what came "
          "before, labels are orders in the following horizon.");
ABSL_FLAG(int, horizon_days, 30, "Label window, days.");
ABSL_FLAG(std::string, intelligence_config, "",
          "recsys.v1.IntelligenceConfig text file (intent settings); empty: "
          "defaults.");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto fail = [](const absl::Status& s) {
    std::fprintf(stderr, "recsys_eval_intent: %s\n", s.ToString().c_str());
    return 1;
  };
  recsys::evaluation::IntentEvalOptions options;
  if (const std::string path = absl::GetFlag(FLAGS_intelligence_config);
      !path.empty()) {
    auto config = recsys::intelligence::LoadIntelligenceConfig(path);
    if (!config.ok()) return fail(config.status());
    options.config = *std::move(config);
  }
  options.config.intent_horizon_days = absl::GetFlag(FLAGS_horizon_days);
  if (absl::Status s =
          recsys::intelligence::ValidateIntelligenceConfig(options.config);
      !s.ok()) {
    return fail(s);
  }
  const std::optional<int64_t> as_of =
      recsys::training::ParseTimestamp(absl::GetFlag(FLAGS_as_of));
  if (!as_of.has_value()) {
    return fail(absl::InvalidArgumentError(
        "--as_of: expected unix seconds or YYYY-MM-DD"));
  }
  options.as_of_unix = *as_of;
  std::vector<recsys::training::PurchaseRow> rows;
  recsys::training::ReadStats stats;
  absl::Status read = recsys::training::ReadPurchases(
      absl::GetFlag(FLAGS_input), {},
      [&](const recsys::training::PurchaseRow& row) { rows.push_back(row); },
      &stats);
  if (!read.ok()) return fail(read);
  auto report = recsys::evaluation::EvaluateIntent(rows, options);
  if (!report.ok()) return fail(report.status());
  std::printf(
      "rows %lld; users with an order by as_of %lld; bought within %d days: "
      "%.3f\n",
      static_cast<long long>(rows.size()),
      static_cast<long long>(report->users), options.config.intent_horizon_days,
      report->positive_rate);
  std::printf(
      "intent fit: train users %lld (positive rate %.3f), calibration users "
      "%lld (AUC %.3f, "
      "ECE %.3f)\n",
      static_cast<long long>(report->fit.train_users),
      report->fit.train_positive_rate,
      static_cast<long long>(report->fit.calibration_users),
      report->fit.calibration_auc, report->fit.calibration_ece);
  std::fputs(recsys::evaluation::FormatIntentTable(*report).c_str(), stdout);
  return 0;
}
