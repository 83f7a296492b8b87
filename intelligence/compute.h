// Computes every user's UserIntel from purchase lines and (optionally)
// views and carts: affinities, growth value and tier, price sensitivity,
// repurchase cycles, the purchase-intent model and churn risk, then the
// tags. Definitions and formulas: docs/marketing.md, "Customer
// intelligence"; the estimators are in estimators.h.
//
//   IntelBuilder builder;
//   for (const Activity& a : activity) builder.Add(a);
//   absl::StatusOr<IntelResult> result = builder.Build(config, {.as_of_unix =
//   0});
//
// Intent model (time split): features at t0 = as_of - horizon, label = an
// order in (t0, as_of]; fitted on the users with an order by t0 outside
// the calibration split (a stable hash of the user id), Platt-calibrated on
// the split; then applied to the features at as_of (purchase_intent) and at
// t0 (the intent a horizon ago, for churn risk).
//
// Thread safety: IntelBuilder is not thread-safe.
#ifndef RECSYS_INTELLIGENCE_COMPUTE_H_
#define RECSYS_INTELLIGENCE_COMPUTE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "intelligence/config.h"
#include "intelligence/estimators.h"
#include "intelligence/intel.h"

namespace recsys::intelligence {

enum class ActivityKind { kPurchase = 0, kView = 1, kCart = 2 };

struct Activity {
  std::string user_id;
  std::string item_id;
  // Empty when unknown.
  std::string category;
  int64_t time_unix = 0;
  ActivityKind kind = ActivityKind::kPurchase;
  // Purchases: units and unit price (0 unknown).
  double quantity = 1;
  double price = 0;
};

struct ComputeOptions {
  // Reference time; 0: the latest activity. Later activity is ignored.
  int64_t as_of_unix = 0;
  // Items kept in UserIntel::due_items and categories in affinities.
  int max_due_items = 10;
  int max_affinities = 5;
  // When set, each record is handed to it as it is computed (in user id
  // order, on the calling thread) instead of being kept in
  // IntelResult::users, which then stays empty: a run over millions of
  // users need not hold every record at once.
  std::function<void(UserIntel&&)> on_user;
};

// Names of the intent features, in the order of IntentFeatures.
const std::vector<std::string>& IntentFeatureNames();

struct IntentReport {
  // False when there was too little history (no users by t0, or one
  // class only): every purchase_intent is then -1 and churn_risk 0.
  bool fitted = false;
  int64_t train_users = 0;
  int64_t calibration_users = 0;
  double train_positive_rate = 0;
  // Calibrated figures on the calibration split.
  double calibration_auc = 0;
  double calibration_ece = 0;
  LogisticModel model;
};

struct IntelResult {
  int64_t as_of_unix = 0;
  // Sorted by user id; users with activity up to as_of.
  std::vector<UserIntel> users;
  IntentReport intent;
  // Categories seen (for the tag config's category check).
  std::vector<std::string> categories;
};

class IntelBuilder {
 public:
  IntelBuilder() = default;
  IntelBuilder(const IntelBuilder&) = delete;
  IntelBuilder& operator=(const IntelBuilder&) = delete;
  IntelBuilder(IntelBuilder&&) = default;
  IntelBuilder& operator=(IntelBuilder&&) = default;

  // Lines with an empty user or item id, or a non-finite or negative
  // quantity or price, are counted in skipped() and ignored.
  void Add(const Activity& activity);
  int64_t skipped() const { return skipped_; }
  // True when no activity was added (or all of it was skipped).
  bool empty() const { return users_.empty(); }
  // Releases the spare capacity of the per-user lists (growing by doubling
  // leaves about a third of them unused); call after the last Add, before
  // Build, when memory is tight.
  void ShrinkToFit();
  int64_t last_time_unix() const { return last_time_; }

  // InvalidArgument when the config fails ValidateIntelligenceConfig with
  // the categories seen (the field named), or no activity.
  absl::StatusOr<IntelResult> Build(const IntelligenceConfig& config,
                                    const ComputeOptions& options = {}) const;

  // The intent features of `user_id` at `t` (orders and views up to t);
  // empty when the user has no order by t.
  // `prior_cycle_days` and `prior_strength` as in ShrunkCycle;
  // PriorOrderCycle(t) is the prior Build uses.
  std::vector<double> IntentFeatures(absl::string_view user_id, int64_t t,
                                     double prior_cycle_days,
                                     double prior_strength) const;
  // Median interval (days) between consecutive orders over every user's
  // orders up to t; 0 without any.
  double PriorOrderCycle(int64_t t) const;

 private:
  struct Line {
    int32_t item = 0;
    int32_t category = 0;
    int64_t time = 0;
    double amount = 0;
    double price = 0;
  };
  struct Event {
    int32_t category = 0;
    int64_t time = 0;
    ActivityKind kind = ActivityKind::kView;
  };
  struct User {
    std::string id;
    std::vector<Line> lines;
    std::vector<Event> events;
  };
  int32_t Intern(absl::flat_hash_map<std::string, int32_t>* index,
                 std::vector<std::string>* names, absl::string_view name);
  std::vector<double> Features(const User& user, int64_t t,
                               double prior_cycle_days,
                               double prior_strength) const;

  absl::flat_hash_map<std::string, int32_t> user_index_;
  std::vector<User> users_;
  absl::flat_hash_map<std::string, int32_t> item_index_;
  std::vector<std::string> items_;
  absl::flat_hash_map<std::string, int32_t> category_index_;
  std::vector<std::string> categories_;
  int64_t skipped_ = 0;
  int64_t last_time_ = 0;
};

}  // namespace recsys::intelligence

#endif  // RECSYS_INTELLIGENCE_COMPUTE_H_
