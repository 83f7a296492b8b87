#include "marketing/audience.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/dot.h"
#include "common/parallel.h"
#include "common/status_macros.h"

namespace recsys::marketing {
namespace {

// The customer-intelligence filters (tags, churn risk, intent, due date).
bool PassesIntelligence(const AudienceUser& u, const AudienceFilter& filter, int64_t now_unix) {
  const std::vector<std::string>* live = nullptr;
  if (filter.live_tags != nullptr) {
    auto it = filter.live_tags->find(u.user_id);
    if (it != filter.live_tags->end()) live = &it->second;
  }
  auto has = [&](const std::string& tag) {
    return std::binary_search(u.tags.begin(), u.tags.end(), tag) ||
           (live != nullptr && std::find(live->begin(), live->end(), tag) != live->end());
  };
  for (const std::string& tag : filter.tags) {
    if (!has(tag)) return false;
  }
  if (!filter.any_tags.empty() &&
      std::none_of(filter.any_tags.begin(), filter.any_tags.end(), has)) {
    return false;
  }
  if (!filter.growth_tiers.empty() &&
      std::find(filter.growth_tiers.begin(), filter.growth_tiers.end(), u.growth_tier) ==
          filter.growth_tiers.end()) {
    return false;
  }
  if (filter.min_churn_risk > 0 && u.churn_risk < filter.min_churn_risk) return false;
  if (filter.min_purchase_intent > 0 && u.purchase_intent < filter.min_purchase_intent) {
    return false;
  }
  if (filter.due_within_days > 0) {
    if (u.next_purchase_unix <= 0) return false;
    const int64_t gap = u.next_purchase_unix > now_unix ? u.next_purchase_unix - now_unix
                                                        : now_unix - u.next_purchase_unix;
    if (gap > int64_t{filter.due_within_days} * 86400) return false;
  }
  return true;
}

constexpr int64_t kDay = 86400;

// A key whose ascending order is score descending, then row ascending.
uint64_t SortKey(float score, uint32_t row) {
  if (score == 0) score = 0;  // -0 and +0 tie
  uint32_t bits;
  std::memcpy(&bits, &score, sizeof(bits));
  // Ascending float order as unsigned integers ...
  bits = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  // ... reversed, for descending scores.
  return (static_cast<uint64_t>(~bits) << 32) | row;
}

float ScoreOf(uint64_t key) {
  uint32_t bits = ~static_cast<uint32_t>(key >> 32);
  bits = (bits & 0x80000000u) ? (bits & 0x7fffffffu) : ~bits;
  float score;
  std::memcpy(&score, &bits, sizeof(score));
  return score;
}

}  // namespace

namespace {

absl::Status CheckTable(int dim, absl::Span<const float> vectors,
                        const std::vector<AudienceUser>& users) {
  if (dim < 1) return absl::InvalidArgumentError(absl::StrCat("dim: must be >= 1, got ", dim));
  if (users.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return absl::InvalidArgumentError("users: more than 2^31 - 1");
  }
  if (vectors.size() != users.size() * static_cast<size_t>(dim)) {
    return absl::InvalidArgumentError(absl::StrCat("vectors: ", vectors.size(),
                                                   " values for ", users.size(),
                                                   " users x dim ", dim));
  }
  for (size_t i = 0; i < vectors.size(); ++i) {
    if (!std::isfinite(vectors[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("vectors: non-finite value for user row ", i / dim));
    }
  }
  absl::flat_hash_set<absl::string_view> seen;
  seen.reserve(users.size());
  for (size_t r = 0; r < users.size(); ++r) {
    if (users[r].user_id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("users[", r, "].user_id: empty"));
    }
    if (!seen.insert(users[r].user_id).second) {
      return absl::InvalidArgumentError(absl::StrCat(
          "users[", r, "].user_id: duplicate '", users[r].user_id, "'"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<const AudienceTable>> AudienceTable::Create(
    int dim, std::vector<float> vectors, std::vector<AudienceUser> users) {
  RECSYS_RETURN_IF_ERROR(CheckTable(dim, vectors, users));
  return std::unique_ptr<const AudienceTable>(
      new AudienceTable(dim, std::move(vectors), {}, nullptr, std::move(users)));
}

absl::StatusOr<std::unique_ptr<const AudienceTable>> AudienceTable::CreateBorrowed(
    int dim, absl::Span<const float> vectors, std::shared_ptr<const void> owner,
    std::vector<AudienceUser> users) {
  RECSYS_RETURN_IF_ERROR(CheckTable(dim, vectors, users));
  return std::unique_ptr<const AudienceTable>(
      new AudienceTable(dim, {}, vectors, std::move(owner), std::move(users)));
}

absl::StatusOr<AudienceStats> ScanAudience(const AudienceTable& table,
                                           absl::Span<const float> target,
                                           const AudienceFilter& filter,
                                           absl::Time now,
                                           const ContactLookup& last_contact,
                                           const AudienceOptions& options,
                                           const AudienceSink& sink) {
  const int dim = table.dim();
  if (static_cast<int64_t>(target.size()) != dim) {
    return absl::InvalidArgumentError(absl::StrCat(
        "target: has ", target.size(), " values, the table's dim is ", dim));
  }
  for (float x : target) {
    if (!std::isfinite(x))
      return absl::InvalidArgumentError("target: non-finite value");
  }
  if (filter.min_days_since_purchase < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_days_since_purchase: must be >= 0, got ",
                     filter.min_days_since_purchase));
  }
  if (filter.contact_cap_days < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "contact_cap_days: must be >= 0, got ", filter.contact_cap_days));
  }
  if (filter.due_within_days < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("due_within_days: must be >= 0, got ", filter.due_within_days));
  }
  if (!(filter.min_churn_risk >= 0 && filter.min_churn_risk <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_churn_risk: must be in [0, 1], got ", filter.min_churn_risk));
  }
  if (!(filter.min_purchase_intent >= 0 && filter.min_purchase_intent <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "min_purchase_intent: must be in [0, 1], got ", filter.min_purchase_intent));
  }
  if (filter.contact_cap_days > 0 && !last_contact) {
    return absl::InvalidArgumentError(
        "contact_cap_days: set, but no last-contact lookup given");
  }
  if (options.limit < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit: must be >= 0, got ", options.limit));
  }
  if (options.chunk_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("chunk_size: must be >= 1, got ", options.chunk_size));
  }
  if (options.threads < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("threads: must be >= 1, got ", options.threads));
  }
  if (!sink) return absl::InvalidArgumentError("sink: not set");

