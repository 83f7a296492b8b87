// Redis-backed FeatureStore. The key schema is documented in
// docs/redis_keys.md; every key starts with
// RedisFeatureStoreOptions::key_prefix.
//
// Connections, timeouts and failure handling are the shared pool's
// (redis/client.h): per-call socket timeouts from the deadline (or the
// client's default_timeout for absl::InfiniteFuture()), fail fast after a
// failed connect or a hung Redis (stall breaker), reads re-sent once after a
// stale pooled connection. Reads (GetUser, GetItems, GetListedItems,
// GetTrialCounts, GetItemChanges, Ping) and RecordEvents (each event is one
// Lua script that applies it at most once, keyed by its EventDedupKey) are
// marked idempotent; the other writes are never re-sent.
//
// Every call is one pipelined round trip (PutUsers / PutItems: one per
// bulk_batch commands, PutUsers' on up to bulk_threads threads at once; the
// first purchase event or PutItems of a process also loads its Lua script
// once). Writes are not atomic across a batch:
// when a write fails with Unavailable or DeadlineExceeded it may have been
// partly applied; for RecordEvents, sending the batch again is safe (the
// events that landed are reported as duplicates). Redis errors on a write (e.g.
// a key of the wrong type) are Internal. Reads skip values that do not parse (a
// corrupt count, a malformed list entry) instead of failing. Times are stored
// at one-second resolution. Recent-activity and impression lists are ordered by
// recording (LPUSH), so "most recent first" means most recently recorded first.
// Describe() is the client's: "redis host:port db N".
//
// Generations (redis/generation.h, docs/redis_keys.md): the bulk data
// (purchase history :pc/:pt, the items' model metadata) of generation N > 0
// lives under `{prefix}g<N>:`, generation 0 (no pointer `{prefix}gen`: the
// layout before generations) directly under the prefix. Reads follow the
// pointer through a redis::GenerationCache: checked at most once per
// generation_refresh inside the read's own pipeline, so a read costs no
// extra round trip but right after a flip, and each call reads one
// generation. The real-time keys (recent activity, impressions, trial
// counters, dedup markers, the purchase journal `:rp`, the items' live
// record `{prefix}i:`) have no generation: RecordEvents appends a purchase
// to the journal, and GetUser adds the journal's purchases after the
// generation's cutoff (its newest exported purchase) to the generation's
// history, so no purchase recorded during or after a load is lost at the
// flip. GetItems takes category, price and title from the generation's
// record when it has the item, the rest from the live record.
//
// Bulk writes: a store with load_generation > 0 writes that generation
// (PutUsers: its :pc/:pt; PutItems: its item records, no change feed) and
// its MarkLoaded does nothing (Generations::Flip writes the marker); the
// loader is training/redis_load.h. A serving store (load_generation 0)
// writes PutUsers into generation 0 and PutItems into the live records
// (Admin.UpdateItems).
//
// Load marker: MarkLoaded writes the hash `{prefix}loaded` (model_version,
// loaded_unix); CheckLoaded is one EXISTS (see feature_store.h), and while
// its verdict is "missing" GetUser fails fast with Unavailable naming the
// key and the reload command, without a round trip.
//
// Thread safety: safe for concurrent use.
#ifndef RECSYS_FEATURE_STORE_REDIS_FEATURE_STORE_H_
#define RECSYS_FEATURE_STORE_REDIS_FEATURE_STORE_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "feature_store/feature_store.h"
#include "redis/client.h"

namespace recsys::feature_store {

struct RedisFeatureStoreOptions {
  // Prefix of every key written or read, so several deployments can share
  // one Redis.
  std::string key_prefix = "rs:";
  // Lengths kept of the per-user recent-activity and impression lists.
  int recent_limit = 100;
  int impression_limit = 200;
  // How long an applied event's dedup markers ({prefix}ev:{<user>}:<key>,
  // and {prefix}tev:{<item>}:<key> of a trial count) live: a retry of the
  // event within it is not applied again (feature_store.h, RecordEvents).
  // Whole seconds, at least 1 s. The server's --event_dedup_window.
  absl::Duration event_dedup_window = kDefaultEventDedupWindow;
  // Commands per pipelined batch in PutUsers / PutItems.
  int bulk_batch = 1000;
  // PutUsers' lanes (redis/bulk_writer.h): threads with one batch each in
  // flight, so that building the next batches overlaps with Redis applying
  // the previous ones; a user's writes always take the lane of its id.
  // 1: one batch at a time on the calling thread. Default 3 (measured in
  // docs/benchmarks.md, "Redis bulk load").
  int bulk_threads = 3;
  // CheckLoaded reports a missing load marker (`{prefix}loaded`, written by
  // MarkLoaded) even if this store never saw it: for a server that must not
  // start on a Redis the trainer has not loaded. Off: only a marker seen
  // and then gone counts (stores written by tests or by hand keep working).
  bool require_loaded = false;
  // > 0: this store writes generation N of a load in progress (see the
  // file comment). 0 (default): a serving store.
  int64_t load_generation = 0;
  // How long a resolved live generation is used before the pointer is
  // checked again (inside the next read's pipeline). Zero: every read
  // checks it. Default 1 s.
  absl::Duration generation_refresh = absl::Seconds(1);
  // How long a purchase stays in the user's journal ({prefix}u:<id>:rp):
  // recording a purchase drops the user's entries more than this much older
  // than it (event times, not the clock). Longer than the time from a
  // purchase to the live generation that holds it (the next export's
  // load). At least 1 s; default 30 days.
  absl::Duration purchase_journal_retention = absl::Hours(24 * 30);
};

// Creates the store over `client`, which is borrowed: it must outlive the
// store (and may be shared with other stores). Does not connect: a Redis
// that is down at start-up makes calls fail with Unavailable until it comes
// back. InvalidArgument for a null client or bad options (recent_limit,
// impression_limit, bulk_batch or bulk_threads < 1, event_dedup_window < 1 s,
// generation_refresh < 0, purchase_journal_retention < 1 s), naming the
// field.
absl::StatusOr<std::unique_ptr<FeatureStore>> NewRedisFeatureStore(
    redis::Client* client, const RedisFeatureStoreOptions& options = {});

}  // namespace recsys::feature_store

#endif  // RECSYS_FEATURE_STORE_REDIS_FEATURE_STORE_H_
