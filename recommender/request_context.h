// The per-request state of RecommendProducts: the user as the store (or,
// degraded, the model) knows them, the explanation anchors, purchase history
// and query vector, the row filters, each slot's rule and active time rules,
// and the item features read for the items the request may show.
//
// LoadUser reads the user (one store call); BuildRequestContext derives the
// rest without I/O; FetchItemFeatures reads the features of every candidate,
// the popular prefix, pinned and trial items in one store round trip.
//
// Ownership: a RequestContext borrows the ProductRequest it was built from
// (which must outlive it), pins the model bundle and slot plan, and is not
// movable (its filters point into it).
//
// Thread safety: built by one thread; afterwards read-only and safe to read
// concurrently.
#ifndef RECSYS_RECOMMENDER_REQUEST_CONTEXT_H_
#define RECSYS_RECOMMENDER_REQUEST_CONTEXT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "feature_store/feature_store.h"
#include "intelligence/intel_store.h"
#include "model/model_store.h"
#include "model/vector_index.h"
#include "recommender/candidate.h"
#include "recommender/recommender.h"
#include "recommender/slot_config.h"
#include "recommender/trial_pool.h"

namespace recsys::recommender {

// Everything known about the user for one request.
struct UserState {
  // Live purchases (store) when available, else training-time history; most
  // recent first.
  std::vector<PurchaseView> purchases;
  std::vector<feature_store::ActivityRecord> recent;
  std::vector<feature_store::ActivityRecord> impressions;
  // Item rows the user bought (live and training history), never
  // recommended again.
  absl::flat_hash_set<int32_t> bought_rows;
  // True when the store answered (found or not found).
  bool store_answered = false;
  bool store_found = false;
};

// Reads the user from `store` by `deadline` and merges the model's
// training-time history. A store failure other than NotFound marks `meta`
// degraded and yields the training-time history alone; never fails.
UserState LoadUser(const model::ModelBundle& bundle, const feature_store::FeatureStore& store,
                   absl::string_view user_id, absl::Time deadline, AnswerMeta* meta);

// Allows model rows that pass the request filters and are not in
// `*excluded`. `bundle`, `filters` and `*excluded` are borrowed and must
// outlive the filter.
class RowFilter : public model::IdFilter {
 public:
  RowFilter(const model::ModelBundle& bundle, const ItemFilters& filters,
            const absl::flat_hash_set<int32_t>* excluded);
  bool Allowed(int64_t id) const override;

 private:
  const model::ModelBundle& bundle_;
  const ItemFilters& filters_;
  const absl::flat_hash_set<int32_t>* excluded_;
  absl::flat_hash_set<std::string> categories_;
};

struct RequestContext;

// Stock and flags of the items a request may show, as one store round trip
// returned them (FetchItemFeatures).
class ItemFeatureLookup {
 public:
  // False when the store did not answer: nothing is known about any item.
  bool known() const { return known_; }
  // True when model row `row` was asked for.
  bool Checked(int32_t row) const { return at_.contains(row); }
  // The features of model row `row`; nullptr when not asked for, not
  // returned or absent from the store.
  const feature_store::ItemFeatures* Of(int32_t row) const;
  // The store's answer for an item the model does not know, by id; nullptr
  // when it was not asked for (or not returned).
  const std::optional<feature_store::ItemFeatures>* OfNew(absl::string_view item_id) const;
  // How much of the model's popularity list was asked for; the popular fill
  // shows nothing beyond it while the store answers.
  size_t popular_prefix() const { return popular_prefix_; }

 private:
  friend void FetchItemFeatures(const CandidateLists& lists,
                                const feature_store::FeatureStore& store, absl::Time deadline,
                                RequestContext* ctx, AnswerMeta* meta);

  bool known_ = true;
  size_t popular_prefix_ = 0;
  std::vector<std::optional<feature_store::ItemFeatures>> features_;
  absl::flat_hash_map<int32_t, size_t> at_;
  // Trial items the model does not know, by id (in RequestContext::trial).
  absl::flat_hash_map<absl::string_view, size_t> new_at_;
};

// When the user is due to buy an item again: the nightly estimate
// (intelligence::DueItem: the user's own intervals shrunk toward the
// item's or its category's cycle), moved later by a purchase since.
struct ItemCycle {
  int64_t due_unix = 0;
  double cycle_days = 0;
};

struct RequestContext {
  RequestContext() = default;
  RequestContext(const RequestContext&) = delete;
  RequestContext& operator=(const RequestContext&) = delete;

  const model::ModelBundle& model() const { return *bundle; }