  uint32_t segment_mask = 0, tier_mask = 0;
  for (Segment s : filter.segments) segment_mask |= 1u << static_cast<int>(s);
  for (Tier t : filter.tiers) tier_mask |= 1u << static_cast<int>(t);
  if (segment_mask == 0) segment_mask = ~0u;
  if (tier_mask == 0) tier_mask = ~0u;
  const int64_t now_unix = absl::ToUnixSeconds(now);
  // Users qualify when last_purchase <= latest_purchase.
  const int64_t latest_purchase =
      filter.min_days_since_purchase > 0
          ? now_unix - int64_t{filter.min_days_since_purchase} * kDay
          : std::numeric_limits<int64_t>::max();

  AudienceStats stats;
  const int64_t n = table.size();
  stats.scanned = n;

  // 1. Score the matching users: keys per slice of rows, one slice per
  // thread, joined in row order.
  const int threads = static_cast<int>(
      std::min<int64_t>(options.threads, std::max<int64_t>(n, 1)));
  const int64_t slice = std::max<int64_t>(1, (n + threads - 1) / threads);
  std::vector<std::vector<uint64_t>> parts(threads);
  ParallelFor(n, threads, slice, [&](int, int64_t begin, int64_t end) {
    std::vector<uint64_t>& keys = parts[begin / slice];
    keys.reserve(end - begin);
    const float* t = target.data();
    for (int64_t r = begin; r < end; ++r) {
      const AudienceUser& u = table.user(r);
      if (!(segment_mask >> static_cast<int>(u.segment) & 1u) ||
          !(tier_mask >> static_cast<int>(u.tier) & 1u)) {
        continue;
      }
      if (filter.min_days_since_purchase > 0 &&
          (u.last_purchase_unix <= 0 ||
           u.last_purchase_unix > latest_purchase)) {
        continue;
      }
      if (!PassesIntelligence(u, filter, now_unix)) continue;
      keys.push_back(SortKey(DotSimd(table.vector(r).data(), t, dim),
                             static_cast<uint32_t>(r)));
    }
  });
  std::vector<uint64_t> keys = std::move(parts[0]);
  for (int part = 1; part < threads; ++part) {
    keys.insert(keys.end(), parts[part].begin(), parts[part].end());
    std::vector<uint64_t>().swap(parts[part]);
  }
  stats.matched = static_cast<int64_t>(keys.size());

