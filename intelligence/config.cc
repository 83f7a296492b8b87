#include "intelligence/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <sstream>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "recsys/v1/intelligence.pb.h"

namespace recsys::intelligence {
namespace {

class FirstError : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (error_.empty()) {
      error_ = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ",
                            message);
    }
  }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
};

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

bool IsValidName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == ':';
    if (!ok) return false;
  }
  return true;
}

absl::Status CheckShare(absl::string_view field, double value) {
  if (!std::isfinite(value) || value < 0 || value > 1) {
    return Invalid(field, absl::StrCat("must be in [0, 1], got ", value));
  }
  return absl::OkStatus();
}

absl::Status CheckNonNegative(absl::string_view field, double value) {
  if (!std::isfinite(value) || value < 0) {
    return Invalid(field, absl::StrCat("must be >= 0, got ", value));
  }
  return absl::OkStatus();
}

template <typename T>
T Or(T value, T fallback) {
  return value == T{} ? fallback : value;
}

}  // namespace

IntelligenceConfig FromProto(const recsys::v1::IntelligenceConfig& proto) {
  IntelligenceConfig c;
  for (const recsys::v1::TagRule& t : proto.tag()) {
    TagRule r;
    r.name = t.name();
    r.category = t.category();
    r.min_purchases = t.min_purchases();
    r.within_days = t.within_days();
    r.min_spend = t.min_spend();
    r.max_days_since_purchase = t.max_days_since_purchase();
    r.min_days_since_purchase = t.min_days_since_purchase();
    r.min_views = t.min_views();
    r.min_affinity = t.min_affinity();
    r.growth_tiers.assign(t.growth_tiers().begin(), t.growth_tiers().end());
    r.min_discount_share = t.min_discount_share();
    r.min_purchase_intent = t.min_purchase_intent();
    r.min_churn_risk = t.min_churn_risk();
    r.all_of.assign(t.all_of().begin(), t.all_of().end());
    c.tags.push_back(std::move(r));
  }
  const IntelligenceConfig d;
  c.learned_tag_min_affinity =
      Or<double>(proto.learned_tag_min_affinity(), d.learned_tag_min_affinity);
  c.affinity_half_life_days =
      Or<double>(proto.affinity_half_life_days(), d.affinity_half_life_days);
  c.view_weight = Or<double>(proto.view_weight(), d.view_weight);
  c.cycle_prior_strength =
      Or<double>(proto.cycle_prior_strength(), d.cycle_prior_strength);
  c.intent_horizon_days =
      Or<int>(proto.intent_horizon_days(), d.intent_horizon_days);
  c.intent_l2 = Or<double>(proto.intent_l2(), d.intent_l2);
  c.intent_validation_share =
      Or<double>(proto.intent_validation_share(), d.intent_validation_share);
  c.discount_threshold =
      Or<double>(proto.discount_threshold(), d.discount_threshold);
  c.growth_order_weight = proto.growth_order_weight();
  c.growth_view_weight = proto.growth_view_weight();
  c.growth_cart_weight = proto.growth_cart_weight();
  for (const recsys::v1::GrowthTier& g : proto.growth_tier()) {
    c.growth_tiers.push_back({g.name(), g.min_value()});
  }
  return c;
}

