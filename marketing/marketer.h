// Marketer: the domain logic behind the marketing RPCs (RecommendCoupons,
// FindAudience, coupon events, the marketing part of GetUserProfile and the
// coupon catalog admin calls), without gRPC.
//
// Inputs:
//   - the served model (ModelStore): user and item vectors for propensity
//     and affinity, and the model directory's segments.tsv for audiences;
//   - the SegmentStore: each user's marketing record, written by the
//     trainer (Redis) or seeded from segments.tsv (embedded);
//   - the CouponStore: catalog, budgets, per-user counts, contacts;
//   - the FeatureStore: live purchases of users the trainer has not seen.
//
// Propensity (docs/marketing.md): for a user with a vector, the largest
// inner product of the user's vector with an item of the coupon's scope
// (its 500 most popular items; for SCOPE_ALL the shop's), clamped to
// [0, 1] — iALS scores approximate the probability of a purchase. For a
// user without a vector: the largest share of users who bought an item of
// the scope.
//
// Degradation: a store that does not answer never fails a read. Coupons
// come back empty and audiences without contact capping fail only when a
// cap was asked for; every answer says what was missing in its meta.
// Coupon events fail with Unavailable when the coupon store does not
// confirm them, so the caller can retry.
//
// Thread safety: all methods are safe to call concurrently.
#ifndef RECSYS_MARKETING_MARKETER_H_
#define RECSYS_MARKETING_MARKETER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "experiments/attribution.h"
#include "experiments/recommendation_id.h"
#include "experiments/uplift.h"
#include "feature_store/feature_store.h"
#include "intelligence/intel.h"
#include "intelligence/intel_store.h"
#include "marketing/audience.h"
#include "marketing/coupon.h"
#include "marketing/coupon_ranking.h"
#include "marketing/coupon_store.h"
#include "marketing/marketing_config.h"
#include "marketing/segment_store.h"
#include "marketing/segments.h"
#include "model/model_store.h"

