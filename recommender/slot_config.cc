#include "recommender/slot_config.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include "absl/algorithm/container.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "recommender/internal.h"

namespace recsys::recommender {
namespace {

namespace v1 = recsys::v1;

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (errors_.empty()) {
      errors_ = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ", message);
    }
  }
  const std::string& errors() const { return errors_; }

 private:
  std::string errors_;
};

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

bool Positive(float x) { return std::isfinite(x) && x > 0; }

absl::Status CheckBoosts(const std::string& prefix,
                         const google::protobuf::RepeatedPtrField<v1::CategoryBoost>& boosts,
                         absl::flat_hash_map<std::string, float>* out) {
  for (int i = 0; i < boosts.size(); ++i) {
    const std::string field = absl::StrCat(prefix, ".boosts[", i, "]");
    if (boosts[i].category().empty()) return Invalid(field + ".category", "must not be empty");
    if (!Positive(boosts[i].multiplier())) {
      return Invalid(field + ".multiplier", absl::StrCat("must be > 0, got ", boosts[i].multiplier()));
    }
    (*out)[boosts[i].category()] = boosts[i].multiplier();
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::CivilDay> ParseDay(const std::string& field, const std::string& text) {
  absl::CivilDay day;
  if (!absl::ParseCivilTime(text, &day)) {
    return Invalid(field, absl::StrCat("expected YYYY-MM-DD, got '", text, "'"));
  }
  return day;
}

}  // namespace

absl::string_view SourceName(Source source) {
  switch (source) {
    case Source::kPersonalized: return "personalized";
    case Source::kBlended: return "blended";
    case Source::kBuyAgain: return "buy_again";
    case Source::kSimilarToRecent: return "similar_to_recent";
    case Source::kTrending: return "trending";
    case Source::kCategoryBestsellers: return "category_bestsellers";
    case Source::kBundleComplements: return "bundle_complements";
    case Source::kBlendedNew: return "blended_new";
  }
  return "unknown";
}

absl::StatusOr<std::shared_ptr<const SlotPlan>> SlotPlan::Parse(absl::string_view text,
                                                                 absl::string_view origin) {
  v1::SlotsConfig config;
  google::protobuf::TextFormat::Parser parser;
  CollectErrors errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", errors.errors()));
  }
  auto plan = FromProto(config);
  if (!plan.ok()) {
    return absl::Status(plan.status().code(), absl::StrCat(origin, ": ", plan.status().message()));
  }
  return plan;
}

absl::StatusOr<std::shared_ptr<const SlotPlan>> SlotPlan::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("slots config ", path, ": cannot open"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  return Parse(buffer.str(), path);
}

bool IsItemRole(absl::string_view role) {
  return role == "traffic" || role == "profit" || role == "image";
}

