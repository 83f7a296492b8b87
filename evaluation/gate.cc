#include "evaluation/gate.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "evaluation/production_ranker.h"
#include "model/model_format.h"

namespace recsys::evaluation {
namespace {

// A published model as an evaluated Model over the rows of `train`.
class BundleModel : public Model {
 public:
  BundleModel(const training::InteractionData* train,
              const model::ModelBundle* bundle, int64_t now_unix,
              int vector_candidates)
      : Model(train),
        ranker_(bundle, vector_candidates),
        bundle_(bundle),
        now_unix_(now_unix) {
    for (size_t i = 0; i < train->item_ids.size(); ++i) {
      train_item_row_[train->item_ids[i]] = static_cast<int32_t>(i);
    }
  }

  std::string name() const override { return "published"; }
  ModelParams params() const override {
    return {{"version", bundle_->version()}};
  }
  absl::Status ScoreAll(int32_t, absl::Span<float>) const override {
    return absl::UnimplementedError("a published model ranks lists only");
  }
  absl::StatusOr<std::vector<int32_t>> Recommend(
      int32_t user, int k, bool exclude_bought) const override {
    absl::StatusOr<std::vector<std::string>> ids =
        ranker_.Rank(data().user_ids[user], k, now_unix_, !exclude_bought);
    if (absl::IsNotFound(ids.status())) return std::vector<int32_t>();
    if (!ids.ok()) return ids.status();
    std::vector<int32_t> rows;
    rows.reserve(ids->size());
    for (const std::string& id : *ids) {
      auto it = train_item_row_.find(id);
      if (it != train_item_row_.end()) rows.push_back(it->second);
    }
    return rows;
  }

