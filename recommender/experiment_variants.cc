#include "recommender/experiment_variants.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace recsys::recommender {

absl::StatusOr<std::shared_ptr<const ExperimentVariants>>
ExperimentVariants::Compile(
    std::shared_ptr<const experiments::ExperimentPlan> plan,
    model::ModelStore* models) {
  std::shared_ptr<ExperimentVariants> out(new ExperimentVariants());
  for (const auto& experiment : plan->experiments()) {
    for (const experiments::Variant& v : experiment->variants) {
      if (v.slots.empty()) continue;
      recsys::v1::SlotsConfig config;
      for (const recsys::v1::SlotConfig& slot : v.slots)
        *config.add_slots() = slot;
      auto compiled = SlotPlan::FromProto(config);
      if (!compiled.ok()) {
        // SlotPlan names fields from "slots[i]"; the variant's path first.
        return absl::InvalidArgumentError(
            absl::StrCat(v.field, ".", compiled.status().message()));
      }
      out->slots_[&v] = *std::move(compiled);
    }
  }
  // The model versions of the experiments that have not ended, in config
  // order, with the variants that ask for them.
  const absl::Time now = absl::Now();
  std::vector<model::VariantVersionRequest> requests;
  std::vector<std::pair<const experiments::Variant*, std::string>> asking;
  for (const auto& experiment : plan->experiments()) {
    if (experiment->end <= now) continue;
    for (const experiments::Variant& v : experiment->variants) {
      if (v.model_version.empty()) continue;
      asking.emplace_back(&v, v.model_version);
      const std::string user = absl::StrCat(experiment->name, "/", v.name);
      auto same = std::find_if(
          requests.begin(), requests.end(),
          [&](const auto& r) { return r.version == v.model_version; });
      if (same != requests.end()) {
        same->used_by.push_back(user);
      } else {
        requests.push_back({v.model_version, {user}});
      }
    }
  }
  if (!requests.empty() || models != nullptr) {
    std::vector<model::VariantVersion> held;
    if (models != nullptr) held = models->SetVariantVersions(requests);
    for (const model::VariantVersionRequest& r : requests) {
      VariantModel& m = out->models_[r.version];
      m.version = r.version;
      m.reason = "no model store";
      for (model::VariantVersion& h : held) {
        if (h.version != r.version) continue;
        m.bundle = h.bundle;
        m.reason = m.bundle != nullptr ? "" : std::string(h.status.message());
      }
    }
    for (const auto& [variant, version] : asking) {
      out->variant_models_[variant] = &out->models_.at(version);
    }
  }
  out->plan_ = std::move(plan);
  return std::shared_ptr<const ExperimentVariants>(std::move(out));
}

const VariantModel* ExperimentVariants::Model(
    const experiments::Variant* variant) const {
  auto it = variant_models_.find(variant);
  return it == variant_models_.end() ? nullptr : it->second;
}

const SlotRule* ExperimentVariants::Rule(const experiments::Variant* variant,
                                         absl::string_view slot) const {
  auto it = slots_.find(variant);
  return it == slots_.end() ? nullptr : it->second->Find(slot);
}

}  // namespace recsys::recommender
