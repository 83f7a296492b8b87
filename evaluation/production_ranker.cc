#include "evaluation/production_ranker.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "model/vector_index.h"
#include "training/trainer.h"
#include "training/tuner.h"

namespace recsys::evaluation {
namespace {

using model::HistoryEntry;
using model::ModelData;
using model::RankerItemStats;
using model::RankerModel;
using model::RankerWeights;
using model::VectorIndex;
using training::InteractionData;

using Clock = std::chrono::steady_clock;
double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

absl::StatusOr<std::unique_ptr<VectorIndex>> BuildIndex(
    absl::Span<const float> item_factors, int dim, absl::string_view spec) {
  RECSYS_ASSIGN_OR_RETURN(
      std::unique_ptr<VectorIndex> index,
      VectorIndex::Create(dim, spec, model::Metric::kInnerProduct));
  RECSYS_RETURN_IF_ERROR(index->Add(item_factors));
  return index;
}

absl::Span<const HistoryEntry> HistoryOf(const ModelData& data, int32_t u) {
  if (data.history_indptr.empty()) return {};
  const int64_t b = data.history_indptr[u];
  const int64_t e = data.history_indptr[u + 1];
  return {data.history.data() + b, static_cast<size_t>(e - b)};
}

// The trained iALS of `data` in the model format (factors, history).
absl::StatusOr<ModelData> TrainModelData(const InteractionData& data,
                                         const IalsSpec& spec) {
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<Model> ials,
                          NewIalsModel(&data, spec));
  training::AlsModel als = *IalsFactors(*ials);
  return training::BuildModelData(data, std::move(als),
                                  recsys::v1::ModelManifest());
}

// Everything the ranker borrows, owned in one place.
struct RankerParts {
  ModelData data;
  std::unique_ptr<VectorIndex> index;
  RankerItemStats stats;
  RankerWeights weights;

  RankerModel model() const {
    return model::MakeRankerModel(index.get(), data.item_factors, data.dim, &stats,
                                        &weights);
  }
};

absl::StatusOr<std::unique_ptr<RankerParts>> MakeParts(
    ModelData data, RankerWeights weights, absl::string_view index_spec) {
  auto parts = std::make_unique<RankerParts>();
  parts->data = std::move(data);
  RECSYS_ASSIGN_OR_RETURN(
      parts->index,
      BuildIndex(parts->data.item_factors, parts->data.dim, index_spec));
  parts->stats = model::ComputeRankerItemStats(
      static_cast<int32_t>(parts->data.items.size()),
      parts->data.history_indptr, parts->data.history,
      model::RankerStatsOptionsFor(weights));
  model::AddRankerContentStats(parts->data.items, model::RankerStatsOptionsFor(weights),
                               &parts->stats);
  parts->weights = std::move(weights);
  return parts;
}

// Ranks every user with RankWithRanker over `all` on all items and over
// `new_items` (null: `all`) on new items.
class ProductionRankerModel : public Model {
 public:
  ProductionRankerModel(const InteractionData* train, std::unique_ptr<RankerParts> all,
                        int64_t now_unix, int vector_candidates, ModelParams params,
                        std::string name = "production_ranker",
                        std::unique_ptr<RankerParts> new_items = nullptr)
      : Model(train),
        all_(std::move(all)),
        new_(std::move(new_items)),
        model_all_(all_->model()),
        model_new_(new_ != nullptr ? new_->model() : model_all_),
        now_unix_(now_unix),
        vector_candidates_(vector_candidates),
        params_(std::move(params)),
        name_(std::move(name)) {}

