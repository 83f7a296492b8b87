#include "experiments/experiment_plan.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>
#include <xxhash.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/validation.h"

namespace recsys::experiments {
namespace {

namespace v1 = recsys::v1;

class CollectErrors : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (errors_.empty()) {
      errors_ = absl::StrCat("line ", line + 1, ", column ", column + 1, ": ",
                             message);
    }
  }
  const std::string& errors() const { return errors_; }

 private:
  std::string errors_;
};

absl::Status Invalid(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// Shares are given with a few decimals; buckets are whole.
int ToBuckets(double share) {
  return static_cast<int>(std::lround(share * kBuckets));
}

bool ValidShare(double share) {
  return std::isfinite(share) && share > 0 && share <= 1;
}

absl::Status ParseVariant(const std::string& field, const v1::Variant& in,
                          const Experiment& experiment, Variant* out) {
  RECSYS_RETURN_IF_ERROR(CheckName(field + ".name", in.name()));
  out->field = field;
  out->name = in.name();
  if (!ValidShare(in.share())) {
    return Invalid(field + ".share",
                   absl::StrCat("must be in (0, 1], got ", in.share()));
  }
  out->share = in.share();
  absl::flat_hash_set<std::string> slot_names;
  for (int i = 0; i < in.slots_size(); ++i) {
    const std::string slot_field = absl::StrCat(field, ".slots[", i, "].name");
    const std::string& name = in.slots(i).name();
    if (!experiment.slots.contains(name)) {
      return Invalid(slot_field,
                     absl::StrCat("slot '", name,
                                  "' is not one of the experiment's slots"));
    }
    if (!slot_names.insert(name).second) {
      return Invalid(slot_field, absl::StrCat("duplicate slot '", name, "'"));
    }
    out->slots.push_back(in.slots(i));
  }
  const int candidates = in.ranker().vector_candidates();
  if (candidates < 0 || candidates > 10000) {
    return Invalid(field + ".ranker.vector_candidates",
                   absl::StrCat("must be in [0, 10000] (0: the default), got ",
                                candidates));
  }
  out->ranker_vector_candidates = candidates;
  const std::string& version = in.model_version();
  if (version.size() > 20 ||
      version.find_first_not_of("0123456789") != std::string::npos) {
    return Invalid(field + ".model_version",
                   absl::StrCat("must be a model version (up to 20 decimal "
                                "digits; empty: the default model), got '",
                                version, "'"));
  }
  out->model_version = version;
  absl::flat_hash_set<std::string> campaigns;
  for (int i = 0; i < in.coupons_size(); ++i) {
    const std::string policy_field = absl::StrCat(field, ".coupons[", i, "]");
    const v1::CouponPolicy& p = in.coupons(i);
    if (!experiment.campaigns.contains(p.campaign())) {
      return Invalid(
          policy_field + ".campaign",
          absl::StrCat("campaign '", p.campaign(),
                       "' is not one of the experiment's campaigns"));
    }
    if (!campaigns.insert(p.campaign()).second) {
      return Invalid(policy_field + ".campaign",
                     absl::StrCat("duplicate campaign '", p.campaign(), "'"));
    }
    if (p.holdout() && p.coupon_ids_size() > 0) {
      return Invalid(policy_field + ".coupon_ids",
                     "a holdout gets no coupon: leave it empty");
    }
    CouponPolicy policy;
    policy.campaign = p.campaign();
    policy.holdout = p.holdout();
    for (int j = 0; j < p.coupon_ids_size(); ++j) {
      RECSYS_RETURN_IF_ERROR(CheckId(
          absl::StrCat(policy_field, ".coupon_ids[", j, "]"), p.coupon_ids(j)));
      policy.coupon_ids.insert(p.coupon_ids(j));
    }
    out->coupons.push_back(std::move(policy));
  }
  return absl::OkStatus();
}

absl::Status ParseExperiment(const std::string& field, const v1::Experiment& in,
                             const std::string& layer, int default_first,
                             Experiment* out) {
  RECSYS_RETURN_IF_ERROR(CheckName(field + ".name", in.name()));
  out->name = in.name();
  out->layer = layer;
  if (in.start_unix() < 0)
    return Invalid(field + ".start_unix", "must be >= 0 (0: open)");
  if (in.end_unix() < 0)
    return Invalid(field + ".end_unix", "must be >= 0 (0: open)");
  if (in.start_unix() > 0) out->start = absl::FromUnixSeconds(in.start_unix());
  if (in.end_unix() > 0) out->end = absl::FromUnixSeconds(in.end_unix());
  if (out->end <= out->start) {
    return Invalid(field + ".end_unix",
                   absl::StrCat("must be after start_unix ", in.start_unix(),
                                ", got ", in.end_unix()));
  }
  if (!ValidShare(in.traffic_share())) {
    return Invalid(field + ".traffic_share",
                   absl::StrCat("must be in (0, 1], got ", in.traffic_share()));
  }
  out->traffic_share = in.traffic_share();
  out->reserved_share =
      in.reserved_share() == 0 ? in.traffic_share() : in.reserved_share();
  if (!ValidShare(out->reserved_share) ||
      out->reserved_share < out->traffic_share) {
    return Invalid(
        field + ".reserved_share",
        absl::StrCat("must be in [traffic_share, 1] (0: traffic_share), got ",
                     in.reserved_share()));
  }
  out->first_bucket = in.has_first_bucket() ? in.first_bucket() : default_first;
  if (out->first_bucket < 0 || out->first_bucket >= kBuckets) {
    return Invalid(field + ".first_bucket",
                   absl::StrCat("must be in [0, ", kBuckets, "), got ",
                                out->first_bucket));
  }
  out->active_end = out->first_bucket + ToBuckets(out->traffic_share);
  out->reserved_end = out->first_bucket + ToBuckets(out->reserved_share);
  if (out->reserved_end > kBuckets) {
    const char* name = in.has_first_bucket()      ? ".first_bucket"
                       : in.reserved_share() == 0 ? ".traffic_share"
                                                  : ".reserved_share";
    return Invalid(
        field + name,
        absl::StrCat(
            "the layer's shares sum above 1: the range ends at bucket ",
            out->reserved_end, " of ", kBuckets));
  }
  out->salt = in.salt().empty() ? in.name() : in.salt();
  for (int i = 0; i < in.slots_size(); ++i) {
    const std::string slot_field = absl::StrCat(field, ".slots[", i, "]");
    if (in.slots(i).empty() || in.slots(i).size() > 64) {
      return Invalid(slot_field, "must be 1 to 64 bytes");
    }
    if (!out->slots.insert(in.slots(i)).second) {
      return Invalid(slot_field,
                     absl::StrCat("duplicate slot '", in.slots(i), "'"));
    }
  }
  for (int i = 0; i < in.campaigns_size(); ++i) {
    const std::string campaign_field =
        absl::StrCat(field, ".campaigns[", i, "]");
    RECSYS_RETURN_IF_ERROR(CheckId(campaign_field, in.campaigns(i)));
    if (!out->campaigns.insert(in.campaigns(i)).second) {
      return Invalid(campaign_field, absl::StrCat("duplicate campaign '",
                                                  in.campaigns(i), "'"));
    }
  }
  for (int i = 0; i < in.target_tags_size(); ++i) {
    const std::string tag_field = absl::StrCat(field, ".target_tags[", i, "]");
    const std::string& tag = in.target_tags(i);
    if (tag.empty() || tag.size() > 128) {
      return Invalid(tag_field, "must be 1 to 128 bytes");
    }
    if (std::find(out->target_tags.begin(), out->target_tags.end(), tag) !=
        out->target_tags.end()) {
      return Invalid(tag_field, absl::StrCat("duplicate tag '", tag, "'"));
    }
    out->target_tags.push_back(tag);
  }
  if (out->slots.empty() && out->campaigns.empty()) {
    return Invalid(field + ".slots",
                   "an experiment needs at least one slot or campaign");
  }
  if (in.variants_size() < 2) {
    return Invalid(field + ".variants",
                   absl::StrCat("at least two variants are required, got ",
                                in.variants_size()));
  }
  absl::flat_hash_set<std::string> names;
  int cumulative = 0;
  for (int i = 0; i < in.variants_size(); ++i) {
    const std::string variant_field = absl::StrCat(field, ".variants[", i, "]");
    Variant v;
    RECSYS_RETURN_IF_ERROR(
        ParseVariant(variant_field, in.variants(i), *out, &v));
    if (!names.insert(v.name).second) {
      return Invalid(variant_field + ".name",
                     absl::StrCat("duplicate variant '", v.name, "'"));
    }
    v.begin = cumulative;
    cumulative += ToBuckets(v.share);
    v.end = cumulative;
    if (v.end > kBuckets) {
      return Invalid(
          variant_field + ".share",
          absl::StrCat("variants overlap: the shares of variants[0..", i,
                       "] sum above 1"));
    }
    if (v.end == v.begin) {
      return Invalid(
          variant_field + ".share",
          absl::StrCat("must be at least 1/", kBuckets, ", got ", v.share));
    }
    out->variants.push_back(std::move(v));
  }
  if (cumulative != kBuckets) {
    return Invalid(field + ".variants",
                   absl::StrCat("the variants' shares must sum to 1, got ",
                                static_cast<double>(cumulative) / kBuckets));
  }
  out->control = 0;
  if (!in.control().empty()) {
    const Variant* control = out->FindVariant(in.control());
    if (control == nullptr) {
      return Invalid(field + ".control",
                     absl::StrCat("no variant named '", in.control(), "'"));
    }
    out->control = static_cast<int>(control - out->variants.data());
  }
  return absl::OkStatus();
}

}  // namespace

