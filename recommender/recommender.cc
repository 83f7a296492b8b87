#include "recommender/recommender.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "common/validation.h"
#include "recommender/candidate_source.h"
#include "recommender/internal.h"
#include "recommender/request_context.h"
#include "recommender/rules/rule_set.h"
#include "recommender/slot_fill.h"
#include "recommender/trial_picks.h"
#include "recommender/trial_pool.h"

namespace recsys::recommender {

using feature_store::EventType;
using ::recsys::CheckClientTime;
using ::recsys::CheckId;
using internal::CheckSlotName;
using internal::FeatureDeadline;
using internal::MarkDegraded;

Recommender::~Recommender() = default;

void Recommender::SetSlotPlan(std::shared_ptr<const SlotPlan> plan) {
  absl::MutexLock lock(&plan_mu_);
  plan_ = std::move(plan);
}

std::shared_ptr<const SlotPlan> Recommender::slot_plan() const {
  absl::MutexLock lock(&plan_mu_);
  return plan_;
}

void Recommender::SetExperiments(std::shared_ptr<const ExperimentVariants> experiments) {
  absl::MutexLock lock(&plan_mu_);
  experiments_ = std::move(experiments);
}

std::shared_ptr<const ExperimentVariants> Recommender::experiments() const {
  absl::MutexLock lock(&plan_mu_);
  return experiments_;
}

Recommender::Recommender(const model::ModelStore* models, feature_store::FeatureStore* features,
                         const RecommenderOptions& options)
    : models_(models),
      features_(features),
      options_(options),
      trial_pool_(std::make_unique<TrialPool>(features, options.trial_pool)),
      sources_(NewDefaultSourceRegistry(options)),
      rules_(NewDefaultRuleSet()) {}

absl::Status Recommender::ValidateFilters(const ItemFilters& filters) const {
  if (static_cast<int>(filters.exclude_item_ids.size()) > options_.max_exclude_ids) {
    return absl::InvalidArgumentError(
        absl::StrCat("filters.exclude_item_ids: at most ", options_.max_exclude_ids,
                     " ids, got ", filters.exclude_item_ids.size()));
  }
  if (static_cast<int>(filters.categories.size()) > options_.max_categories) {
    return absl::InvalidArgumentError(
        absl::StrCat("filters.categories: at most ", options_.max_categories,
                     " categories, got ", filters.categories.size()));
  }
  for (size_t i = 0; i < filters.exclude_item_ids.size(); ++i) {
    RECSYS_RETURN_IF_ERROR(
        CheckId(absl::StrCat("filters.exclude_item_ids[", i, "]"), filters.exclude_item_ids[i]));
  }
  for (size_t i = 0; i < filters.categories.size(); ++i) {
    RECSYS_RETURN_IF_ERROR(
        CheckId(absl::StrCat("filters.categories[", i, "]"), filters.categories[i]));
  }
  if (filters.min_price < 0 || filters.max_price < 0 ||
      !std::isfinite(filters.min_price) || !std::isfinite(filters.max_price)) {
    return absl::InvalidArgumentError("filters.min_price/max_price: must be finite and >= 0");
  }
  if (filters.max_price > 0 && filters.min_price > filters.max_price) {
    return absl::InvalidArgumentError(
        absl::StrCat("filters.min_price: ", filters.min_price, " exceeds max_price ",
                     filters.max_price));
  }
  return absl::OkStatus();
}

absl::Status Recommender::ValidateProductRequest(const ProductRequest& request) const {
  RECSYS_RETURN_IF_ERROR(CheckId("user_id", request.user_id));
  if (request.slots.empty()) {
    return absl::InvalidArgumentError("slots: at least one slot is required");
  }
  if (static_cast<int>(request.slots.size()) > options_.max_slots) {
    return absl::InvalidArgumentError(absl::StrCat(
        "slots: at most ", options_.max_slots, " slots, got ", request.slots.size()));
  }
  absl::flat_hash_set<absl::string_view> names;
  for (size_t i = 0; i < request.slots.size(); ++i) {
    // An empty name is the default slot, like an unknown one.
    if (!request.slots[i].name.empty()) {
      RECSYS_RETURN_IF_ERROR(CheckSlotName(absl::StrCat("slots[", i, "].name"),
                                           request.slots[i].name));
    }
    if (!names.insert(request.slots[i].name).second) {
      return absl::InvalidArgumentError(absl::StrCat("slots[", i, "].name: duplicate slot '",
                                                     request.slots[i].name, "'"));
    }
    const int k = request.slots[i].k;
    if (k < 1 || k > options_.max_k) {
      return absl::InvalidArgumentError(absl::StrCat(
          "slots[", i, "].k: must be in [1, ", options_.max_k, "], got ", k));
    }
  }
  if (request.now != absl::InfinitePast()) {
    RECSYS_RETURN_IF_ERROR(
        CheckClientTime("context.request_time_unix", request.now, absl::Now()));
  }
  return ValidateFilters(request.filters);
}

absl::StatusOr<std::vector<SlotAnswer>> Recommender::FillFromModel(
    const ProductRequest& request,
    std::shared_ptr<const model::ModelBundle> bundle,
    const std::vector<experiments::Assignment>& assignments,
    const std::shared_ptr<const ExperimentVariants>& variants,
    AnswerMeta* meta) const {
  UserState user = LoadUser(
      *bundle, *features_, request.user_id,
      FeatureDeadline(request.deadline, options_.feature_timeout), meta);
  // The user's experiment variants: a slot's rule and the ranker's
  // candidates where a variant changes them.
  Treatment treatment;
  if (variants != nullptr) {
    treatment.slot_rules.assign(request.slots.size(), nullptr);
    for (size_t s = 0; s < request.slots.size(); ++s) {
      for (const experiments::Assignment& a : assignments) {
        if (!a.experiment->slots.contains(request.slots[s].name)) continue;
        if (const SlotRule* rule = variants->Rule(a.variant, request.slots[s].name)) {
          treatment.slot_rules[s] = rule;
        }
        treatment.ranker_candidates =
            std::max(treatment.ranker_candidates, a.variant->ranker_vector_candidates);
      }
    }
  }
  const std::unique_ptr<RequestContext> ctx = BuildRequestContext(
      request, std::move(bundle), std::move(user), slot_plan(), options_,
      std::move(treatment), variants);
  LoadUserIntel(options_.intel,
                       FeatureDeadline(request.deadline, options_.feature_timeout), ctx.get());
  RECSYS_ASSIGN_OR_RETURN(const CandidateLists lists, sources_->Generate(*ctx));
  PickTrialItems(*trial_pool_, FeatureDeadline(request.deadline, options_.feature_timeout),
                 ctx.get());
  FetchItemFeatures(lists, *features_,
                    FeatureDeadline(request.deadline, options_.feature_timeout),
                    ctx.get(), meta);
  meta->cold_start = meta->cold_start || ctx->query.empty();
  meta->folded_in = meta->folded_in || ctx->folded_in;
  return FillSlots(*ctx, lists, *rules_);
}

namespace {

// The user's interest tags when a targeted experiment of `plan` needs them
// (ExperimentPlan::NeedsTags): one read of the intelligence record. Empty
// otherwise, without a store or without a record; a failed read degrades
// the answer and the user enters no targeted experiment.
std::vector<std::string> TargetingTags(const experiments::ExperimentPlan& plan,
                                       absl::string_view user_id, absl::Time now,
                                       const intelligence::IntelStore* intel,
                                       absl::Time deadline, AnswerMeta* meta) {
  if (intel == nullptr || !plan.NeedsTags(user_id, now)) return {};
  absl::StatusOr<intelligence::UserIntel> record = intel->GetIntel(user_id, deadline);
  if (record.ok()) return std::move(record->tags);
  if (!absl::IsNotFound(record.status()) && !meta->degraded) {
    MarkDegraded(meta, record.status());
  }
  return {};
}

// The model that serves `slot` for a user with `assignments`: the bundle of
// the variant of an experiment listing the slot that asks for a held
// version, else `fallback` (noting in `meta` a version not held).
std::shared_ptr<const model::ModelBundle> ModelFor(
    absl::string_view slot,
    const std::vector<experiments::Assignment>& assignments,
    const ExperimentVariants* variants,
    std::shared_ptr<const model::ModelBundle> fallback, AnswerMeta* meta) {
  if (variants == nullptr) return fallback;
  for (const experiments::Assignment& a : assignments) {
    if (!a.experiment->slots.contains(slot)) continue;
    const VariantModel* m = variants->Model(a.variant);
    if (m == nullptr) continue;
    if (m->bundle != nullptr) return m->bundle;
    const std::string note = absl::StrCat(
        a.experiment->name, "/", a.variant->name, " wants model ", m->version,
        " (", m->reason, "); served by ", fallback->version());
    if (!absl::StrContains(meta->model_fallback_reason, note)) {
      absl::StrAppend(&meta->model_fallback_reason,
                      meta->model_fallback_reason.empty() ? "" : "; ", note);
    }
    meta->model_fallback = true;
  }
  return fallback;
}

}  // namespace

absl::StatusOr<ProductAnswer> Recommender::RecommendProducts(
    const ProductRequest& request) const {
  RECSYS_RETURN_IF_ERROR(ValidateProductRequest(request));
  const std::shared_ptr<const model::ModelBundle> bundle = models_->Current();
  ProductAnswer answer;
  const absl::Time now =
      request.now == absl::InfinitePast() ? absl::Now() : request.now;
  std::shared_ptr<const ExperimentVariants> variants = experiments();
  std::vector<experiments::Assignment> assignments;
  if (variants != nullptr) {
    const std::vector<std::string> tags = TargetingTags(
        variants->plan(), request.user_id, now, options_.intel,
        FeatureDeadline(request.deadline, options_.feature_timeout), &answer.meta);
    assignments = variants->plan().Assign(request.user_id, now, tags);
  }
  // The model of each slot, and the slots of each model in the order of
  // its first slot.
  std::vector<std::shared_ptr<const model::ModelBundle>> models;
  std::vector<std::vector<size_t>> groups;
  for (size_t s = 0; s < request.slots.size(); ++s) {
    std::shared_ptr<const model::ModelBundle> m =
        ModelFor(request.slots[s].name, assignments, variants.get(), bundle,
                 &answer.meta);
    size_t g = 0;
    while (g < models.size() && models[g] != m) ++g;
    if (g == models.size()) {
      models.push_back(std::move(m));
      groups.emplace_back();
    }
    groups[g].push_back(s);
  }
  answer.meta.model_version = models.front()->version();
  if (groups.size() == 1) {
    RECSYS_ASSIGN_OR_RETURN(answer.slots,
                            FillFromModel(request, models.front(), assignments,
                                          variants, &answer.meta));
    for (SlotAnswer& slot : answer.slots)
      slot.model_version = models.front()->version();
  } else {
    // One model at a time; a later one never shows what an earlier one did.
    answer.slots.resize(request.slots.size());
    std::vector<std::string> shown;
    for (size_t g = 0; g < groups.size(); ++g) {
      ProductRequest part = request;
      part.now = now;
      part.slots.clear();
      for (size_t s : groups[g]) part.slots.push_back(request.slots[s]);
      part.filters.exclude_item_ids.insert(part.filters.exclude_item_ids.end(),
                                           shown.begin(), shown.end());
      RECSYS_ASSIGN_OR_RETURN(
          std::vector<SlotAnswer> filled,
          FillFromModel(part, models[g], assignments, variants, &answer.meta));
      for (size_t i = 0; i < filled.size() && i < groups[g].size(); ++i) {
        filled[i].model_version = models[g]->version();
        for (const ScoredItem& item : filled[i].items)
          shown.push_back(item.item_id);
        answer.slots[groups[g][i]] = std::move(filled[i]);
      }
    }
  }
  for (SlotAnswer& slot : answer.slots) {
    for (const ScoredItem& item : slot.items) {
      if (item.reason.code == ReasonCode::kPopular) ++answer.meta.popular_filled;
    }
    slot.recommendation_id =
        experiments::NewRecommendationId(request.user_id, slot.name, assignments, now);
    slot.assignments = experiments::ArmsFor(assignments, slot.name);
  }
  return answer;
}

absl::StatusOr<SimilarAnswer> Recommender::SimilarItems(const SimilarRequest& request) const {
  RECSYS_RETURN_IF_ERROR(CheckId("item_id", request.item_id));
  if (request.k < 1 || request.k > options_.max_k) {
    return absl::InvalidArgumentError(
        absl::StrCat("k: must be in [1, ", options_.max_k, "], got ", request.k));
  }
  RECSYS_RETURN_IF_ERROR(ValidateFilters(request.filters));
  if (!request.user_id.empty()) RECSYS_RETURN_IF_ERROR(CheckId("user_id", request.user_id));
  if (!std::isfinite(request.price_band) || request.price_band < 0 || request.price_band >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("price_band: must be in [0, 1), got ", request.price_band));
  }