absl::Status ValidateIntelligenceConfig(
    const IntelligenceConfig& config,
    const absl::flat_hash_set<std::string>* categories) {
  // Growth tiers first: tag rules refer to them.
  absl::flat_hash_map<std::string, int> tier_index;
  for (size_t i = 0; i < config.growth_tiers.size(); ++i) {
    const GrowthTier& g = config.growth_tiers[i];
    const std::string field = absl::StrCat("growth_tier[", i, "]");
    if (!IsValidName(g.name)) {
      return Invalid(
          absl::StrCat(field, ".name"),
          absl::StrCat("must be 1-64 of [a-z0-9_:-], got '", g.name, "'"));
    }
    if (!tier_index.emplace(g.name, static_cast<int>(i)).second) {
      return Invalid(
          absl::StrCat(field, ".name"),
          absl::StrCat("duplicate tier '", g.name, "' (also growth_tier[",
                       tier_index[g.name], "])"));
    }
    RECSYS_RETURN_IF_ERROR(
        CheckNonNegative(absl::StrCat(field, ".min_value"), g.min_value));
    if (i > 0 && g.min_value <= config.growth_tiers[i - 1].min_value) {
      return Invalid(
          absl::StrCat(field, ".min_value"),
          absl::StrCat("must be greater than growth_tier[", i - 1,
                       "].min_value (", config.growth_tiers[i - 1].min_value,
                       "), got ", g.min_value));
    }
  }
  RECSYS_RETURN_IF_ERROR(
      CheckNonNegative("growth_order_weight", config.growth_order_weight));
  RECSYS_RETURN_IF_ERROR(
      CheckNonNegative("growth_view_weight", config.growth_view_weight));
  RECSYS_RETURN_IF_ERROR(
      CheckNonNegative("growth_cart_weight", config.growth_cart_weight));
  if (!(config.learned_tag_min_affinity > 0 &&
        config.learned_tag_min_affinity <= 1)) {
    return Invalid("learned_tag_min_affinity",
                   absl::StrCat("must be in (0, 1], got ",
                                config.learned_tag_min_affinity));
  }
  if (!(config.affinity_half_life_days > 0) ||
      !std::isfinite(config.affinity_half_life_days)) {
    return Invalid(
        "affinity_half_life_days",
        absl::StrCat("must be > 0, got ", config.affinity_half_life_days));
  }
  RECSYS_RETURN_IF_ERROR(CheckShare("view_weight", config.view_weight));
  if (!(config.cycle_prior_strength > 0) ||
      !std::isfinite(config.cycle_prior_strength)) {
    return Invalid(
        "cycle_prior_strength",
        absl::StrCat("must be > 0, got ", config.cycle_prior_strength));
  }
  if (config.intent_horizon_days < 1 || config.intent_horizon_days > 365) {
    return Invalid(
        "intent_horizon_days",
        absl::StrCat("must be in [1, 365], got ", config.intent_horizon_days));
  }
  RECSYS_RETURN_IF_ERROR(CheckNonNegative("intent_l2", config.intent_l2));
  if (!(config.intent_validation_share > 0 &&
        config.intent_validation_share < 1)) {
    return Invalid("intent_validation_share",
                   absl::StrCat("must be in (0, 1), got ",
                                config.intent_validation_share));
  }
  if (!(config.discount_threshold > 0 && config.discount_threshold < 1)) {
    return Invalid(
        "discount_threshold",
        absl::StrCat("must be in (0, 1), got ", config.discount_threshold));
  }

  absl::flat_hash_map<std::string, int> tag_index;
  for (size_t i = 0; i < config.tags.size(); ++i) {
    const TagRule& t = config.tags[i];
    const std::string field = absl::StrCat("tag[", i, "]");
    if (!IsValidName(t.name)) {
      return Invalid(
          absl::StrCat(field, ".name"),
          absl::StrCat("must be 1-64 of [a-z0-9_:-], got '", t.name, "'"));
    }
    if (absl::StartsWith(t.name, "likes:")) {
      return Invalid(absl::StrCat(field, ".name"),
                     "the prefix 'likes:' is reserved for learned tags");
    }
    if (!tag_index.emplace(t.name, static_cast<int>(i)).second) {
      return Invalid(absl::StrCat(field, ".name"),
                     absl::StrCat("duplicate tag '", t.name, "' (also tag[",
                                  tag_index[t.name], "])"));
    }
  }
  for (size_t i = 0; i < config.tags.size(); ++i) {
    const TagRule& t = config.tags[i];
    const std::string field = absl::StrCat("tag[", i, "]");
    const bool any = t.min_purchases > 0 || t.min_spend > 0 ||
                     t.max_days_since_purchase > 0 ||
                     t.min_days_since_purchase > 0 || t.min_views > 0 ||
                     t.min_affinity > 0 || !t.growth_tiers.empty() ||
                     t.min_discount_share > 0 || t.min_purchase_intent > 0 ||
                     t.min_churn_risk > 0 || !t.all_of.empty();
    if (!any) {
      return Invalid(field, absl::StrCat("empty rule for tag '", t.name,
                                         "' (set at least one condition)"));
    }
    if (t.min_purchases < 0) {
      return Invalid(absl::StrCat(field, ".min_purchases"),
                     absl::StrCat("must be >= 0, got ", t.min_purchases));
    }
    if (t.within_days < 0) {
      return Invalid(absl::StrCat(field, ".within_days"),
                     absl::StrCat("must be >= 0, got ", t.within_days));
    }
    if (t.within_days > 0 && t.min_purchases == 0 && t.min_spend == 0 &&
        t.min_views == 0) {
      return Invalid(absl::StrCat(field, ".within_days"),
                     "needs min_purchases, min_spend or min_views");
    }
    RECSYS_RETURN_IF_ERROR(
        CheckNonNegative(absl::StrCat(field, ".min_spend"), t.min_spend));
    if (t.max_days_since_purchase < 0) {
      return Invalid(
          absl::StrCat(field, ".max_days_since_purchase"),
          absl::StrCat("must be >= 0, got ", t.max_days_since_purchase));
    }
    if (t.min_days_since_purchase < 0) {
      return Invalid(
          absl::StrCat(field, ".min_days_since_purchase"),
          absl::StrCat("must be >= 0, got ", t.min_days_since_purchase));
    }
    if (t.max_days_since_purchase > 0 &&
        t.min_days_since_purchase > t.max_days_since_purchase) {
      return Invalid(absl::StrCat(field, ".min_days_since_purchase"),
                     absl::StrCat("must be <= max_days_since_purchase (",
                                  t.max_days_since_purchase, "), got ",
                                  t.min_days_since_purchase));
    }
    if (t.min_views < 0) {
      return Invalid(absl::StrCat(field, ".min_views"),
                     absl::StrCat("must be >= 0, got ", t.min_views));
    }
    RECSYS_RETURN_IF_ERROR(
        CheckShare(absl::StrCat(field, ".min_affinity"), t.min_affinity));
    if (t.min_affinity > 0 && t.category.empty()) {
      return Invalid(absl::StrCat(field, ".min_affinity"), "needs a category");
    }
    RECSYS_RETURN_IF_ERROR(CheckShare(
        absl::StrCat(field, ".min_discount_share"), t.min_discount_share));
    RECSYS_RETURN_IF_ERROR(CheckShare(
        absl::StrCat(field, ".min_purchase_intent"), t.min_purchase_intent));
    RECSYS_RETURN_IF_ERROR(
        CheckShare(absl::StrCat(field, ".min_churn_risk"), t.min_churn_risk));
    if (categories != nullptr && !t.category.empty() &&
        !categories->contains(t.category)) {
      return Invalid(absl::StrCat(field, ".category"),
                     absl::StrCat("unknown category '", t.category, "'"));
    }
    for (size_t j = 0; j < t.growth_tiers.size(); ++j) {
      if (!tier_index.contains(t.growth_tiers[j])) {
        return Invalid(
            absl::StrCat(field, ".growth_tiers[", j, "]"),
            absl::StrCat("unknown growth tier '", t.growth_tiers[j], "'"));
      }
    }
    for (size_t j = 0; j < t.all_of.size(); ++j) {
      if (!tag_index.contains(t.all_of[j])) {
        return Invalid(absl::StrCat(field, ".all_of[", j, "]"),
                       absl::StrCat("unknown tag '", t.all_of[j], "'"));
      }
    }
  }
  // Cycles: depth-first search from each tag; the first back edge found is
  // reported at the reference that closes it.
  enum Mark { kNew, kActive, kDone };
  std::vector<Mark> mark(config.tags.size(), kNew);
  std::vector<int> path;
  std::function<absl::Status(int)> visit = [&](int v) -> absl::Status {
    mark[v] = kActive;
    path.push_back(v);
    const TagRule& t = config.tags[v];
    for (size_t j = 0; j < t.all_of.size(); ++j) {
      const int w = tag_index[t.all_of[j]];
      if (mark[w] == kActive) {
        std::vector<std::string> names;
        auto start = std::find(path.begin(), path.end(), w);
        for (auto it = start; it != path.end(); ++it)
          names.push_back(config.tags[*it].name);
        names.push_back(config.tags[w].name);
        return Invalid(absl::StrCat("tag[", v, "].all_of[", j, "]"),
                       absl::StrCat("cycle in tag references: ",
                                    absl::StrJoin(names, " -> ")));
      }
      if (mark[w] == kNew) RECSYS_RETURN_IF_ERROR(visit(w));
    }
    path.pop_back();
    mark[v] = kDone;
    return absl::OkStatus();
  };
  for (size_t i = 0; i < config.tags.size(); ++i) {
    if (mark[i] == kNew) RECSYS_RETURN_IF_ERROR(visit(static_cast<int>(i)));
  }
  return absl::OkStatus();
}