int Bucket(absl::string_view salt, absl::string_view user_id) {
  std::string key;
  key.reserve(salt.size() + 1 + user_id.size());
  key.append(salt.data(), salt.size());
  key.push_back('\0');
  key.append(user_id.data(), user_id.size());
  return static_cast<int>(XXH3_64bits(key.data(), key.size()) % kBuckets);
}

absl::Status CheckName(absl::string_view field, absl::string_view name) {
  if (name.empty() || name.size() > 64) {
    return Invalid(field,
                   absl::StrCat("must be 1 to 64 bytes, got ", name.size()));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '-') {
      return Invalid(field,
                     absl::StrCat("'", name, "' may hold only [A-Za-z0-9_-]"));
    }
  }
  return absl::OkStatus();
}

const CouponPolicy* Variant::PolicyFor(absl::string_view campaign) const {
  for (const CouponPolicy& p : coupons) {
    if (p.campaign == campaign) return &p;
  }
  return nullptr;
}

const Variant* Experiment::FindVariant(absl::string_view name) const {
  for (const Variant& v : variants) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

const Variant& Experiment::VariantOf(absl::string_view user_id) const {
  const int b = Bucket(salt, user_id);
  for (const Variant& v : variants) {
    if (b >= v.begin && b < v.end) return v;
  }
  return variants.back();  // unreachable: the variants cover [0, kBuckets)
}

absl::StatusOr<std::shared_ptr<const ExperimentPlan>> ExperimentPlan::Parse(
    absl::string_view text, absl::string_view origin) {
  v1::ExperimentsConfig config;
  google::protobuf::TextFormat::Parser parser;
  CollectErrors errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &config)) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": ", errors.errors()));
  }
  return FromProto(config);
}

