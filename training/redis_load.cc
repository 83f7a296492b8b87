#include "training/redis_load.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "common/status_macros.h"
#include "feature_store/redis_feature_store.h"
#include "marketing/segment_store.h"
#include "marketing/segments.h"
#include "redis/generation.h"

namespace recsys::training {

absl::StatusOr<RedisLoadResult> LoadRedisGeneration(
    const model::ModelData& data, redis::Client* client,
    const RedisLoadOptions& options) {
  if (client == nullptr) {
    return absl::InvalidArgumentError("client: must not be null");
  }
  if (options.batch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("batch: must be >= 1, got ", options.batch));
  }
  if (options.keep_generations < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "keep_generations: must be >= 1, got ", options.keep_generations));
  }
  if (options.call_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("call_timeout: must be > 0, got ",
                     absl::FormatDuration(options.call_timeout)));
  }
  auto deadline = [&] { return absl::Now() + options.call_timeout; };
  const std::string& version = data.manifest.version();
  if (version.empty()) {
    return absl::InvalidArgumentError("model: the manifest has no version");
  }
  auto log = [&](absl::string_view line) {
    if (options.log) options.log(line);
  };
  auto done = [&](absl::string_view step) {
    return options.on_step ? options.on_step(step) : absl::OkStatus();
  };

  const redis::Generations generations(client, options.key_prefix);
  RedisLoadResult result;
  RECSYS_ASSIGN_OR_RETURN(redis::Generations::Begun begun,
                          generations.Begin(version, deadline()));
  result.generation = begun.generation;
  result.already_live = begun.already_live;
  RECSYS_RETURN_IF_ERROR(done("begin"));
  if (!begun.already_live) {
    log(absl::StrCat("redis: loading version ", version, " as generation ",
                     begun.generation));
    // Features: items and history, into the new generation only.
    const absl::Time write_start = absl::Now();
    feature_store::RedisFeatureStoreOptions store_options;
    store_options.key_prefix = options.key_prefix;
    store_options.load_generation = begun.generation;
    RECSYS_ASSIGN_OR_RETURN(
        std::unique_ptr<feature_store::FeatureStore> store,
        feature_store::NewRedisFeatureStore(client, store_options));
    RECSYS_RETURN_IF_ERROR(
        model::LoadIntoFeatureStore(data, store.get(), options.batch));
    log(absl::StrFormat("redis: features: %d items and the history of %d users "
                        "written in %.1fs",
                        data.items.size(), data.user_ids.size(),
                        absl::ToDoubleSeconds(absl::Now() - write_start)));
    RECSYS_RETURN_IF_ERROR(done("features"));

    // Segments, decoded batch by batch (10M records are 1.5 GiB decoded).
    const absl::Time segments_start = absl::Now();
    marketing::RedisSegmentStoreOptions segment_options;
    segment_options.key_prefix = options.key_prefix;
    segment_options.load_generation = begun.generation;
    RECSYS_ASSIGN_OR_RETURN(
        std::unique_ptr<marketing::SegmentStore> segment_store,
        marketing::NewRedisSegmentStore(client, segment_options));
    int64_t segments = 0;
    RECSYS_RETURN_IF_ERROR(marketing::ForEachSegmentBatch(
        data.segments_tsv, options.batch,
        [&](absl::Span<const marketing::UserSegment> batch) {
          segments += static_cast<int64_t>(batch.size());
          return segment_store->PutSegments(batch);
        }));
    const absl::Time write_end = absl::Now();
    result.write_seconds = absl::ToDoubleSeconds(write_end - write_start);
    log(absl::StrFormat("redis: segments: %d records written in %.1fs",
                        segments,
                        absl::ToDoubleSeconds(write_end - segments_start)));
    RECSYS_RETURN_IF_ERROR(done("segments"));

    // Verify: every record written is there.
    redis::GenerationCounts expected;
    int64_t cutoff = redis::kNoCutoff;
    for (size_t u = 0; u + 1 < data.history_indptr.size(); ++u) {
      if (data.history_indptr[u + 1] > data.history_indptr[u]) ++expected.users;
    }
    for (const model::HistoryEntry& h : data.history) {
      cutoff = std::max<int64_t>(cutoff, h.last_unix);
    }
    expected.items = static_cast<int64_t>(data.items.size());
    expected.segments = segments;
    const absl::Time verify_start = absl::Now();
    RECSYS_ASSIGN_OR_RETURN(
        redis::GenerationCounts counted,
        generations.Count(begun.generation, options.call_timeout));
    result.verify_seconds = absl::ToDoubleSeconds(absl::Now() - verify_start);
    // Users' :pc and :pt keys, item records and segment records.
    result.keys_written = counted.keys;
    log(absl::StrFormat(
        "redis: wrote %d keys in %.1fs (%.0f keys/s); counted them in %.1fs",
        counted.keys, result.write_seconds,
        result.write_seconds > 0 ? counted.keys / result.write_seconds : 0.0,
        result.verify_seconds));
    if (!(counted == expected)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "redis: generation ", begun.generation, " of version ", version,
          " holds ", counted.users, " users, ", counted.items, " items, ",
          counted.segments, " segment records; expected ", expected.users, ", ",
          expected.items, ", ", expected.segments,
          " (not switched; a rerun rewrites it)"));
    }
    RECSYS_RETURN_IF_ERROR(done("verify"));

    redis::FlipInfo flip;
    flip.generation = begun.generation;
    flip.cutoff_unix = cutoff;
    flip.model_version = version;
    flip.counts = counted;
    flip.keep = options.keep_generations;
    flip.now = absl::Now();
    RECSYS_RETURN_IF_ERROR(generations.Flip(flip, deadline()));
    result.users = counted.users;
    result.items = counted.items;
    result.segments = counted.segments;
    log(absl::StrCat("redis: generation ", begun.generation, " (version ",
                     version, ") is live: ", counted.users, " users, ",
                     counted.items, " items, ", counted.segments,
                     " segment records"));
  } else {
    log(absl::StrCat("redis: version ", version,
                     " is already live (generation ", begun.generation, ")"));
  }
  RECSYS_RETURN_IF_ERROR(done("flip"));

  const absl::Time prune_start = absl::Now();
  RECSYS_ASSIGN_OR_RETURN(
      result.pruned_keys,
      generations.Prune(options.keep_generations, options.call_timeout));
  result.prune_seconds = absl::ToDoubleSeconds(absl::Now() - prune_start);
  if (result.pruned_keys > 0) {
    log(absl::StrFormat("redis: removed %d keys of old generations in %.1fs",
                        result.pruned_keys, result.prune_seconds));
  }
  RECSYS_RETURN_IF_ERROR(done("prune"));
  return result;
}

absl::StatusOr<int64_t> RollbackRedisGeneration(redis::Client* client,
                                                absl::string_view key_prefix,
                                                absl::Duration call_timeout) {
  if (client == nullptr) {
    return absl::InvalidArgumentError("client: must not be null");
  }
  const redis::Generations generations(client, std::string(key_prefix));
  return generations.Rollback(absl::Now() + call_timeout);
}

}  // namespace recsys::training
