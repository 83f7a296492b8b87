// The Redis refresh of a published model: its purchase history, item
// metadata and segments written as a new generation, verified, then
// switched live in one step (redis/generation.h, docs/redis_keys.md
// "Generations"). recsys_nightly's redis step and recsys_train --redis /
// --load_redis_only run it.
//
// Steps (RedisLoadOptions::on_step is called after each, by name; when the
// version is already live only begin, flip and prune run):
//   begin     Generations::Begin(model version): the generation to write (the
//             same one when a crashed load of this version is resumed);
//             nothing more when this version is already live.
//   features  model::LoadIntoFeatureStore into the generation: item records
//             (PutItems) and purchase history (PutUsers: :pc/:pt).
//   segments  PutSegments into the generation (its :seg records).
//   verify    Generations::Count: the generation must hold one :pc key per
//             user with a purchase, one record per item and per segment
//             record, else FailedPrecondition (nothing switched).
//   flip      Generations::Flip: the pointer names the new generation, with
//             the load marker, in one Lua script.
//   prune     Generations::Prune(keep_generations).
// Readers see the old generation until the flip and the new one after it.
// A load stopped at any step leaves the live generation untouched; running
// it again ends in the state of one clean run.
//
// Thread safety: one load per key prefix at a time (the nightly job's
// concurrencyPolicy: Forbid).
#ifndef RECSYS_TRAINING_REDIS_LOAD_H_
#define RECSYS_TRAINING_REDIS_LOAD_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "model/model_format.h"
#include "redis/client.h"

namespace recsys::training {

// The step names, in order.
inline constexpr const char* kRedisLoadSteps[] = {
    "begin", "features", "segments", "verify", "flip", "prune"};

struct RedisLoadOptions {
  // Prefix of every key (the stores' key_prefix).
  std::string key_prefix = "rs:";
  // Users / items / segment records per bulk call.
  int batch = 5000;
  // Generations kept: the live one and the previous ones (rollback
  // targets). >= 1; default 2 (live + previous).
  int keep_generations = 2;
  // Bounds each Redis call of the load: a script, a SCAN batch, a
  // pipeline of the verify and prune walks (which, like the bulk writes,
  // have no overall deadline: they grow with the keyspace). > 0; default
  // 30 s.
  absl::Duration call_timeout = absl::Seconds(30);
  // Called after each step with its name (test hooks). A non-OK status
  // stops the load there with that status, as a crash would: nothing is
  // undone.
  std::function<absl::Status(absl::string_view)> on_step;
  // Progress lines (null: silent).
  std::function<void(absl::string_view)> log;
};

struct RedisLoadResult {
  // The generation now live.
  int64_t generation = 0;
  // The model version was already live (a rerun): nothing written.
  bool already_live = false;
  int64_t users = 0;
  int64_t items = 0;
  int64_t segments = 0;
  // Keys the features and segments steps wrote (items, a user's :pc and
  // :pt, segment records; as counted by verify), and the seconds those two
  // steps took: keys_written / write_seconds is the bulk rate.
  int64_t keys_written = 0;
  double write_seconds = 0;
  // Seconds of the verify step's count and of the prune step.
  double verify_seconds = 0;
  double prune_seconds = 0;
  // Keys removed by the prune step.
  int64_t pruned_keys = 0;
};

// Loads `data` (a published model: ReadModelData; the vectors, complements
// and intelligence are not used) as a new generation and
// switches to it. `client` is borrowed. Errors: InvalidArgument for bad
// options or a model without a version, DataLoss for an unreadable
// segments file (the load stops at its first bad line, nothing switched), FailedPrecondition when verification fails or another
// load took over, and the Redis errors of the stores.
absl::StatusOr<RedisLoadResult> LoadRedisGeneration(
    const model::ModelData& data, redis::Client* client,
    const RedisLoadOptions& options);

// Points the live generation back at the previous one
// (Generations::Rollback); returns the generation now live.
absl::StatusOr<int64_t> RollbackRedisGeneration(
    redis::Client* client, absl::string_view key_prefix,
    absl::Duration call_timeout = absl::Seconds(30));

}  // namespace recsys::training

#endif  // RECSYS_TRAINING_REDIS_LOAD_H_