  SimilarAnswer answer;
  // The user's experiments, and the model of a variant on similar_items.
  const absl::Time now = absl::Now();
  std::shared_ptr<const ExperimentVariants> variants;
  std::vector<experiments::Assignment> assignments;
  if (!request.user_id.empty()) {
    variants = experiments();
    if (variants != nullptr) {
      const std::vector<std::string> tags = TargetingTags(
          variants->plan(), request.user_id, now, options_.intel,
          FeatureDeadline(request.deadline, options_.feature_timeout), &answer.meta);
      assignments = variants->plan().Assign(request.user_id, now, tags);
    }
  }
  const std::shared_ptr<const model::ModelBundle> bundle =
      ModelFor(experiments::kSimilarItemsSlot, assignments, variants.get(),
               models_->Current(), &answer.meta);
  answer.meta.model_version = bundle->version();
  const int32_t item_row = bundle->ItemRow(request.item_id);
  // An item listed after the last training: its trial-pool vector.
  model::ItemMeta new_anchor;
  std::vector<float> new_anchor_vector;
  if (item_row < 0) {
    std::shared_ptr<const TrialSnapshot> trial = trial_pool_->Get(
        *bundle, FeatureDeadline(request.deadline, options_.feature_timeout));
    const TrialItem* t = trial->Find(request.item_id);
    if (t == nullptr || t->vector.empty()) {
      return absl::NotFoundError(
          absl::StrCat("item_id: unknown item '", request.item_id, "'"));
    }
    new_anchor.item_id = t->item_id;
    new_anchor.category = t->category;
    new_anchor.price = t->price;
    new_anchor.title = t->title;
    new_anchor_vector = t->vector;
  }
  absl::flat_hash_set<int32_t> excluded;
  if (item_row >= 0) excluded.insert(item_row);
  for (const std::string& id : request.filters.exclude_item_ids) {
    const int32_t row = bundle->ItemRow(id);
    if (row >= 0) excluded.insert(row);
  }
  if (!request.user_id.empty()) {
    UserState user = LoadUser(*bundle, *features_, request.user_id,
                              FeatureDeadline(request.deadline, options_.feature_timeout),
                              &answer.meta);
    excluded.insert(user.bought_rows.begin(), user.bought_rows.end());
  }
  const model::ItemMeta& anchor = item_row >= 0 ? bundle->item(item_row) : new_anchor;
  ItemFilters filters = request.filters;
  if (request.price_band > 0 && anchor.price > 0) {
    const double low = anchor.price * (1 - request.price_band);
    const double high = anchor.price * (1 + request.price_band);
    filters.min_price = std::max(filters.min_price, std::max(low, 1e-9));
    filters.max_price = filters.max_price > 0 ? std::min(filters.max_price, high) : high;
  }
  const RowFilter filter(*bundle, filters, &excluded);
  model::SearchOptions search_options;
  search_options.filter = &filter;
  // Extra candidates make room for out-of-stock items dropped below.
  const int fetch = std::min(bundle->num_items(), 2 * request.k + 10);
  std::vector<model::Neighbor> hits;
  if (request.complements) {
    for (const auto& [row, score] : bundle->complements(item_row)) {  // none for -1
      if (static_cast<int>(hits.size()) >= fetch) break;
      if (filter.Allowed(row)) hits.push_back({row, score});
    }
  } else {
    RECSYS_ASSIGN_OR_RETURN(
        hits, bundle->cos_index().Search(
                  item_row >= 0 ? bundle->item_vector(item_row) : absl::MakeConstSpan(new_anchor_vector),
                  fetch, search_options));
  }
  std::vector<std::string> ids;
  for (const model::Neighbor& n : hits) ids.push_back(bundle->item(n.id).item_id);
  std::vector<std::optional<feature_store::ItemFeatures>> stock;
  if (!ids.empty()) {
    auto fetched =
        features_->GetItems(ids, FeatureDeadline(request.deadline, options_.feature_timeout));
    if (fetched.ok()) {
      stock = *std::move(fetched);
    } else if (!answer.meta.degraded) {
      MarkDegraded(&answer.meta, fetched.status());
    }
  }
  for (size_t i = 0; i < hits.size() && static_cast<int>(answer.items.size()) < request.k; ++i) {
    if (i < stock.size() && stock[i].has_value() && stock[i]->stock == 0) continue;
    Explanation e;
    e.code = request.complements ? ReasonCode::kBundleComplement : ReasonCode::kSimilarToItem;
    e.anchor_item_id = anchor.item_id;
    e.anchor_category = anchor.category;
    e.text = absl::StrCat(request.complements ? "often bought with " : "similar to ",
                          internal::Label(anchor));
    answer.items.push_back(
        internal::MakeItem(*bundle, static_cast<int32_t>(hits[i].id), hits[i].score,
                           std::move(e)));
  }
  if (!request.user_id.empty()) {
    answer.recommendation_id = experiments::NewRecommendationId(
        request.user_id, experiments::kSimilarItemsSlot, assignments, now);
    answer.assignments = experiments::ArmsFor(assignments, experiments::kSimilarItemsSlot);
  }
  return answer;
}

