// Attribution: from an event that carries a recommendation_id to the
// experiment events to count (counter_store.h), checked against the served
// plan (docs/experiments.md, "Attribution").
//
// Thread safety: free functions; PlanHolder is safe for concurrent use.
#ifndef RECSYS_EXPERIMENTS_ATTRIBUTION_H_
#define RECSYS_EXPERIMENTS_ATTRIBUTION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "experiments/counter_store.h"
#include "experiments/experiment_plan.h"
#include "feature_store/feature_store.h"

namespace recsys::experiments {

// The served plan, swapped whole by a reload; readers keep the plan they
// took for as long as they use it.
class PlanHolder {
 public:
  // Never null: an empty plan (no experiment) until Set.
  std::shared_ptr<const ExperimentPlan> Get() const;
  void Set(std::shared_ptr<const ExperimentPlan> plan);

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const ExperimentPlan> plan_ ABSL_GUARDED_BY(mu_);
};

// The plan of an empty config.
std::shared_ptr<const ExperimentPlan> EmptyPlan();

// Whether events of `type` may carry a recommendation id (impressions,
// clicks, carts, purchases and coupon events; not views).
bool Attributable(feature_store::EventType type);

// Checks `e.recommendation_id` (REQUIRES: not empty) against `plan` and
// appends to `out` one ExperimentEvent per assignment it carries that
// counts (QA overrides do not). InvalidArgument naming
// `<prefix>recommendation_id` when the id is malformed, was issued to
// another user, names an experiment or variant the plan does not have, or
// the event's type cannot carry one; `<prefix>price` for a purchase whose
// value (quantity * price) is negative or not finite. `value` is the
// counted value (purchases: quantity * price; redemptions: the discount).
// Nothing is appended on error.
absl::Status Attribute(const ExperimentPlan& plan,
                       const feature_store::Event& e, absl::string_view prefix,
                       double value, double pre_spend,
                       std::vector<ExperimentEvent>* out);

}  // namespace recsys::experiments

#endif  // RECSYS_EXPERIMENTS_ATTRIBUTION_H_
