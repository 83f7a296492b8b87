// FeatureStore: per-user and per-item features read on the request path and
// written by RecordEvents and by the trainer's bulk load.
//
// Implementations:
//   - NewRedisFeatureStore (redis_feature_store.h): the production store.
//   - InMemoryFeatureStore (in_memory_feature_store.h): the embedded default,
//     loaded from the model directory; also used by unit tests.
//   - FaultyFeatureStore (faulty_feature_store.h): wraps a store and injects
//     errors, for tests of degraded mode.
//
// Thread safety: every implementation is safe for concurrent calls from any
// number of threads.
//
// Error contract shared by all implementations:
//   - NotFound: the store holds nothing for that user (GetUser only).
//   - Unavailable / DeadlineExceeded: the backend did not answer before the
//     deadline. Callers degrade (answer from the model alone); they never
//     turn these into request failures.
//   - InvalidArgument: a malformed argument (empty id, ...), message names it.
#ifndef RECSYS_FEATURE_STORE_FEATURE_STORE_H_
#define RECSYS_FEATURE_STORE_FEATURE_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace recsys::feature_store {

enum class EventType {
  kView = 1,
  kAddToCart = 2,
  kPurchase = 3,
  kImpression = 4,
  kClick = 5,
  kCouponIssued = 6,
  kCouponRedeemed = 7,
};

// Short stable name of an event type ("view", "add_to_cart", ...), used in
// stored values and logs.
absl::string_view EventTypeName(EventType type);
// Inverse of EventTypeName; nullopt for unknown names.
std::optional<EventType> EventTypeFromName(absl::string_view name);

struct Event {
  EventType type = EventType::kView;
  std::string user_id;
  // Item events: the item. Coupon events: empty.
  std::string item_id;
  // Coupon events: the coupon.
  std::string coupon_id;
  absl::Time time = absl::UnixEpoch();
  // Purchases: units bought and unit price.
  int32_t quantity = 1;
  double price = 0;
  // Impressions / clicks: slot name.
  std::string slot;
  // Impressions, clicks and purchases of an item in its trial window (the
  // caller decides): also counted in the item's trial counters
  // (GetTrialCounts). Ignored for other event types.
  bool count_for_trial = false;
  // Idempotency key given by the caller (recsys.v1.Event.event_id); empty:
  // derived from the content (EventDedupKey).
  std::string event_id;
  // The answer that led to the event (experiments/recommendation_id.h);
  // empty: not attributed.
  std::string recommendation_id;
};

// How long a store remembers that an event id was applied (RecordEvents),
// unless its options say otherwise: a retry within it is not applied again.
inline constexpr absl::Duration kDefaultEventDedupWindow = absl::Hours(24);

// The key under which stores remember that `event` was applied:
//   - "id:" + event_id when the caller gave one;
//   - else "h:" + 32 hex digits of the XXH3-128 hash of the content: type,
//     user_id, item_id, coupon_id, the time in whole unix seconds, slot,
//     quantity and price (each length-prefixed, so fields cannot run into
//     each other). count_for_trial (set by the server) is not part of it.
// So two events with the same content in the same second are one event,
// and a caller that wants both recorded gives them ids. Coupon events use
// the same key for their coupon operation (marketing/coupon_store.h).
std::string EventDedupKey(const Event& event);

// What RecordEvents did with a batch.
struct RecordOutcome {
  // Events applied by this call.
  int applied = 0;
  // Indices into the batch of events whose dedup key (EventDedupKey) was
  // already applied within the store's dedup window, by an earlier call or
  // earlier in the same batch: not applied again. Ascending.
  std::vector<int> duplicates;
};

// One item a user has bought.
struct PurchaseRecord {
  std::string item_id;
  // Number of purchase events (orders containing the item), not units.
  int32_t count = 0;
  absl::Time last_purchase = absl::InfinitePast();
};