  // 2. Order them. Without a contact cap only the first `limit` are needed.
  const bool capped = filter.contact_cap_days > 0;
  if (options.limit > 0 && !capped &&
      options.limit < static_cast<int64_t>(keys.size())) {
    std::nth_element(keys.begin(), keys.begin() + options.limit, keys.end());
    keys.resize(options.limit);
  }
  std::sort(keys.begin(), keys.end());

  // 3. Deliver in chunks, dropping recently contacted users block by block.
  const int64_t limit =
      options.limit > 0 ? options.limit : std::numeric_limits<int64_t>::max();
  const int64_t cap_seconds = int64_t{filter.contact_cap_days} * kDay;
  std::vector<AudienceMember> pending;
  pending.reserve(options.chunk_size);
  std::vector<std::string> ids;
  auto member = [&](uint64_t key) {
    AudienceMember m;
    m.row = static_cast<int64_t>(key & 0xffffffffu);
    const AudienceUser& u = table.user(m.row);
    m.user_id = u.user_id;
    m.score = ScoreOf(key);
    m.segment = u.segment;
    m.tier = u.tier;
    m.days_since_purchase =
        u.last_purchase_unix > 0
            ? static_cast<int32_t>(
                  std::max<int64_t>(0, now_unix - u.last_purchase_unix) / kDay)
            : -1;
    return m;
  };
  auto flush = [&]() {
    if (pending.empty()) return true;
    stats.delivered += static_cast<int64_t>(pending.size());
    const bool more = sink(absl::MakeConstSpan(pending));
    pending.clear();
    if (!more) stats.stopped = true;
    return more;
  };
  const size_t block = static_cast<size_t>(options.chunk_size);
  for (size_t begin = 0; begin < keys.size(); begin += block) {
    if (stats.delivered + static_cast<int64_t>(pending.size()) >= limit) break;
    const size_t end = std::min(keys.size(), begin + block);
    std::vector<int64_t> contacts;
    if (capped) {
      ids.clear();
      for (size_t i = begin; i < end; ++i)
        ids.emplace_back(table.user(keys[i] & 0xffffffffu).user_id);
      RECSYS_ASSIGN_OR_RETURN(contacts, last_contact(ids));
      if (contacts.size() != ids.size()) {
        return absl::InternalError(absl::StrCat("last-contact lookup returned ",
                                                contacts.size(), " times for ",
                                                ids.size(), " users"));
      }
    }
    for (size_t i = begin; i < end; ++i) {
      if (capped) {
        const int64_t last = contacts[i - begin];
        if (last > 0 && now_unix - last < cap_seconds) {
          ++stats.contact_capped;
          continue;
        }
      }
      pending.push_back(member(keys[i]));
      if (stats.delivered + static_cast<int64_t>(pending.size()) >= limit)
        break;
      if (pending.size() == block && !flush()) return stats;
    }
  }
  flush();
  return stats;
}

}  // namespace recsys::marketing
