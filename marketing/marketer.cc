#include "marketing/marketer.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/dot.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "marketing/coupons.h"

namespace recsys::marketing {
namespace {

using model::ModelBundle;
using ::recsys::CheckClientTime;
using ::recsys::CheckId;

constexpr size_t kScopeItems = 500;

void Degrade(MarketingMeta* meta, absl::string_view what, const absl::Status& status) {
  meta->degraded = true;
  if (!meta->degraded_reason.empty()) meta->degraded_reason += "; ";
  absl::StrAppend(&meta->degraded_reason, what, " unavailable (",
                  absl::StatusCodeToString(status.code()), ": ", status.message(), ")");
}

bool StoreDown(const absl::Status& status) {
  return absl::IsUnavailable(status) || absl::IsDeadlineExceeded(status);
}

// Item rows a coupon's scope covers: at most kScopeItems most popular per
// category (or of the shop), the listed items.
std::vector<int32_t> ScopeRows(const ModelBundle& bundle, const CouponScope& scope) {
  std::vector<int32_t> rows;
  switch (scope.kind) {
    case CouponScope::Kind::kCategories: {
      for (const std::string& category : scope.categories) {
        const std::vector<int32_t>& popular = bundle.category_popular(category);
        rows.insert(rows.end(), popular.begin(),
                    popular.begin() + std::min(popular.size(), kScopeItems));
      }
      break;
    }
    case CouponScope::Kind::kItems: {
      for (const std::string& id : scope.item_ids) {
        const int32_t row = bundle.ItemRow(id);
        if (row >= 0) rows.push_back(row);
      }
      break;
    }
    default: {
      const std::vector<int32_t>& popular = bundle.popular();
      rows.assign(popular.begin(), popular.begin() + std::min(popular.size(), kScopeItems));
      break;
    }
  }
  return rows;
}

// Propensity to buy in `rows` (see the header).
double Propensity(const ModelBundle& bundle, int32_t user_row, absl::Span<const int32_t> rows) {
  double best = 0;
  if (user_row >= 0) {
    absl::Span<const float> q = bundle.user_vector(user_row);
    for (int32_t row : rows) {
      best = std::max<double>(best, DotSequential(q, bundle.item_vector(row)));
    }
  } else if (bundle.num_users() > 0) {
    for (int32_t row : rows) {
      best = std::max(best, static_cast<double>(bundle.item(row).buyers) / bundle.num_users());
    }
  }
  return std::clamp(best, 0.0, 1.0);
}

// The mean of the item vectors of `rows`.
std::vector<float> MeanVector(const ModelBundle& bundle, absl::Span<const int32_t> rows) {
  std::vector<double> sum(bundle.dim(), 0.0);
  for (int32_t row : rows) {
    absl::Span<const float> v = bundle.item_vector(row);
    for (int d = 0; d < bundle.dim(); ++d) sum[d] += v[d];
  }
  std::vector<float> mean(bundle.dim(), 0.0f);
  if (rows.empty()) return mean;
  for (int d = 0; d < bundle.dim(); ++d) mean[d] = static_cast<float>(sum[d] / rows.size());
  return mean;
}

// Whether a coupon of scope `scope` applies to an offer of `offer_rows`
// (category / items): scope all, or any shared category or item.
bool Covers(const ModelBundle& bundle, const CouponScope& scope,
            absl::Span<const int32_t> offer_rows) {
  switch (scope.kind) {
    case CouponScope::Kind::kCategories: {
      absl::flat_hash_set<absl::string_view> categories(scope.categories.begin(),
                                                        scope.categories.end());
      for (int32_t row : offer_rows) {
        if (categories.contains(bundle.item(row).category)) return true;
      }
      return false;
    }
    case CouponScope::Kind::kItems: {
      absl::flat_hash_set<absl::string_view> items(scope.item_ids.begin(),
                                                   scope.item_ids.end());
      for (int32_t row : offer_rows) {
        if (items.contains(bundle.item(row).item_id)) return true;
      }
      return false;
    }
    default:
      return true;
  }
}

// The campaign a coupon belongs to (its id when it names none).
const std::string& CampaignOf(const Coupon& coupon) {
  return coupon.campaign.empty() ? coupon.id : coupon.campaign;
}

// Whether the coupon policies of `assignments` let the user have `coupon`:
// not when a variant holds its campaign out, or names other coupons of it.
bool AllowedByPolicies(const Coupon& coupon,
                       absl::Span<const experiments::Assignment> assignments) {
  const std::string& campaign = CampaignOf(coupon);
  for (const experiments::Assignment& a : assignments) {
    const experiments::CouponPolicy* policy = a.variant->PolicyFor(campaign);
    if (policy == nullptr) continue;
    if (policy->holdout) return false;
    if (!policy->coupon_ids.empty() && !policy->coupon_ids.contains(coupon.id))
      return false;
  }
  return true;
}

}  // namespace

// The audience table of one model version.
struct Marketer::AudienceModel {
  std::string version;
  std::unique_ptr<const AudienceTable> table;
  // Users with a segment record in segments.tsv.
  int64_t with_segments = 0;
};

Marketer::Marketer(const model::ModelStore* models, feature_store::FeatureStore* features,
                   CouponStore* coupons, SegmentStore* segments, const MarketerOptions& options,
                   const experiments::PlanHolder* experiments,
                   experiments::CounterStore* counters)
    : models_(models),
      features_(features),
      coupons_(coupons),
      segments_(segments),
      options_(options),
      experiments_(experiments),
      counters_(counters) {}

absl::StatusOr<std::unique_ptr<Marketer>> Marketer::Create(
    const model::ModelStore* models, feature_store::FeatureStore* features,
    CouponStore* coupons, SegmentStore* segments, const MarketerOptions& options,
    const experiments::PlanHolder* experiments, experiments::CounterStore* counters) {
  MarketerOptions o = options;
  o.config = WithDefaults(options.config);
  RECSYS_RETURN_IF_ERROR(ValidateMarketingConfig(o.config));
  if (o.max_coupons < 1 || o.audience_chunk < 1 || o.audience_threads < 1 ||
      o.max_audience_items < 1) {
    return absl::InvalidArgumentError(
        "max_coupons, audience_chunk, audience_threads and max_audience_items must be >= 1");
  }
  RECSYS_RETURN_IF_ERROR(experiments::ValidateUpliftOptions(o.uplift));
  std::unique_ptr<Marketer> marketer(new Marketer(
      models, features, coupons, segments, o, experiments, counters));
  if (experiments != nullptr && counters != nullptr) {
    RECSYS_ASSIGN_OR_RETURN(
        marketer->uplift_,
        experiments::UpliftSource::Create(experiments, counters, o.uplift));
  }
  return marketer;
}

absl::Status Marketer::RefreshUplift(absl::Time deadline) const {
  if (uplift_ == nullptr) return absl::OkStatus();
  return uplift_->Refresh(deadline);
}

std::vector<experiments::UpliftEstimate> Marketer::UpliftEstimates() const {
  if (uplift_ == nullptr) return {};
  return uplift_->All();
}

absl::Time Marketer::StoreDeadline(absl::Time deadline) const {
  return std::min(deadline, absl::Now() + options_.store_timeout);
}

CustomerInfo Marketer::Customer(absl::string_view user_id, absl::Time now, absl::Time deadline,
                                std::optional<UserSegment>* record, MarketingMeta* meta) const {
  CustomerInfo info;
  auto stored = segments_->GetSegment(user_id, StoreDeadline(deadline));
  if (stored.ok()) {
    *record = *stored;
    info = CustomerInfoFrom(*stored);
  } else if (!absl::IsNotFound(stored.status())) {
    Degrade(meta, "segment store", stored.status());
  }
  // Purchases since the record (or without one) from the live store.
  absl::Time latest = absl::InfinitePast();
  absl::flat_hash_set<int64_t> order_times;
  auto live = features_->GetUser(user_id, StoreDeadline(deadline));
  if (live.ok()) {
    for (const auto& p : live->purchases) {
      latest = std::max(latest, p.last_purchase);
      if (p.last_purchase != absl::InfinitePast()) {
        order_times.insert(absl::ToUnixSeconds(p.last_purchase));
      }
    }
  } else if (!absl::IsNotFound(live.status())) {
    Degrade(meta, "feature store", live.status());
  }
  const int32_t days =
      latest == absl::InfinitePast() ? 0 : static_cast<int32_t>((now - latest) / absl::Hours(24));
  if (record->has_value()) {
    if (latest != absl::InfinitePast() &&
        absl::ToUnixSeconds(latest) > (*record)->last_purchase_unix) {
      // Bought again since the trainer looked: no longer lapsing.
      info.orders = std::max(info.orders, 0) + 1;
      info.recency_days = std::max(0, days);
      if (info.segment == Segment::kAtRisk || IsDormant(info.segment)) {
        info.segment = Segment::kPotential;
      }
    }
    return info;
  }
  // Not seen by the trainer: new, with the orders the live store shows (or
  // the model's history, when the store did not answer).
  info.segment = Segment::kNew;
  info.orders = static_cast<int32_t>(order_times.size());
  if (latest != absl::InfinitePast() && info.orders == 0) info.orders = 1;
  if (info.orders == 0) {
    const std::shared_ptr<const ModelBundle> bundle = models_->Current();
    const int32_t row = bundle->UserRow(user_id);
    if (row >= 0 && !bundle->history(row).empty()) {
      info.orders = static_cast<int32_t>(bundle->history(row).size());
    }
  }
  info.recency_days = std::max(0, days);
  return info;
}

absl::StatusOr<CouponAnswer> Marketer::RecommendCoupons(absl::string_view user_id, int k,
                                                        absl::Time now,
                                                        absl::Time deadline) const {
  RECSYS_RETURN_IF_ERROR(CheckId("user_id", user_id));
  if (k < 1 || k > options_.max_coupons) {
    return absl::InvalidArgumentError(
        absl::StrCat("k: must be in [1, ", options_.max_coupons, "], got ", k));
  }
  if (now == absl::InfinitePast()) {
    now = absl::Now();
  } else {
    RECSYS_RETURN_IF_ERROR(CheckClientTime("context.request_time_unix", now, absl::Now()));
  }
  const std::shared_ptr<const ModelBundle> bundle = models_->Current();
  CouponAnswer answer;
  answer.meta.model_version = bundle->version();
  std::shared_ptr<const experiments::ExperimentPlan> plan =
      experiments_ != nullptr ? experiments_->Get() : experiments::EmptyPlan();
  std::optional<UserSegment> record;
  answer.customer = Customer(user_id, now, deadline, &record, &answer.meta);
  if (options_.intel != nullptr) {
    // How much a discount moves this customer (coupon_ranking.h).
    auto intel = options_.intel->GetIntel(user_id, StoreDeadline(deadline));
    if (intel.ok()) {
      answer.customer.price_sensitivity =
          PriceSensitivity(intel->discount_share, intel->relative_price_level);
      answer.customer.growth_tier = std::move(intel->growth_tier);
      answer.customer.tags = std::move(intel->tags);
    } else if (!absl::IsNotFound(intel.status())) {
      Degrade(&answer.meta, "intelligence store", intel.status());
    }
  }
  // After the record: experiments targeted by tags assign by its tags.
  const std::vector<experiments::Assignment> assignments =
      plan->Assign(user_id, now, answer.customer.tags);
  answer.recommendation_id =
      experiments::NewRecommendationId(user_id, experiments::kCouponsSlot, assignments, now);
  answer.assignments = experiments::ArmsFor(assignments, experiments::kCouponsSlot);
  const std::string segment(SegmentName(answer.customer.segment));
  if (counters_ != nullptr) {
    // The answer is the exposure (a holdout sees nothing to report), with
    // the segment the coupons are chosen for.
    std::vector<experiments::ExperimentEvent> exposures;
    for (const experiments::Arm& arm : answer.assignments) {
      if (arm.forced) continue;
      experiments::ExperimentEvent& e = exposures.emplace_back();
      e.experiment = arm.experiment;
      e.variant = arm.variant;
      e.slot = experiments::kCouponsSlot;
      e.user_id = std::string(user_id);
      e.type = experiments::CountedEvent::kImpression;
      e.time = now;
      e.segment = segment;
    }
    if (!exposures.empty()) {
      experiments::CountRules rules;
      rules.attribution_window = plan->attribution_window();
      rules.event_id_ttl = plan->event_id_ttl();
      auto counted = counters_->Record(exposures, rules, StoreDeadline(deadline));
      if (!counted.ok()) Degrade(&answer.meta, "experiment counters", counted.status());
    }
  }

  auto catalog = coupons_->ListCoupons(StoreDeadline(deadline));
  if (!catalog.ok()) {
    // Without budgets and caps no coupon can be promised.
    Degrade(&answer.meta, "coupon store", catalog.status());
    return answer;
  }
  // The coupon policies of the user's variants: holdouts get none of their
  // campaign, restricted variants only the coupons named.
  if (!assignments.empty()) {
    std::erase_if(*catalog, [&](const CouponWithState& c) {
      return !AllowedByPolicies(c.coupon, assignments);
    });
  }
  std::vector<std::string> ids;
  ids.reserve(catalog->size());
  for (const auto& c : *catalog) ids.push_back(c.coupon.id);
  std::vector<UserCouponCounts> counts;
  if (!ids.empty()) {
    auto fetched = coupons_->GetUserCounts(user_id, ids, StoreDeadline(deadline));
    if (!fetched.ok()) {
      Degrade(&answer.meta, "coupon store", fetched.status());
      return answer;
    }
    counts = *std::move(fetched);
  }
  const int32_t user_row = bundle->UserRow(user_id);
  PropensityFn propensity = [&](const Coupon& coupon) {
    const std::vector<int32_t> rows = ScopeRows(*bundle, coupon.scope);
    return Propensity(*bundle, user_row, rows);
  };
  IncrementalityFn incrementality = [&](const Coupon& coupon, double prior) {
    std::optional<experiments::UpliftEstimate> measured;
    if (uplift_ != nullptr)
      measured = uplift_->Find(CampaignOf(coupon), segment);
    return experiments::BlendIncrementality(
        prior, measured ? &*measured : nullptr, options_.uplift);
  };
  RECSYS_ASSIGN_OR_RETURN(
      answer.coupons,
      RankCoupons(*catalog, answer.customer, counts, now, options_.config,
                  propensity, k, incrementality));
  return answer;
}

MarketingProfile Marketer::Profile(absl::string_view user_id, absl::Time now,
                                   absl::Time deadline) const {
  MarketingProfile profile;
  profile.meta.model_version = models_->Current()->version();
  if (now == absl::InfinitePast()) now = absl::Now();
  profile.customer = Customer(user_id, now, deadline, &profile.record, &profile.meta);
  if (options_.intel != nullptr) {
    auto intel = options_.intel->GetIntel(user_id, StoreDeadline(deadline));
    if (intel.ok()) {
      profile.customer.price_sensitivity =
          PriceSensitivity(intel->discount_share, intel->relative_price_level);
      profile.customer.growth_tier = intel->growth_tier;
      profile.customer.tags = intel->tags;
      profile.intel = *std::move(intel);
    } else if (!absl::IsNotFound(intel.status())) {
      Degrade(&profile.meta, "intelligence store", intel.status());
    }
  }
  return profile;
}

absl::StatusOr<std::shared_ptr<const Marketer::AudienceModel>> Marketer::Audience(
    std::shared_ptr<const ModelBundle> bundle) const {
  absl::MutexLock lock(&audience_mu_);
  if (audience_ != nullptr && audience_->version == bundle->version()) return audience_;
  auto model = std::make_shared<AudienceModel>();
  model->version = bundle->version();
  std::vector<AudienceUser> users(bundle->num_users());
  for (int32_t row = 0; row < bundle->num_users(); ++row) {
    users[row].user_id = bundle->user_id(row);
  }
  // segments.tsv and intel.tsv of the model directory (both optional),
  // decoded in batches straight into the users' rows: at 10M users the
  // decoded records of either file would take GBs on top of the text.
  constexpr int kBatch = 10000;
  std::vector<bool> with_segment(users.size(), false);
  if (std::ifstream in(bundle->path() + "/segments.tsv"); in) {
    std::stringstream text;
    text << in.rdbuf();
    RECSYS_RETURN_IF_ERROR(ForEachSegmentBatch(
        text.str(), kBatch, [&](absl::Span<const UserSegment> batch) {
          for (const UserSegment& s : batch) {
            const int32_t row = bundle->UserRow(s.user_id);
            if (row < 0) continue;
            AudienceUser& u = users[row];
            u.segment = s.segment;
            u.tier = s.tier;
            u.last_purchase_unix = s.last_purchase_unix;
            with_segment[row] = true;
          }
          return absl::OkStatus();
        }));
  }
  if (std::ifstream in(bundle->path() + "/intel.tsv"); in) {
    std::stringstream text;
    text << in.rdbuf();
    RECSYS_RETURN_IF_ERROR(intelligence::ForEachIntelBatch(
        text.str(), kBatch, [&](absl::Span<const intelligence::UserIntel> batch) {
          for (const intelligence::UserIntel& i : batch) {
            const int32_t row = bundle->UserRow(i.user_id);
            if (row < 0) continue;
            AudienceUser& u = users[row];
            u.tags = i.tags;
            u.purchase_intent = static_cast<float>(i.purchase_intent);
            u.churn_risk = static_cast<float>(i.churn_risk);
            u.next_purchase_unix = i.next_purchase_unix;
            u.growth_tier = i.growth_tier;
          }
          return absl::OkStatus();
        }));
  }
  for (int32_t row = 0; row < bundle->num_users(); ++row) {
    if (with_segment[row]) {
      ++model->with_segments;
      continue;
    }
    AudienceUser& u = users[row];
    for (const auto& h : bundle->history(row)) {
      u.last_purchase_unix = std::max(u.last_purchase_unix, h.last_unix);
    }
  }
  absl::Span<const float> vectors;
  if (bundle->num_users() > 0) {
    vectors = absl::MakeConstSpan(bundle->user_vector(0).data(),
                                  static_cast<size_t>(bundle->num_users()) * bundle->dim());
  }
  RECSYS_ASSIGN_OR_RETURN(
      model->table,
      AudienceTable::CreateBorrowed(std::max(1, bundle->dim()), vectors, bundle, std::move(users)));
  audience_ = model;
  return audience_;
}

absl::StatusOr<AudienceSummary> Marketer::FindAudience(const AudienceQuery& query,
                                                       const AudienceEntrySink& sink) const {
  const int offers = !query.coupon_id.empty() + !query.category.empty() + !query.item_ids.empty();
  if (offers != 1) {
    return absl::InvalidArgumentError(
        "offer: exactly one of coupon_id, category or items must be set");
  }
  if (!query.coupon_id.empty()) RECSYS_RETURN_IF_ERROR(CheckId("coupon_id", query.coupon_id));
  if (!query.category.empty()) RECSYS_RETURN_IF_ERROR(CheckId("category", query.category));
  if (!query.campaign.empty()) RECSYS_RETURN_IF_ERROR(CheckId("campaign", query.campaign));
  if (static_cast<int64_t>(query.item_ids.size()) > options_.max_audience_items) {
    return absl::InvalidArgumentError(absl::StrCat("items.item_ids: at most ",
                                                   options_.max_audience_items, " ids, got ",
                                                   query.item_ids.size()));
  }
  for (size_t i = 0; i < query.item_ids.size(); ++i) {
    RECSYS_RETURN_IF_ERROR(CheckId(absl::StrCat("items.item_ids[", i, "]"), query.item_ids[i]));
  }
  if (query.now != absl::InfinitePast()) {
    RECSYS_RETURN_IF_ERROR(CheckClientTime("context.request_time_unix", query.now, absl::Now()));
  }
  if (query.limit < 0) return absl::InvalidArgumentError("limit: must be >= 0");
  if (query.min_days_since_purchase < 0) {
    return absl::InvalidArgumentError("filters.min_days_since_purchase: must be >= 0");
  }
  if (query.contact_cap_days < 0) {
    return absl::InvalidArgumentError("filters.contact_cap_days: must be >= 0");
  }
  AudienceFilter filter;
  for (size_t i = 0; i < query.segments.size(); ++i) {
    auto s = SegmentFromName(query.segments[i]);
    if (!s.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "filters.segments[", i, "]: unknown segment '", query.segments[i],
          "' (core, potential, new, at_risk, dormant, deep_dormant)"));
    }
    filter.segments.push_back(*s);
  }
  for (size_t i = 0; i < query.tiers.size(); ++i) {
    auto t = TierFromName(query.tiers[i]);
    if (!t.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat("filters.tiers[", i, "]: unknown tier '",
                                                     query.tiers[i],
                                                     "' (none, silver, gold, black)"));
    }
    filter.tiers.push_back(*t);
  }
  filter.min_days_since_purchase = query.min_days_since_purchase;
  filter.contact_cap_days = query.contact_cap_days;
  for (size_t i = 0; i < query.tags.size(); ++i) {
    RECSYS_RETURN_IF_ERROR(CheckId(absl::StrCat("filters.tags[", i, "]"), query.tags[i]));
  }
  filter.tags = query.tags;
  if (!(query.min_churn_risk >= 0 && query.min_churn_risk <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "filters.min_churn_risk: must be in [0, 1], got ", query.min_churn_risk));
  }
  if (!(query.min_purchase_intent >= 0 && query.min_purchase_intent <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "filters.min_purchase_intent: must be in [0, 1], got ", query.min_purchase_intent));
  }
  if (query.due_within_days < 0) {
    return absl::InvalidArgumentError("filters.due_within_days: must be >= 0");
  }
  filter.min_churn_risk = query.min_churn_risk;
  filter.min_purchase_intent = query.min_purchase_intent;
  filter.due_within_days = query.due_within_days;
  const absl::Time now = query.now == absl::InfinitePast() ? absl::Now() : query.now;

  const std::shared_ptr<const ModelBundle> bundle = models_->Current();
  AudienceSummary summary;
  summary.meta.model_version = bundle->version();

  // The catalog: the offered coupon, and the best coupon per member.
  std::vector<CouponWithState> catalog;
  {
    auto listed = coupons_->ListCoupons(StoreDeadline(query.deadline));
    if (listed.ok()) {
      catalog = *std::move(listed);
    } else if (!query.coupon_id.empty()) {
      return absl::UnavailableError(
          absl::StrCat("coupon store unavailable: ", listed.status().message()));
    } else {
      Degrade(&summary.meta, "coupon store (no coupons attached)", listed.status());
    }
  }

  // The offer's item rows and label.
  std::vector<int32_t> offer_rows;
  std::string label;
  std::string campaign = query.campaign;
  const CouponWithState* offered = nullptr;
  if (!query.coupon_id.empty()) {
    for (const auto& c : catalog) {
      if (c.coupon.id == query.coupon_id) offered = &c;
    }
    if (offered == nullptr) {
      return absl::NotFoundError(absl::StrCat("coupon_id: unknown coupon '", query.coupon_id, "'"));
    }
    offer_rows = ScopeRows(*bundle, offered->coupon.scope);
    label = DescribeCoupon(offered->coupon);
    if (campaign.empty()) {
      campaign = offered->coupon.campaign.empty() ? offered->coupon.id
                                                      : offered->coupon.campaign;
    }
    // The coupon's own eligibility narrows the filters; an empty
    // intersection is an empty audience.
    bool nobody = offered->coupon.eligibility.first_order_only;  // every user has ordered
    if (!offered->coupon.eligibility.segments.empty()) {
      std::vector<Segment> keep;
      for (const std::string& name : offered->coupon.eligibility.segments) {
        auto v = SegmentFromName(name);
        if (v.has_value() && (filter.segments.empty() ||
                              absl::c_linear_search(filter.segments, *v))) {
          keep.push_back(*v);
        }
      }
      nobody = nobody || keep.empty();
      filter.segments = std::move(keep);
    }
    if (!offered->coupon.eligibility.tiers.empty()) {
      std::vector<Tier> keep;
      for (const std::string& name : offered->coupon.eligibility.tiers) {
        auto v = TierFromName(name);
        if (v.has_value() && (filter.tiers.empty() || absl::c_linear_search(filter.tiers, *v))) {
          keep.push_back(*v);
        }
      }
      nobody = nobody || keep.empty();
      filter.tiers = std::move(keep);
    }
    // Tier-only and tag coupons: members without a record have neither.
    filter.growth_tiers = offered->coupon.eligibility.growth_tiers;
    filter.any_tags = offered->coupon.eligibility.tags;
    const Coupon& c = offered->coupon;
    const int64_t t = absl::ToUnixSeconds(now);
    if ((c.valid_from_unix > 0 && t < c.valid_from_unix) ||
        (c.valid_until_unix > 0 && t >= c.valid_until_unix)) {
      return absl::FailedPreconditionError(
          absl::StrCat("coupon_id: coupon '", c.id, "' is not valid at ", t));
    }
    if (offered->state.remaining_count == 0 || offered->state.remaining_money == 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("coupon_id: coupon '", c.id, "' has no budget left"));
    }
    if (nobody) return summary;
  } else if (!query.category.empty()) {
    const std::vector<int32_t>& rows = bundle->category_popular(query.category);
    if (rows.empty()) {
      return absl::NotFoundError(absl::StrCat("category: unknown category '", query.category, "'"));
    }
    offer_rows.assign(rows.begin(), rows.end());
    label = query.category;
  } else {
    for (const std::string& id : query.item_ids) {
      const int32_t row = bundle->ItemRow(id);
      if (row >= 0) offer_rows.push_back(row);
    }
    if (offer_rows.empty()) {
      return absl::NotFoundError("items.item_ids: none of the items is known to the model");
    }
    label = query.item_ids.size() == 1 ? query.item_ids[0]
                                       : absl::StrCat(query.item_ids.size(), " items");
  }
  if (offer_rows.empty()) {
    return absl::FailedPreconditionError(
        "offer: none of its items is known to the served model");
  }
  if (filter.contact_cap_days > 0 && campaign.empty()) {
    return absl::InvalidArgumentError(
        "campaign: required with filters.contact_cap_days for a category or item offer");
  }
  // Users tagged by live events since the records of intel.tsv.
  absl::flat_hash_map<std::string, std::vector<std::string>> live_tags;
  if (options_.intel != nullptr) {
    std::vector<std::string> wanted = filter.tags;
    wanted.insert(wanted.end(), filter.any_tags.begin(), filter.any_tags.end());
    std::sort(wanted.begin(), wanted.end());
    wanted.erase(std::unique(wanted.begin(), wanted.end()), wanted.end());
    for (const std::string& tag : wanted) {
      auto users = options_.intel->LiveTagUsers(tag, StoreDeadline(query.deadline));
      if (!users.ok()) {
        Degrade(&summary.meta, "intelligence store (live tags)", users.status());
        break;
      }
      for (const std::string& user : *users) live_tags[user].push_back(tag);
    }
    if (!live_tags.empty()) filter.live_tags = &live_tags;
  }
  const std::vector<float> target = MeanVector(*bundle, offer_rows);

  // Best coupon per (segment, tier): EV ordering does not depend on the
  // propensity, which is the same for all coupons of one offer.
  std::vector<CouponWithState> candidates;
  if (offered != nullptr) {
    candidates.push_back(*offered);
  } else {
    for (const auto& c : catalog) {
      if (Covers(*bundle, c.coupon.scope, offer_rows)) candidates.push_back(c);
    }
  }
  // Per (segment, tier), every candidate best first (with the segment's
  // measured uplift, as RecommendCoupons); each member takes the first its
  // coupon experiments allow.
  struct Ranked {
    const Coupon* coupon;
    std::string text;
  };
  std::vector<std::vector<Ranked>> best(kNumSegments * kNumTiers);
  for (int s = 0; s < kNumSegments; ++s) {
    const std::string segment(SegmentName(static_cast<Segment>(s)));
    IncrementalityFn incrementality = [&](const Coupon& coupon, double prior) {
      std::optional<experiments::UpliftEstimate> measured;
      if (uplift_ != nullptr)
        measured = uplift_->Find(CampaignOf(coupon), segment);
      return experiments::BlendIncrementality(
          prior, measured ? &*measured : nullptr, options_.uplift);
    };
    for (int t = 0; t < kNumTiers; ++t) {
      CustomerInfo customer;
      customer.segment = static_cast<Segment>(s);
      customer.tier = static_cast<Tier>(t);
      customer.orders = 1;
      auto ranked = RankCoupons(
          candidates, customer, {}, now, options_.config,
          [](const Coupon&) { return 0.5; }, 0, incrementality);
      if (!ranked.ok()) continue;
      for (const RankedCoupon& r : *ranked) {
        for (const auto& c : candidates) {
          if (c.coupon.id == r.coupon_id) {
            best[s * kNumTiers + t].push_back(
                {&c.coupon, DescribeCoupon(c.coupon)});
          }
        }
      }
    }
  }
  std::shared_ptr<const experiments::ExperimentPlan> plan =
      experiments_ != nullptr ? experiments_->Get() : experiments::EmptyPlan();

  RECSYS_ASSIGN_OR_RETURN(std::shared_ptr<const AudienceModel> audience, Audience(bundle));
  ContactLookup contacts;
  if (filter.contact_cap_days > 0) {
    contacts = [&](absl::Span<const std::string> ids) {
      return coupons_->LastContacts(campaign, ids, StoreDeadline(query.deadline));
    };
  }
  AudienceOptions scan;
  scan.limit = query.limit;
  scan.chunk_size = options_.audience_chunk;
  scan.threads = options_.audience_threads;
  std::vector<AudienceEntry> entries;
  // The tags of members a live event tagged (valid during the sink call).
  std::vector<std::vector<std::string>> merged_tags;
  auto result = ScanAudience(
      *audience->table, target, filter, now, contacts, scan,
      [&](absl::Span<const AudienceMember> chunk) {
        entries.clear();
        entries.reserve(chunk.size());
        merged_tags.clear();
        merged_tags.reserve(chunk.size());
        for (const AudienceMember& m : chunk) {
          AudienceEntry e;
          e.user_id = m.user_id;
          e.score = m.score;
          e.segment = m.segment;
          e.tier = m.tier;
          e.days_since_purchase = m.days_since_purchase;
          const AudienceUser& user = audience->table->user(m.row);
          e.tags = &user.tags;
          if (auto live = live_tags.find(m.user_id); live != live_tags.end()) {
            std::vector<std::string>& tags = merged_tags.emplace_back(user.tags);
            for (const std::string& tag : live->second) {
              auto at = std::lower_bound(tags.begin(), tags.end(), tag);
              if (at == tags.end() || *at != tag) tags.insert(at, tag);
            }
            e.tags = &tags;
          }
          e.purchase_intent = user.purchase_intent;
          e.churn_risk = user.churn_risk;
          e.next_purchase_unix = user.next_purchase_unix;
          const std::vector<experiments::Assignment> assignments =
              plan->Assign(m.user_id, now, *e.tags);
          e.recommendation_id = experiments::NewRecommendationId(
              m.user_id, experiments::kCouponsSlot, assignments, now);
          e.assignments =
              experiments::ArmsFor(assignments, experiments::kCouponsSlot);
          const Ranked* b = nullptr;
          bool held_out = false;
          for (const Ranked& r : best[static_cast<int>(m.segment) * kNumTiers +
                                      static_cast<int>(m.tier)]) {
            if (AllowedByPolicies(*r.coupon, assignments)) {
              b = &r;
              break;
            }
            held_out = true;
          }
          if (b != nullptr) e.best_coupon_id = b->coupon->id;
          e.reason = CouponReason::kAffinity;
          e.reason_text = absl::StrFormat("affinity %.2f to %s; %s", m.score, label,
                                          SegmentName(m.segment));
          if (m.days_since_purchase >= 0) {
            absl::StrAppend(&e.reason_text, ", last order ", m.days_since_purchase, " days ago");
          }
          e.held_out = b == nullptr && held_out;
          if (b != nullptr) {
            absl::StrAppend(&e.reason_text, "; offer: ", b->text);
          } else if (held_out) {
            absl::StrAppend(&e.reason_text,
                            "; no coupon: held out by its experiment");
          }
          entries.push_back(std::move(e));
        }
        return sink(entries, summary.meta);
      });
  if (!result.ok()) {
    if (StoreDown(result.status())) {
      return absl::UnavailableError(absl::StrCat(
          "coupon store unavailable, contact caps cannot be checked: ", result.status().message()));
    }
    return result.status();
  }
  summary.stats = *result;
  return summary;
}

