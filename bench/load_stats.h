// The pure parts of the load generator (recsys_load): the request mix, the
// open-loop send schedule, the per-request plan, and latency statistics.
// They hold no gRPC code, so tests can check them without a server.
//
// Thread safety: RequestMix, OpenLoopSchedule and RequestPlanner are
// immutable after construction and safe to share. LatencyRecorder is
// internally synchronized. Summarize() is a pure function.
#ifndef RECSYS_BENCH_LOAD_STATS_H_
#define RECSYS_BENCH_LOAD_STATS_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace recsys::bench {

// What one scheduled request does.
enum class RequestKind {
  // RecommendProducts, one homepage slot, for a user the model knows.
  kHomeKnown = 0,
  // A brand-new user: RecordEvents (one view) and then RecommendProducts
  // for that user; the latency covers both calls.
  kHomeNew = 1,
  // RecommendProducts for a user nobody knows (popular fallback).
  kHomeUnknown = 2,
  // SimilarItems for a catalog item.
  kSimilar = 3,
  // RecommendCoupons for a known user.
  kCoupons = 4,
  // grpc.health.v1.Health/Check of the recommender service: a call the
  // server answers without touching the model or Redis (gRPC's own cost).
  kHealth = 5,
  // RecordEvents: one view of a catalog item by a brand-new user (one
  // Redis write).
  kEvents = 6,
  // GetUserProfile of a known user (Redis reads).
  kProfile = 7,
  // RecordEvents of one purchase of a catalog item by a user of its own
  // ("<run_id>-buyer-<index>"), with event_id "<run_id>-ev-<index>" and an
  // explicit timestamp; UNAVAILABLE / DEADLINE_EXCEEDED answers are retried
  // with the same id (LoadOptions::event_retries), and the final outcome of
  // every event can be logged (LoadOptions::ack_log). For soak runs that
  // check "acknowledged = stored once" afterwards.
  kPurchase = 8,
};
inline constexpr int kNumRequestKinds = 9;

// "home_known", "home_new", "home_unknown", "similar", "coupons", "health",
// "events", "profile", "purchase".
absl::string_view RequestKindName(RequestKind kind);

// Relative weights of the request kinds.
class RequestMix {
 public:
  // Parses "home_known:70,home_new:10,similar:20": comma-separated
  // name:weight pairs, weights non-negative integers; kinds not named get
  // weight 0. InvalidArgument names the bad entry (unknown kind, repeated
  // kind, malformed or negative weight) or reports an all-zero mix.
  static absl::StatusOr<RequestMix> Parse(absl::string_view spec);

  // The kind for a uniform random value `r` in [0, 2^64): kinds take
  // consecutive shares of the range in enum order, proportional to weight.
  RequestKind Pick(uint64_t r) const;

  int64_t weight(RequestKind kind) const { return weights_[static_cast<int>(kind)]; }
  int64_t total() const { return total_; }
  // The mix in Parse()'s syntax, kinds with weight 0 left out.
  std::string ToString() const;

 private:
  std::array<int64_t, kNumRequestKinds> weights_{};
  int64_t total_ = 0;
};

// Open loop: request i is due at start + i / rate, whatever happened to
// the requests before it.
class OpenLoopSchedule {
 public:
  // REQUIRES: rate > 0.
  OpenLoopSchedule(absl::Time start, double rate) : start_(start), rate_(rate) {}

  absl::Time SendTime(int64_t i) const;
  // Number of requests due in [start, start + d).
  int64_t CountWithin(absl::Duration d) const;

  absl::Time start() const { return start_; }
  double rate() const { return rate_; }

 private:
  absl::Time start_;
  double rate_;
};

// Request i of a run: its kind and which known user / catalog item it
// uses, a pure function of (seed, i), so a run's requests do not depend on
// timing or threads.
struct PlannedRequest {
  RequestKind kind = RequestKind::kHomeKnown;
  // Index into the known-user list (kHomeKnown, kCoupons, kProfile).
  int64_t user = 0;
  // Index into the item list (kHomeNew, kEvents: the viewed item; kSimilar).
  int64_t item = 0;
};

class RequestPlanner {
 public:
  // REQUIRES: num_users >= 1 if the mix uses known users, num_items >= 1 if
  // it uses items (LoadOptions validation checks both).
  RequestPlanner(const RequestMix& mix, uint64_t seed, int64_t num_users,
                 int64_t num_items)
      : mix_(mix), seed_(seed), num_users_(num_users), num_items_(num_items) {}

  PlannedRequest Plan(int64_t i) const;

 private:
  RequestMix mix_;
  uint64_t seed_;
  int64_t num_users_;
  int64_t num_items_;
};

// Latency percentiles of a set of samples.
struct LatencySummary {
  int64_t count = 0;
  absl::Duration mean;
  absl::Duration p50, p90, p99, p999, max;
};

// Nearest-rank percentiles (the smallest sample with at least q of the
// samples at or below it) of `samples`, which is sorted in place. All zero
// for no samples.
LatencySummary Summarize(std::vector<absl::Duration>* samples);

// Collects measured requests: the latency of each completed request by
// kind, and the count of every final status code by kind.
class LatencyRecorder {
 public:
  // `code` is the gRPC status code (0 = OK). Only OK requests contribute a
  // latency sample; every request counts towards its code.
  void Record(RequestKind kind, int code, absl::Duration latency);

  struct Snapshot {
    // Latencies of OK requests, per kind (indexed by RequestKind).
    std::array<std::vector<absl::Duration>, kNumRequestKinds> latencies;
    // Status code -> count, per kind.
    std::array<std::map<int, int64_t>, kNumRequestKinds> codes;
  };
  Snapshot Take() const;

 private:
  mutable absl::Mutex mu_;
  Snapshot data_ ABSL_GUARDED_BY(mu_);
};

// Short name of a gRPC status code ("OK", "UNIMPLEMENTED", ...).
std::string StatusCodeName(int code);

}  // namespace recsys::bench

#endif  // RECSYS_BENCH_LOAD_STATS_H_
