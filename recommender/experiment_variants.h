// ExperimentVariants: the served experiments plan (experiments/) with each
// variant's slot configurations validated and compiled as slot rules, so a
// request only looks them up. Built on load and reload, next to the slot
// plan; a variant whose slots fail validation refuses the whole config
// (InvalidArgument naming the field, e.g.
// "layers[0].experiments[0].variants[1].slots[0].sources[0].weight: ...").
//
// Variants that set a model_version are served by that version on their
// experiment's slots. Compile asks the model store to hold those versions
// (model::ModelStore::SetVariantVersions, for every experiment not ended at
// compile time) and keeps a reference to each bundle, so requests that use
// this plan always find their variant's model, and a later reload that
// drops a version frees it only once those requests are done. A version the
// store does not hold never refuses the config: its variants fall back to
// the default model, with the reason (VariantModel::reason).
//
// Thread safety: immutable after creation; share as
// shared_ptr<const ExperimentVariants>.
#ifndef RECSYS_RECOMMENDER_EXPERIMENT_VARIANTS_H_
#define RECSYS_RECOMMENDER_EXPERIMENT_VARIANTS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "experiments/experiment_plan.h"
#include "model/model_store.h"
#include "recommender/slot_config.h"

namespace recsys::recommender {

// The model a variant asks for.
struct VariantModel {
  std::string version;
  // Null: not held, the variant falls back to the default model; `reason`
  // says why (e.g. "no model version '7' under /models").
  std::shared_ptr<const model::ModelBundle> bundle;
  std::string reason;
};

class ExperimentVariants {
 public:
  // `models` (borrowed for the call; may be null: no variant gets its own
  // model) is asked to hold the variants' model versions once everything
  // else has validated; it replaces the versions it held before.
  static absl::StatusOr<std::shared_ptr<const ExperimentVariants>> Compile(
      std::shared_ptr<const experiments::ExperimentPlan> plan,
      model::ModelStore* models = nullptr);

  const experiments::ExperimentPlan& plan() const { return *plan_; }
  const std::shared_ptr<const experiments::ExperimentPlan>& shared_plan()
      const {
    return plan_;
  }

  // The rule `variant` gives `slot`; nullptr when it keeps the slot's.
  const SlotRule* Rule(const experiments::Variant* variant,
                       absl::string_view slot) const;

  // The model `variant` asks for; nullptr when it keeps the default model
  // (no model_version, or its experiment had ended at compile time).
  const VariantModel* Model(const experiments::Variant* variant) const;

 private:
  ExperimentVariants() = default;

  std::shared_ptr<const experiments::ExperimentPlan> plan_;
  absl::flat_hash_map<const experiments::Variant*,
                      std::shared_ptr<const SlotPlan>>
      slots_;
  // By version; variants point into it.
  absl::flat_hash_map<std::string, VariantModel> models_;
  absl::flat_hash_map<const experiments::Variant*, const VariantModel*>
      variant_models_;
};

// What the user's assignments change in one request.
struct Treatment {
  // Per request slot: the variant's rule (nullptr: the configured one).
  std::vector<const SlotRule*> slot_rules;
  // Vector candidates of the blended ranker (0: the server's option).
  int ranker_candidates = 0;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_EXPERIMENT_VARIANTS_H_
