#include "recommender/experiment_variants.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace recsys::recommender {

absl::StatusOr<std::shared_ptr<const ExperimentVariants>>
ExperimentVariants::Compile(
    std::shared_ptr<const experiments::ExperimentPlan> plan) {
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
  out->plan_ = std::move(plan);
  return std::shared_ptr<const ExperimentVariants>(std::move(out));
}

const SlotRule* ExperimentVariants::Rule(const experiments::Variant* variant,
                                         absl::string_view slot) const {
  auto it = slots_.find(variant);
  return it == slots_.end() ? nullptr : it->second->Find(slot);
}

}  // namespace recsys::recommender
