#include "recommender/storefront.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/log.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "recommender/slot_config.h"

namespace recsys::recommender {

using feature_store::Event;
using feature_store::EventType;
using ::recsys::CheckClientTime;
using ::recsys::CheckId;

namespace {

// A store did not confirm the batch (Unavailable or DeadlineExceeded; other
// codes are returned as they are): tells the caller whether sending the
// same batch again is safe.
absl::Status NotConfirmed(const absl::Status& status, const std::vector<Event>& events) {
  if (!absl::IsUnavailable(status) && !absl::IsDeadlineExceeded(status)) return status;
  int unkeyed = 0;  // no id and time 0: the key depends on the second received
  for (const Event& e : events) {
    if (e.event_id.empty() && e.time == absl::UnixEpoch()) ++unkeyed;
  }
  std::string message = absl::StrCat(
      status.message(),
      "; retrying the same batch is safe: each event is applied at most once "
      "(by event_id, else by its content), and events that had landed are "
      "counted in duplicates");
  if (unkeyed > 0) {
    absl::StrAppend(&message, " - except ", unkeyed,
                    " event(s) with neither event_id nor timestamp_unix, which a "
                    "retry in a later second records again");
  }
  return absl::Status(status.code(), message);
}

// The pre-period spend (what the user bought before this batch, at the
// served model's prices) of each user with experiment events, read before
// the batch is stored; the counters keep it from the user's first exposure
// only. A user unknown to the store, or a store not answering: 0.
void FillPreSpend(const model::ModelBundle& bundle, const feature_store::FeatureStore& features,
                  const std::vector<Event>& events, absl::Time deadline,
                  std::vector<std::vector<experiments::ExperimentEvent>>* attributed) {
  absl::flat_hash_map<std::string, double> pre_spend;
  for (size_t n = 0; n < events.size(); ++n) {
    if ((*attributed)[n].empty()) continue;
    auto [it, fresh] = pre_spend.try_emplace(events[n].user_id, 0.0);
    if (fresh) {
      auto user = features.GetUser(events[n].user_id, deadline);
      if (user.ok()) {
        for (const feature_store::PurchaseRecord& p : user->purchases) {
          const int32_t row = bundle.ItemRow(p.item_id);
          if (row >= 0) it->second += p.count * bundle.item(row).price;
        }
      }
    }
    for (experiments::ExperimentEvent& x : (*attributed)[n]) x.pre_spend = it->second;
  }
}

// REQUIRES: every other configuration being loaded has validated (the
// model store is given the variants' versions).
absl::StatusOr<std::shared_ptr<const ExperimentVariants>> LoadExperiments(
    const std::string& path, model::ModelStore* models) {
  RECSYS_ASSIGN_OR_RETURN(std::shared_ptr<const experiments::ExperimentPlan> plan,
                          experiments::ExperimentPlan::Load(path));
  return ExperimentVariants::Compile(std::move(plan), models);
}

}  // namespace

Storefront::Storefront(const StorefrontOptions& options,
                       model::ModelStore* models,
                       feature_store::FeatureStore* features,
                       const CouponEventSink* coupons,
                       experiments::PlanHolder* plans,
                       experiments::CounterStore* counters)
    : options_(options),
      models_(models),
      features_(features),
      coupons_(coupons),
      recommender_(
          std::make_unique<Recommender>(models, features, options.recommender)),
      own_plans_(plans == nullptr ? std::make_unique<experiments::PlanHolder>()
                                  : nullptr),
      own_counters_(counters == nullptr ? experiments::NewInMemoryCounterStore()
                                        : nullptr),
      plans_(plans != nullptr ? plans : own_plans_.get()),
      counters_(counters != nullptr ? counters : own_counters_.get()) {}

absl::StatusOr<std::unique_ptr<Storefront>> Storefront::Create(
    const StorefrontOptions& options, model::ModelStore* models,
    feature_store::FeatureStore* features, const CouponEventSink* coupons,
    experiments::PlanHolder* plans, experiments::CounterStore* counters) {
  std::unique_ptr<Storefront> s(
      new Storefront(options, models, features, coupons, plans, counters));
  if (!options.slots_config.empty()) {
    auto plan = SlotPlan::Load(options.slots_config);
    if (!plan.ok()) return plan.status();
    s->recommender_->SetSlotPlan(*std::move(plan));
  }
  if (!options.experiments_config.empty()) {
    auto variants = LoadExperiments(options.experiments_config, models);
    if (!variants.ok()) return variants.status();
    s->plans_->Set((*variants)->shared_plan());
    s->recommender_->SetExperiments(*std::move(variants));
  }
  return s;
}

absl::Status Storefront::ReloadSlotConfig() {
  // Both files are checked before either is swapped in.
  absl::StatusOr<std::shared_ptr<const SlotPlan>> plan;
  if (!options_.slots_config.empty()) {
    plan = SlotPlan::Load(options_.slots_config);
    if (!plan.ok()) {
      LogError(absl::StrCat("slots config rejected, keeping the served one: ",
                            plan.status().message()));
      return absl::InvalidArgumentError(absl::StrCat(
          "slots config rejected (nothing reloaded): ", plan.status().message()));
    }
  }
  absl::StatusOr<std::shared_ptr<const ExperimentVariants>> variants;
  if (!options_.experiments_config.empty()) {
    variants = LoadExperiments(options_.experiments_config, models_);
    if (!variants.ok()) {
      LogError(absl::StrCat("experiments config rejected, keeping the served one: ",
                            variants.status().message()));
      return absl::InvalidArgumentError(absl::StrCat(
          "experiments config rejected (nothing reloaded): ", variants.status().message()));
    }
  }
  if (!options_.slots_config.empty()) recommender_->SetSlotPlan(*std::move(plan));
  if (!options_.experiments_config.empty()) {
    plans_->Set((*variants)->shared_plan());
    recommender_->SetExperiments(*std::move(variants));
  }
  return absl::OkStatus();
}

absl::StatusOr<ItemUpdateAnswer> Storefront::UpdateItems(const std::vector<ItemUpdate>& updates,
                                                         absl::Time deadline) {
  if (updates.empty()) return absl::InvalidArgumentError("items: at least one item is required");
  if (static_cast<int>(updates.size()) > options_.max_item_updates) {
    return absl::InvalidArgumentError(absl::StrCat("items: at most ", options_.max_item_updates,
                                                   " per call, got ", updates.size()));
  }
  const int64_t latest_listing = absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 366));
  for (size_t i = 0; i < updates.size(); ++i) {
    const ItemUpdate& in = updates[i];
    const std::string prefix = absl::StrCat("items[", i, "].");
    RECSYS_RETURN_IF_ERROR(CheckId(prefix + "item_id", in.item_id));
    if (!in.category.empty()) RECSYS_RETURN_IF_ERROR(CheckId(prefix + "category", in.category));
    if (in.stock.has_value() && *in.stock < -1) {
      return absl::InvalidArgumentError(
          absl::StrCat(prefix, "stock: must be >= -1, got ", *in.stock));
    }
    if (!(in.price >= 0) || !std::isfinite(in.price)) {
      return absl::InvalidArgumentError(prefix + "price: must be finite and >= 0");
    }
    if (in.cost.has_value() && (!(*in.cost >= 0) || !std::isfinite(*in.cost))) {
      return absl::InvalidArgumentError(prefix + "cost: must be finite and >= 0");
    }
    if (!in.role.empty() && in.role != "none" && !IsItemRole(in.role)) {
      return absl::InvalidArgumentError(absl::StrCat(
          prefix, "role: unknown role '", in.role, "' (expected traffic, profit, image or none)"));
    }
    if (in.listed_unix < 0 || in.listed_unix > latest_listing) {
      return absl::InvalidArgumentError(absl::StrCat(
          prefix, "listed_unix: must be a Unix time within a year from now, got ",
          in.listed_unix));
    }
  }
  // Merged into the stored item read past any cache, so an update never
  // writes back a copy another replica has changed since.
  std::vector<std::string> ids;
  ids.reserve(updates.size());
  for (const ItemUpdate& in : updates) ids.push_back(in.item_id);
  auto stored = features_->GetItemsUncached(
      ids, std::min(deadline, absl::Now() + options_.update_timeout));
  if (!stored.ok()) {
    return absl::UnavailableError(
        absl::StrCat("feature store did not answer: ", stored.status().message()));
  }
  const auto bundle = models_->Current();
  ItemUpdateAnswer answer;
  std::vector<feature_store::ItemFeatures> items;
  items.reserve(updates.size());
  for (size_t i = 0; i < updates.size(); ++i) {
    const ItemUpdate& in = updates[i];
    feature_store::ItemFeatures f;
    const int32_t row = bundle->ItemRow(in.item_id);
    if ((*stored)[i].has_value()) {
      f = *(*stored)[i];
    } else if (row >= 0) {
      f.category = bundle->item(row).category;
      f.price = bundle->item(row).price;
      f.title = bundle->item(row).title;
    }
    if (row < 0) answer.unknown_to_model.push_back(in.item_id);
    f.item_id = in.item_id;
    if (in.stock.has_value()) f.stock = *in.stock;
    if (in.slow_mover.has_value()) f.slow_mover = *in.slow_mover;
    if (!in.category.empty()) f.category = in.category;
    if (in.price > 0) f.price = in.price;
    if (!in.title.empty()) f.title = in.title;
    if (in.cost.has_value()) f.cost = *in.cost;
    if (!in.role.empty()) f.role = in.role;
    // PutItems records a known listing time; an unset one keeps the stored.
    f.listed = in.listed_unix > 0 ? absl::FromUnixSeconds(in.listed_unix) : absl::InfinitePast();
    items.push_back(std::move(f));
  }
  absl::Status st = features_->PutItems(items);
  if (!st.ok()) {
    return absl::UnavailableError(
        absl::StrCat("feature store did not store the items: ", st.message()));
  }
  recommender_->CatalogChanged();
  answer.updated = static_cast<int>(items.size());
  return answer;
}

