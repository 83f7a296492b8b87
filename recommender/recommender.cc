#include "recommender/recommender.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "model/fold_in.h"
#include "model/ranker.h"
#include "recommender/trial_pool.h"

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
  std::vector<ActivityRecord> impressions;
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
    MarkDegraded(meta, live.status());
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

// Allows items that pass the request filters and are not excluded.
class RowFilter : public model::IdFilter {
 public:
  RowFilter(const model::ModelBundle& bundle, const ItemFilters& filters,
            const absl::flat_hash_set<int32_t>* excluded)
      : bundle_(bundle), filters_(filters), excluded_(excluded) {
    categories_.insert(filters.categories.begin(), filters.categories.end());
  }
  bool Allowed(int64_t id) const override {
    if (id < 0 || id >= bundle_.num_items()) return false;
    const int32_t row = static_cast<int32_t>(id);
    if (excluded_->contains(row)) return false;
    const model::ItemMeta& item = bundle_.item(row);
    if (!categories_.empty() && !categories_.contains(item.category)) return false;
    if (filters_.min_price > 0 && item.price < filters_.min_price) return false;
    if (filters_.max_price > 0 && item.price > filters_.max_price) return false;
    return true;
  }

 private:
  const model::ModelBundle& bundle_;
  const ItemFilters& filters_;
  const absl::flat_hash_set<int32_t>* excluded_;
  absl::flat_hash_set<std::string> categories_;
};

// Cosine of two item vectors, in double, from the norms the bundle computed
// at load; 0 when either vector is zero.
float ItemCosine(const model::ModelBundle& bundle, int32_t a, int32_t b) {
  const double na = bundle.item_squared_norm(a);
  const double nb = bundle.item_squared_norm(b);
  if (na <= 0 || nb <= 0) return 0;
  absl::Span<const float> va = bundle.item_vector(a);
  absl::Span<const float> vb = bundle.item_vector(b);
  double dot = 0;
  for (size_t i = 0; i < va.size(); ++i) dot += static_cast<double>(va[i]) * vb[i];
  return static_cast<float>(dot / std::sqrt(na * nb));
}

const std::string& Label(const model::ItemMeta& item) {
  return item.title.empty() ? item.item_id : item.title;
}

// An explanation anchor: an item from the user's own activity.
struct Anchor {
  int32_t row;
  bool bought;
};

// A number in [0, 1) fixed by the request (user, a key, time), so a request
// replayed gets the same answer while many requests average out.
double RequestUniform(absl::string_view user_id, absl::string_view key, absl::Time now) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  auto mix = [&h](absl::string_view bytes) {
    for (unsigned char c : bytes) {
      h ^= c;
      h *= 1099511628211ull;
    }
    h ^= 0xff;
    h *= 1099511628211ull;
  };
  mix(user_id);
  mix(key);
  mix(absl::AlphaNum(absl::ToUnixNanos(now)).Piece());
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return static_cast<double>(h >> 11) * 0x1.0p-53;
}

float Dot(absl::Span<const float> a, absl::Span<const float> b) {
  if (a.size() != b.size()) return 0;
  float sum = 0;
  for (size_t i = 0; i < a.size(); ++i) sum += a[i] * b[i];
  return sum;
}

ScoredItem MakeItem(const model::ModelBundle& bundle, int32_t row, float score,
                    Explanation reason) {
  const model::ItemMeta& item = bundle.item(row);
  return ScoredItem{item.item_id, score, std::move(reason), item.category, item.price};
}

// Explains a personalized item by the anchor item most similar to it.
Explanation ExplainPersonalized(const model::ModelBundle& bundle, int32_t row,
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
    const float c = ItemCosine(bundle, row, a.row);
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
  const model::ItemMeta& anchor = bundle.item(best_anchor->row);
  e.anchor_item_id = anchor.item_id;
  e.anchor_category = anchor.category;
  e.text = absl::StrCat("similar to ", Label(anchor),
                        best_anchor->bought ? " you bought" : " you viewed");
  return e;
}

Explanation ExplainBuyAgain(const model::ModelBundle& bundle, const model::HistoryEntry& h) {
  Explanation e;
  e.code = ReasonCode::kBuyAgain;
  e.anchor_item_id = bundle.item(h.item).item_id;
  e.anchor_category = bundle.item(h.item).category;
  e.text = absl::StrCat(
      "you bought this ", h.count, h.count == 1 ? " time" : " times", ", last on ",
      absl::FormatTime("%Y-%m-%d", absl::FromUnixSeconds(h.last_unix), absl::UTCTimeZone()));
  return e;
}

