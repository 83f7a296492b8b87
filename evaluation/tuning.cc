#include "evaluation/tuning.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/random.h"
#include "common/status_macros.h"

namespace recsys::evaluation {
namespace {

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

template <typename T, typename Parse>
absl::Status ParseList(absl::string_view key, absl::string_view values,
                       const Parse& parse, std::vector<T>* out) {
  out->clear();
  for (absl::string_view v : absl::StrSplit(values, '|', absl::SkipEmpty())) {
    v = absl::StripAsciiWhitespace(v);
    T parsed;
    if (!parse(v, &parsed)) {
      return absl::InvalidArgumentError(
          absl::StrCat("search space: bad value '", v, "' for ", key));
    }
    out->push_back(parsed);
  }
  return absl::OkStatus();
}

// Number of choices per dimension (1 for an empty list).
std::vector<size_t> Dims(const SearchSpace& s) {
  auto n = [](size_t size) { return std::max<size_t>(1, size); };
  return {n(s.factors.size()),
          n(s.regularization.size()),
          n(s.alpha.size()),
          n(s.iterations.size()),
          n(s.decay_half_life_days.size()),
          n(s.scaling.size()),
          n(s.signal.size()),
          n(s.nu.size())};
}

IalsSpec Compose(const IalsSpec& base, const SearchSpace& s,
                 const std::vector<size_t>& pick) {
  IalsSpec spec = base;
  training::ConfidenceOptions& c = spec.confidence;
  if (!s.factors.empty()) spec.als.factors = s.factors[pick[0]];
  if (!s.regularization.empty()) {
    spec.als.regularization = s.regularization[pick[1]];
  }
  if (!s.alpha.empty()) c.alpha = s.alpha[pick[2]];
  if (!s.iterations.empty()) spec.als.iterations = s.iterations[pick[3]];
  if (!s.decay_half_life_days.empty()) {
    c.decay_half_life_days = s.decay_half_life_days[pick[4]];
  }
  if (!s.scaling.empty()) c.scaling = s.scaling[pick[5]];
  if (!s.signal.empty()) c.signal = s.signal[pick[6]];
  if (!s.nu.empty()) spec.reg_exponent = s.nu[pick[7]];
  return spec;
}

std::vector<size_t> Decode(uint64_t index, const std::vector<size_t>& dims) {
  std::vector<size_t> pick(dims.size());
  for (size_t d = dims.size(); d-- > 0;) {
    pick[d] = index % dims[d];
    index /= dims[d];
  }
  return pick;
}

uint64_t GridSize(const std::vector<size_t>& dims) {
  uint64_t n = 1;
  for (size_t d : dims) n *= d;
  return n;
}

void SelectBest(TuneResult* result) {
  result->best = -1;
  for (size_t i = 0; i < result->trials.size(); ++i) {
    const double v = result->trials[i].objective;
    if (std::isnan(v)) continue;
    if (result->best < 0 || v > result->trials[result->best].objective) {
      result->best = static_cast<int>(i);
    }
  }
}

}  // namespace

absl::StatusOr<SearchSpace> ParseSearchSpace(absl::string_view text) {
  SearchSpace s;
  auto parse_int = [](absl::string_view v, int* out) {
    return absl::SimpleAtoi(v, out);
  };
  auto parse_float = [](absl::string_view v, float* out) {
    return absl::SimpleAtof(v, out);
  };
  for (absl::string_view part :
       absl::StrSplit(text, ';', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(part, absl::MaxSplits('=', 1));
    const absl::string_view key = absl::StripAsciiWhitespace(kv.first);
    const absl::string_view values = kv.second;
    if (key == "factors") {
      RECSYS_RETURN_IF_ERROR(ParseList(key, values, parse_int, &s.factors));
    } else if (key == "reg") {
      RECSYS_RETURN_IF_ERROR(
          ParseList(key, values, parse_float, &s.regularization));
    } else if (key == "nu") {
      RECSYS_RETURN_IF_ERROR(ParseList(key, values, parse_float, &s.nu));
    } else if (key == "alpha") {
      RECSYS_RETURN_IF_ERROR(ParseList(key, values, parse_float, &s.alpha));
    } else if (key == "iterations") {
      RECSYS_RETURN_IF_ERROR(ParseList(key, values, parse_int, &s.iterations));
    } else if (key == "decay") {
      RECSYS_RETURN_IF_ERROR(
          ParseList(key, values, parse_float, &s.decay_half_life_days));
    } else if (key == "scaling") {
      RECSYS_RETURN_IF_ERROR(ParseList(
          key, values,
          [](absl::string_view v, training::ConfidenceScaling* out) {
            absl::StatusOr<training::ConfidenceScaling> p =
                training::ParseConfidenceScaling(v);
            if (p.ok()) *out = *p;
            return p.ok();
          },
          &s.scaling));
    } else if (key == "signal") {
      RECSYS_RETURN_IF_ERROR(ParseList(
          key, values,
          [](absl::string_view v, training::ConfidenceSignal* out) {
            absl::StatusOr<training::ConfidenceSignal> p =
                training::ParseConfidenceSignal(v);
            if (p.ok()) *out = *p;
            return p.ok();
          },
          &s.signal));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "search space: unknown key '", key,
          "' (factors, reg, nu, alpha, iterations, decay, scaling, signal)"));
    }
  }
  return s;
}

