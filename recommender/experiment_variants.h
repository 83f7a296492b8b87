// ExperimentVariants: the served experiments plan (experiments/) with each
// variant's slot configurations validated and compiled as slot rules, so a
// request only looks them up. Built on load and reload, next to the slot
// plan; a variant whose slots fail validation refuses the whole config
// (InvalidArgument naming the field, e.g.
// "layers[0].experiments[0].variants[1].slots[0].sources[0].weight: ...").
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
#include "recommender/slot_config.h"

namespace recsys::recommender {

class ExperimentVariants {
 public:
  static absl::StatusOr<std::shared_ptr<const ExperimentVariants>> Compile(
      std::shared_ptr<const experiments::ExperimentPlan> plan);

  const experiments::ExperimentPlan& plan() const { return *plan_; }
  const std::shared_ptr<const experiments::ExperimentPlan>& shared_plan()
      const {
    return plan_;
  }

  // The rule `variant` gives `slot`; nullptr when it keeps the slot's.
  const SlotRule* Rule(const experiments::Variant* variant,
                       absl::string_view slot) const;

 private:
  ExperimentVariants() = default;

  std::shared_ptr<const experiments::ExperimentPlan> plan_;
  absl::flat_hash_map<const experiments::Variant*,
                      std::shared_ptr<const SlotPlan>>
      slots_;
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