 private:
  // Immutable after construction.
  const BundleRanker ranker_;
  const model::ModelBundle* const bundle_;
  const int64_t now_unix_;
  absl::flat_hash_map<std::string, int32_t> train_item_row_;
};

std::string KeyMetricName(const GateOptions& o) {
  return absl::StrCat(o.metric, "@", o.k, ":", o.setting);
}

std::vector<int> ScoredKs(const GateOptions& o) {
  std::vector<int> ks = o.report_ks;
  ks.push_back(o.k);
  std::sort(ks.begin(), ks.end());
  ks.erase(std::unique(ks.begin(), ks.end()), ks.end());
  return ks;
}

int64_t UsersIn(const std::vector<SettingResult>& results,
                absl::string_view setting) {
  for (const SettingResult& r : results) {
    if (r.setting == setting) return r.users;
  }
  return 0;
}

}  // namespace

absl::Status ValidateGateOptions(const GateOptions& o) {
  if (o.window_days < 1) {
    return absl::InvalidArgumentError("gate window_days: must be >= 1");
  }
  if (!(o.margin >= 0 && o.margin < 1)) {
    return absl::InvalidArgumentError("gate margin: must be in [0, 1)");
  }
  if (o.metric != "recall" && o.metric != "ndcg" && o.metric != "hit_rate" &&
      o.metric != "map") {
    return absl::InvalidArgumentError(absl::StrCat(
        "gate metric: '", o.metric, "' is not recall, ndcg, hit_rate or map"));
  }
  if (o.k < 1) return absl::InvalidArgumentError("gate k: must be >= 1");
  if (o.setting != kSettingAll && o.setting != kSettingNew) {
    return absl::InvalidArgumentError("gate setting: must be all or new");
  }
  for (int k : o.report_ks) {
    if (k < 1)
      return absl::InvalidArgumentError("gate report_ks: must be >= 1");
  }
  if (o.min_users < 1) {
    return absl::InvalidArgumentError("gate min_users: must be >= 1");
  }
  return absl::OkStatus();
}

int64_t GateWindowStart(int64_t last_event_unix,
                        const recsys::v1::ModelManifest* served,
                        const GateOptions& options) {
  int64_t start =
      last_event_unix - static_cast<int64_t>(options.window_days) * 86400;
  if (served != nullptr) {
    start = std::max(start, served->data().last_event_unix() + 1);
  }
  return start;
}

absl::StatusOr<std::vector<SettingResult>> ScoreBundleOnWindow(
    const model::ModelBundle& bundle, const EvalSplit& split,
    const GateOptions& options) {
  BundleModel model(&split.train, &bundle, split.now_unix,
                    options.vector_candidates);
  SplitEvalOptions eval;
  eval.ks = ScoredKs(options);
  eval.settings = {kSettingAll, kSettingNew};
  eval.threads = options.threads;
  return EvaluateSplit(model, split, eval);
}

recsys::v1::GateDecision DecideGate(const std::vector<SettingResult>& candidate,
                                    const std::vector<SettingResult>& current,
                                    absl::string_view current_version,
                                    const EvalSplit& split,
                                    const GateOptions& options) {
  recsys::v1::GateDecision d;
  d.set_key_metric(KeyMetricName(options));
  d.set_margin(options.margin);
  d.set_current_version(std::string(current_version));
  d.set_window_start_unix(split.now_unix);
  d.set_decided_unix(absl::ToUnixSeconds(absl::Now()));
  for (const std::string setting : {kSettingAll, kSettingNew}) {
    for (int k : ScoredKs(options)) {
      for (const char* metric : {"recall", "ndcg", "hit_rate", "map"}) {
        recsys::v1::GateScore* s = d.add_scores();
        s->set_setting(setting);
        s->set_k(k);
        s->set_metric(metric);
        s->set_candidate(PickMetric(candidate, setting, k, metric));
        s->set_current(PickMetric(current, setting, k, metric));
      }
    }
  }
  const double cand =
      PickMetric(candidate, options.setting, options.k, options.metric);
  const double cur =
      PickMetric(current, options.setting, options.k, options.metric);
  d.set_candidate_score(std::isnan(cand) ? 0 : cand);
  d.set_current_score(std::isnan(cur) ? 0 : cur);
  const int64_t users = UsersIn(candidate, options.setting);
  d.set_window_users(users);
  const double threshold = d.current_score() * (1 - options.margin);
  if (users < options.min_users) {
    d.set_decision(kGateRefused);
    d.set_reason(absl::StrFormat(
        "window too small: %d evaluated users in setting %s < min %d", users,
        options.setting, options.min_users));
  } else if (d.candidate_score() < threshold) {
    d.set_decision(kGateRefused);
    d.set_reason(absl::StrFormat("%s %.4f < %.4f = (1 - %g) x served %.4f",
                                 d.key_metric(), d.candidate_score(), threshold,
                                 options.margin, d.current_score()));
  } else {
    d.set_decision(kGatePassed);
    d.set_reason(absl::StrFormat("%s %.4f >= %.4f = (1 - %g) x served %.4f",
                                 d.key_metric(), d.candidate_score(), threshold,
                                 options.margin, d.current_score()));
  }
  return d;
}

absl::StatusOr<std::shared_ptr<const model::ModelBundle>> LoadServedModel(
    const std::string& model_root) {
  absl::StatusOr<std::vector<std::string>> versions =
      model::ListModelVersions(model_root);
  if (absl::IsNotFound(versions.status())) {
    return std::shared_ptr<const model::ModelBundle>();
  }
  RECSYS_RETURN_IF_ERROR(versions.status());
  for (const std::string& v : *versions) {
    absl::StatusOr<std::shared_ptr<const model::ModelBundle>> bundle =
        model::ModelBundle::Load(model_root + "/" + v);
    if (bundle.ok()) return *std::move(bundle);
  }
  return std::shared_ptr<const model::ModelBundle>();
}

absl::StatusOr<recsys::v1::GateDecision> RunGate(
    const training::TrainerOptions& candidate, const std::string& model_root,
    const GateOptions& options) {
  RECSYS_RETURN_IF_ERROR(ValidateGateOptions(options));
  auto log = [&](absl::string_view line) {
    if (options.log) options.log(line);
  };
  RECSYS_ASSIGN_OR_RETURN(std::shared_ptr<const model::ModelBundle> served,
                          LoadServedModel(model_root));
  if (served == nullptr) {
    recsys::v1::GateDecision d;
    d.set_decision(kGateFirstModel);
    d.set_reason("nothing published under the model root");
    d.set_key_metric(KeyMetricName(options));
    d.set_margin(options.margin);
    d.set_decided_unix(absl::ToUnixSeconds(absl::Now()));
    return d;
  }
  RECSYS_ASSIGN_OR_RETURN(PurchaseLog log_rows,
                          ReadPurchaseLog(candidate.input, candidate.read));
  const int64_t start =
      GateWindowStart(log_rows.last_unix, &served->manifest(), options);
  log(absl::StrFormat(
      "gate: window %s .. %s (served %s, trained to %s)",
      absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(start),
                       absl::UTCTimeZone()),
      absl::FormatTime("%Y-%m-%d %H:%M:%S",
                       absl::FromUnixSeconds(log_rows.last_unix),
                       absl::UTCTimeZone()),
      served->version(),
      absl::FormatTime(
          "%Y-%m-%d %H:%M:%S",
          absl::FromUnixSeconds(served->manifest().data().last_event_unix()),
          absl::UTCTimeZone())));
  const int64_t last_event = log_rows.last_unix;
  const EvalSplit split = SplitByTime(log_rows, start, candidate.interactions);
  log_rows = PurchaseLog();

