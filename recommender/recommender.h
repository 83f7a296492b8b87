// Recommender: the domain logic behind the Recommender RPCs, without gRPC.
//
// Every call pins the model version it starts with (model::ModelStore::Current), so
// a concurrent reload never mixes two models in one answer.
//
// Feature-store failures never fail a read: the answer is computed from the
// model alone (training-time purchase history instead of the live one) and
// flagged degraded with the reason. Writes (RecordEvents) report Unavailable
// when the store does not confirm them, so the caller can retry; events are
// never dropped silently.
//
// Argument errors are InvalidArgument with the request field named as in the
// protobuf API ("slots[0].k: must be in [1, 200], got 0").
//
// Thread safety: all methods are const or internally synchronized; one
// instance serves all RPC threads.
#ifndef RECSYS_RECOMMENDER_RECOMMENDER_H_
#define RECSYS_RECOMMENDER_RECOMMENDER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "feature_store/feature_store.h"
#include "absl/synchronization/mutex.h"
#include "experiments/recommendation_id.h"
#include "intelligence/intel_store.h"
#include "model/model_store.h"
#include "recommender/experiment_variants.h"
#include "recommender/slot_config.h"
#include "recommender/trial_pool.h"

namespace recsys::recommender {

class SourceRegistry;  // candidate_source.h
class RuleSet;         // rules/rule_set.h

// Mirrors recsys.v1.ReasonCode (same numeric values).
enum class ReasonCode {
  kUnspecified = 0,
  kPersonalized = 1,
  kPopular = 2,
  kSimilarToItem = 3,
  kBuyAgain = 4,
  kTrending = 5,
  kCategoryBestseller = 6,
  kTrialPool = 7,
  kBundleComplement = 8,
  kCampaign = 9,
};

struct Explanation {
  ReasonCode code = ReasonCode::kUnspecified;
  std::string anchor_item_id;
  std::string anchor_category;
  std::string text;
  // Business rules that changed the entry's rank ("daypart:<name>",
  // "festival:<name>", "low_stock", "slow_mover", "rotation",
  // "trial_pool", "early_access").
  std::vector<std::string> applied_rules;
};

struct ScoredItem {
  std::string item_id;
  float score = 0;
  Explanation reason;
  std::string category;
  double price = 0;
};

struct AnswerMeta {
  // The model that produced the answer (RecommendProducts: its first slot's;
  // SlotAnswer::model_version names each slot's).
  std::string model_version;
  bool degraded = false;
  std::string degraded_reason;
  // An experiment variant asked for a model version that is not held, so
  // the default model served its slots instead; the reason names the
  // variant, the version and why ("layout/v2 wants model 7 (...); served
  // by 5").
  bool model_fallback = false;
  std::string model_fallback_reason;
  // How RecommendProducts made the answer, for the server's metrics (not
  // sent to clients). cold_start: no user vector (unknown user without
  // activity), so only non-personal sources ran; folded_in: the user vector
  // was folded in from live activity; popular_filled: items shown from the
  // popular fill.
  bool cold_start = false;
  bool folded_in = false;
  int popular_filled = 0;
};

struct ItemFilters {
  std::vector<std::string> categories;
  std::vector<std::string> exclude_item_ids;
  // 0: unbounded on that side.
  double min_price = 0;
  double max_price = 0;
};

struct SlotSpec {
  std::string name;
  int k = 0;
};

struct ProductRequest {
  std::string user_id;
  std::vector<SlotSpec> slots;
  ItemFilters filters;
  absl::Time now = absl::InfinitePast();  // InfinitePast: absl::Now()
  absl::Time deadline = absl::InfiniteFuture();
};

struct SlotAnswer {
  std::string name;
  std::vector<ScoredItem> items;
  // Sent back with the events the slot leads to (experiments/
  // recommendation_id.h), and the experiment variants that shaped it.
  std::string recommendation_id;
  std::vector<experiments::Arm> assignments;
  // The model version that filled the slot.
  std::string model_version;
};

struct ProductAnswer {
  std::vector<SlotAnswer> slots;
  AnswerMeta meta;
};

struct SimilarRequest {
  std::string item_id;
  int k = 0;
  ItemFilters filters;
  // Optional: this user's purchases are excluded.
  std::string user_id;
  // When > 0, only items priced within ±price_band (relative) of the
  // anchor's price, e.g. 0.3 for ±30%.
  double price_band = 0;
  // false: substitutes (nearest by cosine). true: complements ("frequently
  // bought together", other categories), from the model's co-purchase
  // statistics.
  bool complements = false;
  absl::Time deadline = absl::InfiniteFuture();
};

struct SimilarAnswer {
  std::vector<ScoredItem> items;
  AnswerMeta meta;
  // With a user_id: as SlotAnswer (slot "similar_items").
  std::string recommendation_id;
  std::vector<experiments::Arm> assignments;
};

struct EventsAnswer {
  // Events stored: applied now, or already applied (duplicates).
  int accepted = 0;
  // Of `accepted`, events whose dedup key (feature_store::EventDedupKey)
  // was already applied within the store's dedup window: not applied again.
  int duplicates = 0;
  // The request indices (numbered as `rejected`) of the item events among
  // those duplicates, ascending: callers that count events (metrics) skip
  // them. Coupon events' duplicates are only counted in `duplicates`.
  std::vector<int> duplicate_indices;
  // (index into the request, message) for each event not stored.
  std::vector<std::pair<int, std::string>> rejected;
  AnswerMeta meta;
};

struct PurchaseView {
  std::string item_id;
  int32_t count = 0;
  absl::Time last_purchase;
  std::string category;
};

struct ProfileAnswer {
  std::string user_id;
  bool known_to_model = false;
  std::vector<PurchaseView> purchases;  // most recent first
  std::vector<feature_store::ActivityRecord> recent;  // most recent first
  AnswerMeta meta;
};

struct TrialItemReport {
  std::string item_id;
  std::string category;
  std::string title;
  absl::Time listed;
  int day = 0;  // whole days since listing
  // "in_trial", "graduated" or "slow_mover_candidate".
  std::string status;
  feature_store::TrialCounts counts;
  TrialVectorSource vector_source = TrialVectorSource::kNone;
};

struct TrialReportAnswer {
  int trial_days = 0;
  std::vector<TrialItemReport> items;  // newest listing first
  AnswerMeta meta;
};

struct RecommenderOptions {
  // Largest k accepted per slot / per SimilarItems call.
  int max_k = 200;
  // Most slots in one RecommendProducts request.
  int max_slots = 10;
  // Most exclude_item_ids / categories accepted in one request.
  int max_exclude_ids = 1000;
  int max_categories = 100;
  // Upper bound on the time one request waits for the feature store; the
  // request deadline may shorten it. A slower store degrades the answer.
  absl::Duration feature_timeout = absl::Milliseconds(50);
  // Most events in one RecordEvents call.
  int max_events = 1000;
  // How many of the user's purchases are considered as explanation anchors
  // and fold-in inputs (most recent first).
  int max_history_anchors = 50;
  // Interaction strength of non-purchase events in fold-in (a purchase
  // counts 1 per purchase event).
  float view_strength = 0.25f;
  float cart_strength = 0.5f;
  // Slots served by the production ranker (recommender/ranker.h), which
  // blends the user's repurchases with discovery; every other slot is
  // discovery only (never an item the user bought).
  absl::flat_hash_set<std::string> blended_slots = {"for_you"};
  // Vector candidates the production ranker considers.
  int ranker_candidates = 200;
  // How the trial pool reads the store's listing index (trial_pool.h): a
  // catalog listing is served within about `refresh`.
  TrialPoolOptions trial_pool;
  // The users' customer-intelligence records (borrowed, must outlive the
  // Recommender; null: none). A request with a buy-again slot reads the
  // user's record (one store call, bounded like the feature store's) so
  // the buy-again source ranks the items due now first
  // (sources/buy_again.h); without a record the order is by purchases.
  const intelligence::IntelStore* intel = nullptr;
};

class Recommender {
 public:
  // `models` and `features` are borrowed and must outlive the Recommender.
  Recommender(const model::ModelStore* models, feature_store::FeatureStore* features,
              const RecommenderOptions& options = {});
  ~Recommender();