  // The request (borrowed) and what it was resolved against.
  const ProductRequest* request = nullptr;
  std::shared_ptr<const model::ModelBundle> bundle;
  std::shared_ptr<const SlotPlan> plan;  // null: no configuration
  // What the user's experiment variants change (its rules are owned by
  // `experiments`, kept alive for the request).
  Treatment treatment;
  std::shared_ptr<const ExperimentVariants> experiments;
  const Rules* rules = nullptr;          // the plan's, or the defaults
  absl::Time now;                        // request.now, or the time of the call
  int64_t now_unix = 0;
  int total_k = 0;  // sum of the slots' k
  int fetch_k = 0;  // candidates fetched per source: 2 * total_k + 10

  UserState user;
  // Request exclusions (rows of filters.exclude_item_ids).
  absl::flat_hash_set<int32_t> request_excluded;
  // Never shown by discovery sources: request exclusions and bought rows.
  absl::flat_hash_set<int32_t> excluded;
  // Bought rows that must not return yet (rules/repurchase_window.h).
  absl::flat_hash_set<int32_t> not_due;
  // The user's repurchase cycle per bought row, from the intelligence
  // record (LoadUserIntel); empty without one.
  absl::flat_hash_map<int32_t, ItemCycle> cycles;
  // Days before a trial item's listing this user sees it: the early access
  // of the growth tier in the intelligence record (Rules::early_access_days;
  // LoadUserIntel); 0 without.
  int early_access_days = 0;
  // Never shown by repurchase sources: request exclusions and not_due.
  absl::flat_hash_set<int32_t> repurchase_excluded;
  // `excluded` and `repurchase_excluded` with the request's filters.
  std::unique_ptr<RowFilter> filter;
  std::unique_ptr<RowFilter> repurchase_filter;

  // Explanation anchors: recent purchases, then recent non-purchase activity.
  std::vector<Anchor> anchors;
  // The user's purchases known to the model, most recent first, and each
  // bought row's entry (pointing into `history`).
  std::vector<model::HistoryEntry> history;
  absl::flat_hash_map<int32_t, const model::HistoryEntry*> bought;
  // True when `query` was folded in from the user's live activity.
  bool folded_in = false;
  // The user's vector (trained or folded in); empty: no signal.
  std::vector<float> query;

  // Per slot of the request: its rule (the plan's, or a default one kept in
  // `default_rules`) and the time rules active at `now`.
  std::vector<const SlotRule*> slot_rules;
  std::vector<SlotRule> default_rules;
  std::vector<std::vector<const TimeRule*>> active;

  // The user's most recent impressions (rules/rotation.h), as rows and ids.
  absl::flat_hash_set<int32_t> rotated;
  absl::flat_hash_set<absl::string_view> rotated_ids;

  // Trial-pool items eligible for this request, best first (trial_picks.h);
  // empty when no slot has a trial share. They point into `trial`.
  std::shared_ptr<const TrialSnapshot> trial;
  std::vector<const TrialItem*> trial_items;

  ItemFeatureLookup features;
};

// Resolves `request` against `bundle` and `plan` (null: defaults) for
// `user`. Never fails; `request` must have passed validation and outlive
// the result.
// `treatment` (rules owned by `experiments`) overrides the plan's slot
// rules where it names one.
std::unique_ptr<RequestContext> BuildRequestContext(
    const ProductRequest& request, std::shared_ptr<const model::ModelBundle> bundle, UserState user,
    std::shared_ptr<const SlotPlan> plan, const RecommenderOptions& options,
    Treatment treatment = {}, std::shared_ptr<const ExperimentVariants> experiments = nullptr);

// When `intel` is set and the request needs the user's intelligence record
// — a slot uses the buy-again source and the user bought something, or a
// slot has a trial share and the rules give some growth tier early access
// — reads it (one store call bounded by `deadline`) into
//   ctx->cycles: each due item the model knows and the user bought, due at
//     max(the record's due time, the latest purchase + its cycle);
//   ctx->early_access_days: the early access of the record's growth tier.
// No record, or a store failure, leaves both empty (buy-again then orders
// by purchases; no early access); never fails.
void LoadUserIntel(const intelligence::IntelStore* intel, absl::Time deadline,
                   RequestContext* ctx);

// Reads, in one store call bounded by `deadline`, the features of every
// candidate in `lists`, of the popular prefix, of the items pinned by
// active rules and of ctx->trial_items into ctx->features. A store failure
// leaves them unknown and marks `meta` degraded (unless it already is).
void FetchItemFeatures(const CandidateLists& lists, const feature_store::FeatureStore& store,
                       absl::Time deadline, RequestContext* ctx, AnswerMeta* meta);

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_REQUEST_CONTEXT_H_
