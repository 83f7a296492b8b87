// Storefront: the recommender's domain entry point for everything the
// storefront backend and the admin tools change, on top of the Recommender
// (recommender.h) that answers reads:
//   - catalog updates (UpdateItems): each update is merged into the item as
//     stored (else the model's metadata) and written back, then the trial
//     pool and the item cache see it at once;
//   - event batches (RecordEvents): item events go to the feature store
//     through the Recommender, coupon events to a CouponEventSink (the
//     marketing engine), with the request's indices kept in every message;
//   - the slot configuration and the experiments (ReloadSlotConfig):
//     re-read from their files, a bad file refused with the field named and
//     the served ones kept;
//   - attribution: events that carry a recommendation_id are counted for
//     the experiment variants it names (experiments/attribution.h) once
//     they are stored.
//
// Thread safety: all methods may be called concurrently. Borrowed pointers
// must outlive the Storefront.
#ifndef RECSYS_RECOMMENDER_STOREFRONT_H_
#define RECSYS_RECOMMENDER_STOREFRONT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "feature_store/feature_store.h"
#include "experiments/attribution.h"
#include "experiments/counter_store.h"
#include "model/model_store.h"
#include "recommender/recommender.h"

namespace recsys::recommender {

// One catalog change; fields left unset keep what the store holds (else the
// model's values).
struct ItemUpdate {
  std::string item_id;
  // Units in stock: 0 = out of stock, -1 = unknown. nullopt: keep.
  std::optional<int64_t> stock;
  // nullopt: keep.
  std::optional<bool> slow_mover;
  // Empty / 0: keep.
  std::string category;
  double price = 0;
  std::string title;
  // Listing time (start of the trial window) in Unix seconds; 0: keep.
  int64_t listed_unix = 0;
  // Unit cost (>= 0). nullopt: keep.
  std::optional<double> cost;
  // "traffic", "profit", "image", or "none" (clears); empty: keep.
  std::string role;
};

struct ItemUpdateAnswer {
  int updated = 0;
  // Items the served model does not know (stored; shown only through the
  // trial pool until the next training).
  std::vector<std::string> unknown_to_model;
};

// Where coupon events go (the marketing engine). Implementations report
// each event refused by a budget, cap, window or eligibility rule in
// `rejected` with its index from `indices`; an error Status means the store
// did not confirm the batch.
struct CouponEventsOutcome {
  // Events applied, or found already applied (duplicates).
  int accepted = 0;
  // Of `accepted`, events whose operation id had already been applied.
  int duplicates = 0;
  // (index, discount granted in money) of each accepted redemption.
  std::vector<std::pair<int, double>> discounts;
  std::vector<std::pair<int, std::string>> rejected;
};
class CouponEventSink {
 public:
  virtual ~CouponEventSink() = default;
  // REQUIRES: events.size() == indices.size(); every event is a coupon
  // event with user_id and coupon_id set, time set (not the epoch) and
  // price (the order value) finite and >= 0. Each event's operation is
  // applied at most once per feature_store::EventDedupKey within the
  // marketing store's dedup window.
  virtual absl::StatusOr<CouponEventsOutcome> RecordCouponEvents(
      absl::Span<const feature_store::Event> events, absl::Span<const int> indices,
      absl::Time deadline) const = 0;
};

// Sees every item event a RecordEvents batch stored (the triggered offers
// of the marketing engine: timers, usual hours). An error Status means the
// observer did not confirm the batch; implementations observe each event at
// most once per feature_store::EventDedupKey, so the batch may be sent
// again.
class EventObserver {
 public:
  virtual ~EventObserver() = default;
  // REQUIRES: item events (no coupon events), validated and stored, each
  // time set (not the epoch).
  virtual absl::Status ObserveEvents(absl::Span<const feature_store::Event> events,
                                     absl::Time deadline) const = 0;
};

struct StorefrontOptions {
  // Options of the Recommender the Storefront owns.
  RecommenderOptions recommender;
  // Slot configuration file (recsys.v1.SlotsConfig, text format); empty:
  // none (every slot uses the default behaviour).
  std::string slots_config;
  // Experiments file (recsys.v1.ExperimentsConfig, text format); empty: no
  // experiment (answers still carry recommendation ids).
  std::string experiments_config;
  // Most items in one UpdateItems call.
  int max_item_updates = 10000;
  // Upper bound on the store calls of UpdateItems; the deadline may shorten
  // it.
  absl::Duration update_timeout = absl::Seconds(5);
};

class Storefront {
 public:
  // InvalidArgument (naming the field) when options.slots_config or
  // options.experiments_config does not load. `coupons` may be null: coupon
  // events are then refused per event. `plans`, when given, receives every
  // experiments plan the Storefront serves (for the marketing engine);
  // `counters` counts attributed events (null: an in-memory store of the
  // Storefront's own). `models` is asked to hold the model versions the
  // experiments' variants name (ExperimentVariants::Compile), at creation
  // and on every ReloadSlotConfig.
  static absl::StatusOr<std::unique_ptr<Storefront>> Create(
      const StorefrontOptions& options, model::ModelStore* models,
      feature_store::FeatureStore* features,
      const CouponEventSink* coupons = nullptr,
      experiments::PlanHolder* plans = nullptr,
      experiments::CounterStore* counters = nullptr);

