// Customer segments from purchase history: RFM (recency, frequency,
// monetary) figures and scores, segment, membership tier and lifecycle stage
// per user, and a summary of users and spend per segment and tier.
//
//   SegmentBuilder builder;
//   for (const Row& row : rows) {
//     builder.Add(row.user_id, /*order_id=*/"", row.unix, row.qty * row.price);
//   }
//   absl::StatusOr<std::vector<UserSegment>> users =
//       builder.Build(config, /*as_of_unix=*/0);   // 0: the latest purchase
//   SegmentSummary summary = Summarize(*users, as_of);
//   std::puts(FormatSummaryTable(summary).c_str());
//
// Definitions (docs/marketing.md has them with their defaults; every
// threshold comes from MarketingConfig (marketing_config.h), zero fields
// defaulted by WithDefaults in coupons.h):
//   - An order is a distinct (user, order id); lines without an order id
//     form one order per distinct (user, time).
//   - recency_days: whole days from the last order to as_of (rounded down).
//   - frequency: orders; monetary: total spend; trailing_spend: spend of the
//     orders in (as_of - trailing_days, as_of].
//   - r/f/m scores 1..5 by quantile over all users: 1 + floor(5 * b / n),
//     b = the number of users strictly worse on that measure (recency: a
//     larger recency_days; frequency, monetary: a smaller value), n = users.
//     Equal values always get equal scores.
//   - segment, first match: deep_dormant (recency >= deep_dormant_days),
//     dormant (>= dormant_days), at_risk (>= at_risk_days), new (first order
//     less than new_days before as_of and at most new_max_orders orders),
//     core (r, f and m scores all >= core_min_score), potential (the rest).
//   - tier by trailing_spend: black >= tiers.black, gold >= tiers.gold,
//     silver >= tiers.silver, else none.
//   - lifecycle, first match: churned (recency >= deep_dormant_days), lapsed
//     (>= dormant_days), lapsing (>= at_risk_days), new (first order less
//     than new_days before as_of), active (the rest).
//
// Thread safety: SegmentBuilder is not thread-safe; the free functions keep
// no shared state.
#ifndef RECSYS_MARKETING_SEGMENTS_H_
#define RECSYS_MARKETING_SEGMENTS_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "marketing/marketing_config.h"

namespace recsys::marketing {

enum class Segment {
  kCore = 0,
  kPotential = 1,
  kNew = 2,
  kAtRisk = 3,
  kDormant = 4,
  kDeepDormant = 5,
};
inline constexpr int kNumSegments = 6;

enum class Tier {
  kNone = 0,
  kSilver = 1,
  kGold = 2,
  kBlack = 3,
};
inline constexpr int kNumTiers = 4;

enum class Lifecycle {
  kNew = 0,
  kActive = 1,
  kLapsing = 2,
  kLapsed = 3,
  kChurned = 4,
};

// Stable lower-case names ("core", "at_risk", "deep_dormant"; "none",
// "silver", "gold", "black"; "new", "active", "lapsing", "lapsed",
// "churned"), used in config files, Redis, segments.tsv and the API.
absl::string_view SegmentName(Segment segment);
absl::string_view TierName(Tier tier);
absl::string_view LifecycleName(Lifecycle stage);
// Inverses; nullopt for unknown names.
std::optional<Segment> SegmentFromName(absl::string_view name);
std::optional<Tier> TierFromName(absl::string_view name);
std::optional<Lifecycle> LifecycleFromName(absl::string_view name);

// True for kDormant and kDeepDormant (win-back audiences).
bool IsDormant(Segment segment);

// One user's marketing record.
struct UserSegment {
  std::string user_id;
  // Reference time the record was computed for.
  int64_t as_of_unix = 0;
  int32_t recency_days = 0;
  // Orders.
  int32_t frequency = 0;
  // Total spend up to as_of.
  double monetary = 0;
  // Spend over the trailing tier window.
  double trailing_spend = 0;
  int64_t first_purchase_unix = 0;
  int64_t last_purchase_unix = 0;
  // Quantile scores, 1..5 (5 = best).
  int32_t r_score = 1;
  int32_t f_score = 1;
  int32_t m_score = 1;
  Segment segment = Segment::kPotential;
  Tier tier = Tier::kNone;
  Lifecycle lifecycle = Lifecycle::kActive;