absl::StatusOr<std::shared_ptr<const SlotPlan>> SlotPlan::FromProto(
    const v1::SlotsConfig& config) {
  std::shared_ptr<SlotPlan> plan(new SlotPlan());
  if (!config.timezone().empty() && !absl::LoadTimeZone(config.timezone(), &plan->timezone_)) {
    return Invalid("timezone", absl::StrCat("unknown timezone '", config.timezone(), "'"));
  }
  for (int s = 0; s < config.slots_size(); ++s) {
    const v1::SlotConfig& in = config.slots(s);
    const std::string prefix = absl::StrCat("slots[", s, "]");
    SlotRule rule;
    rule.name = in.name();
    RECSYS_RETURN_IF_ERROR(internal::CheckSlotName(prefix + ".name", rule.name));
    if (plan->by_name_.contains(rule.name)) {
      return Invalid(prefix + ".name", absl::StrCat("duplicate slot '", rule.name, "'"));
    }
    if (in.sources().empty()) return Invalid(prefix + ".sources", "at least one source is required");
    for (int i = 0; i < in.sources_size(); ++i) {
      const std::string field = absl::StrCat(prefix, ".sources[", i, "]");
      const int source = in.sources(i).source();
      if (source < static_cast<int>(Source::kPersonalized) ||
          source > static_cast<int>(Source::kBlendedNew)) {
        return Invalid(field + ".source", "must be set to a known source");
      }
      if (!Positive(in.sources(i).weight())) {
        return Invalid(field + ".weight", absl::StrCat("must be > 0, got ", in.sources(i).weight()));
      }
      rule.sources.emplace_back(static_cast<Source>(source), in.sources(i).weight());
    }
    if (in.max_per_category() < 0) {
      return Invalid(prefix + ".max_per_category", "must be >= 0");
    }
    rule.max_per_category = in.max_per_category();
    if (!(in.trial_share() >= 0 && in.trial_share() <= 1)) {
      return Invalid(prefix + ".trial_share",
                     absl::StrCat("must be in [0, 1], got ", in.trial_share()));
    }
    rule.trial_share = in.trial_share();
    if (!(in.margin_weight() >= 0 && in.margin_weight() <= 1)) {
      return Invalid(prefix + ".margin_weight",
                     absl::StrCat("must be in [0, 1], got ", in.margin_weight()));
    }
    rule.margin_weight = in.margin_weight();
    for (int i = 0; i < in.reserve_roles_size(); ++i) {
      const std::string field = absl::StrCat(prefix, ".reserve_roles[", i, "]");
      const v1::RoleReservation& r = in.reserve_roles(i);
      if (!IsItemRole(r.role())) {
        return Invalid(field + ".role", absl::StrCat("unknown role '", r.role(),
                                                     "' (expected one of traffic, profit, image)"));
      }
      if (r.positions() < 1 || r.positions() > 200) {
        return Invalid(field + ".positions",
                       absl::StrCat("must be in [1, 200], got ", r.positions()));
      }
      for (const auto& [role, n] : rule.reserve_roles) {
        if (role == r.role()) {
          return Invalid(field + ".role", absl::StrCat("role '", r.role(), "' reserved twice"));
        }
      }
      rule.reserve_roles.emplace_back(r.role(), r.positions());
    }
    rule.exclude_categories.insert(in.exclude_categories().begin(), in.exclude_categories().end());
    plan->by_name_[rule.name] = plan->slots_.size();
    plan->slots_.push_back(std::move(rule));
  }
  auto check_slots = [&](const std::string& field,
                         const google::protobuf::RepeatedPtrField<std::string>& names,
                         absl::flat_hash_set<std::string>* out) -> absl::Status {
    for (int i = 0; i < names.size(); ++i) {
      if (names[i].empty()) return Invalid(absl::StrCat(field, "[", i, "]"), "must not be empty");
      out->insert(names[i]);
    }
    return absl::OkStatus();
  };
  for (int d = 0; d < config.dayparts_size(); ++d) {
    const v1::Daypart& in = config.dayparts(d);
    const std::string prefix = absl::StrCat("dayparts[", d, "]");
    TimeRule rule;
    rule.name = in.name().empty() ? prefix : in.name();
    if (in.start_hour() < 0 || in.start_hour() > 23) {
      return Invalid(prefix + ".start_hour", absl::StrCat("must be in [0, 23], got ", in.start_hour()));
    }
    if (in.end_hour() < 0 || in.end_hour() > 24) {
      return Invalid(prefix + ".end_hour", absl::StrCat("must be in [0, 24], got ", in.end_hour()));
    }
    if (in.start_hour() == in.end_hour()) {
      return Invalid(prefix + ".end_hour", "must differ from start_hour");
    }
    rule.start_hour = in.start_hour();
    rule.end_hour = in.end_hour();
    RECSYS_RETURN_IF_ERROR(CheckBoosts(prefix, in.boosts(), &rule.boosts));
    RECSYS_RETURN_IF_ERROR(check_slots(prefix + ".slots", in.slots(), &rule.slots));
    plan->time_rules_.push_back(std::move(rule));
  }
  for (int f = 0; f < config.festivals_size(); ++f) {
    const v1::Festival& in = config.festivals(f);
    const std::string prefix = absl::StrCat("festivals[", f, "]");
    TimeRule rule;
    rule.is_festival = true;
    rule.name = in.name().empty() ? prefix : in.name();
    RECSYS_ASSIGN_OR_RETURN(rule.start_day, ParseDay(prefix + ".start_date", in.start_date()));
    RECSYS_ASSIGN_OR_RETURN(rule.end_day, ParseDay(prefix + ".end_date", in.end_date()));
    if (rule.end_day < rule.start_day) {
      return Invalid(prefix + ".end_date", "is before start_date");
    }
    RECSYS_RETURN_IF_ERROR(CheckBoosts(prefix, in.boosts(), &rule.boosts));
    if (!std::isfinite(in.pinned_share()) || in.pinned_share() < 0 || in.pinned_share() > 1) {
      return Invalid(prefix + ".pinned_share", absl::StrCat("must be in [0, 1], got ", in.pinned_share()));
    }
    if (in.pinned_share() > 0 && in.pinned_items().empty()) {
      return Invalid(prefix + ".pinned_items", "required when pinned_share > 0");
    }
    rule.pinned_items.assign(in.pinned_items().begin(), in.pinned_items().end());
    rule.pinned_share = in.pinned_share();
    RECSYS_RETURN_IF_ERROR(check_slots(prefix + ".slots", in.slots(), &rule.slots));
    plan->time_rules_.push_back(std::move(rule));
  }
  const v1::BusinessRules& r = config.rules();
  for (int i = 0; i < r.repurchasable_size(); ++i) {
    const std::string field = absl::StrCat("rules.repurchasable[", i, "]");
    if (r.repurchasable(i).category().empty()) return Invalid(field + ".category", "must not be empty");
    if (r.repurchasable(i).min_days() < 0) return Invalid(field + ".min_days", "must be >= 0");
    plan->rules_.repurchasable_min_days[r.repurchasable(i).category()] = r.repurchasable(i).min_days();
  }
  auto multiplier = [](const std::string& field, float value, float* out) -> absl::Status {
    if (value == 0) return absl::OkStatus();  // unset: keep 1
    if (!Positive(value) || value > 1) {
      return Invalid(field, absl::StrCat("must be in (0, 1], got ", value));
    }
    *out = value;
    return absl::OkStatus();
  };
  if (r.low_stock_threshold() < 0) return Invalid("rules.low_stock_threshold", "must be >= 0");
  plan->rules_.low_stock_threshold = r.low_stock_threshold();
  RECSYS_RETURN_IF_ERROR(multiplier("rules.low_stock_multiplier", r.low_stock_multiplier(),
                                    &plan->rules_.low_stock_multiplier));
  RECSYS_RETURN_IF_ERROR(multiplier("rules.slow_mover_multiplier", r.slow_mover_multiplier(),
                                    &plan->rules_.slow_mover_multiplier));
  if (r.rotation_impressions() < 0) return Invalid("rules.rotation_impressions", "must be >= 0");
  plan->rules_.rotation_impressions = r.rotation_impressions();
  RECSYS_RETURN_IF_ERROR(multiplier("rules.rotation_multiplier", r.rotation_multiplier(),
                                    &plan->rules_.rotation_multiplier));
  if (r.trial_days() < 0 || r.trial_days() > 365) {
    return Invalid("rules.trial_days", absl::StrCat("must be in [0, 365], got ", r.trial_days()));
  }
  if (r.trial_days() > 0) plan->rules_.trial_days = r.trial_days();
  if (r.trial_graduation_purchases() < 0) {
    return Invalid("rules.trial_graduation_purchases", "must be >= 0");
  }
  if (r.trial_graduation_purchases() > 0) {
    plan->rules_.trial_graduation_purchases = r.trial_graduation_purchases();
  }
  for (int i = 0; i < r.early_access_size(); ++i) {
    const recsys::v1::EarlyAccess& a = r.early_access(i);
    const std::string field = absl::StrCat("rules.early_access[", i, "]");
    if (a.days() < 1 || a.days() > 90) {
      return Invalid(field + ".days", absl::StrCat("must be in [1, 90], got ", a.days()));
    }
    if (a.growth_tiers().empty()) return Invalid(field + ".growth_tiers", "must not be empty");
    for (int j = 0; j < a.growth_tiers_size(); ++j) {
      const std::string& tier = a.growth_tiers(j);
      if (tier.empty() || absl::c_any_of(tier, [](unsigned char c) { return std::isspace(c); })) {
        return Invalid(absl::StrCat(field, ".growth_tiers[", j, "]"),
                       absl::StrCat("must be a name without whitespace, got '", tier, "'"));
      }
      int& days = plan->rules_.early_access_days[tier];
      days = std::max(days, a.days());
    }
  }
  return std::shared_ptr<const SlotPlan>(std::move(plan));
}

const SlotRule* SlotPlan::Find(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &slots_[it->second];
}

std::vector<const TimeRule*> SlotPlan::ActiveRules(absl::string_view slot, absl::Time t) const {
  std::vector<const TimeRule*> active;
  const absl::CivilSecond local = absl::ToCivilSecond(t, timezone_);
  const int hour = local.hour();
  const absl::CivilDay day(local);
  for (const TimeRule& rule : time_rules_) {
    if (!rule.slots.empty() && !rule.slots.contains(slot)) continue;
    bool on;
    if (rule.is_festival) {
      on = day >= rule.start_day && day <= rule.end_day;
    } else if (rule.start_hour < rule.end_hour) {
      on = hour >= rule.start_hour && hour < rule.end_hour;
    } else {
      on = hour >= rule.start_hour || hour < rule.end_hour;
    }
    if (on) active.push_back(&rule);
  }
  return active;
}

}  // namespace recsys::recommender