absl::StatusOr<EventsAnswer> Recommender::RecordEvents(
    const std::vector<feature_store::Event>& events, absl::Time deadline,
    const std::vector<int>* indices) const {
  if (events.empty()) return absl::InvalidArgumentError("events: at least one event is required");
  if (static_cast<int>(events.size()) > options_.max_events) {
    return absl::InvalidArgumentError(absl::StrCat(
        "events: at most ", options_.max_events, " events, got ", events.size()));
  }
  EventsAnswer answer;
  answer.meta.model_version = models_->Current()->version();
  std::vector<feature_store::Event> valid;
  valid.reserve(events.size());
  std::vector<int> valid_index;  // request index of each valid event
  valid_index.reserve(events.size());
  const absl::Time now = absl::Now();
  for (size_t i = 0; i < events.size(); ++i) {
    const feature_store::Event& e = events[i];
    const int index = indices != nullptr && i < indices->size() ? (*indices)[i] : static_cast<int>(i);
    const std::string prefix = absl::StrCat("events[", index, "].");
    absl::Status st = CheckId(prefix + "user_id", e.user_id);
    const int type = static_cast<int>(e.type);
    if (st.ok() && (type < static_cast<int>(EventType::kView) ||
                    type > static_cast<int>(EventType::kCouponRedeemed))) {
      st = absl::InvalidArgumentError(
          absl::StrCat(prefix, "type: must be set to a known event type"));
    }
    if (st.ok() && (e.type == EventType::kCouponIssued || e.type == EventType::kCouponRedeemed)) {
      st = absl::InvalidArgumentError(
          absl::StrCat(prefix, "type: coupon events are stored by the marketing engine"));
    }
    if (st.ok()) st = CheckId(prefix + "item_id", e.item_id);
    if (st.ok() && !e.event_id.empty()) st = CheckId(prefix + "event_id", e.event_id);
    if (st.ok() && e.quantity < 0) {
      st = absl::InvalidArgumentError(absl::StrCat(prefix, "quantity: must be >= 0"));
    }
    if (st.ok() && (e.price < 0 || !std::isfinite(e.price))) {
      st = absl::InvalidArgumentError(absl::StrCat(prefix, "price: must be finite and >= 0"));
    }
    if (st.ok() && e.time != absl::UnixEpoch()) {  // the epoch: 0, now
      st = CheckClientTime(prefix + "timestamp_unix", e.time, now);
    }
    if (!st.ok()) {
      answer.rejected.emplace_back(index, std::string(st.message()));
      continue;
    }
    valid.push_back(e);
    valid_index.push_back(index);
    if (valid.back().time == absl::UnixEpoch()) valid.back().time = now;
    if (valid.back().quantity == 0) valid.back().quantity = 1;
  }
  if (valid.empty()) return absl::InvalidArgumentError(answer.rejected.front().second);
  // Exposure of items in their trial window is counted for the trial report.
  if (std::any_of(valid.begin(), valid.end(), [](const feature_store::Event& e) {
        return e.type == EventType::kImpression || e.type == EventType::kClick ||
               e.type == EventType::kPurchase;
      })) {
    const std::shared_ptr<const model::ModelBundle> bundle = models_->Current();
    std::shared_ptr<const TrialSnapshot> trial =
        trial_pool_->Get(*bundle, FeatureDeadline(deadline, options_.feature_timeout));
    const std::shared_ptr<const SlotPlan> plan = slot_plan();
    const int trial_days = plan != nullptr ? plan->rules().trial_days : Rules().trial_days;
    for (feature_store::Event& e : valid) {
      if (e.type != EventType::kImpression && e.type != EventType::kClick &&
          e.type != EventType::kPurchase) {
        continue;
      }
      const TrialItem* t = trial->Find(e.item_id);
      e.count_for_trial = t != nullptr && InTrialWindow(*t, e.time, trial_days);
    }
  }
  absl::StatusOr<feature_store::RecordOutcome> outcome =
      features_->RecordEvents(valid, FeatureDeadline(deadline, options_.feature_timeout * 4));
  if (!outcome.ok()) {
    if (absl::IsInvalidArgument(outcome.status())) return outcome.status();
    return absl::UnavailableError(
        absl::StrCat("feature store did not confirm the events (", outcome.status().message(),
                     "); some may have been applied"));
  }
  answer.accepted = static_cast<int>(valid.size());
  answer.duplicates = static_cast<int>(outcome->duplicates.size());
  answer.duplicate_indices.reserve(outcome->duplicates.size());
  for (int d : outcome->duplicates) answer.duplicate_indices.push_back(valid_index[d]);
  std::sort(answer.duplicate_indices.begin(), answer.duplicate_indices.end());
  return answer;
}

