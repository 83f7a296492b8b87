// Generations of bulk-loaded Redis data and the pointer that names the live
// one (docs/redis_keys.md, "Generations").
//
// The bulk data a model load writes (purchase history, item metadata,
// segments) lives under a generation prefix `{p}g<N>:` (GenerationKeyPrefix)
// put before the key family, so the keys keep their Redis Cluster hash tags
// (`{p}g7:u:{<user>}:pc`, `{p}g7:i:{<item>}`); one pointer hash, `{p}{gen}`,
// names the live generation. A load writes a complete new generation next
// to the live one, verifies it, then switches the pointer in one Lua script
// (its keys all carry the `{gen}` tag: one slot), so readers go from the
// old data to the new at one instant. Generation 0 is the layout written
// before generations existed: its bulk keys carry no generation part
// (`{p}u:{<user>}:...`), and it is live while `{p}{gen}` names none.
//
// Readers: GenerationCache keeps the live generation in process memory.
// On one Redis (kSingle, kSentinel) it checks the pointer at most once per
// `refresh`, inside the read's own pipeline (no extra round trip),
// re-reading once with the new generation when it changed. On a Redis
// Cluster the pointer lives on another node than a user's keys, so it is
// resolved on its own at most once per `refresh` (one reader at a time)
// and each read is one round trip with the cached view: a read may use a
// pointer up to `refresh` old, which is safe because the previous
// generation is kept until the next load's prune.
//
// Writers: Generations (the nightly job and recsys_train --redis through
// training/redis_load.h; rollback through recsys_nightly --redis_rollback).
//
// Thread safety: GenerationCache is safe for concurrent use. Generations is
// safe for concurrent use, but one load per key prefix at a time.
#ifndef RECSYS_REDIS_GENERATION_H_
#define RECSYS_REDIS_GENERATION_H_

#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "redis/client.h"

namespace recsys::redis {

// "No cutoff": every purchase journal entry counts (generation 0).
inline constexpr int64_t kNoCutoff = std::numeric_limits<int64_t>::min();

// The prefix of the bulk keys of `generation` under `key_prefix`:
// generation 0 is `key_prefix` itself (the layout before generations),
// generation N > 0 is `key_prefix` + "g<N>:" (e.g. "rs:g7:"). The one place
// that builds it: every store's key helper starts from it.
std::string GenerationKeyPrefix(absl::string_view key_prefix,
                                int64_t generation);

// The pointer hash, `{p}{gen}`. Every key a generation script touches
// (the pointer and the generations' records) holds the `{gen}` hash tag,
// so each script runs on one Redis Cluster slot.
std::string GenerationPointerKey(absl::string_view key_prefix);

// The record of `generation` (cutoff, model version, counts, flip time),
// `{p}{gen}:meta:<N>`, written by the flip, removed by Prune with the
// generation.
std::string GenerationMetaKey(absl::string_view key_prefix, int64_t generation);

// What a reader needs of the live generation.
struct GenerationView {
  // 0: the layout before generations (no pointer).
  int64_t generation = 0;
  // Unix seconds of the newest purchase in the generation's history: the
  // purchase journal's entries after it are added to the history (the ones
  // at or before it are in the export). kNoCutoff for generation 0.
  int64_t cutoff_unix = kNoCutoff;
  bool operator==(const GenerationView& o) const {
    return generation == o.generation && cutoff_unix == o.cutoff_unix;
  }
};

// The pointer's whole state (Generations::Read).
struct GenerationState {
  GenerationView live;
  // The live generation, then those that were live before it (newest
  // first), as many as the last flip kept: rollback targets.
  std::vector<int64_t> history;
  // The model version of the live generation ("" for generation 0).
  std::string model_version;
  // A load in progress (or abandoned by a crash): its generation (0: none)
  // and its load id (the model version being loaded).
  int64_t loading = 0;
  std::string loading_id;
  // The highest generation number ever allocated.
  int64_t last_allocated = 0;
  // The last complete prune (Generations::Prune): it removed every
  // generation up to swept_through but swept_survivors. -1: no record.
  int64_t swept_through = -1;
  std::vector<int64_t> swept_survivors;
};

// Number of keys of each bulk family in one generation (Generations::Count).
struct GenerationCounts {
  int64_t users = 0;     // {g}u:<user>:pc (users with a purchase history)
  int64_t items = 0;     // {g}i:<item>
  int64_t segments = 0;  // {g}u:<user>:seg
  int64_t keys = 0;      // every key of the generation
  bool operator==(const GenerationCounts& o) const {
    return users == o.users && items == o.items && segments == o.segments;
  }
};

// Readers' cache of the live generation.
class GenerationCache {
 public:
  // `client` is borrowed and must outlive the cache. refresh: how long a
  // resolved generation is used without checking the pointer (zero: every
  // read checks it; the first read always checks it).
  GenerationCache(const Client* client, std::string key_prefix,
                  absl::Duration refresh);

  // The view last resolved (generation 0 before the first check).
  GenerationView Current() const;

  // Runs the commands `build(view)` returns in one round trip (kRead). One
  // Redis: when the cached view is older than `refresh`, the pointer's
  // HMGET is sent in the same pipeline; if it names another generation, the
  // cache is updated and `build` runs again with it (a second round trip:
  // once per flip, and on the first read, since the cache starts at
  // generation 0). Cluster: see the file comment (a reader that resolves
  // the pointer pays one round trip to the pointer's node first).
  // Returns the view the replies belong to and the replies of `build`'s
  // commands (not the pointer's). A pointer that does not parse is Internal.
  // `build` must return at least one command.
  absl::StatusOr<std::pair<GenerationView, std::vector<Value>>> RoundTrip(
      const std::function<std::vector<Command>(const GenerationView&)>& build,
      absl::Time deadline) const;

