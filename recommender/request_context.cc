#include "recommender/request_context.h"

#include <algorithm>
#include <utility>

#include "absl/time/clock.h"
#include "model/fold_in.h"
#include "recommender/internal.h"
#include "recommender/rules/repurchase_window.h"
#include "recommender/rules/rotation.h"

namespace recsys::recommender {

using feature_store::ActivityRecord;
using feature_store::EventType;

UserState LoadUser(const model::ModelBundle& bundle, const feature_store::FeatureStore& store,
                   absl::string_view user_id, absl::Time deadline, AnswerMeta* meta) {
  UserState state;
  const int32_t user_row = bundle.UserRow(user_id);
  auto live = store.GetUser(user_id, deadline);
  if (live.ok()) {
    state.store_answered = state.store_found = true;
    state.purchases.reserve(live->purchases.size());
    state.bought_rows.reserve(live->purchases.size());
    for (auto& p : live->purchases) {
      const int32_t row = bundle.ItemRow(p.item_id);
      if (row >= 0) state.bought_rows.insert(row);
      state.purchases.push_back({std::move(p.item_id), p.count, p.last_purchase,
                                 row >= 0 ? bundle.item(row).category : ""});
    }
    state.recent = std::move(live->recent);
    state.impressions = std::move(live->impressions);
  } else if (absl::IsNotFound(live.status())) {
    state.store_answered = true;
  } else {
    internal::MarkDegraded(meta, live.status());
  }
  for (const model::HistoryEntry& h : bundle.history(user_row)) {
    state.bought_rows.insert(h.item);
    if (!state.store_found) {
      const model::ItemMeta& item = bundle.item(h.item);
      state.purchases.push_back(
          {item.item_id, h.count, absl::FromUnixSeconds(h.last_unix), item.category});
    }
  }
  std::sort(state.purchases.begin(), state.purchases.end(),
            [](const PurchaseView& a, const PurchaseView& b) {
              if (a.last_purchase != b.last_purchase) return a.last_purchase > b.last_purchase;
              return a.item_id < b.item_id;
            });
  return state;
}

RowFilter::RowFilter(const model::ModelBundle& bundle, const ItemFilters& filters,
                     const absl::flat_hash_set<int32_t>* excluded)
    : bundle_(bundle), filters_(filters), excluded_(excluded) {
  categories_.insert(filters.categories.begin(), filters.categories.end());
}

bool RowFilter::Allowed(int64_t id) const {
  if (id < 0 || id >= bundle_.num_items()) return false;
  const int32_t row = static_cast<int32_t>(id);
  if (excluded_->contains(row)) return false;
  const model::ItemMeta& item = bundle_.item(row);
  if (!categories_.empty() && !categories_.contains(item.category)) return false;
  if (filters_.min_price > 0 && item.price < filters_.min_price) return false;
  if (filters_.max_price > 0 && item.price > filters_.max_price) return false;
  return true;
}

const feature_store::ItemFeatures* ItemFeatureLookup::Of(int32_t row) const {
  auto it = at_.find(row);
  if (it == at_.end() || it->second >= features_.size()) return nullptr;
  const auto& f = features_[it->second];
  return f.has_value() ? &*f : nullptr;
}

const std::optional<feature_store::ItemFeatures>* ItemFeatureLookup::OfNew(
    absl::string_view item_id) const {
  auto it = new_at_.find(item_id);
  if (it == new_at_.end() || it->second >= features_.size()) return nullptr;
  return &features_[it->second];
}

namespace {

// Anchors, history and fold-in inputs from the user's purchases and recent
// activity; then the query vector: trained, unless the user has activity
// newer than the model's data (or is unknown to it), in which case it is
// folded in from everything the store knows, so the next answer follows the
// events.
void ResolveUserSignal(const RecommenderOptions& options, RequestContext* ctx) {
  const model::ModelBundle& bundle = *ctx->bundle;
  const UserState& user = ctx->user;
  std::vector<model::WeightedItem> fold_in;
  ctx->anchors.reserve(
      std::min<size_t>(options.max_history_anchors, user.purchases.size() + user.recent.size()));
  fold_in.reserve(user.purchases.size() + user.recent.size());
  ctx->history.reserve(user.purchases.size());
  for (const PurchaseView& p : user.purchases) {
    const int32_t row = bundle.ItemRow(p.item_id);
    if (row < 0) continue;
    ctx->history.push_back({row, p.count, absl::ToUnixSeconds(p.last_purchase)});
    fold_in.push_back({row, static_cast<float>(std::max(1, p.count))});
    if (static_cast<int>(ctx->anchors.size()) < options.max_history_anchors) {
      ctx->anchors.push_back({row, true});
    }
  }
  absl::flat_hash_set<int32_t> seen_recent;
  for (const ActivityRecord& a : user.recent) {
    if (a.type == EventType::kPurchase || a.type == EventType::kImpression) continue;
    const int32_t row = bundle.ItemRow(a.item_id);
    if (row < 0 || !seen_recent.insert(row).second) continue;
    if (static_cast<int>(ctx->anchors.size()) < options.max_history_anchors) {
      ctx->anchors.push_back({row, false});
    }
    fold_in.push_back(
        {row, a.type == EventType::kAddToCart ? options.cart_strength : options.view_strength});
  }

  const int32_t user_row = bundle.UserRow(ctx->request->user_id);
  const int64_t model_until = bundle.manifest().data().last_event_unix();
  bool newer_activity = false;
  for (const ActivityRecord& a : user.recent) {
    if (a.type != EventType::kImpression && absl::ToUnixSeconds(a.time) > model_until) {
      newer_activity = true;
      break;
    }
  }
  if ((user_row < 0 || newer_activity) && !fold_in.empty()) {
    auto folded = model::FoldInUser(bundle, fold_in);
    if (folded.ok()) {
      ctx->query = *std::move(folded);
      ctx->folded_in = true;
    }
  }
  if (ctx->query.empty() && user_row >= 0) {
    absl::Span<const float> v = bundle.user_vector(user_row);
    ctx->query.assign(v.begin(), v.end());
  }
}

// Each slot's rule: configured (owned by the plan), or the default for its
// name (owned by ctx->default_rules, which never reallocates); and the time
// rules active for it.
void ResolveSlots(const RecommenderOptions& options, RequestContext* ctx) {
  const ProductRequest& request = *ctx->request;
  const SlotPlan* plan = ctx->plan.get();
  ctx->slot_rules.reserve(request.slots.size());
  ctx->default_rules.reserve(request.slots.size());
  for (size_t s = 0; s < request.slots.size(); ++s) {
    const SlotSpec& slot = request.slots[s];
    const SlotRule* configured = s < ctx->treatment.slot_rules.size() ? ctx->treatment.slot_rules[s]
                                                                      : nullptr;
    if (configured == nullptr && plan != nullptr) configured = plan->Find(slot.name);
    if (configured != nullptr) {
      ctx->slot_rules.push_back(configured);
    } else {
      SlotRule& rule = ctx->default_rules.emplace_back();
      rule.name = slot.name;
      rule.sources = {
          {options.blended_slots.contains(slot.name) ? Source::kBlended : Source::kPersonalized,
           1.0f}};
      ctx->slot_rules.push_back(&rule);
    }
  }
  ctx->active.resize(request.slots.size());
  for (size_t s = 0; s < request.slots.size() && plan != nullptr; ++s) {
    ctx->active[s] = plan->ActiveRules(request.slots[s].name, ctx->now);
  }
}

}  // namespace

std::unique_ptr<RequestContext> BuildRequestContext(
    const ProductRequest& request, std::shared_ptr<const model::ModelBundle> bundle, UserState user,
    std::shared_ptr<const SlotPlan> plan, const RecommenderOptions& options,
    Treatment treatment, std::shared_ptr<const ExperimentVariants> experiments) {
  static const Rules* const kNoRules = new Rules();
  auto ctx = std::make_unique<RequestContext>();
  ctx->treatment = std::move(treatment);
  ctx->experiments = std::move(experiments);
  ctx->request = &request;
  ctx->bundle = std::move(bundle);
  ctx->plan = std::move(plan);
  ctx->user = std::move(user);
  const model::ModelBundle& model = *ctx->bundle;
  ctx->rules = ctx->plan != nullptr ? &ctx->plan->rules() : kNoRules;
  ctx->now = request.now == absl::InfinitePast() ? absl::Now() : request.now;
  ctx->now_unix = absl::ToUnixSeconds(ctx->now);
  for (const SlotSpec& slot : request.slots) ctx->total_k += slot.k;
  ctx->fetch_k = 2 * ctx->total_k + 10;

  // Items never shown: request exclusions. Discovery slots also skip what
  // the user bought; blended slots may bring it back as a repurchase.
  for (const std::string& id : request.filters.exclude_item_ids) {
    const int32_t row = model.ItemRow(id);
    if (row >= 0) ctx->request_excluded.insert(row);
  }
  ctx->excluded.reserve(ctx->request_excluded.size() + ctx->user.bought_rows.size());
  ctx->excluded.insert(ctx->request_excluded.begin(), ctx->request_excluded.end());
  ctx->excluded.insert(ctx->user.bought_rows.begin(), ctx->user.bought_rows.end());

  ResolveUserSignal(options, ctx.get());
  ResolveSlots(options, ctx.get());

  for (const model::HistoryEntry& h : ctx->history) ctx->bought[h.item] = &h;
  ctx->not_due = NotDueRows(model, *ctx->rules, ctx->bought, ctx->user.bought_rows, ctx->now_unix);
  ctx->repurchase_excluded.reserve(ctx->request_excluded.size() + ctx->not_due.size());
  ctx->repurchase_excluded.insert(ctx->request_excluded.begin(), ctx->request_excluded.end());
  ctx->repurchase_excluded.insert(ctx->not_due.begin(), ctx->not_due.end());
  ctx->filter = std::make_unique<RowFilter>(model, request.filters, &ctx->excluded);
  ctx->repurchase_filter =
      std::make_unique<RowFilter>(model, request.filters, &ctx->repurchase_excluded);

  ctx->rotated = RotatedRows(model, ctx->user.impressions, ctx->rules->rotation_impressions);
  ctx->rotated_ids = RotatedIds(ctx->user.impressions, ctx->rules->rotation_impressions);
  return ctx;
}

void LoadUserIntel(const intelligence::IntelStore* intel, absl::Time deadline,
                   RequestContext* ctx) {
  if (intel == nullptr) return;
  bool buy_again = false;
  bool trial = false;
  for (const SlotRule* rule : ctx->slot_rules) {
    for (const auto& [source, weight] : rule->sources) {
      buy_again = buy_again || source == Source::kBuyAgain;
    }
    trial = trial || rule->trial_share > 0;
  }
  buy_again = buy_again && !ctx->bought.empty();
  const bool early_access = trial && !ctx->rules->early_access_days.empty();
  if (!buy_again && !early_access) return;
  absl::StatusOr<intelligence::UserIntel> record =
      intel->GetIntel(ctx->request->user_id, deadline);
  if (!record.ok()) return;
  if (early_access && !record->growth_tier.empty()) {
    auto it = ctx->rules->early_access_days.find(record->growth_tier);
    if (it != ctx->rules->early_access_days.end()) ctx->early_access_days = it->second;
  }
  if (!buy_again) return;
  for (const intelligence::DueItem& d : record->due_items) {
    if (d.due_unix <= 0 || !(d.cycle_days > 0)) continue;
    const int32_t row = ctx->model().ItemRow(d.item_id);
    auto bought = ctx->bought.find(row);
    if (row < 0 || bought == ctx->bought.end()) continue;
    const int64_t cycle_seconds = static_cast<int64_t>(d.cycle_days * 86400);
    ctx->cycles[row] = {std::max(d.due_unix, bought->second->last_unix + cycle_seconds),
                        d.cycle_days};
  }
}

void FetchItemFeatures(const CandidateLists& lists, const feature_store::FeatureStore& store,
                       absl::Time deadline, RequestContext* ctx, AnswerMeta* meta) {
  const model::ModelBundle& bundle = *ctx->bundle;
  ItemFeatureLookup& out = ctx->features;
  const auto& popular = bundle.popular();
  std::vector<std::string> feature_ids;
  {
    size_t wanted = ctx->trial_items.size() + static_cast<size_t>(ctx->fetch_k) + 50;
    for (const auto& [source, list] : lists) wanted += list.candidates.size();
    feature_ids.reserve(wanted);
    out.at_.reserve(wanted);
  }
  auto want_features = [&](int32_t row) {
    if (out.at_.emplace(row, feature_ids.size()).second) {
      feature_ids.push_back(bundle.item(row).item_id);
    }
  };
  for (const auto& [source, list] : lists) {
    for (const Candidate& c : list.candidates) want_features(c.row);
  }
  // The popular fill can use at most this prefix of the popularity list:
  // twice what the request asks for, plus what the user bought (skipped),
  // plus slack. Features are checked for these only (each costs the store
  // one read), and items past the prefix are never shown.
  out.popular_prefix_ =
      std::min(popular.size(), static_cast<size_t>(ctx->fetch_k) +
                                   std::min<size_t>(ctx->user.bought_rows.size(), 50));
  for (size_t i = 0; i < out.popular_prefix_; ++i) want_features(popular[i]);
  for (const auto& rules_of_slot : ctx->active) {
    for (const TimeRule* r : rules_of_slot) {
      for (const std::string& id : r->pinned_items) {
        const int32_t row = bundle.ItemRow(id);
        if (row >= 0) want_features(row);
      }
    }
  }
  for (const TrialItem* t : ctx->trial_items) {
    if (t->row >= 0) {
      want_features(t->row);
    } else if (out.new_at_.emplace(t->item_id, feature_ids.size()).second) {
      feature_ids.push_back(t->item_id);
    }
  }
  if (feature_ids.empty()) return;
  auto fetched = store.GetItems(feature_ids, deadline);
  if (fetched.ok()) {
    out.features_ = *std::move(fetched);
  } else {
    out.known_ = false;
    if (!meta->degraded) internal::MarkDegraded(meta, fetched.status());
  }
}

}  // namespace recsys::recommender
