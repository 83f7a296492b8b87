#include "evaluation/intent_eval.h"

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "intelligence/estimators.h"
#include "marketing/coupons.h"
#include "marketing/segments.h"

namespace recsys::evaluation {
namespace {

ClassifierFigures Figures(std::string name, const std::vector<double>& p,
                          const std::vector<int>& y) {
  ClassifierFigures f;
  f.name = std::move(name);
  f.auc = intelligence::Auc(p, y);
  f.ece = intelligence::ExpectedCalibrationError(p, y);
  f.top_decile_lift = intelligence::TopDecileLift(p, y);
  for (double x : p) f.mean_probability += x / static_cast<double>(p.size());
  return f;
}

// r + f + m of every user with an order by `as_of`.
absl::StatusOr<absl::flat_hash_map<std::string, int>> RfmSums(
    const std::vector<training::PurchaseRow>& rows, int64_t as_of) {
  marketing::SegmentBuilder builder;
  for (const training::PurchaseRow& r : rows) {
    if (r.timestamp_unix <= as_of) {
      builder.Add(r.user_id, "", r.timestamp_unix, r.quantity * r.price);
    }
  }
  RECSYS_ASSIGN_OR_RETURN(std::vector<marketing::UserSegment> users,
                          builder.Build(marketing::WithDefaults({}), as_of));
  absl::flat_hash_map<std::string, int> sums;
  for (const auto& u : users)
    sums[u.user_id] = u.r_score + u.f_score + u.m_score;
  return sums;
}

absl::flat_hash_set<std::string> Buyers(
    const std::vector<training::PurchaseRow>& rows, int64_t after,
    int64_t until) {
  absl::flat_hash_set<std::string> out;
  for (const training::PurchaseRow& r : rows) {
    if (r.timestamp_unix > after && r.timestamp_unix <= until)
      out.insert(r.user_id);
  }
  return out;
}

}  // namespace

absl::StatusOr<IntentEvalReport> EvaluateIntent(
    const std::vector<training::PurchaseRow>& rows,
    const IntentEvalOptions& options) {
  if (options.as_of_unix <= 0)
    return absl::InvalidArgumentError("as_of_unix: must be > 0");
  const int64_t t = options.as_of_unix;
  const int64_t horizon =
      static_cast<int64_t>(options.config.intent_horizon_days) * 86400;

  intelligence::IntelBuilder builder;
  for (const training::PurchaseRow& r : rows) {
    if (r.timestamp_unix > t) continue;
    builder.Add({r.user_id, r.item_id, r.category, r.timestamp_unix,
                 intelligence::ActivityKind::kPurchase, r.quantity, r.price});
  }
  intelligence::ComputeOptions compute;
  compute.as_of_unix = t;
  RECSYS_ASSIGN_OR_RETURN(intelligence::IntelResult intel,
                          builder.Build(options.config, compute));
  if (!intel.intent.fitted) {
    return absl::InvalidArgumentError(
        "the intent model could not be fitted before as_of");
  }

  // Baseline: buy rate per r + f + m over the previous window.
  RECSYS_ASSIGN_OR_RETURN(auto past_sums, RfmSums(rows, t - horizon));
  const absl::flat_hash_set<std::string> past_buyers =
      Buyers(rows, t - horizon, t);
  std::vector<double> buyers(16, 0), users(16, 0);
  double all_buyers = 0;
  for (const auto& [user, sum] : past_sums) {
    users[sum] += 1;
    const bool bought = past_buyers.contains(user);
    buyers[sum] += bought;
    all_buyers += bought;
  }
  const double past_rate =
      past_sums.empty() ? 0 : all_buyers / past_sums.size();
  RECSYS_ASSIGN_OR_RETURN(auto sums, RfmSums(rows, t));

  const absl::flat_hash_set<std::string> future_buyers =
      Buyers(rows, t, t + horizon);
  std::vector<double> model_p, rfm_p;
  std::vector<int> y;
  for (const intelligence::UserIntel& u : intel.users) {
    if (u.purchase_intent < 0) continue;  // no order by as_of
    auto s = sums.find(u.user_id);
    if (s == sums.end()) continue;
    model_p.push_back(u.purchase_intent);
    rfm_p.push_back(users[s->second] > 0 ? buyers[s->second] / users[s->second]
                                         : past_rate);
    y.push_back(future_buyers.contains(u.user_id) ? 1 : 0);
  }
  if (y.empty())
    return absl::InvalidArgumentError("no user with an order by as_of");
  IntentEvalReport report;
  report.users = static_cast<int64_t>(y.size());
  for (int label : y) report.positive_rate += label;
  if (report.positive_rate == 0 || report.positive_rate == report.users) {
    return absl::InvalidArgumentError(
        "the labels after as_of have one class only");
  }
  report.positive_rate /= static_cast<double>(report.users);
  report.fit = intel.intent;
  report.rows.push_back(Figures("intent model (logistic, Platt)", model_p, y));
  report.rows.push_back(Figures("RFM rule (r+f+m, rate per sum)", rfm_p, y));
  return report;
}

std::string FormatIntentTable(const IntentEvalReport& report) {
  std::string out =
      "| model | AUC | ECE | top-decile lift | mean p "
      "|\n|---|---|---|---|---|\n";
  for (const ClassifierFigures& f : report.rows) {
    absl::StrAppend(
        &out,
        absl::StrFormat("| %s | %.3f | %.3f | %.2f | %.3f |\n", f.name, f.auc,
                        f.ece, f.top_decile_lift, f.mean_probability));
  }
  return out;
}

}  // namespace recsys::evaluation