absl::StatusOr<EventsAnswer> Storefront::RecordEvents(const std::vector<Event>& events,
                                                      absl::Time deadline) const {
  // Item events go to the Recommender (feature store), coupon events to the
  // sink; indices refer to `events`. Experiment events are counted after
  // both stored theirs, with the pre-period spend read before.
  std::vector<Event> item_events;
  std::vector<int> item_index;
  std::vector<Event> coupon_events;
  std::vector<int> coupon_index;
  std::vector<std::pair<int, std::string>> rejected;
  const absl::Time now = absl::Now();
  // Experiment events of each event with a recommendation id; an event
  // whose id does not attribute is refused before anything is stored.
  const std::shared_ptr<const experiments::ExperimentPlan> plan = plans_->Get();
  std::vector<std::vector<experiments::ExperimentEvent>> attributed(events.size());
  bool any_attributed = false;
  for (size_t n = 0; n < events.size(); ++n) {
    const int i = static_cast<int>(n);
    const Event& e = events[n];
    if (!e.recommendation_id.empty()) {
      Event at = e;
      if (at.time == absl::UnixEpoch()) at.time = now;
      const double value =
          e.type == EventType::kPurchase ? (e.quantity == 0 ? 1 : e.quantity) * e.price : 0;
      absl::Status ok = experiments::Attribute(*plan, at, absl::StrCat("events[", i, "]."), value,
                                               0, &attributed[n]);
      if (!ok.ok()) {
        rejected.emplace_back(i, std::string(ok.message()));
        continue;
      }
      any_attributed = any_attributed || !attributed[n].empty();
    }
    if (e.type == EventType::kCouponIssued || e.type == EventType::kCouponRedeemed) {
      const std::string prefix = absl::StrCat("events[", i, "].");
      absl::Status user_ok = CheckId(prefix + "user_id", e.user_id);
      absl::Status coupon_ok = CheckId(prefix + "coupon_id", e.coupon_id);
      absl::Status time_ok = e.time == absl::UnixEpoch()
                                 ? absl::OkStatus()
                                 : CheckClientTime(prefix + "timestamp_unix", e.time, now);
      if (coupons_ == nullptr) {
        rejected.emplace_back(i, prefix + "type: coupon events need the marketing engine");
      } else if (!user_ok.ok()) {
        rejected.emplace_back(i, std::string(user_ok.message()));
      } else if (!coupon_ok.ok()) {
        rejected.emplace_back(i, std::string(coupon_ok.message()));
      } else if (absl::Status id_ok = e.event_id.empty()
                                          ? absl::OkStatus()
                                          : CheckId(prefix + "event_id", e.event_id);
                 !id_ok.ok()) {
        rejected.emplace_back(i, std::string(id_ok.message()));
      } else if (!time_ok.ok()) {
        rejected.emplace_back(i, std::string(time_ok.message()));
      } else if (!(e.price >= 0) || !std::isfinite(e.price)) {
        rejected.emplace_back(i, prefix + "price: must be finite and >= 0");
      } else {
        Event c = e;
        if (c.time == absl::UnixEpoch()) c.time = now;
        coupon_events.push_back(std::move(c));
        coupon_index.push_back(i);
      }
      continue;
    }
    item_events.push_back(e);
    item_index.push_back(i);
  }
  if (events.empty()) return absl::InvalidArgumentError("events: at least one event is required");
  if (any_attributed) {
    FillPreSpend(*models_->Current(), *features_, events,
                 std::min(deadline, now + options_.recommender.feature_timeout), &attributed);
  }
  EventsAnswer answer;
  int accepted = 0;
  int duplicates = 0;
  if (!item_events.empty()) {
    auto stored = recommender_->RecordEvents(item_events, deadline, &item_index);
    if (!stored.ok()) {
      if (!absl::IsInvalidArgument(stored.status())) return NotConfirmed(stored.status(), events);
      if (coupon_events.empty() && rejected.empty()) return stored.status();
      // None of the item events is valid; the coupon events may be.
      for (int i : item_index) rejected.emplace_back(i, std::string(stored.status().message()));
    } else {
      accepted += stored->accepted;
      duplicates += stored->duplicates;
      answer.duplicate_indices = stored->duplicate_indices;
      for (const auto& r : stored->rejected) rejected.push_back(r);
      answer.meta = stored->meta;
      if (observer_ != nullptr) {
        RECSYS_RETURN_IF_ERROR(Observe(item_events, item_index, stored->rejected, now, deadline));
      }
    }
  }
  // Coupon events refused by a budget, cap, window or eligibility rule are
  // well-formed: they are reported, not turned into InvalidArgument.
  int refused = 0;
  if (!coupon_events.empty()) {
    auto outcome = coupons_->RecordCouponEvents(coupon_events, coupon_index, deadline);
    if (!outcome.ok()) {
      if (absl::IsInvalidArgument(outcome.status())) return outcome.status();
      return NotConfirmed(outcome.status(), events);
    }
    accepted += outcome->accepted;
    duplicates += outcome->duplicates;
    refused = static_cast<int>(outcome->rejected.size());
    for (const auto& r : outcome->rejected) rejected.push_back(r);
    // Redemptions count the discount granted.
    for (const auto& [index, discount] : outcome->discounts) {
      for (experiments::ExperimentEvent& x : attributed[index]) x.value = discount;
    }
  }
  std::sort(rejected.begin(), rejected.end());
  if (accepted == 0 && refused == 0) {
    return absl::InvalidArgumentError(rejected.empty() ? "events: nothing stored"
                                                       : rejected.front().second);
  }
  if (any_attributed) {
    std::vector<bool> stored(events.size(), true);
    for (const auto& r : rejected) stored[r.first] = false;
    RECSYS_RETURN_IF_ERROR(CountAttributed(events, attributed, stored, deadline));
  }
  answer.accepted = accepted;
  answer.duplicates = duplicates;
  answer.rejected = std::move(rejected);
  return answer;
}