  std::vector<SettingResult> candidate_results;
  // No evaluated user (e.g. no data newer than the served model): refused
  // below without fitting anything.
  if (split.train.num_users() > 0 && !split.users.empty()) {
    // The candidate's pipeline on the rows before the window.
    const std::string scratch =
        absl::StrCat(model_root, "/.gate-", static_cast<int64_t>(getpid()));
    std::error_code ec;
    std::filesystem::remove_all(scratch, ec);
    training::TrainerOptions fit = candidate;
    fit.read.before_unix = std::min(fit.read.before_unix, start);
    fit.model_root = scratch;
    const std::string scratch_version(1, '1');
    fit.version = scratch_version;
    fit.compute_segments = false;
    fit.log = nullptr;
    absl::StatusOr<training::TrainResult> trained =
        training::Train(fit, nullptr, nullptr);
    absl::StatusOr<std::shared_ptr<const model::ModelBundle>> bundle =
        trained.ok()
            ? model::ModelBundle::Load(trained->model_dir)
            : absl::StatusOr<std::shared_ptr<const model::ModelBundle>>(
                  trained.status());
    absl::StatusOr<std::vector<SettingResult>> scored =
        bundle.ok()
            ? ScoreBundleOnWindow(**bundle, split, options)
            : absl::StatusOr<std::vector<SettingResult>>(bundle.status());
    std::filesystem::remove_all(scratch, ec);
    RECSYS_RETURN_IF_ERROR(scored.status());
    candidate_results = *std::move(scored);
  }
  RECSYS_ASSIGN_OR_RETURN(std::vector<SettingResult> served_results,
                          ScoreBundleOnWindow(*served, split, options));
  recsys::v1::GateDecision d = DecideGate(candidate_results, served_results,
                                          served->version(), split, options);
  d.set_window_end_unix(last_event);
  return d;
}

std::string DescribeGate(const recsys::v1::GateDecision& d) {
  if (d.decision() == kGateFirstModel) {
    return "gate: first_model: nothing published yet, the candidate passes";
  }
  return absl::StrFormat(
      "gate: %s: %s candidate %.4f vs served %.4f (version %s, margin %g, "
      "window from %s, %d users): %s",
      d.decision(), d.key_metric(), d.candidate_score(), d.current_score(),
      d.current_version(), d.margin(),
      absl::FormatTime("%Y-%m-%d %H:%M:%S",
                       absl::FromUnixSeconds(d.window_start_unix()),
                       absl::UTCTimeZone()),
      d.window_users(), d.reason());
}

}  // namespace recsys::evaluation