  // Reads the pointer now (one round trip) and caches it.
  absl::StatusOr<GenerationView> Resolve(absl::Time deadline) const;

 private:
  // RoundTrip on a Redis Cluster, where the pointer and the read's keys live
  // on different nodes: the pointer is resolved on its own (one round trip
  // to its node) at most once per `refresh` by one reader at a time, never
  // inside the read's pipeline; the read is one round trip with the cached
  // view. When the pointer's node fails, the read goes on with the view
  // resolved before (fails only before the first resolution).
  absl::StatusOr<std::pair<GenerationView, std::vector<Value>>>
  ClusterRoundTrip(
      const std::function<std::vector<Command>(const GenerationView&)>& build,
      absl::Time deadline) const;
  absl::StatusOr<GenerationView> Parse(const Value& reply) const;
  void Store(const GenerationView& view, absl::Time now) const;

  // Immutable after construction.
  const Client* const client_;  // borrowed
  const std::string key_prefix_;
  const absl::Duration refresh_;

  mutable absl::Mutex mu_;
  mutable GenerationView view_ ABSL_GUARDED_BY(mu_);
  mutable absl::Time checked_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Cluster: a reader is resolving the pointer (the others keep view_).
  mutable bool resolving_ ABSL_GUARDED_BY(mu_) = false;
};

// What a flip records about the new generation.
struct FlipInfo {
  int64_t generation = 0;
  // GenerationView::cutoff_unix of the generation.
  int64_t cutoff_unix = kNoCutoff;
  std::string model_version;
  GenerationCounts counts;
  // How many generations the pointer's history keeps (the new live one
  // included); >= 1.
  int keep = 2;
  absl::Time now = absl::UnixEpoch();
};

// The writer's side: allocation, verification, flip, pruning, rollback.
class Generations {
 public:
  // `client` is borrowed and must outlive the object.
  Generations(const Client* client, std::string key_prefix);

  // The pointer's state (one round trip).
  absl::StatusOr<GenerationState> Read(absl::Time deadline) const;

  // Starts (or resumes) the load `load_id` (the model version): returns the
  // generation to write and whether that load is already live (a rerun
  // after the flip: nothing to write). The same load id as the recorded
  // load in progress resumes its generation (rewriting it is idempotent);
  // another one allocates a new generation above every one ever allocated
  // (the abandoned one is removed by Prune). The first load ever (no
  // pointer yet) also records that no generation but 0 (the layout
  // before generations) can hold keys (`swept`, see Prune). One Lua
  // script.
  struct Begun {
    int64_t generation = 0;
    bool already_live = false;
  };
  absl::StatusOr<Begun> Begin(absl::string_view load_id,
                              absl::Time deadline) const;

  // Counts the keys of `generation` (SCAN MATCH over the keyspace of every
  // node holding keys, Client::DataNodes, batches of 1000). `call_timeout`
  // bounds each call; the walk has none, as it grows with the keyspace
  // (every generation kept: 60M keys at 10M users). Generation 0 is not
  // countable (InvalidArgument).
  absl::StatusOr<GenerationCounts> Count(int64_t generation,
                                         absl::Duration call_timeout) const;

  // Makes `info.generation` live in one Lua script on the `{gen}` slot:
  // checks that it is the load in progress, writes its record
  // ({p}{gen}:meta:<N>), points `{p}{gen}` at it (live, cutoff,
  // model_version, history trimmed to info.keep) and clears the load in
  // progress. Then (its own command: another slot) writes the load marker
  // `{p}loaded` (model_version, loaded_unix), also when already live, so a
  // rerun after a crash between the two writes it. FailedPrecondition when the
  // generation is not the load in progress (another load started since); OK
  // without a change when it is already live.
  absl::Status Flip(const FlipInfo& info, absl::Time deadline) const;

  // Removes every generation but the newest `keep` of the history and the
  // load in progress: SCAN MATCH {p}g<N>:* on every node holding keys (each
  // master of a cluster) for each generation N that can still hold keys
  // (the survivors of the last prune, recorded in the pointer's `swept`,
  // and every one allocated since; without that record, one walk over
  // {p}g*), then one UNLINK per key, pipelined 500 at a time (no multi-key
  // command, no script: the keys span every slot), and their records
  // {p}{gen}:meta:<N>. When generation 0 falls out of the history, its
  // bulk keys ({p}u:*:pc, :pt, :seg) go too (walked once: while the record
  // still lists generation 0). Ends by recording itself in `swept`: the
  // highest generation allocated and the ones kept. So a prune with
  // nothing to remove walks nothing. Returns the number of keys removed.
  // `call_timeout` bounds each call (as Count).
  absl::StatusOr<int64_t> Prune(int keep, absl::Duration call_timeout) const;

  // Points `{p}{gen}` back at the previous generation of the history (which
  // must still exist) and drops the current one from the history (one Lua
  // script on the `{gen}` slot), then sets the load marker's model version
  // to the target's. Returns
  // the generation now live. FailedPrecondition without a previous
  // generation, or when the pointer changed meanwhile.
  absl::StatusOr<int64_t> Rollback(absl::Time deadline) const;

 private:
  // Keys matching `pattern`, in SCAN batches; `each` gets every batch.
  // The nodes are walked at once, one thread each; `each` is called for
  // one batch at a time (under a lock), from those threads. `call_timeout`
  // bounds each call.
  absl::Status Scan(
      const std::string& pattern, absl::Duration call_timeout,
      const std::function<absl::Status(const std::vector<std::string>&)>& each)
      const;

  // Immutable after construction.
  const Client* const client_;  // borrowed
  const std::string key_prefix_;
};

}  // namespace recsys::redis

#endif  // RECSYS_REDIS_GENERATION_H_
