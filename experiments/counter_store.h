// CounterStore: the experiment counters every replica shares
// (docs/experiments.md, "Attribution"; Redis keys in docs/redis_keys.md).
//
// Per experiment × variant × slot: impressions, clicks, add-to-carts,
// attributed purchases (conversions) and their value (GMV), coupons issued
// and redeemed, discounts, and purchases outside the attribution window.
// Per experiment × variant, over exposed users: the sums the statistics
// need (stats/: Moments over y = the user's attributed GMV and x = the
// user's pre-period spend; RatioMoments over clicks / impressions per user;
// converted users). Per experiment × variant × segment (the user's
// marketing segment at first exposure, when the exposing call knew it):
// the sums of the uplift estimate (SegmentSums). Per user and experiment:
// the variant, segment, first exposure time, x, running totals (GMV,
// discount, impressions, clicks), last exposure or click.
//
// Rules, the same in both implementations:
//   - Exposure: a user's first impression, click, add-to-cart or coupon
//     event of the experiment; it records x (the event's pre_spend) and the
//     segment (the event's segment; empty: the user counts in no segment)
//     once. Later events of the user add to the segment of the first one.
//   - A purchase counts (conversion, GMV, y) when the user is exposed and
//     its time lies in [first exposure, last exposure or click + window];
//     otherwise it is counted as unattributed only.
//   - An event with an event_id counts once per experiment for `ttl`
//     (kDuplicate afterwards); the check and the increments are one atomic
//     step (one Lua script in Redis).
//   - An event of a user already exposed to another variant of the
//     experiment (the config's shares changed) is kOtherVariant, not
//     counted.
//
// Thread safety: implementations are safe for concurrent use.
#ifndef RECSYS_EXPERIMENTS_COUNTER_STORE_H_
#define RECSYS_EXPERIMENTS_COUNTER_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "redis/client.h"

namespace recsys::experiments {

enum class CountedEvent {
  kImpression = 1,
  kClick = 2,
  kAddToCart = 3,
  kPurchase = 4,
  kCouponIssued = 5,
  kCouponRedeemed = 6,
};

// One event of one experiment to count.
struct ExperimentEvent {
  std::string experiment;
  std::string variant;
  std::string slot;
  std::string user_id;
  CountedEvent type = CountedEvent::kImpression;
  absl::Time time;
  // Purchases: quantity * price. Coupon redemptions: the discount granted.
  double value = 0;
  // The user's spend before the experiment (used on first exposure).
  double pre_spend = 0;
  // The user's marketing segment (used on first exposure): one of the
  // bounded set of segment names (marketing::SegmentName), set only by the
  // server (RecommendCoupons' exposure), never from client input. Empty:
  // not known; the user then counts in no segment.
  std::string segment;
  // Empty: no deduplication.
  std::string event_id;
};

enum class Outcome {
  kCounted = 1,
  kDuplicate = 0,
  kUnattributed = 2,
  kOtherVariant = 3,
};

struct CountRules {
  absl::Duration attribution_window = absl::Hours(24);
  absl::Duration event_id_ttl = absl::Hours(24 * 7);
};

// Counters of one variant in one slot.
struct SlotCounts {
  int64_t impressions = 0;
  int64_t clicks = 0;
  int64_t add_to_carts = 0;
  int64_t conversions = 0;
  double gmv = 0;
  int64_t coupons_issued = 0;
  int64_t coupons_redeemed = 0;
  double discount = 0;
  int64_t unattributed_purchases = 0;
};

// Per-user sums of one variant, over its exposed users.
struct VariantSums {
  int64_t exposed_users = 0;
  int64_t converted_users = 0;
  // y: attributed GMV per user; x: pre-period spend.
  double sum_y = 0, sum_y2 = 0, sum_x = 0, sum_x2 = 0, sum_xy = 0;
  // Clicks (num) over impressions (den) per user.
  double sum_num = 0, sum_den = 0, sum_num2 = 0, sum_den2 = 0, sum_num_den = 0;
};

// Per-user sums of one variant over its exposed users of one segment: y =
// the user's attributed GMV, d = the discounts the user's redemptions were
// granted. The per-user margin net of discounts, m·y - d, has mean
// (m·sum_y - sum_d)/n and Σ(m·y - d)² = m²·sum_y2 - 2m·sum_yd + sum_d2.
struct SegmentSums {
  int64_t exposed_users = 0;
  int64_t converted_users = 0;
  double sum_y = 0, sum_y2 = 0;
  double sum_d = 0, sum_d2 = 0, sum_yd = 0;
};

struct VariantCounts {
  VariantSums sums;
  std::map<std::string, SlotCounts> slots;      // by slot name
  std::map<std::string, SegmentSums> segments;  // by segment name
};

// By variant name.
using ExperimentCounts = std::map<std::string, VariantCounts>;

class CounterStore {
 public:
  virtual ~CounterStore() = default;

  // Counts `events` in order; one Outcome per event. Unavailable /
  // DeadlineExceeded when the store did not confirm them (some may have
  // been counted: retry with the same event ids).
  virtual absl::StatusOr<std::vector<Outcome>> Record(
      absl::Span<const ExperimentEvent> events, const CountRules& rules,
      absl::Time deadline) = 0;

  // The counters of `experiment` (empty when nothing was counted).
  virtual absl::StatusOr<ExperimentCounts> Read(absl::string_view experiment,
                                                absl::Time deadline) const = 0;
};

// In process memory: for the embedded server and unit tests.
std::unique_ptr<CounterStore> NewInMemoryCounterStore();

struct RedisCounterStoreOptions {
  // Prefix of every key (the server's --redis_prefix).
  std::string key_prefix = "rs:";
};

// In Redis over `client` (borrowed; must outlive the store). Keys of one
// experiment share one hash tag, so a Redis Cluster keeps them together.
absl::StatusOr<std::unique_ptr<CounterStore>> NewRedisCounterStore(
    const redis::Client* client, const RedisCounterStoreOptions& options = {});

}  // namespace recsys::experiments

#endif  // RECSYS_EXPERIMENTS_COUNTER_STORE_H_