  std::string name() const override { return name_; }
  ModelParams params() const override { return params_; }
  absl::Status ScoreAll(int32_t, absl::Span<float>) const override {
    return absl::UnimplementedError(
        absl::StrCat(name_, " ranks lists only (no per-item scores)"));
  }
  absl::StatusOr<std::vector<int32_t>> Recommend(
      int32_t user, int k, bool exclude_bought) const override {
    const RankerParts& parts = exclude_bought && new_ != nullptr ? *new_ : *all_;
    const ModelData& d = parts.data;
    absl::Span<const float> vec(
        d.user_factors.data() + static_cast<size_t>(user) * d.dim,
        static_cast<size_t>(d.dim));
    return RankWithRanker(exclude_bought ? model_new_ : model_all_, vec,
                          HistoryOf(d, user), k, now_unix_, !exclude_bought,
                          vector_candidates_);
  }

 private:
  const std::unique_ptr<RankerParts> all_;
  const std::unique_ptr<RankerParts> new_;
  const RankerModel model_all_;
  const RankerModel model_new_;
  const int64_t now_unix_;
  const int vector_candidates_;
  const ModelParams params_;
  const std::string name_;
};

ModelParams RankerParams(const RankerWeights& w, int vector_candidates) {
  ModelParams p;
  p.emplace_back("weights_origin", w.origin);
  p.emplace_back("recency_tau_days", absl::StrCat(w.recency_tau_days));
  p.emplace_back("vector_candidates", absl::StrCat(vector_candidates));
  for (int f = 0; f < model::kNumRankerFeatures; ++f) {
    p.emplace_back(absl::StrCat("w.", model::RankerFeatureName(f)),
                   absl::StrCat(w.w[f]));
  }
  if (w.has_discovery) {
    for (int f = 0; f < model::kNumRankerFeatures; ++f) {
      p.emplace_back(absl::StrCat("discovery.", model::RankerFeatureName(f)),
                     absl::StrCat(w.discovery[f]));
    }
  }
  return p;
}

}  // namespace

absl::StatusOr<std::vector<int32_t>> RankWithRanker(
    const RankerModel& model, absl::Span<const float> user_vector,
    absl::Span<const HistoryEntry> history, int k, int64_t now_unix,
    bool include_bought, int vector_candidates) {
  model::RankerUser user;
  user.vector = user_vector;
  user.history = history;
  model::RankOptions options;
  options.k = k;
  options.now_unix = now_unix;
  options.vector_candidates = vector_candidates;
  options.include_bought = include_bought;
  RECSYS_ASSIGN_OR_RETURN(std::vector<model::RankedItem> ranked,
                          model::RankItems(model, user, options));
  std::vector<int32_t> out;
  out.reserve(ranked.size());
  for (const model::RankedItem& r : ranked) out.push_back(r.item);
  return out;
}

namespace {

// The plain fit of the ranker's weights: iALS on the training period
// before the last validation_days, the weights fit on those days (the
// trainer's step without tuning). Fills rep->fit and the window fields.
absl::Status FitPlainRanker(const PurchaseLog& training_period,
                            int64_t now_unix,
                            const ProductionRankerOptions& options,
                            RankerFitReport* rep) {
  const int64_t window_start =
      now_unix - static_cast<int64_t>(options.validation_days) * 86400;
  rep->window_start_unix = window_start;
  rep->window_end_unix = now_unix;

  // 1. Fit period model.
  const PurchaseLog fit_log = SliceByTime(
      training_period, std::numeric_limits<int64_t>::min(), window_start);
  const InteractionData fit_data = BuildInteractions(fit_log);
  rep->fit_period_rows = static_cast<int64_t>(fit_log.rows.size());
  rep->fit_users = fit_data.num_users();
  rep->fit_items = fit_data.num_items();
  if (fit_data.num_users() == 0) {
    return absl::FailedPreconditionError(
        "production ranker: no purchases before the validation window");
  }
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<Model> fit_model,
                          NewIalsModel(&fit_data, options.ials));

