#include "experiments/attribution.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "experiments/recommendation_id.h"

namespace recsys::experiments {

using feature_store::EventType;

std::shared_ptr<const ExperimentPlan> PlanHolder::Get() const {
  {
    absl::MutexLock lock(&mu_);
    if (plan_ != nullptr) return plan_;
  }
  return EmptyPlan();
}

void PlanHolder::Set(std::shared_ptr<const ExperimentPlan> plan) {
  absl::MutexLock lock(&mu_);
  plan_ = std::move(plan);
}

std::shared_ptr<const ExperimentPlan> EmptyPlan() {
  static const auto* const empty =
      new std::shared_ptr<const ExperimentPlan>(*ExperimentPlan::Parse(""));
  return *empty;
}

bool Attributable(EventType type) {
  switch (type) {
    case EventType::kImpression:
    case EventType::kClick:
    case EventType::kAddToCart:
    case EventType::kPurchase:
    case EventType::kCouponIssued:
    case EventType::kCouponRedeemed:
      return true;
    case EventType::kView:
      return false;
  }
  return false;
}

namespace {

CountedEvent ToCounted(EventType type) {
  switch (type) {
    case EventType::kImpression:
      return CountedEvent::kImpression;
    case EventType::kClick:
      return CountedEvent::kClick;
    case EventType::kAddToCart:
      return CountedEvent::kAddToCart;
    case EventType::kPurchase:
      return CountedEvent::kPurchase;
    case EventType::kCouponIssued:
      return CountedEvent::kCouponIssued;
    case EventType::kCouponRedeemed:
      return CountedEvent::kCouponRedeemed;
    case EventType::kView:
      break;
  }
  return CountedEvent::kImpression;  // not reached: checked by Attributable
}

}  // namespace

absl::Status Attribute(const ExperimentPlan& plan,
                       const feature_store::Event& e, absl::string_view prefix,
                       double value, double pre_spend,
                       std::vector<ExperimentEvent>* out) {
  const std::string field = absl::StrCat(prefix, "recommendation_id");
  if (!Attributable(e.type)) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": ", feature_store::EventTypeName(e.type),
        " events are not attributed; send it with impressions, clicks, carts, "
        "purchases or coupon events"));
  }
  if (e.type == EventType::kPurchase && (!std::isfinite(value) || value < 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        prefix, "price: quantity * price must be finite and >= 0, got ",
        value));
  }
  auto ref = ParseRecommendationId(field, e.recommendation_id);
  if (!ref.ok()) return ref.status();
  if (ref->user_hash != UserHash(e.user_id)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": issued to another user than '", e.user_id, "'"));
  }
  std::vector<ExperimentEvent> mine;
  for (const Arm& arm : ref->arms) {
    const Experiment* experiment = plan.Find(arm.experiment);
    if (experiment == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": unknown experiment '", arm.experiment, "'"));
    }
    if (experiment->FindVariant(arm.variant) == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": experiment '", arm.experiment,
                       "' has no variant '", arm.variant, "'"));
    }
    if (arm.forced) continue;
    ExperimentEvent& x = mine.emplace_back();
    x.experiment = arm.experiment;
    x.variant = arm.variant;
    x.slot = ref->slot;
    x.user_id = e.user_id;
    x.type = ToCounted(e.type);
    x.time = e.time;
    x.value = value;
    x.pre_spend = pre_spend;
    x.event_id = e.event_id;
  }
  for (ExperimentEvent& x : mine) out->push_back(std::move(x));
  return absl::OkStatus();
}

}  // namespace recsys::experiments
