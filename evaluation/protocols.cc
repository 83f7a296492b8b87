#include "evaluation/protocols.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "evaluation/dataset.h"

namespace recsys::evaluation {
namespace {

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

const std::vector<std::string>& AllModels() {
  static const auto* names =
      new std::vector<std::string>({"popularity", "buy_again", "item_knn",
                                    "ials", "ease", "production_ranker"});
  return *names;
}

void Log(const std::function<void(absl::string_view)>& log,
         absl::string_view line) {
  if (log) log(line);
}

// Trains one of the generic models (not the production ranker).
absl::StatusOr<std::unique_ptr<Model>> TrainModel(
    absl::string_view name, const training::InteractionData* train,
    const ModelOptions& options) {
  if (name == "popularity") return NewPopularityModel(train);
  if (name == "buy_again") return NewBuyAgainModel(train);
  if (name == "item_knn") {
    ItemKnnOptions knn = options.knn;
    knn.threads = options.threads;
    return NewItemKnnModel(train, knn);
  }
  if (name == "ials") {
    IalsSpec spec = options.ials;
    spec.als.threads = options.threads;
    return NewIalsModel(train, spec);
  }
  if (name == "ease") return NewEaseModel(train, options.ease);
  return absl::InvalidArgumentError(absl::StrCat("unknown model ", name));
}

Json ReadStatsToJson(const training::ReadStats& stats) {
  Json skipped = Json::Object();
  for (const auto& [reason, rows] : stats.skipped) skipped.Set(reason, rows);
  return Json::Object()
      .Set("format", training::PurchaseFormatName(stats.format))
      .Set("rows_read", stats.rows_read)
      .Set("rows_used", stats.rows_used)
      .Set("skipped", std::move(skipped))
      .Set("first", UnixDate(stats.first_unix))
      .Set("last", UnixDate(stats.last_unix));
}

}  // namespace

std::string UnixDate(int64_t unix_seconds) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(unix_seconds),
                          absl::UTCTimeZone());
}

bool ModelSelection::has(absl::string_view name) const {
  for (const std::string& n : names) {
    if (n == name) return true;
  }
  return false;
}

absl::StatusOr<ModelSelection> ParseModelSelection(absl::string_view text) {
  ModelSelection s;
  if (text == "all") return s;
  s.names.clear();
  for (absl::string_view n :
       absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    bool known = false;
    for (const std::string& m : AllModels()) known |= (m == n);
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown model '", n, "' (expected ",
                       absl::StrJoin(AllModels(), ", "), " or all)"));
    }
    s.names.emplace_back(n);
  }
  return s;
}