absl::StatusOr<CouponEventsAnswer> Marketer::RecordCouponEvents(
    const std::vector<CouponEvent>& events, absl::Time deadline) const {
  CouponEventsAnswer answer;
  const absl::Time store_deadline = std::min(deadline, absl::Now() + 4 * options_.store_timeout);
  for (const CouponEvent& e : events) {
    const std::string prefix = absl::StrCat("events[", e.index, "]");
    absl::Status st;
    bool duplicate = false;
    if (e.redeemed) {
      absl::StatusOr<RedeemResult> r = coupons_->RedeemOnce(
          e.user_id, e.coupon_id, e.order_value, e.time, e.op_id, store_deadline);
      st = r.status();
      duplicate = r.ok() && r->duplicate;
      if (st.ok()) answer.discounts.emplace_back(e.index, r->discount);
    } else {
      // Issuing checks the segment rules too (the store checks budgets,
      // caps and the window).
      MarketingMeta meta;
      std::optional<UserSegment> record;
      const CustomerInfo customer = Customer(e.user_id, e.time, deadline, &record, &meta);
      auto listed = coupons_->ListCoupons(store_deadline);
      if (!listed.ok()) {
        st = listed.status();
      } else {
        const CouponWithState* coupon = nullptr;
        for (const auto& c : *listed) {
          if (c.coupon.id == e.coupon_id) coupon = &c;
        }
        if (coupon == nullptr) {
          st = absl::NotFoundError(absl::StrCat("unknown coupon '", e.coupon_id, "'"));
        } else {
          st = CheckEligible(*coupon, customer, {}, e.time, options_.config);
        }
        if (st.ok()) {
          absl::StatusOr<IssueResult> r =
              coupons_->IssueOnce(e.user_id, e.coupon_id, e.time, e.op_id, store_deadline);
          st = r.status();
          duplicate = r.ok() && r->duplicate;
        }
      }
    }
    if (st.ok()) {
      ++answer.accepted;
      if (duplicate) ++answer.duplicates;
    } else if (StoreDown(st)) {
      return absl::UnavailableError(absl::StrCat(
          "coupon store did not confirm ", prefix, " (", st.message(),
          "); it and earlier coupon events of the batch may have been applied"));
    } else {
      answer.rejected.emplace_back(e.index, absl::StrCat(prefix, ": ", st.message()));
    }
  }
  return answer;
}

absl::Status Marketer::PutCoupons(const CouponCatalog& catalog,
                                  absl::Time deadline) const {
  RECSYS_RETURN_IF_ERROR(ValidateCatalog(catalog));
  return coupons_->PutCoupons(catalog, std::min(deadline, absl::Now() + absl::Seconds(5)));
}

absl::StatusOr<std::vector<CouponWithState>> Marketer::ListCoupons(
    absl::Time deadline) const {
  return coupons_->ListCoupons(std::min(deadline, absl::Now() + absl::Seconds(5)));
}

absl::Status Marketer::DeleteCoupon(absl::string_view coupon_id, absl::Time deadline) const {
  if (coupon_id.empty()) return absl::InvalidArgumentError("coupon_id: must not be empty");
  return coupons_->DeleteCoupon(coupon_id, std::min(deadline, absl::Now() + absl::Seconds(5)));
}

}  // namespace recsys::marketing