  // Fills the slots in request order, never repeating an item across them.
  // A slot of an experiment whose variant for the user sets a model version
  // held by the store is filled from that version (SlotAnswer::
  // model_version); slots served by different versions are filled one
  // version at a time, in the order of each version's first slot, and a
  // later version never shows an item an earlier one showed (each such
  // version reads the user from the store once more).
  // The user vector is the model's, or folded in from live activity for a
  // user unknown to the model. Each slot draws from the candidate sources
  // of its configuration (slot_config.h; unconfigured slots: the production
  // ranker for options.blended_slots, personalized discovery otherwise),
  // combines them by weight (reciprocal rank), applies the active daypart /
  // festival boosts, low-stock, slow-mover and rotation multipliers, pins
  // campaign items, caps items per category, and never shows out-of-stock
  // items, filtered items, or items the user bought (unless the buy-again
  // or blended source brings them back: with repurchasable categories
  // configured, only those, once their minimum days have passed). Popular
  // items fill what is left and serve users with no signal at all.
  absl::StatusOr<ProductAnswer> RecommendProducts(const ProductRequest& request) const;

  // With a user_id in an experiment on "similar_items" whose variant sets a
  // model version held by the store, that version answers (else the
  // default model, flagged as model_fallback when the version is not held).
  // Items nearest to `item_id` by cosine of item vectors (or, with
  // request.complements, its bundle complements), never out of stock
  // (feature store), within the price band and filters. An item unknown to
  // the model but listed in the trial pool is searched with its category's
  // mean vector (no complements until trained). NotFound for any other
  // unknown item.
  absl::StatusOr<SimilarAnswer> SimilarItems(const SimilarRequest& request) const;