absl::StatusOr<ProfileAnswer> Recommender::GetUserProfile(absl::string_view user_id,
                                                          int history_limit,
                                                          absl::Time deadline) const {
  RECSYS_RETURN_IF_ERROR(CheckId("user_id", user_id));
  if (history_limit < 0 || history_limit > 1000) {
    return absl::InvalidArgumentError(
        absl::StrCat("history_limit: must be in [0, 1000], got ", history_limit));
  }
  if (history_limit == 0) history_limit = 50;
  const std::shared_ptr<const model::ModelBundle> bundle = models_->Current();
  ProfileAnswer answer;
  answer.user_id = std::string(user_id);
  answer.meta.model_version = bundle->version();
  answer.known_to_model = bundle->UserRow(user_id) >= 0;
  UserState user = LoadUser(*bundle, *features_, user_id,
                            FeatureDeadline(deadline, options_.feature_timeout), &answer.meta);
  if (!answer.known_to_model && !user.store_found && !answer.meta.degraded) {
    return absl::NotFoundError(absl::StrCat("user_id: unknown user '", user_id, "'"));
  }
  answer.purchases = std::move(user.purchases);
  if (static_cast<int>(answer.purchases.size()) > history_limit) {
    answer.purchases.resize(history_limit);
  }
  answer.recent = std::move(user.recent);
  if (static_cast<int>(answer.recent.size()) > history_limit) {
    answer.recent.resize(history_limit);
  }
  return answer;
}