// One recent non-purchase (or purchase) interaction.
struct ActivityRecord {
  std::string item_id;
  EventType type = EventType::kView;
  absl::Time time = absl::InfinitePast();
};

struct UserFeatures {
  std::string user_id;
  // Every item the user has bought; no particular order, one entry per item.
  std::vector<PurchaseRecord> purchases;
  // Recent activity (views, carts, clicks, purchases), most recent first,
  // at most the store's recent-activity limit.
  std::vector<ActivityRecord> recent;
  // Recent impressions, most recent first (for rotation rules).
  std::vector<ActivityRecord> impressions;
};

struct ItemFeatures {
  std::string item_id;
  std::string category;
  double price = 0;
  std::string title;
  // Units in stock; -1 when unknown. 0: never recommended.
  int64_t stock = -1;
  // Flagged by merchandising as a slow mover (demoted by the slot rules).
  bool slow_mover = false;
  // When the item was listed in the catalog (start of its trial window);
  // InfinitePast: not known. PutItems records a known listing time (and
  // registers the item in the listing index, GetListedItems); it never
  // clears one.
  absl::Time listed = absl::InfinitePast();
  // Unit cost to the shop (margin = price - cost); < 0: not known.
  // PutItems records a known cost and never clears one.
  double cost = -1;
  // Merchandising role: "traffic", "profit", "image", or "none"; empty: not
  // known. PutItems records a set role ("none" clears it to none) and keeps
  // the stored one for an empty role.
  std::string role;
};

// An entry of the listing index.
struct ListedItem {
  std::string item_id;
  absl::Time listed = absl::InfinitePast();
};

// Items written by PutItems after a catalog version (GetItemChanges).
struct ItemChanges {
  // The store's catalog version that these changes bring the caller to:
  // pass it as `since` to the next call.
  int64_t version = 0;
  // Every item written after `since` up to `version`, each once, in no
  // particular order.
  std::vector<std::string> item_ids;
  // The store's version is below `since`: it lost or dropped its catalog
  // history (a flushed or restored Redis). Anything derived from the catalog
  // before must be thrown away; `item_ids` is then empty.
  bool reset = false;
  // The bulk-data generation the store serves (redis/generation.h; 0 for
  // stores without generations). When it differs from the previous call's,
  // every item's metadata may have changed: drop everything derived from
  // the catalog, as for `reset`.
  int64_t generation = 0;
};

// Outcome counters of an item's trial: events recorded with
// count_for_trial.
struct TrialCounts {
  int64_t impressions = 0;
  int64_t clicks = 0;
  int64_t purchases = 0;
};

class FeatureStore {
 public:
  virtual ~FeatureStore() = default;

  // A short description for logs and GetModelInfo, e.g. "redis 127.0.0.1:6379".
  virtual std::string Describe() const = 0;

  // Everything the store has on `user_id`, read in one round trip.
  // NotFound when the store holds nothing for the user.
  virtual absl::StatusOr<UserFeatures> GetUser(absl::string_view user_id,
                                               absl::Time deadline) const = 0;

  // Features of `item_ids`, in the same order; nullopt for unknown items.
  // One round trip for the whole batch.
  virtual absl::StatusOr<std::vector<std::optional<ItemFeatures>>> GetItems(
      absl::Span<const std::string> item_ids, absl::Time deadline) const = 0;

  // GetItems read from the backing store itself, past any cache in between
  // (item_cache.h): for read-modify-write updates, which must not merge
  // into a copy that another process has since changed. Stores without a
  // cache answer as GetItems.
  virtual absl::StatusOr<std::vector<std::optional<ItemFeatures>>> GetItemsUncached(
      absl::Span<const std::string> item_ids, absl::Time deadline) const {
    return GetItems(item_ids, deadline);
  }

