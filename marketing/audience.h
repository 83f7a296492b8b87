// Which users for this offer: a full scan of an in-memory user table that
// scores every user's affinity to a target vector (dot product), applies the
// audience filters and delivers the users best first, in chunks, so that a
// server can stream them.
//
//   absl::StatusOr<std::unique_ptr<const AudienceTable>> table =
//       AudienceTable::Create(dim, std::move(user_vectors), std::move(users));
//   AudienceFilter filter;
//   filter.segments = {Segment::kDormant, Segment::kDeepDormant};
//   filter.contact_cap_days = 14;
//   ScanAudience(**table, target, filter, absl::Now(), contacts, {},
//                [&](absl::Span<const AudienceMember> chunk) {
//                  return stream->Write(...);  // false stops the scan
//                });
//
// The target is typically the mean of the offer scope's item vectors (the
// caller computes it). Cost: one pass over the n x d matrix plus a sort of
// the matching users; 1M users x 64 dims take well under a second on one
// core (docs/benchmarks.md, "Audience scan").
//
// Thread safety: an AudienceTable is immutable and may be scanned by any
// number of threads at once. ScanAudience calls `last_contact` and `sink`
// from the calling thread only.
#ifndef RECSYS_MARKETING_AUDIENCE_H_
#define RECSYS_MARKETING_AUDIENCE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "marketing/segments.h"

namespace recsys::marketing {

// The per-user attributes the filters read.
struct AudienceUser {
  std::string user_id;
  Segment segment = Segment::kPotential;
  Tier tier = Tier::kNone;
  // Unix seconds of the last order; 0 = no order.
  int64_t last_purchase_unix = 0;
  // Customer intelligence (intelligence/intel.h; defaults without a
  // record): interest tags (sorted), purchase intent (-1 unknown), churn
  // risk, next expected order (0 unknown).
  std::vector<std::string> tags;
  float purchase_intent = -1;
  float churn_risk = 0;
  int64_t next_purchase_unix = 0;
  // Growth tier ("" = none or no record).
  std::string growth_tier;
};

// Users with their vectors. Row r is users[r] with vector
// vectors[r * dim, (r + 1) * dim).
//
// Thread safety: immutable after Create; safe to share.
class AudienceTable {
 public:
  // Takes ownership of the arguments. InvalidArgument: dim < 1, vectors
  // not users.size() x dim, a non-finite value, an empty or duplicate user
  // id, more than 2^31 - 1 users.
  static absl::StatusOr<std::unique_ptr<const AudienceTable>> Create(
      int dim, std::vector<float> vectors, std::vector<AudienceUser> users);
  // The same over vectors owned elsewhere (e.g. a served model's user
  // factors), kept alive by `owner` for the table's lifetime: no copy.
  static absl::StatusOr<std::unique_ptr<const AudienceTable>> CreateBorrowed(
      int dim, absl::Span<const float> vectors, std::shared_ptr<const void> owner,
      std::vector<AudienceUser> users);

  int dim() const { return dim_; }
  int64_t size() const { return static_cast<int64_t>(users_.size()); }
  const AudienceUser& user(int64_t row) const { return users_[row]; }
  absl::Span<const float> vector(int64_t row) const {
    return absl::MakeConstSpan(vectors_.data() + row * dim_, dim_);
  }

 private:
  AudienceTable(int dim, std::vector<float> owned, absl::Span<const float> vectors,
                std::shared_ptr<const void> owner, std::vector<AudienceUser> users)
      : dim_(dim),
        owned_(std::move(owned)),
        owner_(std::move(owner)),
        vectors_(owned_.empty() ? vectors : absl::MakeConstSpan(owned_)),
        users_(std::move(users)) {}

  const int dim_;
  const std::vector<float> owned_;
  const std::shared_ptr<const void> owner_;
  const absl::Span<const float> vectors_;
  const std::vector<AudienceUser> users_;
};

struct AudienceFilter {
  // Keep users in these segments / tiers; empty: all.
  std::vector<Segment> segments;
  std::vector<Tier> tiers;
  // > 0: keep users whose last order is at least this many whole days
  // before `now` (users without orders are dropped).
  int32_t min_days_since_purchase = 0;
  // > 0: drop users whose last contact for the campaign (from the
  // ContactLookup) is less than this many days before `now`.
  int32_t contact_cap_days = 0;
  // Keep users having every one of these tags.
  std::vector<std::string> tags;
  // Keep users having at least one of these tags; empty: all (a coupon's
  // eligibility.tags).
  std::vector<std::string> any_tags;
  // Tags live events gave users after the records the table was built from
  // (intelligence::IntelStore::LiveTagUsers), by user id, counted with
  // AudienceUser::tags by the two tag filters; null: none. Borrowed.
  const absl::flat_hash_map<std::string, std::vector<std::string>>* live_tags = nullptr;
  // Keep users in one of these growth tiers; empty: all (a coupon's
  // eligibility.growth_tiers).
  std::vector<std::string> growth_tiers;
  // > 0: keep users with at least this churn risk / purchase intent.
  float min_churn_risk = 0;
  float min_purchase_intent = 0;
  // > 0: keep users whose next expected order is at most this many days
  // from `now`, before or after (due for a replenishment).
  int32_t due_within_days = 0;
};

struct AudienceOptions {
  // Maximum users delivered; 0 = every matching user.
  int64_t limit = 0;
  // Users per sink call (the last chunk may be shorter).
  int chunk_size = 1000;
  // Threads scoring the table (the calling thread is one of them).
  int threads = 1;
};

struct AudienceMember {
  int64_t row = 0;
  // Points into the table; valid while the table lives.
  absl::string_view user_id;
  // Dot product of the user's vector with the target.
  float score = 0;
  Segment segment = Segment::kPotential;
  Tier tier = Tier::kNone;
  // Whole days since the last order at `now`; -1 without orders.
  int32_t days_since_purchase = -1;
};

struct AudienceStats {
  // Users in the table.
  int64_t scanned = 0;
  // Users passing the segment, tier and recency filters.
  int64_t matched = 0;
  // Matched users dropped by the contact cap (only those looked up: the
  // scan stops looking once the limit is reached).
  int64_t contact_capped = 0;
  int64_t delivered = 0;
  // True when the sink returned false.
  bool stopped = false;
};

// Last contact (unix seconds; 0 = never) of each user for the campaign, in
// order; called with at most chunk_size ids at a time, best users first.
// Typically CouponStore::LastContacts. An error aborts the scan.
using ContactLookup = std::function<absl::StatusOr<std::vector<int64_t>>(
    absl::Span<const std::string> user_ids)>;

// Receives the next chunk of users (best first, never empty). Returning
// false stops the scan.
using AudienceSink =
    std::function<bool(absl::Span<const AudienceMember> chunk)>;

// Scores every user against `target`, keeps those passing `filter`, and
// delivers them by score descending (ties: table row ascending) in chunks.
// InvalidArgument: target size != dim, non-finite target, contact_cap_days
// > 0 without `last_contact`, negative filter days, limit < 0, chunk_size
// < 1, threads < 1. Errors of `last_contact` are returned as they are
// (users already delivered stay delivered).
absl::StatusOr<AudienceStats> ScanAudience(const AudienceTable& table,
                                           absl::Span<const float> target,
                                           const AudienceFilter& filter,
                                           absl::Time now,
                                           const ContactLookup& last_contact,
                                           const AudienceOptions& options,
                                           const AudienceSink& sink);

}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_AUDIENCE_H_