absl::StatusOr<TrialReportAnswer> Recommender::TrialReport(absl::Time now,
                                                          int ended_within_days,
                                                          absl::Time deadline) const {
  if (ended_within_days < 0 || ended_within_days > 3650) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ended_within_days: must be in [0, 3650], got ", ended_within_days));
  }
  const std::shared_ptr<const model::ModelBundle> bundle = models_->Current();
  const std::shared_ptr<const SlotPlan> plan = slot_plan();
  const Rules rules = plan != nullptr ? plan->rules() : Rules();
  if (ended_within_days == 0) ended_within_days = rules.trial_days;
  TrialReportAnswer answer;
  answer.meta.model_version = bundle->version();
  answer.trial_days = rules.trial_days;
  // Read the listing index now rather than through the cache, so the
  // report reflects the latest catalog updates.
  const absl::Time store_deadline = std::min(deadline, absl::Now() + absl::Seconds(5));
  RECSYS_ASSIGN_OR_RETURN(
      std::shared_ptr<const TrialSnapshot> trial,
      BuildTrialSnapshot(*bundle, *features_, options_.trial_pool.max_items, store_deadline));
  std::vector<const TrialItem*> shown;
  std::vector<std::string> ids;
  for (const TrialItem& t : trial->items()) {
    if (t.listed > now) continue;
    if (now >= t.listed + absl::Hours(24) * (rules.trial_days + ended_within_days)) continue;
    shown.push_back(&t);
    ids.push_back(t.item_id);
  }
  std::vector<feature_store::TrialCounts> counts;
  if (!ids.empty()) {
    RECSYS_ASSIGN_OR_RETURN(counts, features_->GetTrialCounts(ids, store_deadline));
  }
  for (size_t i = 0; i < shown.size(); ++i) {
    const TrialItem& t = *shown[i];
    TrialItemReport r;
    r.item_id = t.item_id;
    r.category = t.category;
    r.title = t.title;
    r.listed = t.listed;
    r.day = static_cast<int>((now - t.listed) / absl::Hours(24));
    r.counts = counts[i];
    r.vector_source = t.vector_source;
    if (InTrialWindow(t, now, rules.trial_days)) {
      r.status = "in_trial";
    } else {
      r.status = r.counts.purchases >= rules.trial_graduation_purchases ? "graduated"
                                                                        : "slow_mover_candidate";
    }
    answer.items.push_back(std::move(r));
  }
  return answer;
}

}  // namespace recsys::recommender
