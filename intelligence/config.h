// The customer-intelligence configuration (recsys.v1.IntelligenceConfig,
// proto/recsys/v1/intelligence.proto) as domain structs, its defaults and
// its validation.
//
//   absl::StatusOr<IntelligenceConfig> config =
//       LoadIntelligenceConfig("deploy/intelligence.textproto");
//   // Once the data's categories are known (nullptr skips that check):
//   absl::Status ok = ValidateIntelligenceConfig(*config, &categories);
//
// Errors name the field: "tag[2]: empty rule (set at least one condition)",
// "tag[0].category: unknown category 'sprots'", "tag[1].all_of[0]: cycle
// in tag references: a -> b -> a", "growth_tier[1].min_value: must be
// greater than growth_tier[0].min_value (500), got 100".
//
// Thread safety: free functions without shared state.
#ifndef RECSYS_INTELLIGENCE_CONFIG_H_
#define RECSYS_INTELLIGENCE_CONFIG_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace recsys::v1 {
class IntelligenceConfig;
}

namespace recsys::intelligence {

// One rule tag; a condition at 0 (or empty) is off. Meanings in
// intelligence.proto's TagRule.
struct TagRule {
  std::string name;
  std::string category;
  int min_purchases = 0;
  int within_days = 0;
  double min_spend = 0;
  int max_days_since_purchase = 0;
  int min_days_since_purchase = 0;
  int min_views = 0;
  double min_affinity = 0;
  std::vector<std::string> growth_tiers;
  double min_discount_share = 0;
  double min_purchase_intent = 0;
  double min_churn_risk = 0;
  std::vector<std::string> all_of;
};

struct GrowthTier {
  std::string name;
  double min_value = 0;
};

struct IntelligenceConfig {
  std::vector<TagRule> tags;
  // Learned tag "likes:<category>" for an affinity >= this.
  double learned_tag_min_affinity = 0.3;
  // Affinity decay half-life (days) and the weight of a view.
  double affinity_half_life_days = 90;
  double view_weight = 0.1;
  // Prior strength of the cycle estimator, in intervals.
  double cycle_prior_strength = 2;
  // Intent: label horizon (days), L2 penalty, calibration share.
  int intent_horizon_days = 30;
  double intent_l2 = 1;
  double intent_validation_share = 0.2;
  // Discounted purchase: paid >= this share below the item's median price.
  double discount_threshold = 0.1;
  // Growth value weights and tiers (increasing min_value).
  double growth_order_weight = 0;
  double growth_view_weight = 0;
  double growth_cart_weight = 0;
  std::vector<GrowthTier> growth_tiers;
};

// The proto with zero fields defaulted (the struct's defaults above).
IntelligenceConfig FromProto(const recsys::v1::IntelligenceConfig& proto);

// Checks names (lower-case letters, digits, '_', '-', ':'; unique), that
// each rule sets a condition, ranges (days and counts >= 0, shares and
// probabilities in [0, 1], min_affinity only with a category), references
// (all_of names a tag; no cycles) and growth tiers (unique names,
// increasing min_value, tags' growth_tiers known). With `categories`, a
// rule's category must be one of them. InvalidArgument naming the field.
absl::Status ValidateIntelligenceConfig(
    const IntelligenceConfig& config,
    const absl::flat_hash_set<std::string>* categories = nullptr);

// Parses text format and validates (without categories). InvalidArgument
// with the line and column of a syntax error, or the field.
absl::StatusOr<IntelligenceConfig> ParseIntelligenceConfig(
    absl::string_view text);
// The same from a file (NotFound when it cannot be opened).
absl::StatusOr<IntelligenceConfig> LoadIntelligenceConfig(
    const std::string& path);

// Rule order in which every tag comes after the tags it references
// (all_of). Requires a validated config.
std::vector<int> TagEvaluationOrder(const IntelligenceConfig& config);

}  // namespace recsys::intelligence

#endif  // RECSYS_INTELLIGENCE_CONFIG_H_
