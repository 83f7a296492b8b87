#include "recommender/recommender.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "recommender/fold_in.h"
#include "recommender/ranker.h"

namespace recsys::recommender {
namespace {

using feature_store::ActivityRecord;
using feature_store::EventType;

constexpr size_t kMaxIdLength = 256;

// Everything known about the user for one request.
struct UserState {
  // Live purchases (store) when available, else training-time history.
  std::vector<PurchaseView> purchases;
  std::vector<ActivityRecord> recent;
  // Item rows the user bought (live and training history), never
  // recommended again.
  absl::flat_hash_set<int32_t> bought_rows;
  // True when the store answered (found or not found).
  bool store_answered = false;
  bool store_found = false;
};

absl::Status CheckId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": must not be empty"));
  if (id.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": longer than ", kMaxIdLength, " bytes"));
  }
  return absl::OkStatus();
}

absl::Time FeatureDeadline(absl::Time deadline, absl::Duration timeout) {
  return std::min(deadline, absl::Now() + timeout);
}

void MarkDegraded(AnswerMeta* meta, const absl::Status& status) {
  meta->degraded = true;
  meta->degraded_reason =
      absl::StrCat("feature store unavailable (", absl::StatusCodeToString(status.code()),
                   ": ", status.message(), "); answered from the model alone");
}