// An item proposed by one candidate source, with what explains it. The
// Explanation itself (strings, and for personalized items a cosine per
// anchor) is built by ExplainCandidate only for the items an answer shows,
// a few of the sources' candidates.
struct Candidate {
  int32_t row;
  float score;
  // kPersonalized, kBuyAgain, kSimilarToItem, kTrending,
  // kBundleComplement or kCategoryBestseller.
  ReasonCode code;
  // kSimilarToItem, kBundleComplement: the user's item it is similar to /
  // bought with.
  int32_t anchor = -1;
  // kSimilarToItem: the user bought the anchor (else viewed it).
  bool anchor_bought = false;
  // kBuyAgain: the purchase; points into the request's history.
  const model::HistoryEntry* purchase = nullptr;
};

Explanation ExplainCandidate(const model::ModelBundle& bundle, const Candidate& c,
                             const std::vector<Anchor>& anchors) {
  switch (c.code) {
    case ReasonCode::kPersonalized:
      return ExplainPersonalized(bundle, c.row, anchors);
    case ReasonCode::kBuyAgain:
      return ExplainBuyAgain(bundle, *c.purchase);
    default:
      break;
  }
  Explanation e;
  e.code = c.code;
  switch (c.code) {
    case ReasonCode::kSimilarToItem: {
      const model::ItemMeta& anchor = bundle.item(c.anchor);
      e.anchor_item_id = anchor.item_id;
      e.anchor_category = anchor.category;
      e.text = absl::StrCat("similar to ", Label(anchor),
                            c.anchor_bought ? " you bought recently" : " you viewed recently");
      break;
    }
    case ReasonCode::kBundleComplement: {
      const model::ItemMeta& anchor = bundle.item(c.anchor);
      e.anchor_item_id = anchor.item_id;
      e.anchor_category = anchor.category;
      e.text = absl::StrCat("often bought with ", Label(anchor));
      break;
    }
    case ReasonCode::kTrending:
      e.anchor_category = bundle.item(c.row).category;
      e.text = "trending in the shop";
      break;
    case ReasonCode::kCategoryBestseller:
      // The source reads model::ModelBundle::category_popular, whose lists hold
      // items of that category only.
      e.anchor_category = bundle.item(c.row).category;
      e.text = absl::StrCat("best seller in ", e.anchor_category);
      break;
    default:
      break;
  }
  return e;
}

}  // namespace

void Recommender::SetSlotPlan(std::shared_ptr<const SlotPlan> plan) {
  absl::MutexLock lock(&plan_mu_);
  plan_ = std::move(plan);
}

std::shared_ptr<const SlotPlan> Recommender::slot_plan() const {
  absl::MutexLock lock(&plan_mu_);
  return plan_;
}