absl::StatusOr<ProtocolOutput> RunSplitProtocol(
    const SplitProtocolOptions& options) {
  const Clock::time_point start = Clock::now();
  if (options.kind == SplitKind::kHoldout &&
      !(options.holdout_fraction > 0 && options.holdout_fraction < 1)) {
    return absl::InvalidArgumentError("holdout_fraction must be in (0, 1)");
  }
  RECSYS_ASSIGN_OR_RETURN(PurchaseLog log,
                          ReadPurchaseLog(options.input, options.read));
  const double read_seconds = SecondsSince(start);
  Log(options.log, absl::StrCat("read ", options.input, ": ", log.rows.size(),
                                " purchase rows, ", log.user_ids.size(),
                                " users, ", log.item_ids.size(), " items"));
  const bool time_split = options.kind == SplitKind::kTime;
  EvalSplit split =
      time_split ? SplitByTime(log, options.cut_unix)
                 : SplitByHoldout(log, options.holdout_fraction, options.seed);
  Log(options.log,
      absl::StrCat("split ", split.kind, ": train rows ",
                   split.stats.train_rows, ", test rows ",
                   split.stats.test_rows, ", evaluated users ",
                   split.stats.evaluated_users, " (",
                   split.stats.users_with_new_items, " with new items)"));
  if (split.stats.evaluated_users == 0) {
    return absl::FailedPreconditionError(
        "the split has no user present in both training and test");
  }

  ProtocolOutput out;
  Json report = Json::Object();
  report.Set("name", options.name);
  report.Set("input", options.input);
  report.Set("read", ReadStatsToJson(log.read_stats));
  report.Set("purchases",
             Json::Object()
                 .Set("rows", static_cast<int64_t>(log.rows.size()))
                 .Set("users", static_cast<int64_t>(log.user_ids.size()))
                 .Set("items", static_cast<int64_t>(log.item_ids.size())));
  Json split_json = SplitStatsToJson(split);
  if (time_split) {
    split_json.Set("cut", UnixDate(options.cut_unix));
  } else {
    split_json.Set("holdout_fraction", options.holdout_fraction)
        .Set("seed", options.seed);
  }
  report.Set("split", std::move(split_json));
  Json ks = Json::Array();
  for (int k : options.ks) ks.Push(k);
  report.Set("ks", std::move(ks));

  SplitEvalOptions eval;
  eval.ks = options.ks;
  eval.threads = options.model.threads;
  Json models = Json::Array();
  std::vector<std::string> notes;
  std::vector<std::string> names = options.model.models.names;
  if (options.model.ranker_ceiling) {
    if (time_split) {
      names.push_back("ranker_ceiling");
    } else {
      notes.push_back("ranker_ceiling skipped: it needs a time split");
    }
  }
  const size_t num_named = names.size();
  for (const std::string& spec : options.model.extra_specs)
    names.push_back(spec);
  for (size_t n = 0; n < names.size(); ++n) {
    const std::string& name = names[n];
    const bool extra = n >= num_named;
    if (!extra && name == "ease" && split.train.num_items() > 20000) {
      notes.push_back("ease skipped: more than 20000 items");
      continue;
    }
    Json mj = Json::Object();
    mj.Set("model", name);
    std::unique_ptr<Model> model;
    Json fit_json;
    bool has_fit = false;
    if (name == "production_ranker") {
      if (!time_split) {
        notes.push_back(
            "production_ranker skipped: it needs a time split (validation "
            "window and ranking time)");
        continue;
      }
      const PurchaseLog training_period = SliceByTime(
          log, std::numeric_limits<int64_t>::min(), options.cut_unix);
      ProductionRankerOptions ranker = options.model.ranker;
      ranker.ials.als.threads = options.model.threads;
      ranker.fit.threads = options.model.threads;
      ranker.tune_read_seconds = read_seconds;
      RankerFitReport fit;
      RECSYS_ASSIGN_OR_RETURN(
          model, NewProductionRankerModel(training_period, &split.train,
                                          options.cut_unix, ranker, &fit));
      has_fit = true;
      fit_json =
          Json::Object()
              .Set("window", absl::StrCat(UnixDate(fit.window_start_unix), "..",
                                          UnixDate(fit.window_end_unix)))
              .Set("fit_period_rows", fit.fit_period_rows)
              .Set("window_rows", fit.window_rows)
              .Set("fit_users", fit.fit_users)
              .Set("fit_items", fit.fit_items)
              .Set("users", fit.fit.users)
              .Set("examples", fit.fit.examples)
              .Set("positives", fit.fit.positives)
              .Set("candidate_recall", fit.fit.candidate_recall)
              .Set("log_loss", fit.fit.log_loss);
      if (fit.tuning.candidates_size() > 0) {
        Json candidates = Json::Array();
        for (const auto& c : fit.tuning.candidates()) {
          candidates.Push(Json::Object()
                              .Set("spec", c.spec())
                              .Set("recall_all", c.recall_all())
                              .Set("recall_new", c.recall_new())
                              .Set("objective", c.objective())
                              .Set("seconds", c.seconds())
                              .Set("skipped", c.skipped()));
        }
        const auto& g = fit.weights.guard;
        fit_json.Set("tuning",
                     Json::Object()
                         .Set("chosen", fit.tuning.candidates(fit.tuning.chosen()).spec())
                         .Set("chosen_new",
                              fit.tuning.candidates(fit.tuning.chosen_new()).spec())
                         .Set("budget_seconds", fit.tuning.budget_seconds())
                         .Set("seconds", fit.tuning.seconds())
                         .Set("candidates", std::move(candidates))
                         .Set("serve_all", std::string(model::RankerServeName(fit.weights.serve_all)))
                         .Set("serve_new", std::string(model::RankerServeName(fit.weights.serve_new)))
                         .Set("guard", Json::Object()
                                           .Set("ranker_all", g.ranker_all())
                                           .Set("popularity_all", g.popularity_all())
                                           .Set("buy_again_all", g.buy_again_all())
                                           .Set("vector_all", g.vector_all())
                                           .Set("neighbors_all", g.neighbors_all())
                                           .Set("ranker_new", g.ranker_new())
                                           .Set("popularity_new", g.popularity_new())
                                           .Set("vector_new", g.vector_new())
                                           .Set("neighbors_new", g.neighbors_new())
                                           .Set("fusion_all", fit.fusion_all)
                                           .Set("fusion_new", fit.fusion_new)
                                           .Set("confidence", g.confidence())
                                           .Set("rival_all", g.rival_all())
                                           .Set("rival_new", g.rival_new())
                                           .Set("margin_all_lower", g.margin_all_lower())
                                           .Set("margin_all_upper", g.margin_all_upper())
                                           .Set("margin_new_lower", g.margin_new_lower())
                                           .Set("margin_new_upper", g.margin_new_upper())));
        Log(options.log,
            absl::StrFormat("ranker tuned: chose %s (new items: %s); guard serves all items: "
                            "%s, new items: %s (validation R@20 all: ranker %.4f, popularity "
                            "%.4f, buy_again %.4f, vector %.4f, neighbors %.4f, fusion %.4f; "
                            "new: ranker %.4f, popularity %.4f, vector %.4f, neighbors %.4f, "
                            "fusion %.4f; ranker minus %s %+.4f..%+.4f, minus %s "
                            "%+.4f..%+.4f at %.0f%%)",
                            fit.tuning.candidates(fit.tuning.chosen()).spec(),
                            fit.tuning.candidates(fit.tuning.chosen_new()).spec(),
                            model::RankerServeName(fit.weights.serve_all),
                            model::RankerServeName(fit.weights.serve_new), g.ranker_all(),
                            g.popularity_all(), g.buy_again_all(), g.vector_all(),
                            g.neighbors_all(), fit.fusion_all, g.ranker_new(),
                            g.popularity_new(), g.vector_new(), g.neighbors_new(),
                            fit.fusion_new, g.rival_all(), g.margin_all_lower(),
                            g.margin_all_upper(), g.rival_new(), g.margin_new_lower(),
                            g.margin_new_upper(), 100 * g.confidence()));
      }
      Log(options.log,
          absl::StrFormat("ranker fit on %s..%s: %d users, %d examples, %d "
                          "positives, candidate recall %.4f, log loss %.4f",
                          UnixDate(fit.window_start_unix),
                          UnixDate(fit.window_end_unix), fit.fit.users,
                          fit.fit.examples, fit.fit.positives,
                          fit.fit.candidate_recall, fit.fit.log_loss));
    } else if (!extra && name == "ranker_ceiling") {
      ProductionRankerOptions ranker = options.model.ranker;
      ranker.ials.als.threads = options.model.threads;
      ranker.fit.threads = options.model.threads;
      const int k =
          options.ks.empty() ? 20 : *std::max_element(options.ks.begin(), options.ks.end());
      RECSYS_ASSIGN_OR_RETURN(model, NewRankerCeilingModel(split, ranker, k));
    } else if (extra) {
      RECSYS_ASSIGN_OR_RETURN(
          model, TrainModelFromSpec(name, &split.train, options.model.threads));
    } else {
      RECSYS_ASSIGN_OR_RETURN(model,
                              TrainModel(name, &split.train, options.model));
    }
    const Clock::time_point eval_start = Clock::now();
    RECSYS_ASSIGN_OR_RETURN(std::vector<SettingResult> results,
                            EvaluateSplit(*model, split, eval));
    const double eval_seconds = SecondsSince(eval_start);
    Log(options.log,
        absl::StrFormat("%s: trained in %.1fs, evaluated in %.1fs", name,
                        model->train_seconds(), eval_seconds));
    mj.Set("params", ParamsToJson(model->params()));
    if (name == "ials") {
      mj.Set("ials_spec", FormatIalsSpec(options.model.ials));
    } else if (name == "production_ranker" || name == "ranker_ceiling") {
      mj.Set("ials_spec", FormatIalsSpec(options.model.ranker.ials));
    }
    if (has_fit) {
      mj.Set("ranker_fit", std::move(fit_json));
    }
    mj.Set("train_seconds", model->train_seconds());
    mj.Set("eval_seconds", eval_seconds);
    mj.Set("results", SettingResultsToJson(results));
    models.Push(std::move(mj));
    if (extra) {
      out.rows.push_back(
          TableRow{absl::StrCat("extra", n - num_named + 1, " ", model->name()),
                   std::move(results), ""});
      notes.push_back(absl::StrCat("extra", n - num_named + 1, ": ", name));
    } else {
      out.rows.push_back(TableRow{name, std::move(results), ""});
    }
  }
  report.Set("models", std::move(models));
  // The production ranker against every other model, paired over users.
  const TableRow* ranker_row = nullptr;
  for (const TableRow& row : out.rows) {
    if (row.model == "production_ranker") ranker_row = &row;
  }
  if (ranker_row != nullptr) {
    Json paired = Json::Array();
    for (const TableRow& row : out.rows) {
      if (&row == ranker_row) continue;
      for (const SettingResult& mine : ranker_row->results) {
        for (const SettingResult& theirs : row.results) {
          if (theirs.setting != mine.setting) continue;
          for (size_t k = 0; k < options.ks.size(); ++k) {
            absl::StatusOr<PairedDifference> d =
                PairedRecallDifference(mine, theirs, static_cast<int>(k));
            if (!d.ok()) continue;  // fewer than 2 shared users
            paired.Push(Json::Object()
                            .Set("model", row.model)
                            .Set("setting", mine.setting)
                            .Set("k", options.ks[k])
                            .Set("users", d->users)
                            .Set("recall_difference", d->difference)
                            .Set("ci95_lower", d->lower)
                            .Set("ci95_upper", d->upper));
          }
        }
      }
    }
    report.Set("production_ranker_paired", std::move(paired));
  }
  Json notes_json = Json::Array();
  for (const std::string& n : notes) notes_json.Push(n);
  report.Set("notes", std::move(notes_json));
  report.Set("seconds", SecondsSince(start));

  out.text = absl::StrCat(
      options.name, "\n",
      time_split
          ? absl::StrCat("train < ", UnixDate(options.cut_unix), " <= test")
          : absl::StrFormat("holdout %.2f of each user's items, seed %d",
                            options.holdout_fraction, options.seed),
      "; evaluated users: ", split.stats.evaluated_users, " (all items), ",
      split.stats.users_with_new_items, " (new items); catalog ",
      split.train.num_items(), " items\n",
      FormatSplitTable(out.rows, options.ks));
  for (const std::string& n : notes) absl::StrAppend(&out.text, n, "\n");
  out.report = std::move(report);
  return out;
}