absl::StatusOr<std::shared_ptr<const ExperimentPlan>> ExperimentPlan::Load(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read experiments config ", path));
  }
  // An empty file is a config without experiments (inserting no
  // characters sets failbit, so read by iterators, not operator<<).
  const std::string text((std::istreambuf_iterator<char>(in)),
                         std::istreambuf_iterator<char>());
  if (in.bad()) {
    return absl::NotFoundError(
        absl::StrCat("cannot read experiments config ", path));
  }
  return Parse(text, path);
}

absl::StatusOr<std::shared_ptr<const ExperimentPlan>> ExperimentPlan::FromProto(
    const v1::ExperimentsConfig& config) {
  std::shared_ptr<ExperimentPlan> plan(new ExperimentPlan());
  absl::flat_hash_set<std::string> layer_names;
  absl::flat_hash_set<std::string> salts;
  for (int l = 0; l < config.layers_size(); ++l) {
    const v1::Layer& in = config.layers(l);
    const std::string field = absl::StrCat("layers[", l, "]");
    RECSYS_RETURN_IF_ERROR(CheckName(field + ".name", in.name()));
    if (!layer_names.insert(in.name()).second) {
      return Invalid(field + ".name",
                     absl::StrCat("duplicate layer '", in.name(), "'"));
    }
    Layer layer;
    layer.name = in.name();
    layer.salt = in.salt().empty() ? in.name() : in.salt();
    if (!salts.insert(layer.salt).second) {
      return Invalid(
          field + ".salt",
          absl::StrCat(
              "salt '", layer.salt,
              "' is another layer's: layers must assign independently"));
    }
    int next_first = 0;
    for (int e = 0; e < in.experiments_size(); ++e) {
      const std::string exp_field =
          absl::StrCat(field, ".experiments[", e, "]");
      auto experiment = std::make_unique<Experiment>();
      RECSYS_RETURN_IF_ERROR(ParseExperiment(exp_field, in.experiments(e),
                                             layer.name, next_first,
                                             experiment.get()));
      if (plan->by_name_.contains(experiment->name)) {
        return Invalid(
            exp_field + ".name",
            absl::StrCat("duplicate experiment '", experiment->name, "'"));
      }
      for (const Experiment* other : layer.experiments) {
        if (experiment->first_bucket < other->reserved_end &&
            other->first_bucket < experiment->reserved_end) {
          return Invalid(
              exp_field + ".first_bucket",
              absl::StrCat("buckets [", experiment->first_bucket, ", ",
                           experiment->reserved_end, ") overlap experiment '",
                           other->name, "' [", other->first_bucket, ", ",
                           other->reserved_end,
                           "): the layer's shares sum above 1"));
        }
      }
      next_first = experiment->reserved_end;
      plan->by_name_[experiment->name] = experiment.get();
      layer.experiments.push_back(experiment.get());
      plan->experiments_.push_back(std::move(experiment));
    }
    plan->layers_.push_back(std::move(layer));
  }
  for (int i = 0; i < config.overrides_size(); ++i) {
    const v1::ExperimentOverride& o = config.overrides(i);
    const std::string field = absl::StrCat("overrides[", i, "]");
    RECSYS_RETURN_IF_ERROR(CheckId(field + ".user_id", o.user_id()));
    const Experiment* experiment = plan->Find(o.experiment());
    if (experiment == nullptr) {
      return Invalid(field + ".experiment",
                     absl::StrCat("unknown experiment '", o.experiment(), "'"));
    }
    const Variant* variant = experiment->FindVariant(o.variant());
    if (variant == nullptr) {
      return Invalid(field + ".variant",
                     absl::StrCat("experiment '", o.experiment(),
                                  "' has no variant '", o.variant(), "'"));
    }
    std::vector<Override>& mine = plan->overrides_[o.user_id()];
    for (const Override& other : mine) {
      if (other.experiment->layer == experiment->layer) {
        return Invalid(field + ".experiment",
                       absl::StrCat("user '", o.user_id(),
                                    "' already has an override in layer '",
                                    experiment->layer, "'"));
      }
    }
    mine.push_back({experiment, variant});
  }
  if (config.attribution_window_seconds() < 0) {
    return Invalid("attribution_window_seconds", "must be >= 0 (0: one day)");
  }
  if (config.attribution_window_seconds() > 0) {
    plan->attribution_window_ =
        absl::Seconds(config.attribution_window_seconds());
  }
  if (config.event_id_ttl_seconds() < 0) {
    return Invalid("event_id_ttl_seconds", "must be >= 0 (0: 7 days)");
  }
  if (config.event_id_ttl_seconds() > 0) {
    plan->event_id_ttl_ = absl::Seconds(config.event_id_ttl_seconds());
  }
  if (!std::isfinite(config.margin()) || config.margin() < 0 ||
      config.margin() > 1) {
    return Invalid("margin", absl::StrCat("must be in [0, 1] (0: 0.3), got ",
                                          config.margin()));
  }
  if (config.margin() > 0) plan->margin_ = config.margin();
  return std::shared_ptr<const ExperimentPlan>(std::move(plan));
}