  // Validates each event; stores the valid ones (impressions, clicks and
  // purchases of items in their trial window at the event's time are also
  // counted for the trial report). InvalidArgument when no
  // event is valid (message names the first bad field); Unavailable when the
  // store did not confirm the write (part of the batch may have been
  // applied; the store applies each event at most once, so sending the
  // same events again is safe). Events given with time = the epoch are
  // recorded at the current second, and their dedup key derived from it.
  // `indices`, when given, numbers the events in messages and in
  // EventsAnswer::rejected (events[i] is reported as events[(*indices)[i]]).
  // Coupon events are rejected: the marketing engine stores them.
  absl::StatusOr<EventsAnswer> RecordEvents(const std::vector<feature_store::Event>& events,
                                            absl::Time deadline,
                                            const std::vector<int>* indices = nullptr) const;

  // Purchases (live store, or training-time history when degraded) and
  // recent activity. NotFound when neither the store nor the model knows the
  // user.
  absl::StatusOr<ProfileAnswer> GetUserProfile(absl::string_view user_id,
                                               int history_limit,
                                               absl::Time deadline) const;

  // The trial pool at `now`: items within their trial window or whose
  // window ended less than `ended_within_days` ago (0: one trial length),
  // with their trial counters. Trial length and graduation threshold come
  // from the slot plan's rules (defaults without a plan). Unavailable when
  // the store cannot be read.
  absl::StatusOr<TrialReportAnswer> TrialReport(absl::Time now, int ended_within_days,
                                                absl::Time deadline) const;

  // Call after a catalog update (listing times): the next request re-reads
  // the listing index instead of waiting for options.trial_pool.refresh.
  void CatalogChanged() { trial_pool_->Invalidate(); }

  const RecommenderOptions& options() const { return options_; }

  // The storefront configuration (slot_config.h); null: every slot uses
  // the default behaviour (options.blended_slots decides its source).
  // Requests in flight keep the plan they started with.
  void SetSlotPlan(std::shared_ptr<const SlotPlan> plan);
  std::shared_ptr<const SlotPlan> slot_plan() const;

  // The experiments (experiment_variants.h); null: none. Each
  // RecommendProducts answer assigns its user (ExperimentPlan::Assign at
  // the request time), serves each slot with the rule of the variant that
  // changes it (else the slot plan's), and gives every slot a
  // recommendation id with the assignments of the experiments that list
  // it. Requests in flight keep the experiments they started with.
  void SetExperiments(std::shared_ptr<const ExperimentVariants> experiments);
  std::shared_ptr<const ExperimentVariants> experiments() const;

 private:
  absl::Status ValidateFilters(const ItemFilters& filters) const;
  absl::Status ValidateProductRequest(const ProductRequest& request) const;
  // Fills the slots of `request` (validated) from `bundle` for a user with
  // `assignments` (pointing into `variants`' plan), recording what it learns
  // of the answer (degraded, cold start, fold-in) in `*meta`.
  absl::StatusOr<std::vector<SlotAnswer>> FillFromModel(
      const ProductRequest& request,
      std::shared_ptr<const model::ModelBundle> bundle,
      const std::vector<experiments::Assignment>& assignments,
      const std::shared_ptr<const ExperimentVariants>& variants,
      AnswerMeta* meta) const;

  const model::ModelStore* const models_;
  feature_store::FeatureStore* const features_;
  const RecommenderOptions options_;
  const std::unique_ptr<TrialPool> trial_pool_;
  // The candidate sources and business rules of RecommendProducts.
  const std::unique_ptr<const SourceRegistry> sources_;
  const std::unique_ptr<const RuleSet> rules_;
  mutable absl::Mutex plan_mu_;
  std::shared_ptr<const SlotPlan> plan_ ABSL_GUARDED_BY(plan_mu_);
  std::shared_ptr<const ExperimentVariants> experiments_ ABSL_GUARDED_BY(plan_mu_);
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_RECOMMENDER_H_