absl::StatusOr<ProtocolOutput> RunLeaveOneOutProtocol(
    const LeaveOneOutProtocolOptions& options) {
  const Clock::time_point start = Clock::now();
  RECSYS_ASSIGN_OR_RETURN(
      LeaveOneOutData data,
      ReadLeaveOneOut(options.train_path, options.test_rating_path,
                      options.test_negative_path));
  Log(options.log,
      absl::StrCat("read leave-one-out data: ", data.train.num_users(),
                   " users, ", data.train.num_items(), " items, ",
                   data.train.events.nnz(), " training pairs, ",
                   data.test_users, " test users"));
  ProtocolOutput out;
  Json report = Json::Object();
  report.Set("name", options.name);
  report.Set("files", Json::Object()
                          .Set("train", options.train_path)
                          .Set("test_rating", options.test_rating_path)
                          .Set("test_negative", options.test_negative_path));
  report.Set("data", Json::Object()
                         .Set("users", data.train.num_users())
                         .Set("items", data.train.num_items())
                         .Set("train_pairs", data.train.events.nnz())
                         .Set("test_users", data.test_users)
                         .Set("negatives_equal_to_positive_skipped",
                              data.negatives_equal_to_positive));
  report.Set("k", options.k);
  Json models = Json::Array();
  std::vector<std::string> notes;
  std::string table = absl::StrFormat(
      "%-18s %7s %8s %9s\n", "model", absl::StrCat("HR@", options.k),
      absl::StrCat("NDCG@", options.k), "train_s");
  std::vector<std::string> names = options.model.models.names;
  const size_t num_named = names.size();
  for (const std::string& spec : options.model.extra_specs)
    names.push_back(spec);
  for (size_t n = 0; n < names.size(); ++n) {
    const std::string& name = names[n];
    const bool extra = n >= num_named;
    if (!extra && name == "ease" && data.train.num_items() > 20000) {
      notes.push_back("ease skipped: more than 20000 items");
      continue;
    }
    if (!extra && (name == "buy_again" || name == "production_ranker")) {
      notes.push_back(absl::StrCat(
          name, " skipped: ",
          name == "buy_again"
              ? "the held-out item is never in the user's training history"
              : "the pairs carry no timestamps (no validation window, no "
                "recency)"));
      continue;
    }
    std::unique_ptr<Model> model;
    if (extra) {
      RECSYS_ASSIGN_OR_RETURN(
          model, TrainModelFromSpec(name, &data.train, options.model.threads));
    } else {
      RECSYS_ASSIGN_OR_RETURN(model,
                              TrainModel(name, &data.train, options.model));
    }
    const std::string label =
        extra ? absl::StrCat("extra", n - num_named + 1, " ", model->name())
              : name;
    if (extra)
      notes.push_back(absl::StrCat("extra", n - num_named + 1, ": ", name));
    RECSYS_ASSIGN_OR_RETURN(
        LeaveOneOutResult r,
        EvaluateLeaveOneOut(*model, data, options.k, options.model.threads));
    Log(options.log,
        absl::StrFormat("%s: HR@%d %.4f NDCG@%d %.4f (%.1fs)", label, options.k,
                        r.hit_rate, options.k, r.ndcg, model->train_seconds()));
    Json mj = Json::Object();
    mj.Set("model", name);
    mj.Set("params", ParamsToJson(model->params()));
    if (name == "ials") mj.Set("ials_spec", FormatIalsSpec(options.model.ials));
    mj.Set("train_seconds", model->train_seconds());
    mj.Set("results", LeaveOneOutToJson(r));
    models.Push(std::move(mj));
    table += absl::StrFormat("%-18s %7.4f %8.4f %9.1f\n", label, r.hit_rate,
                             r.ndcg, model->train_seconds());
    out.loo.emplace_back(label, r);
  }
  report.Set("models", std::move(models));
  Json notes_json = Json::Array();
  for (const std::string& n : notes) notes_json.Push(n);
  report.Set("notes", std::move(notes_json));
  report.Set("seconds", SecondsSince(start));
  out.text =
      absl::StrCat(options.name, "\n", data.test_users,
                   " users; held-out item ranked among its negatives\n", table);
  for (const std::string& n : notes) absl::StrAppend(&out.text, n, "\n");
  out.report = std::move(report);
  return out;
}

}  // namespace recsys::evaluation