const Experiment* ExperimentPlan::Find(absl::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

namespace {

bool HasTargetTag(const Experiment& e, absl::Span<const std::string> tags) {
  for (const std::string& t : e.target_tags) {
    if (std::find(tags.begin(), tags.end(), t) != tags.end()) return true;
  }
  return false;
}

}  // namespace

bool ExperimentPlan::NeedsTags(absl::string_view user_id, absl::Time now) const {
  const std::vector<Override>* forced = nullptr;
  if (auto it = overrides_.find(user_id); it != overrides_.end())
    forced = &it->second;
  for (const Layer& layer : layers_) {
    if (forced != nullptr &&
        std::any_of(forced->begin(), forced->end(), [&](const Override& o) {
          return o.experiment->layer == layer.name;
        })) {
      continue;
    }
    if (layer.experiments.empty()) continue;
    const int b = Bucket(layer.salt, user_id);
    for (const Experiment* e : layer.experiments) {
      if (b >= e->first_bucket && b < e->active_end) {
        if (e->RunningAt(now) && !e->target_tags.empty()) return true;
        break;
      }
    }
  }
  return false;
}

std::vector<Assignment> ExperimentPlan::Assign(
    absl::string_view user_id, absl::Time now,
    absl::Span<const std::string> tags) const {
  std::vector<Assignment> out;
  if (layers_.empty()) return out;
  const std::vector<Override>* forced = nullptr;
  if (auto it = overrides_.find(user_id); it != overrides_.end())
    forced = &it->second;
  for (const Layer& layer : layers_) {
    bool overridden = false;
    if (forced != nullptr) {
      for (const Override& o : *forced) {
        if (o.experiment->layer == layer.name) {
          out.push_back({o.experiment, o.variant, true});
          overridden = true;
        }
      }
    }
    if (overridden || layer.experiments.empty()) continue;
    const int b = Bucket(layer.salt, user_id);
    for (const Experiment* e : layer.experiments) {
      if (b >= e->first_bucket && b < e->active_end) {
        if (e->RunningAt(now) &&
            (e->target_tags.empty() || HasTargetTag(*e, tags)))
          out.push_back({e, &e->VariantOf(user_id), false});
        break;
      }
    }
  }
  return out;
}

}  // namespace recsys::experiments