  // 2. Labels: window purchases of fit-period users on fit-period items;
  // the weights fit on them (the trainer's step).
  training::WindowLabels labels(fit_data);
  for (const Purchase& p : training_period.rows) {
    if (p.timestamp_unix < window_start || p.timestamp_unix >= now_unix) {
      continue;
    }
    ++rep->window_rows;
    labels.Add(training_period.user_ids[p.user],
               training_period.item_ids[p.item]);
  }
  training::WindowFitOptions fit_options;
  fit_options.fit = options.fit;
  fit_options.fit.vector_candidates = options.vector_candidates;
  fit_options.index_spec = options.index_spec;
  RECSYS_ASSIGN_OR_RETURN(
      rep->fit, training::FitRankerOnWindow(fit_data, *IalsFactors(*fit_model),
                                            labels.Take(), window_start,
                                            now_unix, fit_options));
  fit_model.reset();
  return absl::OkStatus();
}

// The trainer's self-tuning over the training period (see the header).
// FailedPrecondition when the data is too short or a window is empty.
absl::StatusOr<std::unique_ptr<Model>> NewTunedRankerModel(
    const PurchaseLog& training_period, const InteractionData* train, int64_t now_unix,
    const ProductionRankerOptions& options, RankerFitReport* rep) {
  // The plain training first: it measures the budget, and it is the final
  // model when the configured iALS stays the choice.
  const Clock::time_point plain_start = Clock::now();
  RECSYS_ASSIGN_OR_RETURN(ModelData full, TrainModelData(*train, options.ials));
  // The plain ranker fit completes one plain training (the budget's unit,
  // as in the trainer); its weights are not used.
  {
    RankerFitReport plain;
    FitPlainRanker(training_period, now_unix, options, &plain).IgnoreError();
  }
  const double plain_seconds = SecondsSince(plain_start) + options.tune_read_seconds;
  const int days = training::TuneWindowDays(training_period.first_unix,
                                            training_period.last_unix, options.validation_days);
  if (days < 1) return absl::FailedPreconditionError("the training period is too short");
  training::RowVisitor rows = [&training_period](
                                  const std::function<void(const training::PurchaseRow&)>& row) {
    training::PurchaseRow r;
    for (const Purchase& p : training_period.rows) {
      FillPurchaseRow(training_period, p, &r);
      row(r);
    }
    return absl::OkStatus();
  };
  RECSYS_ASSIGN_OR_RETURN(
      training::TuneWindows windows,
      training::BuildTuneWindows(rows, {}, training_period.last_unix, days));
  rep->window_start_unix = windows.window2_start_unix;
  rep->window_end_unix = windows.end_unix;
  rep->fit_period_rows = 0;
  rep->window_rows = windows.window2_rows;
  rep->fit_users = windows.period2.num_users();
  rep->fit_items = windows.period2.num_items();
  training::TunerOptions tuner;
  tuner.fit = options.fit;
  tuner.fit.vector_candidates = options.vector_candidates;
  tuner.index_spec = options.index_spec;
  tuner.ease_max_items = options.tune_ease_max_items;
  tuner.guard_confidence = options.tune_guard_confidence;
  tuner.budget_seconds = options.tune_budget_seconds > 0
                             ? options.tune_budget_seconds
                             : options.tune_budget_factor * std::max(plain_seconds, 0.1);
  const std::vector<training::TuneCandidate> grid = training::TuneGrid(
      options.ials.als, options.ials.confidence, options.tune_max_candidates);
  RECSYS_ASSIGN_OR_RETURN(training::TuneOutcome outcome,
                          training::TuneRanker(windows, grid, tuner));
  IalsSpec ials = options.ials;
  if (outcome.chosen != 0) {
    ials.als = grid[outcome.chosen].als;
    ials.confidence = grid[outcome.chosen].confidence;
    ials.als.threads = options.ials.als.threads;
    RECSYS_ASSIGN_OR_RETURN(full, TrainModelData(*train, ials));
  }
  rep->fit = outcome.fit;
  rep->tuning = outcome.report;
  rep->weights = outcome.weights;
  rep->fusion_all = outcome.fusion_all;
  rep->fusion_new = outcome.fusion_new;
  RankerWeights weights = outcome.weights;
  ModelParams params = IalsParams(ials);
  params.emplace_back("validation_days", absl::StrCat(days));
  params.emplace_back("tuned", outcome.report.candidates(outcome.report.chosen()).spec());
  params.emplace_back("tuned_new",
                      outcome.report.candidates(outcome.report.chosen_new()).spec());
  params.emplace_back("serve_all", std::string(model::RankerServeName(weights.serve_all)));
  params.emplace_back("serve_new", std::string(model::RankerServeName(weights.serve_new)));
  for (auto& p : RankerParams(weights, options.vector_candidates)) params.push_back(std::move(p));
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<RankerParts> parts,
                          MakeParts(std::move(full), std::move(weights), options.index_spec));
  return std::make_unique<ProductionRankerModel>(train, std::move(parts), now_unix,
                                                 options.vector_candidates, std::move(params));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Model>> NewProductionRankerModel(
    const PurchaseLog& training_period, const InteractionData* train,
    int64_t now_unix, const ProductionRankerOptions& options,
    RankerFitReport* report) {
  const Clock::time_point start = Clock::now();
  if (!training_period.rows.empty() && training_period.last_unix >= now_unix) {
    return absl::InvalidArgumentError(
        "production ranker: the training period has rows at or after now");
  }
  if (options.validation_days < 1) {
    return absl::InvalidArgumentError("validation_days must be >= 1");
  }
  RankerFitReport local;
  RankerFitReport& rep = report != nullptr ? *report : local;
  if (options.tune) {
    auto tuned = NewTunedRankerModel(training_period, train, now_unix, options, &rep);
    if (tuned.ok() || !absl::IsFailedPrecondition(tuned.status())) {
      if (tuned.ok()) {
        rep.seconds = SecondsSince(start);
        (*tuned)->set_train_seconds(rep.seconds);
      }
      return tuned;
    }
    // Too little data to tune: the plain fit, as the trainer falls back.
    rep = RankerFitReport();
  }
  RECSYS_RETURN_IF_ERROR(
      FitPlainRanker(training_period, now_unix, options, &rep));

  // 3. Final model on the whole training period.
  RECSYS_ASSIGN_OR_RETURN(ModelData full, TrainModelData(*train, options.ials));
  RankerWeights weights = rep.fit.weights;
  ModelParams params = IalsParams(options.ials);
  params.emplace_back("validation_days", absl::StrCat(options.validation_days));
  for (auto& p : RankerParams(weights, options.vector_candidates)) {
    params.push_back(std::move(p));
  }
  RECSYS_ASSIGN_OR_RETURN(
      std::unique_ptr<RankerParts> parts,
      MakeParts(std::move(full), std::move(weights), options.index_spec));
  auto model = std::make_unique<ProductionRankerModel>(
      train, std::move(parts), now_unix, options.vector_candidates,
      std::move(params));
  rep.seconds = SecondsSince(start);
  model->set_train_seconds(rep.seconds);
  return model;
}