absl::Status Storefront::Observe(const std::vector<Event>& item_events,
                                 const std::vector<int>& item_index,
                                 const std::vector<std::pair<int, std::string>>& rejected,
                                 absl::Time now, absl::Time deadline) const {
  absl::flat_hash_set<int> refused;
  for (const auto& r : rejected) refused.insert(r.first);
  std::vector<Event> stored;
  for (size_t n = 0; n < item_events.size(); ++n) {
    if (refused.contains(item_index[n])) continue;
    stored.push_back(item_events[n]);
    if (stored.back().time == absl::UnixEpoch()) stored.back().time = now;
  }
  if (stored.empty()) return absl::OkStatus();
  absl::Status st = observer_->ObserveEvents(stored, deadline);
  if (!st.ok()) {
    return absl::Status(st.code(), absl::StrCat("events stored, triggered offers not confirmed "
                                                "(retry with the same event ids): ",
                                                st.message()));
  }
  return absl::OkStatus();
}

absl::Status Storefront::CountAttributed(
    const std::vector<Event>& events,
    const std::vector<std::vector<experiments::ExperimentEvent>>& attributed,
    const std::vector<bool>& stored, absl::Time deadline) const {
  std::vector<experiments::ExperimentEvent> batch;
  for (size_t n = 0; n < events.size(); ++n) {
    if (!stored[n]) continue;
    for (const experiments::ExperimentEvent& x : attributed[n]) batch.push_back(x);
  }
  if (batch.empty()) return absl::OkStatus();
  const auto plan = plans_->Get();
  experiments::CountRules rules;
  rules.attribution_window = plan->attribution_window();
  rules.event_id_ttl = plan->event_id_ttl();
  auto counted = counters_->Record(batch, rules, deadline);
  if (!counted.ok()) {
    return absl::UnavailableError(absl::StrCat(
        "events stored, experiment counters not confirmed (retry with the same event ids): ",
        counted.status().message()));
  }
  return absl::OkStatus();
}

}  // namespace recsys::recommender
