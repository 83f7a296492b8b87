// SlotPlan: the validated storefront configuration (proto/recsys/v1/
// slots.proto) in the form the request path uses.
//
// Parse / Load check every field and fail with InvalidArgument naming it by
// its path in the config ("slots[1].sources[0].weight: must be > 0") or, for
// syntax errors, by line and column. A SlotPlan is immutable and shared as
// shared_ptr<const SlotPlan>, so a reload swaps it without blocking readers.
//
// Thread safety: immutable after creation; safe to share.
#ifndef RECSYS_RECOMMENDER_SLOT_CONFIG_H_
#define RECSYS_RECOMMENDER_SLOT_CONFIG_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "recsys/v1/slots.pb.h"

namespace recsys::recommender {

enum class Source {
  kPersonalized = 1,
  kBlended = 2,
  kBuyAgain = 3,
  kSimilarToRecent = 4,
  kTrending = 5,
  kCategoryBestsellers = 6,
  kBundleComplements = 7,
  kBlendedNew = 8,
};

struct SlotRule {
  std::string name;
  std::vector<std::pair<Source, float>> sources;
  int max_per_category = 0;  // 0: no cap
  absl::flat_hash_set<std::string> exclude_categories;
  // Expected share of the slot given to trial-pool items, in [0, 1].
  float trial_share = 0;
  // Weight of expected margin against relevance, in [0, 1] (rules/margin.h).
  float margin_weight = 0;
  // (role, positions) reserved in the slot, in config order
  // (rules/role_reservation.h).
  std::vector<std::pair<std::string, int>> reserve_roles;
};

// True for the product roles "traffic", "profit" and "image".
bool IsItemRole(absl::string_view role);

struct TimeRule {
  std::string name;
  // Daypart: hours [start_hour, end_hour) in the plan's timezone, wrapping
  // past midnight when start_hour > end_hour. Festival: civil days
  // [start_day, end_day] inclusive.
  bool is_festival = false;
  int start_hour = 0;
  int end_hour = 0;
  absl::CivilDay start_day;
  absl::CivilDay end_day;
  absl::flat_hash_map<std::string, float> boosts;  // category -> multiplier
  std::vector<std::string> pinned_items;
  float pinned_share = 0;
  absl::flat_hash_set<std::string> slots;  // empty: every slot
};

struct Rules {
  absl::flat_hash_map<std::string, int> repurchasable_min_days;
  int64_t low_stock_threshold = 0;
  float low_stock_multiplier = 1;
  float slow_mover_multiplier = 1;
  int rotation_impressions = 0;
  float rotation_multiplier = 1;
  int trial_days = 15;
  int trial_graduation_purchases = 1;
  // Growth tier -> days before an item's listing its members see it in the
  // trial pool (BusinessRules.early_access; a tier named twice keeps the
  // larger). Empty: no early access.
  absl::flat_hash_map<std::string, int> early_access_days;
};

class SlotPlan {
 public:
  // Parses protobuf text format. `origin` names the source in messages.
  static absl::StatusOr<std::shared_ptr<const SlotPlan>> Parse(
      absl::string_view text, absl::string_view origin = "slots config");
  // Reads and parses a file; NotFound when it does not exist.
  static absl::StatusOr<std::shared_ptr<const SlotPlan>> Load(const std::string& path);
  // Validates an already-parsed config.
  static absl::StatusOr<std::shared_ptr<const SlotPlan>> FromProto(
      const recsys::v1::SlotsConfig& config);

  // The rule of a configured slot; nullptr for names not in the config.
  const SlotRule* Find(absl::string_view name) const;
  // Time rules (dayparts and festivals) active at `t` for slot `slot`.
  std::vector<const TimeRule*> ActiveRules(absl::string_view slot, absl::Time t) const;

  const Rules& rules() const { return rules_; }
  const absl::TimeZone& timezone() const { return timezone_; }
  const std::vector<SlotRule>& slots() const { return slots_; }

 private:
  SlotPlan() = default;

  std::vector<SlotRule> slots_;
  absl::flat_hash_map<std::string, size_t> by_name_;
  std::vector<TimeRule> time_rules_;
  Rules rules_;
  absl::TimeZone timezone_ = absl::UTCTimeZone();
};

// Short name of a source ("personalized", "buy_again", ...).
absl::string_view SourceName(Source source);

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_SLOT_CONFIG_H_