// Reads the user from the store (degrading on failure) and merges the
// model's training-time history.
UserState LoadUser(const ModelBundle& bundle, const feature_store::FeatureStore& store,
                   absl::string_view user_id, absl::Time deadline, AnswerMeta* meta) {
  UserState state;
  const int32_t user_row = bundle.UserRow(user_id);
  auto live = store.GetUser(user_id, deadline);
  if (live.ok()) {
    state.store_answered = state.store_found = true;
    for (const auto& p : live->purchases) {
      const int32_t row = bundle.ItemRow(p.item_id);
      if (row >= 0) state.bought_rows.insert(row);
      state.purchases.push_back({p.item_id, p.count, p.last_purchase,
                                 row >= 0 ? bundle.item(row).category : ""});
    }
    state.recent = std::move(live->recent);
  } else if (absl::IsNotFound(live.status())) {
    state.store_answered = true;
  } else {
    MarkDegraded(meta, live.status());
  }
  for (const HistoryEntry& h : bundle.history(user_row)) {
    state.bought_rows.insert(h.item);
    if (!state.store_found) {
      const ItemMeta& item = bundle.item(h.item);
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

// Allows items that pass the request filters and are not excluded.
class RowFilter : public IdFilter {
 public:
  RowFilter(const ModelBundle& bundle, const ItemFilters& filters,
            const absl::flat_hash_set<int32_t>* excluded)
      : bundle_(bundle), filters_(filters), excluded_(excluded) {
    categories_.insert(filters.categories.begin(), filters.categories.end());
  }
  bool Allowed(int64_t id) const override {
    if (id < 0 || id >= bundle_.num_items()) return false;
    const int32_t row = static_cast<int32_t>(id);
    if (excluded_->contains(row)) return false;
    const ItemMeta& item = bundle_.item(row);
    if (!categories_.empty() && !categories_.contains(item.category)) return false;
    if (filters_.min_price > 0 && item.price < filters_.min_price) return false;
    if (filters_.max_price > 0 && item.price > filters_.max_price) return false;
    return true;
  }

 private:
  const ModelBundle& bundle_;
  const ItemFilters& filters_;
  const absl::flat_hash_set<int32_t>* excluded_;
  absl::flat_hash_set<std::string> categories_;
};

float Cosine(absl::Span<const float> a, absl::Span<const float> b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
  }
  if (na <= 0 || nb <= 0) return 0;
  return static_cast<float>(dot / std::sqrt(na * nb));
}

const std::string& Label(const ItemMeta& item) {
  return item.title.empty() ? item.item_id : item.title;
}

// An explanation anchor: an item from the user's own activity.
struct Anchor {
  int32_t row;
  bool bought;
};

ScoredItem MakeItem(const ModelBundle& bundle, int32_t row, float score,
                    Explanation reason) {
  const ItemMeta& item = bundle.item(row);
  return ScoredItem{item.item_id, score, std::move(reason), item.category, item.price};
}

// Explains a personalized item by the anchor item most similar to it.
Explanation ExplainPersonalized(const ModelBundle& bundle, int32_t row,
                                const std::vector<Anchor>& anchors) {
  Explanation e;
  e.code = ReasonCode::kPersonalized;
  float best = -2;
  const Anchor* best_anchor = nullptr;
  bool viewed_itself = false;
  for (const Anchor& a : anchors) {
    if (a.row == row) {
      viewed_itself = true;  // a viewed (never bought) item recommended again
      continue;
    }
    const float c = Cosine(bundle.item_vector(row), bundle.item_vector(a.row));
    if (c > best) {
      best = c;
      best_anchor = &a;
    }
  }
  if (viewed_itself) {
    e.anchor_item_id = bundle.item(row).item_id;
    e.anchor_category = bundle.item(row).category;
    e.text = "you viewed this recently";
    return e;
  }
  if (best_anchor == nullptr) {
    e.text = "matches your taste profile";
    return e;
  }
  const ItemMeta& anchor = bundle.item(best_anchor->row);
  e.anchor_item_id = anchor.item_id;
  e.anchor_category = anchor.category;
  e.text = absl::StrCat("similar to ", Label(anchor),
                        best_anchor->bought ? " you bought" : " you viewed");
  return e;
}

}  // namespace

Recommender::Recommender(const ModelStore* models, feature_store::FeatureStore* features,
                         const RecommenderOptions& options)
    : models_(models), features_(features), options_(options) {}

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

absl::StatusOr<ProductAnswer> Recommender::RecommendProducts(
    const ProductRequest& request) const {
  RECSYS_RETURN_IF_ERROR(CheckId("user_id", request.user_id));
  if (request.slots.empty()) {
    return absl::InvalidArgumentError("slots: at least one slot is required");
  }
  if (static_cast<int>(request.slots.size()) > options_.max_slots) {
    return absl::InvalidArgumentError(absl::StrCat(
        "slots: at most ", options_.max_slots, " slots, got ", request.slots.size()));
  }
  int total_k = 0;
  for (size_t i = 0; i < request.slots.size(); ++i) {
    const int k = request.slots[i].k;
    if (k < 1 || k > options_.max_k) {
      return absl::InvalidArgumentError(absl::StrCat(
          "slots[", i, "].k: must be in [1, ", options_.max_k, "], got ", k));
    }
    total_k += k;
  }
  RECSYS_RETURN_IF_ERROR(ValidateFilters(request.filters));

  const std::shared_ptr<const ModelBundle> bundle = models_->Current();
  ProductAnswer answer;
  answer.meta.model_version = bundle->version();
  UserState user = LoadUser(*bundle, *features_, request.user_id,
                            FeatureDeadline(request.deadline, options_.feature_timeout),
                            &answer.meta);

  // Items never shown: request exclusions. Discovery slots also skip what
  // the user bought; blended slots may bring it back as a repurchase.
  absl::flat_hash_set<int32_t> request_excluded;
  for (const std::string& id : request.filters.exclude_item_ids) {
    const int32_t row = bundle->ItemRow(id);
    if (row >= 0) request_excluded.insert(row);
  }
  absl::flat_hash_set<int32_t> excluded = request_excluded;
  excluded.insert(user.bought_rows.begin(), user.bought_rows.end());

  // Anchors for explanations and fold-in: recent purchases, then recent
  // non-purchase activity.
  std::vector<Anchor> anchors;
  std::vector<WeightedItem> fold_in;
  std::vector<HistoryEntry> history;
  for (const PurchaseView& p : user.purchases) {
    const int32_t row = bundle->ItemRow(p.item_id);
    if (row < 0) continue;
    history.push_back({row, p.count, absl::ToUnixSeconds(p.last_purchase)});
    if (static_cast<int>(anchors.size()) >= options_.max_history_anchors) continue;
    anchors.push_back({row, true});
    fold_in.push_back({row, static_cast<float>(std::max(1, p.count))});
  }
  absl::flat_hash_set<int32_t> seen_recent;
  for (const ActivityRecord& a : user.recent) {
    if (a.type == EventType::kPurchase || a.type == EventType::kImpression) continue;
    const int32_t row = bundle->ItemRow(a.item_id);
    if (row < 0 || !seen_recent.insert(row).second) continue;
    if (static_cast<int>(anchors.size()) < options_.max_history_anchors) {
      anchors.push_back({row, false});
    }
    fold_in.push_back({row, a.type == EventType::kAddToCart ? options_.cart_strength
                                                            : options_.view_strength});
  }

  std::vector<float> query;
  const int32_t user_row = bundle->UserRow(request.user_id);
  if (user_row >= 0) {
    absl::Span<const float> v = bundle->user_vector(user_row);
    query.assign(v.begin(), v.end());
  } else if (!fold_in.empty()) {
    auto folded = FoldInUser(*bundle, fold_in);
    if (folded.ok()) query = *std::move(folded);
  }

  bool any_blended = false, any_discovery = false;
  for (const SlotSpec& slot : request.slots) {
    (options_.blended_slots.contains(slot.name) ? any_blended : any_discovery) = true;
  }
  RowFilter filter(*bundle, request.filters, &excluded);
  // With both kinds of slot the rankings may overlap; fetch enough of each.
  const int fetch_k = any_blended && any_discovery ? 2 * total_k : total_k;

  // Discovery: nearest unbought items by the user's vector.
  std::vector<ScoredItem> discovery;
  if (any_discovery && !query.empty()) {
    SearchOptions search_options;
    search_options.filter = &filter;
    RECSYS_ASSIGN_OR_RETURN(std::vector<Neighbor> hits,
                            bundle->ip_index().Search(query, fetch_k, search_options));
    for (const Neighbor& n : hits) {
      const int32_t row = static_cast<int32_t>(n.id);
      discovery.push_back(
          MakeItem(*bundle, row, n.score, ExplainPersonalized(*bundle, row, anchors)));
    }
  }
  // Blended: the production ranker over repurchase and discovery.
  std::vector<ScoredItem> blended;
  if (any_blended && (!query.empty() || !history.empty())) {
    RowFilter blended_filter(*bundle, request.filters, &request_excluded);
    const RankerModel ranker = bundle->ranker_model();
    RankerUser ranker_user;
    ranker_user.vector = query;
    ranker_user.history = history;
    RankOptions rank_options;
    rank_options.k = fetch_k;
    rank_options.now_unix = absl::ToUnixSeconds(
        request.now == absl::InfinitePast() ? absl::Now() : request.now);
    rank_options.vector_candidates = std::max(options_.ranker_candidates, fetch_k);
    rank_options.filter = &blended_filter;
    RECSYS_ASSIGN_OR_RETURN(std::vector<RankedItem> ranked,
                            RankItems(ranker, ranker_user, rank_options));
    for (const RankedItem& r : ranked) {
      Explanation e;
      if (r.bought) {
        e.code = ReasonCode::kBuyAgain;
        e.anchor_item_id = bundle->item(r.item).item_id;
        e.anchor_category = bundle->item(r.item).category;
        const HistoryEntry* h = nullptr;
        for (const HistoryEntry& entry : history) {
          if (entry.item == r.item) h = &entry;
        }
        e.text = h == nullptr
                     ? "you bought this before"
                     : absl::StrCat("you bought this ", h->count, h->count == 1 ? " time" : " times",
                                    ", last on ",
                                    absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(h->last_unix),
                                                     absl::UTCTimeZone()));
      } else {
        e = ExplainPersonalized(*bundle, r.item, anchors);
      }
      blended.push_back(MakeItem(*bundle, r.item, r.score, std::move(e)));
    }
  }

  // Slots in request order, each from its ranking, never repeating an item;
  // popular items fill what is left (and serve users with no signal).
  const auto& popular = bundle->popular();
  const double top_buyers =
      popular.empty() ? 1.0 : std::max(1, bundle->item(popular.front()).buyers);
  absl::flat_hash_set<std::string> chosen;
  size_t next_discovery = 0, next_blended = 0, next_popular = 0;
  for (const SlotSpec& slot : request.slots) {
    const bool is_blended = options_.blended_slots.contains(slot.name);
    std::vector<ScoredItem>& source = is_blended ? blended : discovery;
    size_t& next = is_blended ? next_blended : next_discovery;
    SlotAnswer out;
    out.name = slot.name;
    while (static_cast<int>(out.items.size()) < slot.k && next < source.size()) {
      ScoredItem& item = source[next++];
      if (chosen.insert(item.item_id).second) out.items.push_back(std::move(item));
    }
    while (static_cast<int>(out.items.size()) < slot.k && next_popular < popular.size()) {
      const int32_t row = popular[next_popular++];
      if (!filter.Allowed(row) || chosen.contains(bundle->item(row).item_id)) continue;
      chosen.insert(bundle->item(row).item_id);
      Explanation e;
      e.code = ReasonCode::kPopular;
      e.anchor_category = bundle->item(row).category;
      e.text = bundle->item(row).category.empty()
                   ? "popular in the shop"
                   : absl::StrCat("popular in ", bundle->item(row).category);
      out.items.push_back(MakeItem(*bundle, row,
                                   static_cast<float>(bundle->item(row).buyers / top_buyers),
                                   std::move(e)));
    }
    answer.slots.push_back(std::move(out));
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

  const std::shared_ptr<const ModelBundle> bundle = models_->Current();
  SimilarAnswer answer;
  answer.meta.model_version = bundle->version();
  const int32_t item_row = bundle->ItemRow(request.item_id);
  if (item_row < 0) {
    return absl::NotFoundError(
        absl::StrCat("item_id: unknown item '", request.item_id, "'"));
  }
  absl::flat_hash_set<int32_t> excluded = {item_row};
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
  RowFilter filter(*bundle, request.filters, &excluded);
  SearchOptions search_options;
  search_options.filter = &filter;
  RECSYS_ASSIGN_OR_RETURN(
      std::vector<Neighbor> hits,
      bundle->cos_index().Search(bundle->item_vector(item_row), request.k, search_options));
  const ItemMeta& anchor = bundle->item(item_row);
  for (const Neighbor& n : hits) {
    Explanation e;
    e.code = ReasonCode::kSimilarToItem;
    e.anchor_item_id = anchor.item_id;
    e.anchor_category = anchor.category;
    e.text = absl::StrCat("similar to ", Label(anchor));
    answer.items.push_back(MakeItem(*bundle, static_cast<int32_t>(n.id), n.score, std::move(e)));
  }
  return answer;
}

absl::StatusOr<EventsAnswer> Recommender::RecordEvents(
    const std::vector<feature_store::Event>& events, absl::Time deadline) const {
  if (events.empty()) return absl::InvalidArgumentError("events: at least one event is required");
  if (static_cast<int>(events.size()) > options_.max_events) {
    return absl::InvalidArgumentError(absl::StrCat(
        "events: at most ", options_.max_events, " events, got ", events.size()));
  }
  EventsAnswer answer;
  answer.meta.model_version = models_->Current()->version();
  std::vector<feature_store::Event> valid;
  valid.reserve(events.size());
  const absl::Time now = absl::Now();
  for (size_t i = 0; i < events.size(); ++i) {
    const feature_store::Event& e = events[i];
    const std::string prefix = absl::StrCat("events[", i, "].");
    absl::Status st = CheckId(prefix + "user_id", e.user_id);
    const int type = static_cast<int>(e.type);
    if (st.ok() && (type < static_cast<int>(EventType::kView) ||
                    type > static_cast<int>(EventType::kCouponRedeemed))) {
      st = absl::InvalidArgumentError(
          absl::StrCat(prefix, "type: must be set to a known event type"));
    }
    if (st.ok() && (e.type == EventType::kCouponIssued || e.type == EventType::kCouponRedeemed)) {
      st = absl::InvalidArgumentError(
          absl::StrCat(prefix, "type: coupon events are not supported by this server yet"));
    }
    if (st.ok()) st = CheckId(prefix + "item_id", e.item_id);
    if (st.ok() && e.quantity < 0) {
      st = absl::InvalidArgumentError(absl::StrCat(prefix, "quantity: must be >= 0"));
    }
    if (st.ok() && (e.price < 0 || !std::isfinite(e.price))) {
      st = absl::InvalidArgumentError(absl::StrCat(prefix, "price: must be finite and >= 0"));
    }
    if (st.ok() && e.time > now + absl::Hours(24)) {
      st = absl::InvalidArgumentError(
          absl::StrCat(prefix, "timestamp_unix: more than a day in the future"));
    }
    if (!st.ok()) {
      answer.rejected.emplace_back(static_cast<int>(i), std::string(st.message()));
      continue;
    }
    valid.push_back(e);
    if (valid.back().time == absl::UnixEpoch()) valid.back().time = now;
    if (valid.back().quantity == 0) valid.back().quantity = 1;
  }
  if (valid.empty()) return absl::InvalidArgumentError(answer.rejected.front().second);
  absl::Status st =
      features_->RecordEvents(valid, FeatureDeadline(deadline, options_.feature_timeout * 4));
  if (!st.ok()) {
    if (absl::IsInvalidArgument(st)) return st;
    return absl::UnavailableError(absl::StrCat(
        "feature store did not confirm the events (", st.message(), "); retry the batch"));
  }
  answer.accepted = static_cast<int>(valid.size());
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
  const std::shared_ptr<const ModelBundle> bundle = models_->Current();
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

}  // namespace recsys::recommender
