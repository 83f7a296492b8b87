#include "recommender/internal.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/dot.h"

namespace recsys::recommender::internal {

absl::Status CheckSlotName(absl::string_view field, absl::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": must not be empty"));
  if (name.size() > kMaxSlotNameLength) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": longer than ", kMaxSlotNameLength,
                                                   " bytes (", name.size(), ")"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' &&
        c != '-') {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": only letters, digits, '_', '.' and '-' are allowed"));
    }
  }
  return absl::OkStatus();
}

absl::Time FeatureDeadline(absl::Time deadline, absl::Duration timeout) {
  return std::min(deadline, absl::Now() + timeout);
}

void MarkDegraded(AnswerMeta* meta, const absl::Status& status) {
  meta->degraded = true;
  meta->degraded_reason =
      absl::StrCat("feature store unavailable (", absl::StatusCodeToString(status.code()), ": ",
                   status.message(), "); answered from the model alone");
}

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

float ItemCosine(const model::ModelBundle& bundle, int32_t a, int32_t b) {
  const double na = bundle.item_squared_norm(a);
  const double nb = bundle.item_squared_norm(b);
  if (na <= 0 || nb <= 0) return 0;
  const double dot = DotDouble(bundle.item_vector(a), bundle.item_vector(b));
  return static_cast<float>(dot / std::sqrt(na * nb));
}

float Dot(absl::Span<const float> a, absl::Span<const float> b) {
  if (a.size() != b.size()) return 0;
  return DotSequential(a, b);
}

const std::string& Label(const model::ItemMeta& item) {
  return item.title.empty() ? item.item_id : item.title;
}

ScoredItem MakeItem(const model::ModelBundle& bundle, int32_t row, float score,
                    Explanation reason) {
  const model::ItemMeta& item = bundle.item(row);
  return ScoredItem{item.item_id, score, std::move(reason), item.category, item.price};
}

void KeepBest(const Candidate& c, absl::flat_hash_map<int32_t, size_t>* at,
              std::vector<Candidate>* list) {
  auto it = at->find(c.row);
  if (it != at->end() && (*list)[it->second].score >= c.score) return;
  if (it != at->end()) {
    (*list)[it->second] = c;
  } else {
    (*at)[c.row] = list->size();
    list->push_back(c);
  }
}

void SortBestFirst(int k, std::vector<Candidate>* list) {
  std::sort(list->begin(), list->end(), [](const Candidate& a, const Candidate& b) {
    if (a.score != b.score) return a.score > b.score;
    return a.row < b.row;
  });
  if (static_cast<int>(list->size()) > k) list->resize(k);
}

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

Explanation ExplainPopular(const model::ModelBundle& bundle, int32_t row) {
  Explanation e;
  e.code = ReasonCode::kPopular;
  e.anchor_category = bundle.item(row).category;
  e.text = bundle.item(row).category.empty()
               ? "popular in the shop"
               : absl::StrCat("popular in ", bundle.item(row).category);
  return e;
}

Explanation ExplainCampaign(const model::ModelBundle& bundle, int32_t row,
                            absl::string_view rule_name) {
  Explanation e;
  e.code = ReasonCode::kCampaign;
  e.anchor_category = bundle.item(row).category;
  e.text = absl::StrCat("featured for ", rule_name);
  e.applied_rules.push_back(absl::StrCat("festival:", rule_name));
  return e;
}

Explanation ExplainTrial(const TrialItem& t, absl::Time now, int trial_days, bool rotated) {
  Explanation e;
  e.code = ReasonCode::kTrialPool;
  e.anchor_category = t.category;
  if (now < t.listed) {
    // Early access (Rules::early_access_days): the launch is still ahead.
    const int64_t hours = absl::ToInt64Hours(absl::Ceil(t.listed - now, absl::Hours(1)));
    e.text = absl::StrCat("early access: ",
                          t.category.empty() ? "new arrival" : absl::StrCat("new in ", t.category),
                          hours < 24 ? absl::StrCat(", launches in ", hours, hours == 1 ? " hour" : " hours")
                                     : absl::StrCat(", launches in ", hours / 24,
                                                    hours / 24 == 1 ? " day" : " days"));
    e.applied_rules.push_back("trial_pool");
    e.applied_rules.push_back("early_access");
    if (rotated) e.applied_rules.push_back("rotation");
    return e;
  }
  const int64_t days = (now - t.listed) / absl::Hours(24);
  e.text = absl::StrCat(t.category.empty() ? "new arrival" : absl::StrCat("new in ", t.category),
                        days == 0
                            ? ", listed today"
                            : absl::StrCat(", listed ", days, days == 1 ? " day" : " days", " ago"),
                        " (", trial_days, "-day trial)");
  e.applied_rules.push_back("trial_pool");
  if (rotated) e.applied_rules.push_back("rotation");
  return e;
}

}  // namespace recsys::recommender::internal
