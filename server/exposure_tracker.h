// Distinct users shown each slot over the last hour ("exposed users"): the
// denominator of GMV per exposed user, which the anomaly alert
// RecsysSlotGmvPerExposedUserDrop (deploy/prometheus/alerts.yml) compares
// with the same hour last week.
//
// Time is cut into buckets (default 5 minutes); "the last hour" is the
// current bucket and the ones before it that make up the window (default
// 12 buckets: between 55 and 60 minutes of impressions).
//
// With Redis, each slot's bucket is a HyperLogLog shared by every replica,
// `{p}xu:{<slot>}:<bucket start, unix seconds>` (PFADD; expires one bucket
// after the window; the braces are a hash tag, so one PFCOUNT reads the
// union of a slot's buckets on one node), so every replica reports the same
// count, within the HyperLogLog's standard error (0.81%). Record only
// appends to an in-memory buffer; a background thread sends the buffer
// every `flush_interval` in one pipeline. PFADD is idempotent: a flush that
// fails is kept for the next one (up to `max_pending` users; beyond that
// users are dropped and counted). Without Redis, the count is this
// process's own and exact (a set of 64-bit hashes of user ids per slot and
// bucket).
//
// Slots are the labels ServerMetrics exports (configured names, "other"):
// never a user id in a key name or a label.
//
// Thread safety: all methods are safe for concurrent use. Record takes one
// mutex for an append (no I/O).
#ifndef RECSYS_SERVER_EXPOSURE_TRACKER_H_
#define RECSYS_SERVER_EXPOSURE_TRACKER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "redis/client.h"

namespace recsys::server {

struct ExposureTrackerOptions {
  // Prefix of the Redis keys (the stores' --redis_prefix). Default "rs:".
  std::string key_prefix = "rs:";
  // Bucket length; a whole number of seconds >= 1. Default 5 minutes.
  absl::Duration bucket = absl::Minutes(5);
  // Buckets that make up "the last hour" (>= 1). Default 12.
  int window_buckets = 12;
  // How often the background thread sends buffered users to Redis; zero:
  // no thread (Flush by hand, for tests). Default 1 s.
  absl::Duration flush_interval = absl::Seconds(1);
  // Most users waiting for a flush; more are dropped (dropped()). Default
  // 200,000 (about 10 MB).
  size_t max_pending = 200000;
  // Bound of one flush and one read. Default 1 s.
  absl::Duration timeout = absl::Seconds(1);
  // The clock; tests move it. Default absl::Now.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

class ExposureTracker {
 public:
  // `redis` is borrowed and must outlive the tracker; null counts in
  // process. InvalidArgument naming the option for a bad option.
  static absl::StatusOr<std::unique_ptr<ExposureTracker>> Create(
      const redis::Client* redis, ExposureTrackerOptions options);
  // Stops the flush thread after a last flush.
  ~ExposureTracker();
  ExposureTracker(const ExposureTracker&) = delete;
  ExposureTracker& operator=(const ExposureTracker&) = delete;

  // `user_id` was shown slot `slot` now.
  void Record(absl::string_view slot, absl::string_view user_id);

  // Sends the buffered users to Redis (no-op in process). On failure they
  // stay buffered for the next flush.
  absl::Status Flush();

  // Distinct users per slot over the window ending now, for `slots` and
  // every slot this process recorded, sorted by slot. Redis: one round
  // trip (PFCOUNT per slot); Unavailable when Redis does not answer.
  absl::StatusOr<std::vector<std::pair<std::string, double>>> DistinctUsers(
      const std::vector<std::string>& slots) const;

  // Users dropped because the buffer was full; flushes that failed.
  int64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  int64_t flush_errors() const {
    return flush_errors_.load(std::memory_order_relaxed);
  }

 private:
  ExposureTracker(const redis::Client* redis, ExposureTrackerOptions options);
  int64_t BucketOf(absl::Time t) const;
  std::string Key(absl::string_view slot, int64_t bucket) const;

  // Immutable after construction.
  const redis::Client* const redis_;
  const ExposureTrackerOptions options_;
  const int64_t bucket_seconds_;

  mutable absl::Mutex mu_;
  // Redis: (key, user) waiting for a flush.
  std::vector<std::pair<std::string, std::string>> pending_ ABSL_GUARDED_BY(mu_);
  // Every slot recorded by this process.
  absl::flat_hash_set<std::string> seen_slots_ ABSL_GUARDED_BY(mu_);
  // In process: slot -> bucket -> hashes of the users shown it.
  absl::flat_hash_map<std::string,
                      absl::flat_hash_map<int64_t, absl::flat_hash_set<uint64_t>>>
      local_ ABSL_GUARDED_BY(mu_);
  absl::Mutex flush_mu_;  // one flush at a time

  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> flush_errors_{0};
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace recsys::server

#endif  // RECSYS_SERVER_EXPOSURE_TRACKER_H_
