#include "training/tuner.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <initializer_list>
#include <limits>
#include <memory>
#include <string>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/parallel.h"
#include "common/status_macros.h"
#include "model/vector_index.h"
#include "stats/stats.h"
#include "training/trainer.h"

namespace recsys::training {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string Spec(const AlsOptions& als, const ConfidenceOptions& c) {
  return absl::StrFormat("factors=%d,reg=%g,alpha=%g,decay=%g", als.factors,
                         als.regularization, c.alpha, c.decay_half_life_days);
}

absl::StatusOr<AlsModel> TrainOn(const InteractionData& data,
                                 const TuneCandidate& candidate) {
  ConfidenceOptions confidence = candidate.confidence;
  if (confidence.reference_unix == 0)
    confidence.reference_unix = data.last_event_unix;
  RECSYS_ASSIGN_OR_RETURN(CsrMatrix weights, BuildConfidence(data, confidence));
  AlsOptions als = candidate.als;
  als.on_iteration = nullptr;
  als.compute_loss = false;
  return TrainAls(weights, als);
}

absl::StatusOr<std::unique_ptr<model::VectorIndex>> IndexOf(
    const AlsModel& als, absl::string_view spec) {
  RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<model::VectorIndex> index,
                          model::VectorIndex::Create(
                              als.factors, spec, model::Metric::kInnerProduct));
  RECSYS_RETURN_IF_ERROR(index->Add(als.item_factors));
  return index;
}

// A period's history and ranker statistics.
struct PeriodParts {
  model::ModelData history;
  model::RankerItemStats stats;
};

PeriodParts PartsOf(const InteractionData& period,
                    const model::RankerStatsOptions& stats_options) {
  PeriodParts p;
  p.history = BuildModelData(period, AlsModel(), {});
  p.stats = model::ComputeRankerItemStats(
      period.num_items(), p.history.history_indptr, p.history.history,
      stats_options);
  model::AddRankerContentStats(p.history.items, stats_options, &p.stats);
  return p;
}

std::string Date(int64_t unix) {
  return absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(unix),
                          absl::UTCTimeZone());
}

}  // namespace

std::vector<TuneCandidate> TuneGrid(const AlsOptions& als,
                                    const ConfidenceOptions& confidence,
                                    int max_candidates) {
  std::vector<TuneCandidate> grid;
  auto push = [&](AlsOptions a, ConfidenceOptions c) {
    a.on_iteration = nullptr;
    grid.push_back({a, c, Spec(a, c)});
  };
  push(als, confidence);
  {
    AlsOptions a = als;
    a.regularization *= 4;
    push(a, confidence);
  }
  {
    AlsOptions a = als;
    a.regularization /= 4;
    push(a, confidence);
  }
  {
    ConfidenceOptions c = confidence;
    c.alpha *= 3;
    push(als, c);
  }
  {
    ConfidenceOptions c = confidence;
    c.alpha /= 3;
    push(als, c);
  }
  if (als.factors >= 16) {
    AlsOptions a = als;
    a.factors /= 2;
    push(a, confidence);
  }
  {
    ConfidenceOptions c = confidence;
    c.decay_half_life_days = confidence.decay_half_life_days > 0 ? 0 : 30;
    push(als, c);
  }
  if (max_candidates >= 1 && static_cast<int>(grid.size()) > max_candidates) {
    grid.resize(max_candidates);
  }
  return grid;
}

int TuneWindowDays(int64_t first_unix, int64_t last_unix, int validation_days) {
  const int64_t span_days = (last_unix - first_unix) / 86400;
  if (span_days < 6 || validation_days < 1) return 0;
  return static_cast<int>(std::min<int64_t>(validation_days, span_days / 6));
}