absl::StatusOr<std::unique_ptr<Model>> NewRankerModelFromData(
    const InteractionData* train, ModelData data, RankerWeights weights,
    int64_t now_unix, int vector_candidates, absl::string_view index_spec) {
  if (data.dim < 1 ||
      data.user_factors.size() != static_cast<size_t>(train->num_users()) *
                                      static_cast<size_t>(data.dim)) {
    return absl::InvalidArgumentError(
        "ranker model: user factors do not match the training users");
  }
  ModelParams params = RankerParams(weights, vector_candidates);
  RECSYS_ASSIGN_OR_RETURN(
      std::unique_ptr<RankerParts> parts,
      MakeParts(std::move(data), std::move(weights), index_spec));
  return std::make_unique<ProductionRankerModel>(
      train, std::move(parts), now_unix, vector_candidates, std::move(params));
}

absl::StatusOr<std::unique_ptr<Model>> NewRankerCeilingModel(
    const EvalSplit& split, const ProductionRankerOptions& options, int k) {
  const Clock::time_point start = Clock::now();
  if (split.kind != "time") {
    return absl::InvalidArgumentError("ranker ceiling: it needs a time split");
  }
  const InteractionData& train = split.train;
  const int32_t num_items = train.num_items();
  // Labels: the test items of the evaluated users that the catalog knows.
  std::vector<std::vector<int32_t>> labels(static_cast<size_t>(train.num_users()));
  int64_t labelled = 0;
  for (const EvalUser& u : split.users) {
    for (int32_t item : u.test_items) {
      if (item >= 0 && item < num_items) labels[static_cast<size_t>(u.user)].push_back(item);
    }
    labelled += !labels[static_cast<size_t>(u.user)].empty();
  }
  if (labelled == 0) {
    return absl::FailedPreconditionError(
        "ranker ceiling: no evaluated user bought a catalog item in the test period");
  }
  IalsSpec ials = options.ials;
  RECSYS_ASSIGN_OR_RETURN(const ModelData full, TrainModelData(train, ials));
  training::RankerFitOptions fit = options.fit;
  fit.vector_candidates = options.vector_candidates;
  const training::TunerOptions tuner_defaults;

  struct Choice {
    double recall = -1;
    RankerWeights weights;
    std::string spec;
  };
  Choice best_all, best_new;
  std::vector<model::NeighborKind> kinds = {model::NeighborKind::kCosine};
  if (num_items <= options.tune_ease_max_items) kinds.push_back(model::NeighborKind::kEase);
  const training::RankerFeatureSet sets[] = {
      training::RankerFeatureSet::kBase, training::RankerFeatureSet::kNeighbors,
      training::RankerFeatureSet::kNeighborsTrending, training::RankerFeatureSet::kContent};
  for (model::NeighborKind kind : kinds) {
    RankerWeights kind_weights;
    kind_weights.neighbors = kind;
    kind_weights.ease_lambda =
        kind == model::NeighborKind::kEase ? tuner_defaults.ease_lambda : 0;
    const model::RankerStatsOptions stats_options = model::RankerStatsOptionsFor(kind_weights);
    RankerItemStats stats = model::ComputeRankerItemStats(num_items, full.history_indptr,
                                                          full.history, stats_options);
    if (kind == model::NeighborKind::kEase && stats.neighbors.indptr.empty()) continue;
    model::AddRankerContentStats(full.items, stats_options, &stats);
    RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<VectorIndex> index,
                            BuildIndex(full.item_factors, full.dim, options.index_spec));
    const RankerModel unweighted =
        model::MakeRankerModel(index.get(), full.item_factors, full.dim, &stats, nullptr);
    RECSYS_ASSIGN_OR_RETURN(
        const training::RankerExamples examples,
        training::BuildRankerExamples(unweighted, full.user_factors, full.history_indptr,
                                      full.history, labels, split.now_unix, fit));
    auto score = [&](const RankerWeights& weights, bool score_all) {
      const RankerModel m =
          model::MakeRankerModel(index.get(), full.item_factors, full.dim, &stats, &weights);
      return training::ScoreOnWindow(m, full.user_factors, full.history_indptr, full.history,
                                     labels, split.now_unix, k, options.vector_candidates,
                                     fit.threads, score_all);
    };
    auto consider = [](Choice* best, double recall, RankerWeights weights, std::string spec) {
      if (recall > best->recall) *best = Choice{recall, std::move(weights), std::move(spec)};
    };
    for (training::RankerFeatureSet set : sets) {
      const std::string spec =
          absl::StrCat("neighbors=", model::NeighborKindName(kind),
                       ",features=", training::RankerFeatureSetName(set));
      training::RankerFitOptions set_fit = fit;
      set_fit.feature_set = set;
      set_fit.discovery = false;
      absl::StatusOr<training::RankerFitResult> main = training::FitRankerWeights(examples, set_fit);
      if (!main.ok()) continue;
      RankerWeights weights = main->weights;
      weights.neighbors = kind_weights.neighbors;
      weights.ease_lambda = kind_weights.ease_lambda;
      weights.has_discovery = false;
      RECSYS_ASSIGN_OR_RETURN(const training::WindowRecall plain, score(weights, true));
      consider(&best_all, plain.all, weights, spec);
      consider(&best_new, plain.new_items, weights, spec);
      // Discovery weights at the fit's own penalty and the tuner's
      // multiples of it.
      std::vector<double> penalties = {-1};
      for (double factor : training::kDiscoveryL2Factors) penalties.push_back(fit.l2 * factor);
      set_fit.discovery = true;
      set_fit.main_weights = false;
      for (double l2 : penalties) {
        set_fit.discovery_l2 = l2;
        absl::StatusOr<training::RankerFitResult> d = training::FitRankerWeights(examples, set_fit);
        if (!d.ok() || !d->weights.has_discovery) continue;
        RankerWeights with_discovery = weights;
        with_discovery.discovery = d->weights.discovery;
        with_discovery.has_discovery = true;
        RECSYS_ASSIGN_OR_RETURN(const training::WindowRecall r, score(with_discovery, false));
        consider(&best_new, r.new_items, with_discovery,
                 absl::StrCat(spec, ",discovery", l2 >= 0 ? absl::StrCat(",discovery_l2=", l2) : ""));
      }
    }
  }
  if (best_all.recall < 0 || best_new.recall < 0) {
    return absl::FailedPreconditionError("ranker ceiling: no feature set could be fit");
  }
  ModelParams params = IalsParams(ials);
  params.emplace_back("fit_on", "the test period (a ceiling, never served)");
  params.emplace_back("chosen_all", best_all.spec);
  params.emplace_back("chosen_new", best_new.spec);
  params.emplace_back("test_recall_all", absl::StrCat(best_all.recall));
  params.emplace_back("test_recall_new", absl::StrCat(best_new.recall));
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<RankerParts> all,
                          MakeParts(full, std::move(best_all.weights), options.index_spec));
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<RankerParts> new_items,
                          MakeParts(full, std::move(best_new.weights), options.index_spec));
  auto model = std::make_unique<ProductionRankerModel>(
      &train, std::move(all), split.now_unix, options.vector_candidates, std::move(params),
      "ranker_ceiling", std::move(new_items));
  model->set_train_seconds(SecondsSince(start));
  return model;
}