namespace recsys::marketing {

struct MarketerOptions {
  // Thresholds, priors, margin, basket default (WithDefaults is applied).
  MarketingConfig config;
  // Upper bound on each store call of a request; the request deadline may
  // shorten it.
  absl::Duration store_timeout = absl::Milliseconds(100);
  // Largest k of RecommendCoupons.
  int max_coupons = 50;
  // Audience members per streamed chunk, and scoring threads.
  int audience_chunk = 1000;
  int audience_threads = 1;
  // Most item ids one FindAudience offer may name (items.item_ids; >= 1); each
  // costs a pass over the audience (a tester measured about 30 ms each).
  int max_audience_items = 1000;
  // Measured coupon uplift (experiments/uplift.h): shrinkage toward the
  // configured priors, the switch to the measured value, and how often the
  // estimates are read from the experiment counters (default every 60 s;
  // RecommendCoupons itself never reads them).
  experiments::UpliftOptions uplift;
  // Customer intelligence per user for Profile (borrowed, must outlive the
  // Marketer; null: profiles without it). Audiences read the model
  // directory's intel.tsv instead.
  const intelligence::IntelStore* intel = nullptr;
};

struct MarketingMeta {
  std::string model_version;
  bool degraded = false;
  std::string degraded_reason;
};

struct CouponAnswer {
  std::vector<RankedCoupon> coupons;
  // Sent back with the coupon events and purchases that follow
  // (experiments/recommendation_id.h, slot "coupons"), and the experiment
  // variants that shaped the answer.
  std::string recommendation_id;
  std::vector<experiments::Arm> assignments;
  // The customer the coupons were chosen for.
  CustomerInfo customer;
  MarketingMeta meta;
};

// The marketing attributes of one user for GetUserProfile.
struct MarketingProfile {
  // nullopt: no record (a user the trainer has not seen).
  std::optional<UserSegment> record;
  // nullopt: no intelligence record (or no intelligence store).
  std::optional<intelligence::UserIntel> intel;
  CustomerInfo customer;
  MarketingMeta meta;
};

struct AudienceQuery {
  // Exactly one offer: a coupon, a category or a set of items.
  std::string coupon_id;
  std::string category;
  std::vector<std::string> item_ids;
  // Segment and tier names ("dormant", "gold"); empty: all.
  std::vector<std::string> segments;
  std::vector<std::string> tiers;
  int32_t min_days_since_purchase = 0;
  // > 0 needs a campaign (the coupon's campaign, or its id, by default).
  int32_t contact_cap_days = 0;
  std::string campaign;
  // Customer-intelligence filters (AudienceFilter has their meaning).
  std::vector<std::string> tags;
  float min_churn_risk = 0;
  float min_purchase_intent = 0;
  int32_t due_within_days = 0;
  // 0: every matching user.
  int64_t limit = 0;
  absl::Time now = absl::InfinitePast();  // InfinitePast: absl::Now()
  absl::Time deadline = absl::InfiniteFuture();
};

struct AudienceEntry {
  absl::string_view user_id;  // valid during the sink call
  float score = 0;
  Segment segment = Segment::kPotential;
  Tier tier = Tier::kNone;
  int32_t days_since_purchase = -1;
  // The user's customer intelligence (valid during the sink call).
  const std::vector<std::string>* tags = nullptr;
  float purchase_intent = -1;
  float churn_risk = 0;
  int64_t next_purchase_unix = 0;
  // Best eligible coupon for the user's segment and tier ("" when none).
  std::string best_coupon_id;
  CouponReason reason = CouponReason::kAffinity;
  std::string reason_text;
  // As CouponAnswer's (slot "coupons"): the user's coupon experiments'
  // variants; a variant that holds out a campaign gets no coupon of it.
  std::string recommendation_id;
  std::vector<experiments::Arm> assignments;
  // The user's variants hold out every coupon that would be best (for a
  // coupon offer: its campaign); best_coupon_id is then empty.
  bool held_out = false;
};

struct AudienceSummary {
  AudienceStats stats;
  MarketingMeta meta;
};

// Receives the audience best first in chunks, with the answer's meta
// (model version, degradation known when the stream starts); false stops
// the stream.
using AudienceEntrySink =
    std::function<bool(const std::vector<AudienceEntry>& chunk, const MarketingMeta& meta)>;

// One coupon event of a RecordEvents batch.
struct CouponEvent {
  // Index in the request (for error reporting).
  int index = 0;
  bool redeemed = false;  // false: issued
  std::string user_id;
  std::string coupon_id;
  absl::Time time;
  // Redemptions: the order value the discount applies to.
  double order_value = 0;
  // The operation's id (feature_store::EventDedupKey of the event): applied
  // at most once within the coupon store's op_dedup_window. Empty: not
  // deduplicated.
  std::string op_id;
};

struct CouponEventsAnswer {
  // Events applied, or found already applied (duplicates).
  int accepted = 0;
  // Of `accepted`, events whose op_id had been applied already.
  int duplicates = 0;
  // (request index, discount granted) of each accepted redemption.
  std::vector<std::pair<int, double>> discounts;
  // (request index, message): events refused by a budget, cap, window or
  // eligibility rule, or naming an unknown coupon.
  std::vector<std::pair<int, std::string>> rejected;
};

class Marketer {
 public:
  // Borrowed pointers must outlive the Marketer. InvalidArgument when the
  // config fails ValidateMarketingConfig. `experiments` (may be null: no
  // experiment) holds the served experiments plan; `counters` (may be null)
  // records each RecommendCoupons answer as an exposure of its coupon
  // experiments (an impression of slot "coupons"), so a holdout user who
  // gets no coupon is counted too.
  static absl::StatusOr<std::unique_ptr<Marketer>> Create(
      const model::ModelStore* models, feature_store::FeatureStore* features,
      CouponStore* coupons, SegmentStore* segments, const MarketerOptions& options,
      const experiments::PlanHolder* experiments = nullptr,
      experiments::CounterStore* counters = nullptr);