absl::StatusOr<TuneWindows> BuildTuneWindows(
    const RowVisitor& rows, const InteractionOptions& interactions,
    int64_t end_unix, int window_days) {
  if (window_days < 1)
    return absl::InvalidArgumentError("window_days: must be >= 1");
  TuneWindows w;
  w.window_days = window_days;
  w.end_unix = end_unix;
  w.window2_start_unix = end_unix - int64_t{window_days} * 86400;
  w.window1_start_unix = end_unix - 2 * int64_t{window_days} * 86400;
  InteractionBuilder period1(interactions), period2(interactions);
  struct WindowRow {
    std::string user_id;
    std::string item_id;
    bool second;
  };
  std::vector<WindowRow> window_rows;
  RECSYS_RETURN_IF_ERROR(rows([&](const PurchaseRow& row) {
    if (row.timestamp_unix < w.window1_start_unix) period1.Add(row);
    if (row.timestamp_unix < w.window2_start_unix) {
      period2.Add(row);
    }
    if (row.timestamp_unix >= w.window1_start_unix) {
      window_rows.push_back({row.user_id, row.item_id,
                             row.timestamp_unix >= w.window2_start_unix});
    }
  }));
  w.period1 = period1.Build();
  w.period2 = period2.Build();
  if (w.period1.num_users() == 0) {
    return absl::FailedPreconditionError(
        "no purchases before the first validation window");
  }
  WindowLabels labels1(w.period1), labels2(w.period2);
  for (const WindowRow& r : window_rows) {
    if (r.second) {
      labels2.Add(r.user_id, r.item_id);
      ++w.window2_rows;
    } else {
      labels1.Add(r.user_id, r.item_id);
      ++w.window1_rows;
    }
  }
  w.labels1 = labels1.Take();
  w.labels2 = labels2.Take();
  if (w.window1_rows == 0 || w.window2_rows == 0) {
    return absl::FailedPreconditionError(
        "a validation window has no purchases");
  }
  return w;
}

bool GuardKeepsRanker(double ranker, absl::Span<const double> ranker_users, double rival,
                      absl::Span<const double> rival_users, double confidence, double* lower,
                      double* upper) {
  absl::StatusOr<stats::PairedDifference> d =
      stats::ComparePaired(ranker_users, rival_users, confidence > 0 ? confidence : 0.95);
  if (d.ok()) {
    *lower = d->ci.lower;
    *upper = d->ci.upper;
  }
  if (ranker < rival) return false;
  return confidence <= 0 || (d.ok() && d->ci.lower > 0);
}

absl::StatusOr<WindowRecall> ScoreOnWindow(
    const model::RankerModel& model, absl::Span<const float> user_factors,
    absl::Span<const int64_t> history_indptr,
    absl::Span<const model::HistoryEntry> history,
    const std::vector<std::vector<int32_t>>& labels, int64_t now_unix, int k,
    int vector_candidates, int threads, bool score_all) {
  std::vector<int32_t> users;
  const int64_t num_users =
      history_indptr.empty() ? 0
                             : static_cast<int64_t>(history_indptr.size()) - 1;
  for (int64_t u = 0; u < num_users && u < static_cast<int64_t>(labels.size());
       ++u) {
    if (!labels[u].empty()) users.push_back(static_cast<int32_t>(u));
  }
  // Per user: recall all, recall new (-1: no new item).
  std::vector<double> all(users.size(), 0), fresh(users.size(), -1);
  std::atomic<bool> failed{false};
  ParallelFor(
      static_cast<int64_t>(users.size()), std::max(1, threads), 1,
      [&](int, int64_t begin, int64_t end) {
        for (int64_t idx = begin; idx < end; ++idx) {
          const int32_t u = users[idx];
          model::RankerUser user;
          if (!user_factors.empty()) {
            user.vector = user_factors.subspan(
                static_cast<size_t>(u) * model.dim, model.dim);
          }
          user.history = history.subspan(
              history_indptr[u], history_indptr[u + 1] - history_indptr[u]);
          const std::vector<int32_t>& t = labels[u];
          absl::flat_hash_set<int32_t> bought;
          for (const model::HistoryEntry& h : user.history)
            bought.insert(h.item);
          std::vector<int32_t> t_new;
          for (int32_t i : t) {
            if (!bought.contains(i)) t_new.push_back(i);
          }
          model::RankOptions options;
          options.k = k;
          options.now_unix = now_unix;
          options.vector_candidates = vector_candidates;
          for (bool include : {true, false}) {
            if (include && !score_all) continue;
            const std::vector<int32_t>& target = include ? t : t_new;
            if (target.empty()) continue;
            options.include_bought = include;
            auto ranked = model::RankItems(model, user, options);
            if (!ranked.ok()) {
              failed = true;
              return;
            }
            int hits = 0;
            for (const model::RankedItem& r : *ranked) {
              hits += std::binary_search(target.begin(), target.end(), r.item);
            }
            const double recall =
                static_cast<double>(hits) /
                static_cast<double>(std::min<size_t>(target.size(), k));
            (include ? all[idx] : fresh[idx]) = recall;
          }
        }
      });
  if (failed)
    return absl::InternalError("ranking failed while scoring the window");
  WindowRecall r;
  for (size_t i = 0; i < users.size(); ++i) {
    r.all += all[i];
    r.users_all += score_all ? 1 : 0;
    if (fresh[i] >= 0) {
      r.new_items += fresh[i];
      ++r.users_new;
    }
  }
  if (r.users_all > 0) r.all /= r.users_all;
  if (r.users_new > 0) r.new_items /= r.users_new;
  if (score_all) r.user_all = std::move(all);
  for (double& f : fresh) {
    if (f < 0) f = std::numeric_limits<double>::quiet_NaN();
  }
  r.user_new = std::move(fresh);
  return r;
}