  // monetary / frequency; 0 without orders.
  double average_order_value() const {
    return frequency > 0 ? monetary / frequency : 0;
  }
};

// Aggregates purchase lines into orders and computes UserSegments. Memory is
// proportional to the number of distinct orders, not lines.
//
// Thread safety: not thread-safe.
class SegmentBuilder {
 public:
  SegmentBuilder() = default;
  SegmentBuilder(const SegmentBuilder&) = delete;
  SegmentBuilder& operator=(const SegmentBuilder&) = delete;
  SegmentBuilder(SegmentBuilder&&) = default;
  SegmentBuilder& operator=(SegmentBuilder&&) = default;

  // Adds one purchase line: `amount` = quantity x unit price. Lines of one
  // order (same user and order id; without an order id, same user and time)
  // add up; the order's time is the latest of its lines. Lines with an empty
  // user id or a non-finite amount are counted in skipped() and ignored.
  void Add(absl::string_view user_id, absl::string_view order_id,
           int64_t time_unix, double amount);

  int64_t lines() const { return lines_; }
  int64_t skipped() const { return skipped_; }
  // Latest time of any added line (0 when none).
  int64_t last_time_unix() const { return last_time_; }

  // Computes every user's record relative to `as_of_unix` (0: the latest
  // line time). Orders after as_of are ignored, so users whose first order
  // is later are left out. Records are sorted by user id.
  // InvalidArgument when `config` fails ValidateMarketingConfig.
  absl::StatusOr<std::vector<UserSegment>> Build(
      const MarketingConfig& config, int64_t as_of_unix) const;

 private:
  struct Order {
    int64_t time = 0;
    double amount = 0;
  };
  int32_t UserIndex(absl::string_view user_id);

  absl::flat_hash_map<std::string, int32_t> user_index_;
  std::vector<std::string> user_ids_;
  // (user, time) -> order, for lines without an order id.
  absl::flat_hash_map<std::pair<int32_t, int64_t>, Order> timed_orders_;
  // (user, order id) -> order.
  absl::flat_hash_map<std::pair<int32_t, std::string>, Order> named_orders_;
  int64_t lines_ = 0;
  int64_t skipped_ = 0;
  int64_t last_time_ = 0;
};

// Users and spend of one segment or tier.
struct GroupShare {
  std::string name;
  int64_t users = 0;
  double user_share = 0;
  double spend = 0;
  double spend_share = 0;
};

struct SegmentSummary {
  int64_t as_of_unix = 0;
  int64_t users = 0;
  // Total monetary of all users.
  double spend = 0;
  // All kNumSegments segments in enum order, then all tiers in enum order;
  // empty groups included.
  std::vector<GroupShare> segments;
  std::vector<GroupShare> tiers;
};

SegmentSummary Summarize(absl::Span<const UserSegment> users,
                         int64_t as_of_unix);

// The summary as an aligned text table, one line per segment and per tier
// plus totals, e.g.
//   segment        users  users%        spend  spend%
//   core              41   13.7%     41234.50   52.1%
// Lines end in '\n'.
std::string FormatSummaryTable(const SegmentSummary& summary);

// segments.tsv of the model directory: a header line, then one line per
// user with the columns
//   user_id segment tier lifecycle recency_days frequency monetary
//   trailing_spend first_purchase_unix last_purchase_unix r_score f_score
//   m_score as_of_unix
// separated by tabs. User ids must not contain tabs or line breaks
// (InvalidArgument naming the user).
absl::StatusOr<std::string> SegmentsToTsv(absl::Span<const UserSegment> users);
// Parses SegmentsToTsv output. DataLoss names the first bad line.
absl::StatusOr<std::vector<UserSegment>> ParseSegmentsTsv(
    absl::string_view text);
// The same in batches, for files too large to hold decoded: calls `fn` with
// up to `batch` (at least 1) consecutive records at a time, in file order.
// Stops at the first bad line (DataLoss as ParseSegmentsTsv; the batches
// before it were handed over) or the first error `fn` returns, which it
// returns.
absl::Status ForEachSegmentBatch(
    absl::string_view text, int batch,
    const std::function<absl::Status(absl::Span<const UserSegment>)>& fn);

}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_SEGMENTS_H_