  // Eligible coupons for `user_id` at `now`, best expected value first, at
  // most k (1..max_coupons). InvalidArgument names the field. The user's
  // experiment variants apply their coupon policies first: a holdout
  // variant gets no coupon of its campaign, a variant with coupon_ids only
  // those of it. Each coupon's incrementality is the segment's prior, or
  // the campaign's measured uplift for the segment (shrunk toward the prior
  // until its interval is tight), from the estimates in memory
  // (RankedCoupon::uplift says which).
  absl::StatusOr<CouponAnswer> RecommendCoupons(absl::string_view user_id, int k,
                                                absl::Time now, absl::Time deadline) const;

  // Users for the offer, best first, through `sink`. InvalidArgument names
  // the field (unknown coupon, segment or tier, no offer, ...). Each
  // member carries a recommendation id and the coupon experiments'
  // assignments, and its best coupon obeys them (a holdout user gets no
  // coupon of the held-out campaign). Listing a user is not an exposure.
  // The first call for a model version builds the audience table (user
  // vectors shared with the model, segments from segments.tsv).
  absl::StatusOr<AudienceSummary> FindAudience(const AudienceQuery& query,
                                               const AudienceEntrySink& sink) const;

  // Issues / redeems through the coupon store, in order, each at most once
  // per op_id. Unavailable when the store does not answer (earlier events
  // of the batch, and maybe the one named, may have been applied: sending
  // the same events again with the same op ids applies only the others).
  absl::StatusOr<CouponEventsAnswer> RecordCouponEvents(const std::vector<CouponEvent>& events,
                                                        absl::Time deadline) const;

  // The user's record and the customer view RecommendCoupons uses.
  MarketingProfile Profile(absl::string_view user_id, absl::Time now,
                           absl::Time deadline) const;

  // Catalog administration (validated; the field is named on errors).
  absl::Status PutCoupons(const CouponCatalog& catalog, absl::Time deadline) const;
  absl::StatusOr<std::vector<CouponWithState>> ListCoupons(absl::Time deadline) const;
  absl::Status DeleteCoupon(absl::string_view coupon_id, absl::Time deadline) const;

  const MarketingConfig& config() const { return options_.config; }

  // Reads the experiment counters again for the measured uplift
  // (UpliftSource::Refresh); OK without experiments or counters. The
  // background refresh does the same every options.uplift.refresh_interval.
  absl::Status RefreshUplift(absl::Time deadline) const;
  // The estimates in use (empty without experiments or counters).
  std::vector<experiments::UpliftEstimate> UpliftEstimates() const;

 private:
  struct AudienceModel;

  Marketer(const model::ModelStore* models, feature_store::FeatureStore* features,
           CouponStore* coupons, SegmentStore* segments, const MarketerOptions& options,
           const experiments::PlanHolder* experiments, experiments::CounterStore* counters);

  absl::Time StoreDeadline(absl::Time deadline) const;
  // The customer view of a user from the segment store and live purchases.
  CustomerInfo Customer(absl::string_view user_id, absl::Time now, absl::Time deadline,
                        std::optional<UserSegment>* record, MarketingMeta* meta) const;
  absl::StatusOr<std::shared_ptr<const AudienceModel>> Audience(
      std::shared_ptr<const model::ModelBundle> bundle) const;

  const model::ModelStore* const models_;
  feature_store::FeatureStore* const features_;
  CouponStore* const coupons_;
  SegmentStore* const segments_;
  const MarketerOptions options_;
  const experiments::PlanHolder* const experiments_;
  experiments::CounterStore* const counters_;
  // Null without experiments or counters.
  std::unique_ptr<experiments::UpliftSource> uplift_;

  mutable absl::Mutex audience_mu_;
  mutable std::shared_ptr<const AudienceModel> audience_ ABSL_GUARDED_BY(audience_mu_);
};

}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_MARKETER_H_