absl::StatusOr<TuneOutcome> TuneRanker(
    const TuneWindows& windows, const std::vector<TuneCandidate>& candidates,
    const TunerOptions& options) {
  if (candidates.empty())
    return absl::InvalidArgumentError("tuner: no candidate");
  if (!(options.budget_seconds > 0)) {
    return absl::InvalidArgumentError("budget_seconds: must be > 0");
  }
  auto log = [&](absl::string_view line) {
    if (options.log) options.log(line);
  };
  const Clock::time_point start = Clock::now();
  const int threads = std::max(1, options.fit.threads);
  const int vector_candidates = options.fit.vector_candidates;
  const PeriodParts parts1 = PartsOf(windows.period1, {});
  const PeriodParts parts2 = PartsOf(windows.period2, {});
  const model::ModelData& h1 = parts1.history;
  const model::ModelData& h2 = parts2.history;
  // EASE neighbours, where the catalog is small enough: the statistics of
  // both periods with them (the histories are the same).
  std::vector<model::NeighborKind> kinds = {model::NeighborKind::kCosine};
  model::RankerStatsOptions ease_options;
  ease_options.neighbor_kind = model::NeighborKind::kEase;
  ease_options.ease_lambda = options.ease_lambda;
  PeriodParts ease1, ease2;
  if (options.ease_max_items > 0 &&
      windows.period2.num_items() <= options.ease_max_items) {
    const Clock::time_point ease_start = Clock::now();
    ease1.stats = model::ComputeRankerItemStats(
        windows.period1.num_items(), h1.history_indptr, h1.history,
        ease_options);
    ease2.stats = model::ComputeRankerItemStats(
        windows.period2.num_items(), h2.history_indptr, h2.history,
        ease_options);
    // The content statistics do not depend on the neighbour kind.
    ease1.stats.title_neighbors = parts1.stats.title_neighbors;
    ease2.stats.title_neighbors = parts2.stats.title_neighbors;
    if (!ease1.stats.neighbors.indptr.empty() &&
        !ease2.stats.neighbors.indptr.empty()) {
      kinds.push_back(model::NeighborKind::kEase);
    }
    log(absl::StrFormat("tune: EASE neighbours (lambda %g) of %d items: %.2fs",
                        options.ease_lambda, windows.period2.num_items(),
                        SecondsSince(ease_start)));
  }
  auto stats1 = [&](model::NeighborKind kind) -> const model::RankerItemStats& {
    return kind == model::NeighborKind::kEase ? ease1.stats : parts1.stats;
  };
  auto stats2 = [&](model::NeighborKind kind) -> const model::RankerItemStats& {
    return kind == model::NeighborKind::kEase ? ease2.stats : parts2.stats;
  };

  TuneOutcome out;
  recsys::v1::TuningReport& report = out.report;
  report.set_window_start_unix(windows.window2_start_unix);
  report.set_window_end_unix(windows.end_unix);
  report.set_k(options.k);
  report.set_budget_seconds(options.budget_seconds);
  int64_t window_users = 0;
  for (const auto& l : windows.labels2) window_users += !l.empty();
  report.set_window_users(window_users);
  log(absl::StrFormat(
      "tune: fit weights on %s..%s, score on %s..%s (%d users), %d candidates, "
      "budget %.1fs",
      Date(windows.window1_start_unix), Date(windows.window2_start_unix),
      Date(windows.window2_start_unix), Date(windows.end_unix), window_users,
      candidates.size(), options.budget_seconds));

  // Baselines on window 2 that need no factors.
  auto serving = [](model::RankerServe serve) {
    model::RankerWeights w;
    w.serve_all = w.serve_new = serve;
    return w;
  };
  const model::RankerWeights popularity_weights =
      serving(model::RankerServe::kPopularity);
  const model::RankerWeights buy_again_weights =
      serving(model::RankerServe::kBuyAgain);
  const model::RankerWeights neighbors_weights =
      serving(model::RankerServe::kNeighbors);
  const model::RankerWeights vector_weights =
      serving(model::RankerServe::kVector);
  const model::RankerWeights fusion_weights =
      serving(model::RankerServe::kFusion);
  auto score_baseline = [&](const model::RankerWeights& w,
                            const model::RankerItemStats& stats) {
    const model::RankerModel m =
        model::MakeRankerModel(nullptr, {}, 0, &stats, &w);
    return ScoreOnWindow(m, {}, h2.history_indptr, h2.history, windows.labels2,
                         windows.window2_start_unix, options.k, 0, threads);
  };
  RECSYS_ASSIGN_OR_RETURN(WindowRecall popularity,
                          score_baseline(popularity_weights, parts2.stats));
  RECSYS_ASSIGN_OR_RETURN(WindowRecall buy_again,
                          score_baseline(buy_again_weights, parts2.stats));
  log(absl::StrFormat(
      "tune: baselines R@%d all / new: popularity %.4f / %.4f, buy_again %.4f",
      options.k, popularity.all, popularity.new_items, buy_again.all));

  // The choice: per configuration, the feature set best on all items and
  // the weights best on new items (a set's discovery weights or its main
  // ones); the configuration with the best sum wins.
  struct Best {
    int candidate = -1;
    RankerFeatureSet set_all = RankerFeatureSet::kBase;
    RankerFeatureSet set_new = RankerFeatureSet::kBase;
    bool discovery = false;
    double objective = -1;
    double recall_all = 0;
    double recall_new = 0;
    int64_t users_all = 0;
    int64_t users_new = 0;
    int entry_all = -1;
    int entry_new = -1;
    double discovery_l2 = -1;
    model::NeighborKind kind = model::NeighborKind::kCosine;
    // The per-user recalls of recall_all and recall_new (WindowRecall).
    std::vector<double> user_all;
    std::vector<double> user_new;
    AlsModel als2;
  } best;
  double last_seconds = 0;
  // The first configuration's iALS and examples seconds, and its sets.
  double first_fixed_seconds = 0;
  int first_sets = 0;
  const RankerFeatureSet sets[] = {RankerFeatureSet::kBase,
                                   RankerFeatureSet::kNeighbors,
                                   RankerFeatureSet::kNeighborsTrending,
                                   RankerFeatureSet::kContent};
  // Trials: the first configuration with each kind of neighbours, then the
  // other configurations with the kind the best trial so far used.
  const size_t num_kinds = kinds.size();
  for (size_t t = 0; t + 1 < candidates.size() + num_kinds; ++t) {
    const size_t c = t < num_kinds ? 0 : t - num_kinds + 1;
    const model::NeighborKind kind = t < num_kinds ? kinds[t] : best.kind;
    const model::RankerItemStats& trial_stats1 = stats1(kind);
    const model::RankerItemStats& trial_stats2 = stats2(kind);
    const std::string kind_spec =
        kind == model::NeighborKind::kEase ? ",neighbors=ease" : "";
    const TuneCandidate& candidate = candidates[c];
    // The next configuration's expected time: the last one's, except after
    // the first, which tried every feature set: its per-configuration parts
    // (iALS, examples) plus its fits and scoring per set times the sets the
    // next one tries.
    double expected = last_seconds;
    if (c == 1 && first_sets > 0) {
      const int next_sets = best.set_all == best.set_new ? 1 : 2;
      expected = first_fixed_seconds +
                 (last_seconds - first_fixed_seconds) * next_sets / first_sets;
    }
    if (c > 0 && SecondsSince(start) + expected > options.budget_seconds) {
      recsys::v1::TuningCandidate* entry = report.add_candidates();
      entry->set_spec(absl::StrCat(candidate.spec, kind_spec));
      entry->set_skipped("time budget");
      log(absl::StrCat("tune: ", entry->spec(), ": skipped (time budget)"));
      continue;
    }
    const Clock::time_point candidate_start = Clock::now();
    double als_seconds = 0, examples_seconds = 0, fit_seconds = 0,
           score_seconds = 0;
    Clock::time_point phase = Clock::now();
    auto lap = [&phase](double* into) {
      *into += SecondsSince(phase);
      phase = Clock::now();
    };
    RECSYS_ASSIGN_OR_RETURN(AlsModel als1, TrainOn(windows.period1, candidate));
    RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<model::VectorIndex> index1,
                            IndexOf(als1, options.index_spec));
    const model::RankerModel model1 = model::MakeRankerModel(
        index1.get(), als1.item_factors, als1.factors, &trial_stats1, nullptr);
    RankerFitOptions fit = options.fit;
    fit.threads = threads;
    lap(&als_seconds);
    auto examples = BuildRankerExamples(
        model1, als1.user_factors, h1.history_indptr, h1.history,
        windows.labels1, windows.window1_start_unix, fit);
    lap(&examples_seconds);
    if (!examples.ok()) {
      recsys::v1::TuningCandidate* entry = report.add_candidates();
      entry->set_spec(absl::StrCat(candidate.spec, kind_spec));
      entry->set_skipped(std::string(examples.status().message()));
      last_seconds = SecondsSince(candidate_start);
      continue;
    }
    std::vector<RankerFitResult> fits;
    std::vector<RankerFeatureSet> fit_sets;
    // The discovery penalty of each fit's own discovery weights (-1: l2).
    std::vector<double> discovery_l2_base;
    for (RankerFeatureSet set : sets) {
      // Configurations after the first try only the sets, and the discovery
      // penalty, the best configuration so far preferred.
      if (c > 0 && set != best.set_all && set != best.set_new) continue;
      // Without neighbours, the kind changes nothing.
      if (c == 0 && kind != kinds[0] && set == RankerFeatureSet::kBase) {
        continue;
      }
      fit.feature_set = set;
      fit.discovery = true;
      const double own_l2 = c > 0 && best.discovery ? best.discovery_l2 : -1;
      fit.discovery_l2 = own_l2;
      auto r = FitRankerWeights(*examples, fit);
      if (!r.ok()) continue;
      discovery_l2_base.push_back(own_l2);
      fits.push_back(*std::move(r));
      fit_sets.push_back(set);
    }
    index1.reset();
    als1 = AlsModel();
    lap(&fit_seconds);
    RECSYS_ASSIGN_OR_RETURN(AlsModel als2, TrainOn(windows.period2, candidate));
    RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<model::VectorIndex> index2,
                            IndexOf(als2, options.index_spec));
    lap(&als_seconds);
    int entry_all = -1, entry_new = -1;
    double best_all = -1, best_new = -1;
    int64_t users_all = 0, users_new = 0;
    std::vector<bool> discovery_of(fits.size(), false);
    std::vector<double> discovery_l2_of(fits.size(), -1);
    std::vector<WindowRecall> scores(fits.size());
    // The set whose discovery weights score best on new items (-1: none).
    int best_discovery = -1;
    double best_discovery_new = -1;
    auto score_new = [&](const model::RankerWeights& weights) {
      const model::RankerModel m =
          model::MakeRankerModel(index2.get(), als2.item_factors, als2.factors,
                                 &trial_stats2, &weights);
      return ScoreOnWindow(m, als2.user_factors, h2.history_indptr, h2.history,
                           windows.labels2, windows.window2_start_unix,
                           options.k, vector_candidates, threads,
                           /*score_all=*/false);
    };
    for (size_t f = 0; f < fits.size(); ++f) {
      model::RankerWeights plain = fits[f].weights;
      plain.has_discovery = false;
      const model::RankerModel model2 = model::MakeRankerModel(
          index2.get(), als2.item_factors, als2.factors, &trial_stats2, &plain);
      RECSYS_ASSIGN_OR_RETURN(
          scores[f],
          ScoreOnWindow(model2, als2.user_factors, h2.history_indptr,
                        h2.history, windows.labels2, windows.window2_start_unix,
                        options.k, vector_candidates, threads));
      if (fits[f].weights.has_discovery) {
        RECSYS_ASSIGN_OR_RETURN(WindowRecall d, score_new(fits[f].weights));
        if (d.new_items > scores[f].new_items) {
          scores[f].new_items = d.new_items;
          scores[f].user_new = d.user_new;
          discovery_of[f] = true;
          discovery_l2_of[f] = discovery_l2_base[f];
        }
        if (d.new_items > best_discovery_new) {
          best_discovery_new = d.new_items;
          best_discovery = static_cast<int>(f);
        }
      }
    }
    // The first configuration also tries other discovery penalties, on the
    // set whose discovery weights did best (the main weights do not depend
    // on the penalty, so only the discovery weights are refit).
    if (c == 0 && best_discovery >= 0) {
      const size_t f = static_cast<size_t>(best_discovery);
      fit.feature_set = fit_sets[f];
      fit.main_weights = false;
      for (double factor : kDiscoveryL2Factors) {
        fit.discovery_l2 = options.fit.l2 * factor;
        auto more = FitRankerWeights(*examples, fit);
        if (!more.ok() || !more->weights.has_discovery) continue;
        model::RankerWeights shrunk = fits[f].weights;
        shrunk.discovery = more->weights.discovery;
        RECSYS_ASSIGN_OR_RETURN(WindowRecall ds, score_new(shrunk));
        if (ds.new_items > scores[f].new_items) {
          scores[f].new_items = ds.new_items;
          scores[f].user_new = std::move(ds.user_new);
          discovery_of[f] = true;
          discovery_l2_of[f] = fit.discovery_l2;
        }
      }
    }
    examples = RankerExamples();
    for (size_t f = 0; f < fits.size(); ++f) {
      const WindowRecall& r = scores[f];
      const bool discovery = discovery_of[f];
      recsys::v1::TuningCandidate* entry = report.add_candidates();
      entry->set_spec(absl::StrCat(
          candidate.spec, kind_spec, ",features=",
          RankerFeatureSetName(fit_sets[f]),
          discovery ? ",discovery" : "",
          discovery_l2_of[f] >= 0
              ? absl::StrFormat(",discovery_l2=%g", discovery_l2_of[f])
              : ""));
      entry->set_recall_all(r.all);
      entry->set_recall_new(r.new_items);
      entry->set_objective(r.all + r.new_items);
      log(absl::StrFormat("tune: %s: R@%d all %.4f new %.4f", entry->spec(),
                          options.k, r.all, r.new_items));
      const int index = report.candidates_size() - 1;
      if (r.all > best_all) {
        best_all = r.all;
        entry_all = index;
        users_all = r.users_all;
      }
      if (r.new_items > best_new) {
        best_new = r.new_items;
        entry_new = index;
        users_new = r.users_new;
      }
    }
    lap(&score_seconds);
    log(absl::StrFormat(
        "tune: %s: %.2fs (iALS %.2fs, examples %.2fs, fits %.2fs, scoring "
        "%.2fs)",
        absl::StrCat(candidate.spec, kind_spec), SecondsSince(candidate_start),
        als_seconds,
        examples_seconds, fit_seconds, score_seconds));
    if (entry_all >= 0 && best_all + best_new > best.objective) {
      const int first =
          report.candidates_size() - static_cast<int>(fits.size());
      best.candidate = static_cast<int>(c);
      best.kind = kind;
      best.set_all = fit_sets[entry_all - first];
      best.set_new = fit_sets[entry_new - first];
      best.discovery = discovery_of[entry_new - first];
      best.discovery_l2 = discovery_l2_of[entry_new - first];
      best.objective = best_all + best_new;
      best.recall_all = best_all;
      best.recall_new = best_new;
      best.users_all = users_all;
      best.users_new = users_new;
      best.entry_all = entry_all;
      best.entry_new = entry_new;
      best.user_all = std::move(scores[entry_all - first].user_all);
      best.user_new = std::move(scores[entry_new - first].user_new);
      best.als2 = std::move(als2);
    }
    last_seconds = SecondsSince(candidate_start);
    if (c == 0) {
      first_fixed_seconds = als_seconds + examples_seconds;
      first_sets = static_cast<int>(fits.size());
    }
    for (int i = report.candidates_size() - static_cast<int>(fits.size());
         i < report.candidates_size(); ++i) {
      report.mutable_candidates(i)->set_seconds(last_seconds);
    }
  }
  if (best.candidate < 0) {
    return absl::FailedPreconditionError(
        "tuner: no candidate could be fit on the window");
  }
  report.set_chosen(best.entry_all);
  report.set_chosen_new(best.entry_new);
  out.chosen = best.candidate;
  out.feature_set = best.set_all;
  out.feature_set_new = best.set_new;
  out.discovery = best.discovery;

  // Final weights: the choice refit on window 2 (iALS of period 2); the
  // guard's baselines that need the chosen factors.
  WindowRecall vector, fusion;
  const model::RankerItemStats& chosen_stats2 = stats2(best.kind);
  // The neighbours alone, with the chosen kind's neighbours (what RankItems
  // serves for kNeighbors with the published weights).
  RECSYS_ASSIGN_OR_RETURN(WindowRecall neighbors,
                          score_baseline(neighbors_weights, chosen_stats2));
  log(absl::StrFormat("tune: %s neighbours alone R@%d all %.4f new %.4f",
                      model::NeighborKindName(best.kind), options.k,
                      neighbors.all, neighbors.new_items));
  {
    RECSYS_ASSIGN_OR_RETURN(std::unique_ptr<model::VectorIndex> index2,
                            IndexOf(best.als2, options.index_spec));
    for (auto [weights, into] : {std::pair{&vector_weights, &vector},
                                 std::pair{&fusion_weights, &fusion}}) {
      const model::RankerModel baseline =
          model::MakeRankerModel(index2.get(), best.als2.item_factors,
                                 best.als2.factors, &chosen_stats2, weights);
      RECSYS_ASSIGN_OR_RETURN(
          *into,
          ScoreOnWindow(baseline, best.als2.user_factors, h2.history_indptr,
                        h2.history, windows.labels2, windows.window2_start_unix,
                        options.k, 0, threads));
    }
    log(absl::StrFormat(
        "tune: %s: vector alone R@%d all %.4f new %.4f; fusion of vector and "
        "neighbours all %.4f new %.4f",
        candidates[best.candidate].spec, options.k, vector.all,
        vector.new_items, fusion.all, fusion.new_items));
    const model::RankerModel model2 =
        model::MakeRankerModel(index2.get(), best.als2.item_factors,
                               best.als2.factors, &chosen_stats2, nullptr);
    RankerFitOptions fit = options.fit;
    fit.threads = threads;
    RECSYS_ASSIGN_OR_RETURN(
        RankerExamples examples,
        BuildRankerExamples(model2, best.als2.user_factors, h2.history_indptr,
                            h2.history, windows.labels2,
                            windows.window2_start_unix, fit));
    fit.feature_set = best.set_all;
    fit.discovery = false;
    RECSYS_ASSIGN_OR_RETURN(out.fit, FitRankerWeights(examples, fit));
    fit.feature_set = best.set_new;
    fit.discovery = best.discovery;
    fit.discovery_l2 = best.discovery ? best.discovery_l2 : -1;
    RECSYS_ASSIGN_OR_RETURN(RankerFitResult fit_new,
                            FitRankerWeights(examples, fit));
    out.fit.weights.discovery =
        best.discovery ? fit_new.weights.discovery : fit_new.weights.w;
    out.fit.weights.has_discovery = true;
  }
  out.weights = out.fit.weights;
  out.weights.neighbors = best.kind;
  out.weights.ease_lambda =
      best.kind == model::NeighborKind::kEase ? options.ease_lambda : 0;
  out.weights.origin = absl::StrCat(
      "tuned (all items: ", report.candidates(best.entry_all).spec(),
      "; new items: ", report.candidates(best.entry_new).spec(),
      "); fit on the window ", Date(windows.window2_start_unix), "..",
      Date(windows.end_unix), " (", out.fit.weights.origin, ")");

  // The guard: the best of the ranker and the baselines per setting (the
  // ranker on ties).
  recsys::v1::RankerGuardReport& guard = out.weights.guard;
  guard.set_k(options.k);
  guard.set_users_all(best.users_all);
  guard.set_users_new(best.users_new);
  guard.set_ranker_all(best.recall_all);
  guard.set_popularity_all(popularity.all);
  guard.set_buy_again_all(buy_again.all);
  guard.set_vector_all(vector.all);
  guard.set_neighbors_all(neighbors.all);
  guard.set_ranker_new(best.recall_new);
  guard.set_popularity_new(popularity.new_items);
  guard.set_vector_new(vector.new_items);
  guard.set_neighbors_new(neighbors.new_items);
  // Per setting, the best baseline on window 2 and the paired interval of
  // the ranker's recall minus its recall over the window's users.
  struct Rival {
    model::RankerServe serve = model::RankerServe::kRanker;
    double recall = -1;
    const std::vector<double>* users = nullptr;
  };
  auto best_rival = [](std::initializer_list<std::tuple<double, const std::vector<double>*,
                                                        model::RankerServe>>
                           baselines) {
    Rival rival;
    for (const auto& [recall, users, serve] : baselines) {
      if (recall > rival.recall) rival = Rival{serve, recall, users};
    }
    return rival;
  };
  const Rival rival_all = best_rival(
      {{buy_again.all, &buy_again.user_all, model::RankerServe::kBuyAgain},
       {popularity.all, &popularity.user_all, model::RankerServe::kPopularity},
       {vector.all, &vector.user_all, model::RankerServe::kVector},
       {neighbors.all, &neighbors.user_all, model::RankerServe::kNeighbors},
       {fusion.all, &fusion.user_all, model::RankerServe::kFusion}});
  const Rival rival_new = best_rival(
      {{popularity.new_items, &popularity.user_new, model::RankerServe::kPopularity},
       {vector.new_items, &vector.user_new, model::RankerServe::kVector},
       {neighbors.new_items, &neighbors.user_new, model::RankerServe::kNeighbors},
       {fusion.new_items, &fusion.user_new, model::RankerServe::kFusion}});
  const double confidence = options.guard_confidence > 0 ? options.guard_confidence : 0.95;
  guard.set_confidence(confidence);
  auto ranker_serves = [&](double ranker, const std::vector<double>& ranker_users,
                           const Rival& rival, double* lower, double* upper) {
    return GuardKeepsRanker(ranker, ranker_users, rival.recall, *rival.users,
                            std::max(0.0, options.guard_confidence), lower, upper);
  };
  double lower = 0, upper = 0;
  const bool ranker_all = ranker_serves(best.recall_all, best.user_all, rival_all, &lower, &upper);
  guard.set_rival_all(std::string(model::RankerServeName(rival_all.serve)));
  guard.set_margin_all_lower(lower);
  guard.set_margin_all_upper(upper);
  lower = upper = 0;
  const bool ranker_new = ranker_serves(best.recall_new, best.user_new, rival_new, &lower, &upper);
  guard.set_rival_new(std::string(model::RankerServeName(rival_new.serve)));
  guard.set_margin_new_lower(lower);
  guard.set_margin_new_upper(upper);
  log(absl::StrFormat(
      "tune: guard: ranker minus the best baseline on window 2 (%.0f%% interval): all items "
      "%+.4f..%+.4f (vs %s), new items %+.4f..%+.4f (vs %s)",
      100 * confidence, guard.margin_all_lower(), guard.margin_all_upper(),
      guard.rival_all(), guard.margin_new_lower(), guard.margin_new_upper(),
      guard.rival_new()));
  if (options.guard) {
    if (!ranker_all) out.weights.serve_all = rival_all.serve;
    if (!ranker_new) out.weights.serve_new = rival_new.serve;
  }
  out.fusion_all = fusion.all;
  out.fusion_new = fusion.new_items;
  // The guard report has no field for the fusion; its scores go to the
  // weights' origin (stored in the manifest).
  absl::StrAppend(
      &out.weights.origin,
      absl::StrFormat("; guard: fusion of vector and neighbours R@%d all "
                      "%.4f new %.4f",
                      options.k, fusion.all, fusion.new_items));
  report.set_seconds(SecondsSince(start));
  log(absl::StrFormat(
      "tune: chose %s for all items (R@%d %.4f), %s for new items (%.4f); "
      "guard serves all "
      "items: %s, new items: %s; %.1fs",
      report.candidates(best.entry_all).spec(), options.k, best.recall_all,
      report.candidates(best.entry_new).spec(), best.recall_new,
      model::RankerServeName(out.weights.serve_all),
      model::RankerServeName(out.weights.serve_new), report.seconds()));
  return out;
}

}  // namespace recsys::training
