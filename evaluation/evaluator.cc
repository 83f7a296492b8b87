#include "evaluation/evaluator.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/parallel.h"
#include "common/status_macros.h"
#include "stats/stats.h"

namespace recsys::evaluation {

absl::StatusOr<std::vector<SettingResult>> EvaluateSplit(
    const Model& model, const EvalSplit& split,
    const SplitEvalOptions& options) {
  if (options.ks.empty()) return absl::InvalidArgumentError("no k given");
  for (int k : options.ks) {
    if (k < 1) return absl::InvalidArgumentError("every k must be >= 1");
  }
  const int max_k = *std::max_element(options.ks.begin(), options.ks.end());
  const int threads = std::max(1, options.threads);
  std::vector<SettingResult> out;
  for (const std::string& setting : options.settings) {
    const bool is_new = setting == kSettingNew;
    if (!is_new && setting != kSettingAll) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown setting '", setting, "'"));
    }
    if (is_new && split.test_items_all_new) continue;
    const bool exclude = is_new || split.test_items_all_new;
    std::vector<MetricsAccumulator> acc(
        threads, MetricsAccumulator(options.ks, split.train.num_items()));
    std::vector<std::vector<double>> user_recall(
        options.ks.size(), std::vector<double>(split.users.size(),
                                               std::numeric_limits<double>::quiet_NaN()));
    std::mutex mu;
    absl::Status first_error;
    ParallelFor(static_cast<int64_t>(split.users.size()), threads, 32,
                [&](int t, int64_t begin, int64_t end) {
                  for (int64_t i = begin; i < end; ++i) {
                    const EvalUser& u = split.users[i];
                    const std::vector<int32_t>& relevant =
                        is_new ? u.new_items : u.test_items;
                    if (relevant.empty()) continue;
                    absl::StatusOr<std::vector<int32_t>> list =
                        model.Recommend(u.user, max_k, exclude);
                    if (!list.ok()) {
                      std::lock_guard<std::mutex> lock(mu);
                      if (first_error.ok()) first_error = list.status();
                      return;
                    }
                    acc[t].Add(*list, relevant);
                    for (size_t k = 0; k < options.ks.size(); ++k) {
                      user_recall[k][i] = ScoreList(*list, relevant, options.ks[k]).recall;
                    }
                  }
                });
    RECSYS_RETURN_IF_ERROR(first_error);
    for (int t = 1; t < threads; ++t) acc[0].Merge(acc[t]);
    SettingResult r;
    r.setting = setting;
    r.users = acc[0].users();
    r.metrics = acc[0].Results();
    r.user_recall = std::move(user_recall);
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<PairedDifference> PairedRecallDifference(const SettingResult& a,
                                                        const SettingResult& b, int k_index,
                                                        double confidence) {
  if (a.setting != b.setting) {
    return absl::InvalidArgumentError(
        absl::StrCat("setting: '", a.setting, "' vs '", b.setting, "'"));
  }
  if (k_index < 0 || k_index >= static_cast<int>(a.user_recall.size()) ||
      k_index >= static_cast<int>(b.user_recall.size())) {
    return absl::InvalidArgumentError(absl::StrCat("k_index: ", k_index, " out of range"));
  }
  const std::vector<double>& x = a.user_recall[k_index];
  const std::vector<double>& y = b.user_recall[k_index];
  if (x.size() != y.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("user_recall: ", x.size(), " vs ", y.size(), " users (not one split)"));
  }
  RECSYS_ASSIGN_OR_RETURN(stats::PairedDifference paired,
                          stats::ComparePaired(x, y, confidence));
  PairedDifference out;
  out.users = paired.n;
  out.difference = paired.mean;
  out.lower = paired.ci.lower;
  out.upper = paired.ci.upper;
  return out;
}

double PickMetric(const std::vector<SettingResult>& results,
                  absl::string_view setting, int k, absl::string_view metric) {
  for (const SettingResult& r : results) {
    if (r.setting != setting) continue;
    for (const MetricsAtK& m : r.metrics) {
      if (m.k != k) continue;
      if (metric == "recall") return m.recall;
      if (metric == "ndcg") return m.ndcg;
      if (metric == "hit_rate") return m.hit_rate;
      if (metric == "map") return m.map;
      if (metric == "coverage") return m.coverage;
    }
  }
  return std::numeric_limits<double>::quiet_NaN();
}

absl::StatusOr<LeaveOneOutResult> EvaluateLeaveOneOut(
    const Model& model, const LeaveOneOutData& data, int k, int threads) {
  if (k < 1) return absl::InvalidArgumentError("k must be >= 1");
  threads = std::max(1, threads);
  const int64_t n = static_cast<int64_t>(data.test_item.size());
  std::vector<double> hit(threads, 0);
  std::vector<double> ndcg(threads, 0);
  std::vector<int64_t> users(threads, 0);
  std::mutex mu;
  absl::Status first_error;
  ParallelFor(n, threads, 64, [&](int t, int64_t begin, int64_t end) {
    std::vector<int32_t> items;
    std::vector<float> scores;
    for (int64_t u = begin; u < end; ++u) {
      const int32_t positive = data.test_item[u];
      if (positive < 0) continue;
      items.assign(1, positive);
      items.insert(items.end(), data.negatives[u].begin(),
                   data.negatives[u].end());
      scores.assign(items.size(), 0);
      absl::Status s = model.ScoreItems(static_cast<int32_t>(u), items,
                                        absl::MakeSpan(scores));
      if (!s.ok()) {
        std::lock_guard<std::mutex> lock(mu);
        if (first_error.ok()) first_error = s;
        return;
      }
      const int rank =
          LeaveOneOutRank(scores[0], absl::MakeConstSpan(scores).subspan(1));
      hit[t] += HitAt(rank, k);
      ndcg[t] += NdcgAt(rank, k);
      ++users[t];
    }
  });
  RECSYS_RETURN_IF_ERROR(first_error);
  LeaveOneOutResult r;
  r.k = k;
  for (int t = 0; t < threads; ++t) {
    r.users += users[t];
    r.hit_rate += hit[t];
    r.ndcg += ndcg[t];
  }
  if (r.users > 0) {
    r.hit_rate /= r.users;
    r.ndcg /= r.users;
  }
  return r;
}

Json ParamsToJson(const ModelParams& params) {
  Json j = Json::Object();
  for (const auto& [k, v] : params) j.Set(k, v);
  return j;
}

Json SettingResultsToJson(const std::vector<SettingResult>& results) {
  Json out = Json::Object();
  for (const SettingResult& r : results) {
    Json s = Json::Object();
    s.Set("users", r.users);
    Json at = Json::Object();
    for (const MetricsAtK& m : r.metrics) {
      at.Set(absl::StrCat(m.k), Json::Object()
                                    .Set("recall", m.recall)
                                    .Set("ndcg", m.ndcg)
                                    .Set("hit_rate", m.hit_rate)
                                    .Set("map", m.map)
                                    .Set("coverage", m.coverage));
    }
    s.Set("at_k", std::move(at));
    out.Set(r.setting, std::move(s));
  }
  return out;
}

Json SplitStatsToJson(const EvalSplit& split) {
  const SplitStats& s = split.stats;
  Json j = Json::Object();
  j.Set("kind", split.kind)
      .Set("now_unix", split.now_unix)
      .Set("train_rows", s.train_rows)
      .Set("test_rows", s.test_rows)
      .Set("train_users", split.train.num_users())
      .Set("train_items", split.train.num_items())
      .Set("train_pairs", split.train.events.nnz())
      .Set("train_events", split.train.total_events)
      .Set("test_period_users", s.test_period_users)
      .Set("evaluated_users", s.evaluated_users)
      .Set("users_with_new_items", s.users_with_new_items)
      .Set("test_items", s.test_items)
      .Set("test_items_unknown_to_training", s.test_items_unknown)
      .Set("mean_test_items_per_user", s.mean_test_items)
      .Set("mean_new_items_per_user", s.mean_new_items);
  return j;
}

Json LeaveOneOutToJson(const LeaveOneOutResult& result) {
  return Json::Object()
      .Set("k", result.k)
      .Set("users", result.users)
      .Set("hit_rate", result.hit_rate)
      .Set("ndcg", result.ndcg);
}

std::string FormatSplitTable(const std::vector<TableRow>& rows,
                             const std::vector<int>& ks) {
  size_t width = 5;
  for (const TableRow& r : rows) width = std::max(width, r.model.size());
  std::string out = absl::StrFormat("%-*s %-7s %6s", static_cast<int>(width),
                                    "model", "setting", "users");
  for (int k : ks) {
    out += absl::StrFormat("  %7s %7s %7s %7s %7s", absl::StrCat("R@", k),
                           absl::StrCat("NDCG@", k), absl::StrCat("HR@", k),
                           absl::StrCat("MAP@", k), absl::StrCat("Cov@", k));
  }
  out += "\n";
  for (const TableRow& r : rows) {
    for (const SettingResult& s : r.results) {
      out += absl::StrFormat("%-*s %-7s %6d", static_cast<int>(width), r.model,
                             s.setting, s.users);
      for (int k : ks) {
        const MetricsAtK* m = nullptr;
        for (const MetricsAtK& x : s.metrics) {
          if (x.k == k) m = &x;
        }
        if (m == nullptr) {
          out +=
              absl::StrFormat("  %7s %7s %7s %7s %7s", "-", "-", "-", "-", "-");
        } else {
          out += absl::StrFormat("  %7.4f %7.4f %7.4f %7.4f %7.4f", m->recall,
                                 m->ndcg, m->hit_rate, m->map, m->coverage);
        }
      }
      if (!r.note.empty()) out += "  " + r.note;
      out += "\n";
    }
  }
  return out;
}

}  // namespace recsys::evaluation