  // Applies a batch of events:
  //   purchase: increments the item's purchase count, sets its last purchase
  //             time (if later) and pushes it onto recent activity;
  //   view / add_to_cart / click: pushes onto recent activity;
  //   impression: pushes onto the impression list;
  //   coupon events: Unimplemented (the coupon budget store handles them).
  // Impressions, clicks and purchases with count_for_trial also increment
  // the item's trial counters.
  // Lists are trimmed to the store's limits. All events in one round trip.
  //
  // Each event is applied at most once per dedup key (EventDedupKey) within
  // the store's dedup window: the store remembers the key atomically with
  // the event's effect, so "remembered" and "applied" cannot disagree. An
  // event whose key is remembered is reported in RecordOutcome::duplicates
  // and changes nothing. Hence after Unavailable / DeadlineExceeded (some
  // events of the batch may have been applied) sending the same batch
  // again applies exactly the events that had not landed.
  virtual absl::StatusOr<RecordOutcome> RecordEvents(
      absl::Span<const Event> events, absl::Time deadline) = 0;

  // Bulk loads, used by the trainer: replace the stored purchase history of
  // each given user (recent activity is kept), and upsert item features.
  // The Redis store keeps purchases recorded through RecordEvents apart (its
  // journal) and adds those later than the bulk data's export to the
  // history (redis_feature_store.h); a bulk load there goes through
  // training/redis_load.h.
  virtual absl::Status PutUsers(absl::Span<const UserFeatures> users) = 0;
  virtual absl::Status PutItems(absl::Span<const ItemFeatures> items) = 0;

  // The `limit` most recently listed items (ItemFeatures.listed), newest
  // first; equal times in descending item-id order (as Redis ZREVRANGE).
  virtual absl::StatusOr<std::vector<ListedItem>> GetListedItems(
      int limit, absl::Time deadline) const = 0;

  // Trial counters of `item_ids`, in the same order (zeros for items never
  // counted). One round trip for the whole batch.
  virtual absl::StatusOr<std::vector<TrialCounts>> GetTrialCounts(
      absl::Span<const std::string> item_ids, absl::Time deadline) const = 0;

  // Catalog change feed, for item-feature caches (item_cache.h). Every
  // PutItems call raises the store's catalog version (a counter that starts
  // at 0) and records its items under the new version; GetItemChanges
  // returns the items recorded after version `since`. `since` =
  // kLatestCatalogVersion returns the current version and no items. A
  // version and its items become visible together, after the items'
  // features: a caller that has seen version v and then reads an item reads
  // it as of v or later. One round trip.
  static constexpr int64_t kLatestCatalogVersion = -1;
  virtual absl::StatusOr<ItemChanges> GetItemChanges(
      int64_t since, absl::Time deadline) const = 0;

  // OK when the backend answers before `deadline`.
  virtual absl::Status Ping(absl::Time deadline) const = 0;

  // Load marker ("did the trainer's data survive?"). MarkLoaded records that
  // a complete bulk load (PutItems + PutUsers) of model `model_version`
  // finished at `loaded_at`; the trainer and model::LoadIntoFeatureStore
  // call it last. CheckLoaded (one round trip; the server's health loop
  // calls it) answers OK while the marker is present, and also when it was
  // never seen by this object (a store written by tests or by hand);
  // Unavailable naming the marker and the reload command once a marker that
  // was seen is gone (a backend restarted empty). While CheckLoaded's last
  // verdict is Unavailable, GetUser answers that same Unavailable without a
  // round trip, so readers degrade as for an outage; the next OK verdict
  // lifts it. Other errors (backend down) leave the verdict unchanged.
  // Stores that cannot lose their data (in-memory) keep these defaults.
  virtual absl::Status MarkLoaded(absl::string_view model_version, absl::Time loaded_at) {
    (void)model_version;
    (void)loaded_at;
    return absl::OkStatus();
  }
  virtual absl::Status CheckLoaded(absl::Time deadline) const {
    (void)deadline;
    return absl::OkStatus();
  }
};

}  // namespace recsys::feature_store

#endif  // RECSYS_FEATURE_STORE_FEATURE_STORE_H_