absl::StatusOr<IntelligenceConfig> ParseIntelligenceConfig(
    absl::string_view text) {
  recsys::v1::IntelligenceConfig proto;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &proto)) {
    return absl::InvalidArgumentError(errors.error());
  }
  IntelligenceConfig config = FromProto(proto);
  RECSYS_RETURN_IF_ERROR(ValidateIntelligenceConfig(config));
  return config;
}

absl::StatusOr<IntelligenceConfig> LoadIntelligenceConfig(
    const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return absl::NotFoundError(
        absl::StrCat("intelligence config ", path, ": cannot open"));
  std::stringstream text;
  text << in.rdbuf();
  auto config = ParseIntelligenceConfig(text.str());
  if (!config.ok()) {
    return absl::Status(config.status().code(),
                        absl::StrCat(path, ": ", config.status().message()));
  }
  return config;
}

std::vector<int> TagEvaluationOrder(const IntelligenceConfig& config) {
  absl::flat_hash_map<std::string, int> index;
  for (size_t i = 0; i < config.tags.size(); ++i)
    index[config.tags[i].name] = i;
  std::vector<int> order;
  std::vector<bool> done(config.tags.size(), false);
  std::function<void(int)> visit = [&](int v) {
    if (done[v]) return;
    done[v] = true;
    for (const std::string& ref : config.tags[v].all_of) {
      auto it = index.find(ref);
      if (it != index.end()) visit(it->second);
    }
    order.push_back(v);
  };
  for (size_t i = 0; i < config.tags.size(); ++i) visit(static_cast<int>(i));
  return order;
}

}  // namespace recsys::intelligence