BundleRanker::BundleRanker(const model::ModelBundle* bundle,
                           int vector_candidates)
    : bundle_(bundle),
      vector_candidates_(vector_candidates),
      model_(bundle->ranker_model()) {}

absl::StatusOr<std::vector<std::string>> BundleRanker::Rank(
    absl::string_view user_id, int k, int64_t now_unix,
    bool include_bought) const {
  if (k < 1) return absl::InvalidArgumentError("k must be >= 1");
  const int32_t row = bundle_->UserRow(user_id);
  if (row < 0) {
    return absl::NotFoundError(absl::StrCat("unknown user '", user_id, "'"));
  }
  RECSYS_ASSIGN_OR_RETURN(
      std::vector<int32_t> items,
      RankWithRanker(model_, bundle_->user_vector(row), bundle_->history(row),
                     k, now_unix, include_bought, vector_candidates_));
  std::vector<std::string> out;
  out.reserve(items.size());
  for (int32_t i : items) out.push_back(bundle_->item(i).item_id);
  return out;
}

absl::StatusOr<std::vector<std::string>> RankForUser(
    const model::ModelBundle& bundle, absl::string_view user_id, int k,
    int64_t now_unix) {
  return BundleRanker(&bundle).Rank(user_id, k, now_unix);
}

}  // namespace recsys::evaluation