  // Sets the observer of stored item events (borrowed; must outlive the
  // Storefront; null: none). Call before serving: not synchronized with
  // RecordEvents.
  void SetEventObserver(const EventObserver* observer) { observer_ = observer; }

  const Recommender& recommender() const { return *recommender_; }
  Recommender& recommender() { return *recommender_; }

  // Merges and stores the updates. InvalidArgument naming the first bad
  // field ("items[2].stock: ..."), nothing stored; Unavailable when the
  // store did not answer or did not confirm the write.
  absl::StatusOr<ItemUpdateAnswer> UpdateItems(const std::vector<ItemUpdate>& updates,
                                               absl::Time deadline);

  // Stores a batch of item and coupon events. Malformed events are reported
  // per event (index into `events`); InvalidArgument when nothing could be
  // stored and no event was refused by a coupon rule (the message names the
  // first bad field); Unavailable / DeadlineExceeded when a store did not
  // confirm a write: part of the batch may have been applied, and the
  // message says that sending the same batch again is safe (every event is
  // applied at most once per dedup key, feature_store::EventDedupKey), or
  // how many events it cannot say that of (no event_id and time 0, whose
  // key depends on the second they were received). A retry's events that
  // had landed count in EventsAnswer::duplicates.
  // An event with a recommendation_id that fails attribution (malformed,
  // another user's, an unknown experiment or variant, a view) is malformed:
  // neither stored nor counted. Stored events with one are then counted for
  // the variants it names (purchases: quantity * price), once per event_id;
  // the counters' store not confirming is Unavailable.
  absl::StatusOr<EventsAnswer> RecordEvents(const std::vector<feature_store::Event>& events,
                                            absl::Time deadline) const;

  // Re-reads options.slots_config and options.experiments_config (no-op
  // without them). InvalidArgument naming the field, and both served
  // configurations kept, when either file is bad. Once both are valid, the
  // model store is given the variants' model versions (loading new ones,
  // dropping those no longer named) before the new plan is served; a
  // version it cannot hold is logged and its variants fall back to the
  // default model, never refusing the config.
  absl::Status ReloadSlotConfig();

  // The served experiments plan (never null) and the counters.
  std::shared_ptr<const experiments::ExperimentPlan> experiment_plan() const {
    return plans_->Get();
  }
  const experiments::CounterStore& counters() const { return *counters_; }

 private:
  Storefront(const StorefrontOptions& options, model::ModelStore* models,
             feature_store::FeatureStore* features,
             const CouponEventSink* coupons, experiments::PlanHolder* plans,
             experiments::CounterStore* counters);

  // Hands the stored item events (those of `item_events` whose index is not
  // in `rejected`) to observer_.
  absl::Status Observe(const std::vector<feature_store::Event>& item_events,
                       const std::vector<int>& item_index,
                       const std::vector<std::pair<int, std::string>>& rejected, absl::Time now,
                       absl::Time deadline) const;
  // Counts the experiment events of the stored events (`stored[i]`:
  // events[i] was stored).
  absl::Status CountAttributed(const std::vector<feature_store::Event>& events,
                               const std::vector<std::vector<experiments::ExperimentEvent>>& attributed,
                               const std::vector<bool>& stored, absl::Time deadline) const;

  const StorefrontOptions options_;
  model::ModelStore* const models_;
  feature_store::FeatureStore* const features_;
  const CouponEventSink* const coupons_;
  const EventObserver* observer_ = nullptr;
  const std::unique_ptr<Recommender> recommender_;
  // Owned when Create was given none.
  std::unique_ptr<experiments::PlanHolder> own_plans_;
  std::unique_ptr<experiments::CounterStore> own_counters_;
  experiments::PlanHolder* plans_;
  experiments::CounterStore* counters_;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_STOREFRONT_H_