Recommender::Recommender(const model::ModelStore* models, feature_store::FeatureStore* features,
                         const RecommenderOptions& options)
    : models_(models),
      features_(features),
      options_(options),
      trial_pool_(std::make_unique<TrialPool>(features, options.trial_pool)) {}

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

  const std::shared_ptr<const model::ModelBundle> bundle = models_->Current();
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
  absl::flat_hash_set<int32_t> excluded;
  excluded.reserve(request_excluded.size() + user.bought_rows.size());
  excluded.insert(request_excluded.begin(), request_excluded.end());
  excluded.insert(user.bought_rows.begin(), user.bought_rows.end());

  // Anchors for explanations and fold-in: recent purchases, then recent
  // non-purchase activity.
  std::vector<Anchor> anchors;
  std::vector<model::WeightedItem> fold_in;
  std::vector<model::HistoryEntry> history;
  anchors.reserve(std::min<size_t>(options_.max_history_anchors,
                                   user.purchases.size() + user.recent.size()));
  fold_in.reserve(user.purchases.size() + user.recent.size());
  history.reserve(user.purchases.size());
  for (const PurchaseView& p : user.purchases) {
    const int32_t row = bundle->ItemRow(p.item_id);
    if (row < 0) continue;
    history.push_back({row, p.count, absl::ToUnixSeconds(p.last_purchase)});
    fold_in.push_back({row, static_cast<float>(std::max(1, p.count))});
    if (static_cast<int>(anchors.size()) < options_.max_history_anchors) {
      anchors.push_back({row, true});
    }
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

  // The user's vector: trained, unless the user has activity newer than the
  // model's data (or is unknown to it), in which case it is folded in from
  // everything the store knows, so the next answer follows the events.
  std::vector<float> query;
  const int32_t user_row = bundle->UserRow(request.user_id);
  const int64_t model_until = bundle->manifest().data().last_event_unix();
  bool newer_activity = false;
  for (const ActivityRecord& a : user.recent) {
    if (a.type != EventType::kImpression && absl::ToUnixSeconds(a.time) > model_until) {
      newer_activity = true;
      break;
    }
  }
  if ((user_row < 0 || newer_activity) && !fold_in.empty()) {
    auto folded = model::FoldInUser(*bundle, fold_in);
    if (folded.ok()) query = *std::move(folded);
  }
  if (query.empty() && user_row >= 0) {
    absl::Span<const float> v = bundle->user_vector(user_row);
    query.assign(v.begin(), v.end());
  }

  const std::shared_ptr<const SlotPlan> plan = slot_plan();
  static const Rules* const kNoRules = new Rules();
  const Rules& rules = plan != nullptr ? plan->rules() : *kNoRules;
  const absl::Time now = request.now == absl::InfinitePast() ? absl::Now() : request.now;
  const int64_t now_unix = absl::ToUnixSeconds(now);

  // Each slot's rule: configured (owned by `plan`), or the default for its
  // name (owned by `default_rules`, which never reallocates).
  std::vector<const SlotRule*> slot_rules;
  std::vector<SlotRule> default_rules;
  slot_rules.reserve(request.slots.size());
  default_rules.reserve(request.slots.size());
  for (const SlotSpec& slot : request.slots) {
    const SlotRule* configured = plan != nullptr ? plan->Find(slot.name) : nullptr;
    if (configured != nullptr) {
      slot_rules.push_back(configured);
    } else {
      SlotRule& rule = default_rules.emplace_back();
      rule.name = slot.name;
      rule.sources = {{options_.blended_slots.contains(slot.name) ? Source::kBlended
                                                                   : Source::kPersonalized,
                       1.0f}};
      slot_rules.push_back(&rule);
    }
  }

  // A bought item may come back (through buy-again or the blended ranker)
  // when no repurchase rules are configured, or when its category is
  // repurchasable and its minimum days have passed.
  absl::flat_hash_map<int32_t, const model::HistoryEntry*> bought;
  for (const model::HistoryEntry& h : history) bought[h.item] = &h;
  auto due_again = [&](int32_t row) {
    auto it = bought.find(row);
    if (it == bought.end()) return true;
    if (rules.repurchasable_min_days.empty()) return true;
    auto rule = rules.repurchasable_min_days.find(bundle->item(row).category);
    if (rule == rules.repurchasable_min_days.end()) return false;
    return now_unix - it->second->last_unix >= int64_t{rule->second} * 86400;
  };
  absl::flat_hash_set<int32_t> not_due;  // bought rows that must not return
  for (int32_t row : user.bought_rows) {
    if (!due_again(row)) not_due.insert(row);
  }
  absl::flat_hash_set<int32_t> repurchase_excluded;
  repurchase_excluded.reserve(request_excluded.size() + not_due.size());
  repurchase_excluded.insert(request_excluded.begin(), request_excluded.end());
  repurchase_excluded.insert(not_due.begin(), not_due.end());

  RowFilter filter(*bundle, request.filters, &excluded);
  RowFilter repurchase_filter(*bundle, request.filters, &repurchase_excluded);
  const int fetch_k = 2 * total_k + 10;

  // Candidate lists, computed once per request for the sources in use.
  absl::flat_hash_map<Source, std::vector<Candidate>> lists;
  for (const SlotRule* rule : slot_rules) {
    for (const auto& [source, weight] : rule->sources) lists[source];
  }
  for (auto& [source, list] : lists) {
    switch (source) {
      case Source::kPersonalized: {
        if (query.empty()) break;
        model::SearchOptions search_options;
        search_options.filter = &filter;
        RECSYS_ASSIGN_OR_RETURN(std::vector<model::Neighbor> hits,
                                bundle->ip_index().Search(query, fetch_k, search_options));
        list.reserve(hits.size());
        for (const model::Neighbor& n : hits) {
          list.push_back({static_cast<int32_t>(n.id), n.score, ReasonCode::kPersonalized});
        }
        break;
      }
      case Source::kBlended: {
        if (query.empty() && history.empty()) break;
        const model::RankerModel ranker = bundle->ranker_model();
        model::RankerUser ranker_user;
        ranker_user.vector = query;
        ranker_user.history = history;
        model::RankOptions rank_options;
        rank_options.k = fetch_k;
        rank_options.now_unix = now_unix;
        rank_options.vector_candidates = std::max(options_.ranker_candidates, fetch_k);
        rank_options.filter = &repurchase_filter;
        RECSYS_ASSIGN_OR_RETURN(std::vector<model::RankedItem> ranked,
                                model::RankItems(ranker, ranker_user, rank_options));
        list.reserve(ranked.size());
        for (const model::RankedItem& r : ranked) {
          if (r.bought) {
            list.push_back({r.item, r.score, ReasonCode::kBuyAgain, -1, false, bought[r.item]});
          } else {
            list.push_back({r.item, r.score, ReasonCode::kPersonalized});
          }
        }
        break;
      }
      case Source::kBuyAgain: {
        std::vector<const model::HistoryEntry*> due;
        for (const model::HistoryEntry& h : history) {
          if (!not_due.contains(h.item) && repurchase_filter.Allowed(h.item)) due.push_back(&h);
        }
        std::sort(due.begin(), due.end(), [](const model::HistoryEntry* a, const model::HistoryEntry* b) {
          if (a->count != b->count) return a->count > b->count;
          if (a->last_unix != b->last_unix) return a->last_unix > b->last_unix;
          return a->item < b->item;
        });
        list.reserve(due.size());
        for (const model::HistoryEntry* h : due) {
          list.push_back(
              {h->item, static_cast<float>(h->count), ReasonCode::kBuyAgain, -1, false, h});
        }
        break;
      }
      case Source::kSimilarToRecent: {
        // The most recent distinct items the user touched.
        std::vector<std::pair<int32_t, bool>> recent;  // row, bought
        absl::flat_hash_set<int32_t> seen;
        for (const ActivityRecord& a : user.recent) {
          if (a.type == EventType::kImpression) continue;
          const int32_t row = bundle->ItemRow(a.item_id);
          if (row >= 0 && seen.insert(row).second) {
            recent.push_back({row, a.type == EventType::kPurchase});
          }
          if (recent.size() >= 5) break;
        }
        for (size_t i = 0; i < history.size() && recent.size() < 5; ++i) {
          if (seen.insert(history[i].item).second) recent.push_back({history[i].item, true});
        }
        absl::flat_hash_map<int32_t, size_t> at;
        model::SearchOptions search_options;
        search_options.filter = &filter;
        for (const auto& [anchor, was_bought] : recent) {
          RECSYS_ASSIGN_OR_RETURN(
              std::vector<model::Neighbor> hits,
              bundle->cos_index().Search(bundle->item_vector(anchor), fetch_k, search_options));
          for (const model::Neighbor& n : hits) {
            const int32_t row = static_cast<int32_t>(n.id);
            if (row == anchor) continue;
            auto it = at.find(row);
            if (it != at.end() && list[it->second].score >= n.score) continue;
            const Candidate c{row, n.score, ReasonCode::kSimilarToItem, anchor, was_bought};
            if (it != at.end()) {
              list[it->second] = c;
            } else {
              at[row] = list.size();
              list.push_back(c);
            }
          }
        }
        std::sort(list.begin(), list.end(), [](const Candidate& a, const Candidate& b) {
          if (a.score != b.score) return a.score > b.score;
          return a.row < b.row;
        });
        if (static_cast<int>(list.size()) > fetch_k) list.resize(fetch_k);
        break;
      }
      case Source::kTrending: {
        const auto& popular = bundle->popular();
        for (size_t i = 0; i < popular.size() && static_cast<int>(list.size()) < fetch_k; ++i) {
          const int32_t row = popular[i];
          if (!filter.Allowed(row)) continue;
          list.push_back(
              {row, static_cast<float>(bundle->item(row).buyers), ReasonCode::kTrending});
        }
        break;
      }
      case Source::kBundleComplements: {
        // Complements of the most recent carted or bought items.
        std::vector<int32_t> anchors_rows;
        absl::flat_hash_set<int32_t> seen;
        for (const ActivityRecord& a : user.recent) {
          if (a.type != EventType::kAddToCart && a.type != EventType::kPurchase) continue;
          const int32_t row = bundle->ItemRow(a.item_id);
          if (row >= 0 && seen.insert(row).second) anchors_rows.push_back(row);
          if (anchors_rows.size() >= 5) break;
        }
        for (size_t i = 0; i < history.size() && anchors_rows.size() < 5; ++i) {
          if (seen.insert(history[i].item).second) anchors_rows.push_back(history[i].item);
        }
        absl::flat_hash_map<int32_t, size_t> at;
        for (int32_t anchor : anchors_rows) {
          for (const auto& [row, score] : bundle->complements(anchor)) {
            if (!filter.Allowed(row)) continue;
            auto it = at.find(row);
            if (it != at.end() && list[it->second].score >= score) continue;
            const Candidate c{row, score, ReasonCode::kBundleComplement, anchor};
            if (it != at.end()) {
              list[it->second] = c;
            } else {
              at[row] = list.size();
              list.push_back(c);
            }
          }
        }
        std::sort(list.begin(), list.end(), [](const Candidate& a, const Candidate& b) {
          if (a.score != b.score) return a.score > b.score;
          return a.row < b.row;
        });
        if (static_cast<int>(list.size()) > fetch_k) list.resize(fetch_k);
        break;
      }
      case Source::kCategoryBestsellers: {
        // The user's categories by purchases, then by recent activity.
        absl::flat_hash_map<std::string, int> weight;
        for (const model::HistoryEntry& h : history) weight[bundle->item(h.item).category] += h.count;
        for (const ActivityRecord& a : user.recent) {
          const int32_t row = bundle->ItemRow(a.item_id);
          if (row >= 0) weight[bundle->item(row).category] += 1;
        }
        std::vector<std::pair<int, std::string>> categories;
        for (auto& [category, w] : weight) {
          if (!category.empty()) categories.push_back({-w, category});
        }
        std::sort(categories.begin(), categories.end());
        if (categories.size() > 3) categories.resize(3);
        const int per_category = fetch_k / std::max<int>(1, categories.size()) + 1;
        for (const auto& [neg_weight, category] : categories) {
          int taken = 0;
          for (int32_t row : bundle->category_popular(category)) {
            if (taken >= per_category) break;
            if (!filter.Allowed(row)) continue;
            list.push_back({row, static_cast<float>(bundle->item(row).buyers),
                            ReasonCode::kCategoryBestseller});
            ++taken;
          }
        }
        std::stable_sort(list.begin(), list.end(), [](const Candidate& a, const Candidate& b) {
          return a.score > b.score;
        });
        break;
      }
    }
  }

  // Active time rules per slot, and the campaign items they pin.
  std::vector<std::vector<const TimeRule*>> active(request.slots.size());
  for (size_t s = 0; s < request.slots.size() && plan != nullptr; ++s) {
    active[s] = plan->ActiveRules(request.slots[s].name, now);
  }

  // Trial-pool items eligible for this request (any slot with a share):
  // in their window at the request time, passing the request filters, not
  // bought; best for the user first, recently shown ones last.
  std::vector<const TrialItem*> trial_items;
  std::shared_ptr<const TrialSnapshot> trial;
  absl::flat_hash_set<absl::string_view> rotated_ids;  // ids in user.impressions
  if (rules.rotation_impressions > 0) {
    for (size_t i = 0;
         i < user.impressions.size() && static_cast<int>(i) < rules.rotation_impressions; ++i) {
      rotated_ids.insert(user.impressions[i].item_id);
    }
  }
  if (std::any_of(slot_rules.begin(), slot_rules.end(),
                  [](const SlotRule* r) { return r->trial_share > 0; })) {
    trial = trial_pool_->Get(*bundle, FeatureDeadline(request.deadline, options_.feature_timeout));
    absl::flat_hash_set<absl::string_view> skip_ids(request.filters.exclude_item_ids.begin(),
                                                    request.filters.exclude_item_ids.end());
    for (const PurchaseView& p : user.purchases) skip_ids.insert(p.item_id);
    absl::flat_hash_set<absl::string_view> categories(request.filters.categories.begin(),
                                                      request.filters.categories.end());
    struct RankedTrial {
      float affinity;
      double tie;  // spreads exposure among equally good items
      const TrialItem* item;
    };
    std::vector<RankedTrial> ranked;
    for (const TrialItem& t : trial->items()) {
      if (!InTrialWindow(t, now, rules.trial_days)) continue;
      if (skip_ids.contains(t.item_id) || (t.row >= 0 && excluded.contains(t.row))) continue;
      if (!categories.empty() && !categories.contains(t.category)) continue;
      if (request.filters.min_price > 0 && t.price < request.filters.min_price) continue;
      if (request.filters.max_price > 0 && t.price > request.filters.max_price) continue;
      const float affinity = query.empty() || t.vector.empty() ? 0.0f : Dot(query, t.vector);
      ranked.push_back({affinity, RequestUniform(request.user_id, t.item_id, now), &t});
    }
    std::sort(ranked.begin(), ranked.end(), [&](const RankedTrial& a, const RankedTrial& b) {
      const bool ra = rotated_ids.contains(a.item->item_id);
      const bool rb = rotated_ids.contains(b.item->item_id);
      if (ra != rb) return rb;
      if (a.affinity != b.affinity) return a.affinity > b.affinity;
      if (a.tie != b.tie) return a.tie < b.tie;
      return a.item->item_id < b.item->item_id;
    });
    for (const RankedTrial& r : ranked) trial_items.push_back(r.item);
  }

  // Stock and flags of every item that may be shown, in one round trip.
  const auto& popular = bundle->popular();
  std::vector<std::string> feature_ids;
  absl::flat_hash_map<int32_t, size_t> feature_at;
  {
    size_t wanted = trial_items.size() + static_cast<size_t>(2 * total_k + 10) + 50;
    for (const auto& [source, list] : lists) wanted += list.size();
    feature_ids.reserve(wanted);
    feature_at.reserve(wanted);
  }
  auto want_features = [&](int32_t row) {
    if (feature_at.emplace(row, feature_ids.size()).second) {
      feature_ids.push_back(bundle->item(row).item_id);
    }
  };
  for (const auto& [source, list] : lists) {
    for (const Candidate& c : list) want_features(c.row);
  }
  // The popular fill can use at most this prefix of the popularity list:
  // twice what the request asks for, plus what the user bought (skipped),
  // plus slack. Features are checked for these only (each costs the store
  // one read), and items past the prefix are never shown.
  const size_t popular_prefix = std::min(
      popular.size(),
      static_cast<size_t>(2 * total_k + 10) + std::min<size_t>(user.bought_rows.size(), 50));
  for (size_t i = 0; i < popular_prefix; ++i) want_features(popular[i]);
  for (const auto& rules_of_slot : active) {
    for (const TimeRule* r : rules_of_slot) {
      for (const std::string& id : r->pinned_items) {
        const int32_t row = bundle->ItemRow(id);
        if (row >= 0) want_features(row);
      }
    }
  }
  // Trial items the model does not know, by id (in `trial`).
  absl::flat_hash_map<absl::string_view, size_t> new_feature_at;
  for (const TrialItem* t : trial_items) {
    if (t->row >= 0) {
      want_features(t->row);
    } else if (new_feature_at.emplace(t->item_id, feature_ids.size()).second) {
      feature_ids.push_back(t->item_id);
    }
  }
  std::vector<std::optional<feature_store::ItemFeatures>> item_features;
  bool features_known = true;
  if (!feature_ids.empty()) {
    auto fetched = features_->GetItems(
        feature_ids, FeatureDeadline(request.deadline, options_.feature_timeout));
    if (fetched.ok()) {
      item_features = *std::move(fetched);
    } else {
      features_known = false;
      if (!answer.meta.degraded) MarkDegraded(&answer.meta, fetched.status());
    }
  }
  auto features_of = [&](int32_t row) -> const feature_store::ItemFeatures* {
    auto it = feature_at.find(row);
    if (it == feature_at.end() || it->second >= item_features.size()) return nullptr;
    const auto& f = item_features[it->second];
    return f.has_value() ? &*f : nullptr;
  };
  // Never shown: out of stock; items whose features were never checked
  // (beyond the fetched popular prefix) while the store answers.
  auto in_stock = [&](int32_t row) {
    if (!features_known) return true;
    if (!feature_at.contains(row)) return false;
    const feature_store::ItemFeatures* f = features_of(row);
    return f == nullptr || f->stock != 0;
  };
  auto new_item_in_stock = [&](const TrialItem& t) {
    if (!features_known) return true;
    auto it = new_feature_at.find(t.item_id);
    if (it == new_feature_at.end() || it->second >= item_features.size()) return false;
    const auto& f = item_features[it->second];
    return !f.has_value() || f->stock != 0;
  };
  absl::flat_hash_set<int32_t> rotated;
  if (rules.rotation_impressions > 0) {
    for (size_t i = 0;
         i < user.impressions.size() && static_cast<int>(i) < rules.rotation_impressions; ++i) {
      const int32_t row = bundle->ItemRow(user.impressions[i].item_id);
      if (row >= 0) rotated.insert(row);
    }
  }

  // Fill the slots in request order.
  const double top_buyers =
      popular.empty() ? 1.0 : std::max(1, bundle->item(popular.front()).buyers);
  absl::flat_hash_set<int32_t> chosen;
  chosen.reserve(total_k);
  // Trial items unknown to the model, by id (in `trial`).
  absl::flat_hash_set<absl::string_view> chosen_new;
  size_t next_popular = 0;
  for (size_t s = 0; s < request.slots.size(); ++s) {
    const SlotSpec& slot = request.slots[s];
    const SlotRule& rule = *slot_rules[s];
    SlotAnswer out;
    out.name = slot.name;
    out.items.reserve(slot.k);
    // Categories of the bundle's items and of `trial`'s.
    absl::flat_hash_map<absl::string_view, int> per_category;
    auto can_show = [&](int32_t row, bool may_be_bought) {
      if (chosen.contains(row) || !in_stock(row)) return false;
      const model::ItemMeta& item = bundle->item(row);
      if (rule.exclude_categories.contains(item.category)) return false;
      if (rule.max_per_category > 0 && !item.category.empty()) {
        auto it = per_category.find(item.category);
        if (it != per_category.end() && it->second >= rule.max_per_category) return false;
      }
      return may_be_bought ? repurchase_filter.Allowed(row) : filter.Allowed(row);
    };
    auto take = [&](int32_t row, float score, Explanation why) {
      chosen.insert(row);
      ++per_category[bundle->item(row).category];
      out.items.push_back(MakeItem(*bundle, row, score, std::move(why)));
    };

    // Campaign items pinned by active festivals, up to their share.
    for (const TimeRule* r : active[s]) {
      if (r->pinned_share <= 0) continue;
      const int quota = std::max(1, static_cast<int>(r->pinned_share * slot.k));
      int pinned = 0;
      for (const std::string& id : r->pinned_items) {
        if (pinned >= quota || static_cast<int>(out.items.size()) >= slot.k) break;
        const int32_t row = bundle->ItemRow(id);
        if (row < 0 || !can_show(row, false)) continue;
        Explanation e;
        e.code = ReasonCode::kCampaign;
        e.anchor_category = bundle->item(row).category;
        e.text = absl::StrCat("featured for ", r->name);
        e.applied_rules.push_back(absl::StrCat("festival:", r->name));
        take(row, 1.0f, std::move(e));
        ++pinned;
      }
    }

    const size_t pinned_count = out.items.size();

    // Trial-pool items, up to the slot's share (the fractional part drawn
    // per request); placed through the slot once the rest is filled.
    std::vector<const TrialItem*> trial_taken;
    if (rule.trial_share > 0 && !trial_items.empty()) {
      const double expected = static_cast<double>(rule.trial_share) * slot.k;
      int quota = static_cast<int>(std::floor(expected));
      if (RequestUniform(request.user_id, slot.name, now) < expected - quota) ++quota;
      quota = std::min(quota, slot.k - static_cast<int>(out.items.size()));
      for (const TrialItem* t : trial_items) {
        if (static_cast<int>(trial_taken.size()) >= quota) break;
        if (t->row >= 0) {
          if (!can_show(t->row, false)) continue;
          chosen.insert(t->row);
        } else {
          if (chosen_new.contains(t->item_id) || !new_item_in_stock(*t)) continue;
          if (rule.exclude_categories.contains(t->category)) continue;
          if (rule.max_per_category > 0 && !t->category.empty() &&
              per_category[t->category] >= rule.max_per_category) {
            continue;
          }
          chosen_new.insert(t->item_id);
        }
        ++per_category[t->row >= 0 ? bundle->item(t->row).category : t->category];
        trial_taken.push_back(t);
      }
    }
    const int regular_k = slot.k - static_cast<int>(trial_taken.size());

    // Weighted reciprocal-rank fusion of the slot's sources, then the rules.
    struct Scored {
      int32_t row;
      float score;
      float best;
      const Candidate* why;
      bool from_repurchase;
    };
    std::vector<Scored> merged;
    absl::flat_hash_map<int32_t, size_t> merged_at;
    {
      size_t candidates = 0;
      for (const auto& [source, weight] : rule.sources) candidates += lists[source].size();
      merged.reserve(candidates);
      merged_at.reserve(candidates);
    }
    for (const auto& [source, weight] : rule.sources) {
      const std::vector<Candidate>& list = lists[source];
      const bool repurchase = source == Source::kBuyAgain || source == Source::kBlended;
      for (size_t r = 0; r < list.size(); ++r) {
        const float contribution = weight / (1.0f + static_cast<float>(r));
        auto [it, inserted] = merged_at.emplace(list[r].row, merged.size());
        if (inserted) {
          merged.push_back({list[r].row, 0.0f, -1.0f, nullptr, false});
        }
        Scored& m = merged[it->second];
        m.score += contribution;
        m.from_repurchase = m.from_repurchase || repurchase;
        if (contribution > m.best) {
          m.best = contribution;
          m.why = &list[r];
        }
      }
    }
    // The rules on one item: `score` multiplied by each rule that applies.
    // Their names go to `applied` when given, which is done only for the
    // items shown.
    auto apply_rules = [&](int32_t row, float score, std::vector<std::string>* applied) {
      const model::ItemMeta& item = bundle->item(row);
      for (const TimeRule* r : active[s]) {
        auto boost = r->boosts.find(item.category);
        if (boost == r->boosts.end()) continue;
        score *= boost->second;
        if (applied != nullptr) {
          applied->push_back(absl::StrCat(r->is_festival ? "festival:" : "daypart:", r->name));
        }
      }
      const feature_store::ItemFeatures* f = features_of(row);
      if (f != nullptr && f->stock > 0 && f->stock <= rules.low_stock_threshold) {
        score *= rules.low_stock_multiplier;
        if (applied != nullptr) applied->push_back("low_stock");
      }
      if (f != nullptr && f->slow_mover && rules.slow_mover_multiplier < 1) {
        score *= rules.slow_mover_multiplier;
        if (applied != nullptr) applied->push_back("slow_mover");
      }
      if (rotated.contains(row)) {
        score *= rules.rotation_multiplier;
        if (applied != nullptr) applied->push_back("rotation");
      }
      return score;
    };
    for (Scored& m : merged) m.score = apply_rules(m.row, m.score, nullptr);
    std::vector<size_t> order(merged.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      if (merged[a].score != merged[b].score) return merged[a].score > merged[b].score;
      return merged[a].row < merged[b].row;
    });
    for (size_t i : order) {
      if (static_cast<int>(out.items.size()) >= regular_k) break;
      const Scored& m = merged[i];
      if (!can_show(m.row, m.from_repurchase)) continue;
      Explanation why = ExplainCandidate(*bundle, *m.why, anchors);
      apply_rules(m.row, 1.0f, &why.applied_rules);  // names only: m.score has them
      take(m.row, m.score, std::move(why));
    }

    // Popular items fill what is left, scored below what the sources chose.
    const float fill_scale = out.items.empty() ? 1.0f : std::min(1.0f, out.items.back().score);
    const size_t fill_end = features_known ? popular_prefix : popular.size();
    while (static_cast<int>(out.items.size()) < regular_k && next_popular < fill_end) {
      const int32_t row = popular[next_popular++];
      if (!can_show(row, false)) continue;
      Explanation e;
      e.code = ReasonCode::kPopular;
      e.anchor_category = bundle->item(row).category;
      e.text = bundle->item(row).category.empty()
                   ? "popular in the shop"
                   : absl::StrCat("popular in ", bundle->item(row).category);
      take(row, fill_scale * static_cast<float>(bundle->item(row).buyers / top_buyers),
           std::move(e));
    }

    // Trial items at evenly spaced positions after the pinned ones, each
    // carrying the score of the position it takes.
    const size_t total = out.items.size() + trial_taken.size();
    const size_t region = total - pinned_count;
    for (size_t j = 0; j < trial_taken.size(); ++j) {
      const TrialItem& t = *trial_taken[j];
      size_t pos = pinned_count + (j + 1) * region / (trial_taken.size() + 1);
      pos = std::min(pos, out.items.size());
      float score = 1.0f;
      if (pos < out.items.size()) {
        score = out.items[pos].score;
      } else if (pos > 0) {
        score = out.items[pos - 1].score;
      }
      ScoredItem item;
      item.item_id = t.item_id;
      item.score = score;
      item.category = t.category;
      item.price = t.price;
      item.reason.code = ReasonCode::kTrialPool;
      item.reason.anchor_category = t.category;
      const int64_t days = (now - t.listed) / absl::Hours(24);
      item.reason.text = absl::StrCat(
          t.category.empty() ? "new arrival" : absl::StrCat("new in ", t.category),
          days == 0 ? ", listed today" : absl::StrCat(", listed ", days, days == 1 ? " day" : " days", " ago"),
          " (", rules.trial_days, "-day trial)");
      item.reason.applied_rules.push_back("trial_pool");
      if (rotated_ids.contains(t.item_id)) item.reason.applied_rules.push_back("rotation");
      out.items.insert(out.items.begin() + pos, std::move(item));
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
  if (!std::isfinite(request.price_band) || request.price_band < 0 || request.price_band >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("price_band: must be in [0, 1), got ", request.price_band));
  }

  const std::shared_ptr<const model::ModelBundle> bundle = models_->Current();
  SimilarAnswer answer;
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
  RowFilter filter(*bundle, filters, &excluded);
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
                          Label(anchor));
    answer.items.push_back(
        MakeItem(*bundle, static_cast<int32_t>(hits[i].id), hits[i].score, std::move(e)));
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
      answer.rejected.emplace_back(index, std::string(st.message()));
      continue;
    }
    valid.push_back(e);
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