std::string IalsCandidate(const IalsSpec& spec) {
  return absl::StrCat("ials[", FormatIalsSpec(spec), "]");
}

std::vector<std::string> IalsCandidates(const std::vector<IalsSpec>& specs) {
  std::vector<std::string> out;
  out.reserve(specs.size());
  for (const IalsSpec& s : specs) out.push_back(IalsCandidate(s));
  return out;
}

std::vector<IalsSpec> GridConfigs(const IalsSpec& base,
                                  const SearchSpace& space) {
  const std::vector<size_t> dims = Dims(space);
  const uint64_t n = GridSize(dims);
  std::vector<IalsSpec> out;
  out.reserve(n);
  for (uint64_t i = 0; i < n; ++i) {
    out.push_back(Compose(base, space, Decode(i, dims)));
  }
  return out;
}

std::vector<IalsSpec> RandomConfigs(const IalsSpec& base,
                                    const SearchSpace& space, int trials,
                                    uint64_t seed) {
  const std::vector<size_t> dims = Dims(space);
  const uint64_t n = GridSize(dims);
  if (trials < 0 || static_cast<uint64_t>(trials) >= n) {
    return GridConfigs(base, space);
  }
  SplitMix64 rng(seed);
  absl::flat_hash_set<uint64_t> used;
  std::vector<IalsSpec> out;
  while (static_cast<int>(out.size()) < trials) {
    const uint64_t i = rng.UniformModulo(n);
    if (!used.insert(i).second) continue;
    out.push_back(Compose(base, space, Decode(i, dims)));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Model>> TrainCandidate(
    absl::string_view spec, const PurchaseLog* training_period,
    const training::InteractionData* train, int64_t now_unix,
    const ProductionRankerOptions& ranker_options, int threads) {
  absl::string_view ials = spec;
  if (absl::ConsumePrefix(&ials, "production_ranker[") &&
      absl::ConsumeSuffix(&ials, "]")) {
    if (training_period == nullptr) {
      return absl::InvalidArgumentError(
          "production_ranker candidates need the training-period log");
    }
    ProductionRankerOptions ranker = ranker_options;
    RECSYS_ASSIGN_OR_RETURN(ranker.ials, ParseIalsSpec(ials, {}));
    // The candidate's iALS as given: the search is the tuning here.
    ranker.tune = false;
    ranker.ials.als.threads = threads;
    ranker.fit.threads = threads;
    return NewProductionRankerModel(*training_period, train, now_unix, ranker,
                                    nullptr);
  }
  return TrainModelFromSpec(spec, train, threads);
}

absl::StatusOr<TuneResult> TuneOnTimeWindow(
    const PurchaseLog& training_period, const std::vector<std::string>& configs,
    const TimeTuneOptions& options) {
  if (configs.empty()) {
    return absl::InvalidArgumentError("tune: no configuration to try");
  }
  for (const Purchase& p : training_period.rows) {
    if (p.timestamp_unix >= options.cut_unix) {
      return absl::InvalidArgumentError(
          "tune: the training period contains rows at or after the test cut; "
          "pass only rows before the cut");
    }
  }
  if (options.validation_days < 1) {
    return absl::InvalidArgumentError("tune: validation_days must be >= 1");
  }
  const int64_t validation_cut =
      options.cut_unix - static_cast<int64_t>(options.validation_days) * 86400;
  const EvalSplit split = SplitByTime(training_period, validation_cut);
  const bool is_new = options.select_setting == kSettingNew;
  if (!is_new && options.select_setting != kSettingAll) {
    return absl::InvalidArgumentError(
        absl::StrCat("tune: unknown setting '", options.select_setting, "'"));
  }
  if (split.stats.evaluated_users == 0 ||
      (is_new && split.stats.users_with_new_items == 0)) {
    return absl::FailedPreconditionError(
        "tune: the validation window has no user to evaluate");
  }
  TuneResult result;
  result.objective = absl::StrCat("validation ndcg@", options.select_k, " (",
                                  options.select_setting, " items)");
  result.validation_info = SplitStatsToJson(split);
  result.validation_info.Set("validation_cut_unix", validation_cut);
  result.validation_info.Set("test_cut_unix", options.cut_unix);
  SplitEvalOptions eval;
  eval.ks = {10, 20};
  if (options.select_k != 10 && options.select_k != 20) {
    eval.ks.push_back(options.select_k);
  }
  eval.threads = options.threads;
  // Rows before the validation cut, for production ranker candidates.
  std::unique_ptr<PurchaseLog> fit_period;
  for (size_t t = 0; t < configs.size(); ++t) {
    Trial trial;
    trial.spec = configs[t];
    const Clock::time_point start = Clock::now();
    if (fit_period == nullptr &&
        absl::StartsWith(trial.spec, "production_ranker[")) {
      fit_period = std::make_unique<PurchaseLog>(
          SliceByTime(training_period, std::numeric_limits<int64_t>::min(),
                      validation_cut));
    }
    RECSYS_ASSIGN_OR_RETURN(
        std::unique_ptr<Model> model,
        TrainCandidate(trial.spec, fit_period.get(), &split.train,
                       validation_cut, options.ranker, options.threads));
    RECSYS_ASSIGN_OR_RETURN(trial.validation,
                            EvaluateSplit(*model, split, eval));
    trial.objective = PickMetric(trial.validation, options.select_setting,
                                 options.select_k, "ndcg");
    trial.seconds = SecondsSince(start);
    result.trials.push_back(std::move(trial));
    if (options.on_trial) {
      options.on_trial(result.trials.back(), static_cast<int>(t),
                       static_cast<int>(configs.size()));
    }
  }
  SelectBest(&result);
  return result;
}

absl::StatusOr<TuneResult> TuneOnLeaveOneOut(
    const training::InteractionData& train,
    const std::vector<std::string>& configs,
    const LeaveOneOutTuneOptions& options) {
  if (configs.empty()) {
    return absl::InvalidArgumentError("tune: no configuration to try");
  }
  if (options.select_metric != "ndcg" && options.select_metric != "hit_rate") {
    return absl::InvalidArgumentError("tune: select_metric is ndcg|hit_rate");
  }
  const LeaveOneOutData validation =
      CarveLeaveOneOut(train, options.negatives, options.seed);
  TuneResult result;
  result.objective = absl::StrCat("validation ", options.select_metric, "@",
                                  options.k, " (leave-one-out)");
  result.validation_info =
      Json::Object()
          .Set("kind", "leave-one-out carved from the training pairs")
          .Set("validation_users", validation.test_users)
          .Set("negatives", options.negatives)
          .Set("seed", options.seed);
  for (size_t t = 0; t < configs.size(); ++t) {
    Trial trial;
    trial.spec = configs[t];
    const Clock::time_point start = Clock::now();
    RECSYS_ASSIGN_OR_RETURN(
        std::unique_ptr<Model> model,
        TrainModelFromSpec(trial.spec, &validation.train, options.threads));
    RECSYS_ASSIGN_OR_RETURN(
        trial.loo,
        EvaluateLeaveOneOut(*model, validation, options.k, options.threads));
    trial.objective =
        options.select_metric == "ndcg" ? trial.loo.ndcg : trial.loo.hit_rate;
    trial.seconds = SecondsSince(start);
    result.trials.push_back(std::move(trial));
    if (options.on_trial) {
      options.on_trial(result.trials.back(), static_cast<int>(t),
                       static_cast<int>(configs.size()));
    }
  }
  SelectBest(&result);
  return result;
}

Json TuneResultToJson(const TuneResult& result) {
  Json j = Json::Object();
  j.Set("objective", result.objective);
  j.Set("validation", result.validation_info);
  j.Set("best_trial", result.best);
  Json trials = Json::Array();
  for (size_t i = 0; i < result.trials.size(); ++i) {
    const Trial& t = result.trials[i];
    Json tj = Json::Object();
    tj.Set("index", static_cast<int64_t>(i));
    tj.Set("spec", t.spec);
    tj.Set("objective", t.objective);
    tj.Set("seconds", t.seconds);
    if (!t.validation.empty()) {
      tj.Set("validation", SettingResultsToJson(t.validation));
    } else {
      tj.Set("validation", LeaveOneOutToJson(t.loo));
    }
    trials.Push(std::move(tj));
  }
  j.Set("trials", std::move(trials));
  return j;
}

std::string FormatTuneTable(const TuneResult& result) {
  const bool loo =
      !result.trials.empty() && result.trials[0].validation.empty();
  std::string out = absl::StrFormat("%3s %-4s", "#", "");
  if (loo) {
    out += absl::StrFormat(" %7s %7s", "HR", "NDCG");
  } else {
    out += absl::StrFormat(" %7s %7s %7s %7s", "R@20all", "N@20all", "R@20new",
                           "N@20new");
  }
  out += absl::StrFormat(" %9s %7s  %s\n", "objective", "seconds", "spec");
  for (size_t i = 0; i < result.trials.size(); ++i) {
    const Trial& t = result.trials[i];
    out += absl::StrFormat("%3d %-4s", static_cast<int>(i),
                           static_cast<int>(i) == result.best ? "best" : "");
    if (loo) {
      out += absl::StrFormat(" %7.4f %7.4f", t.loo.hit_rate, t.loo.ndcg);
    } else {
      out +=
          absl::StrFormat(" %7.4f %7.4f %7.4f %7.4f",
                          PickMetric(t.validation, kSettingAll, 20, "recall"),
                          PickMetric(t.validation, kSettingAll, 20, "ndcg"),
                          PickMetric(t.validation, kSettingNew, 20, "recall"),
                          PickMetric(t.validation, kSettingNew, 20, "ndcg"));
    }
    out +=
        absl::StrFormat(" %9.4f %7.1f  %s\n", t.objective, t.seconds, t.spec);
  }
  return out;
}

}  // namespace recsys::evaluation
