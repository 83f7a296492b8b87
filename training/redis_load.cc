#include "training/redis_load.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/status_macros.h"
#include "feature_store/redis_feature_store.h"
#include "marketing/segment_store.h"
#include "marketing/segments.h"
#include "redis/generation.h"

namespace recsys::training {
namespace {

// Bounds each Redis call of the load (a SCAN batch, a pipeline, a script).
constexpr absl::Duration kCallTimeout = absl::Seconds(30);

absl::Time Deadline() { return absl::Now() + kCallTimeout; }

}  // namespace

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
                          generations.Begin(version, Deadline()));
  result.generation = begun.generation;
  result.already_live = begun.already_live;
  RECSYS_RETURN_IF_ERROR(done("begin"));
  if (!begun.already_live) {
    log(absl::StrCat("redis: loading version ", version, " as generation ",
                     begun.generation));
    // Features: items and history, into the new generation only.
    feature_store::RedisFeatureStoreOptions store_options;
    store_options.key_prefix = options.key_prefix;
    store_options.load_generation = begun.generation;
    RECSYS_ASSIGN_OR_RETURN(
        std::unique_ptr<feature_store::FeatureStore> store,
        feature_store::NewRedisFeatureStore(client, store_options));
    RECSYS_RETURN_IF_ERROR(
        model::LoadIntoFeatureStore(data, store.get(), options.batch));
    RECSYS_RETURN_IF_ERROR(done("features"));

    // Segments.
    std::vector<marketing::UserSegment> segments;
    if (!data.segments_tsv.empty()) {
      RECSYS_ASSIGN_OR_RETURN(segments,
                              marketing::ParseSegmentsTsv(data.segments_tsv));
    }
    marketing::RedisSegmentStoreOptions segment_options;
    segment_options.key_prefix = options.key_prefix;
    segment_options.load_generation = begun.generation;
    RECSYS_ASSIGN_OR_RETURN(
        std::unique_ptr<marketing::SegmentStore> segment_store,
        marketing::NewRedisSegmentStore(client, segment_options));
    for (size_t b = 0; b < segments.size(); b += options.batch) {
      const size_t n = std::min<size_t>(options.batch, segments.size() - b);
      RECSYS_RETURN_IF_ERROR(segment_store->PutSegments(
          absl::MakeConstSpan(segments).subspan(b, n)));
    }
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
    expected.segments = static_cast<int64_t>(segments.size());
    RECSYS_ASSIGN_OR_RETURN(redis::GenerationCounts counted,
                            generations.Count(begun.generation, Deadline()));
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
    RECSYS_RETURN_IF_ERROR(generations.Flip(flip, Deadline()));
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

  RECSYS_ASSIGN_OR_RETURN(
      result.pruned_keys,
      generations.Prune(options.keep_generations, Deadline()));
  if (result.pruned_keys > 0) {
    log(absl::StrCat("redis: removed ", result.pruned_keys,
                     " keys of old generations"));
  }
  RECSYS_RETURN_IF_ERROR(done("prune"));
  return result;
}

absl::StatusOr<int64_t> RollbackRedisGeneration(redis::Client* client,
                                                absl::string_view key_prefix) {
  if (client == nullptr) {
    return absl::InvalidArgumentError("client: must not be null");
  }
  const redis::Generations generations(client, std::string(key_prefix));
  return generations.Rollback(Deadline());
}

}  // namespace recsys::training
