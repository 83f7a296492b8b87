// recsys_synth_model: publishes a synthesized model (bench/synth_model.h)
// under --model_root, and optionally bulk-loads its purchase history and
// item metadata into Redis, for serving benchmarks.
//
//   recsys_synth_model --users=1000000 --items=100000 --dim=64
//       --model_root=/tmp/models --redis=127.0.0.1:6379
#include <cstdio>
#include <memory>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/synth_model.h"
#include "feature_store/redis_feature_store.h"
#include "model/model_format.h"
#include "redis/client.h"
#include "redis/password.h"
#include "training/redis_load.h"

namespace {
const recsys::bench::SynthOptions kSynth;
const recsys::model::PublishOptions kPublish;
}  // namespace

ABSL_FLAG(int64_t, users, kSynth.users, "Users.");
ABSL_FLAG(int64_t, items, kSynth.items, "Catalog items.");
ABSL_FLAG(int, dim, kSynth.dim, "Vector dimensions.");
ABSL_FLAG(int, centers, kSynth.centers, "Cluster centers (0: one per 400 items).");
ABSL_FLAG(double, history_mean, kSynth.history_mean, "Mean purchased items per user.");
ABSL_FLAG(uint64_t, seed, kSynth.seed, "Seed of every random choice.");
ABSL_FLAG(int, threads, 0, "Worker threads (0: all cores).");
ABSL_FLAG(std::string, model_root, "", "Directory receiving <model_root>/<version>/. Required.");
ABSL_FLAG(std::string, version, "", "Model version (decimal digits); default: publish time.");
ABSL_FLAG(std::string, index, kPublish.index_spec,
          "FAISS index_factory spec of the item indexes, or auto.");
ABSL_FLAG(int64_t, flat_max_items, kPublish.flat_max_items,
          "auto: largest catalog searched exactly.");
ABSL_FLAG(double, target_recall, kPublish.target_recall,
          "Recall@20 the approximate index is tuned to reach.");
ABSL_FLAG(int, recall_queries, kPublish.recall_queries, "Sampled queries for the recall.");
ABSL_FLAG(std::string, redis, "",
          "host:port; when set, bulk-load purchase histories and item metadata.");
ABSL_FLAG(std::string, redis_prefix, "rs:", "Prefix of every Redis key.");
ABSL_FLAG(bool, redis_generation, true,
          "Load Redis as a new generation switched live, as recsys_nightly does "
          "(training/redis_load.h); false: the layout before generations "
          "(generation 0), for comparisons.");
ABSL_FLAG(std::string, redis_user, "", recsys::redis::kUserFlagHelp);
ABSL_FLAG(std::string, redis_password_file, "",
          recsys::redis::kPasswordFileFlagHelp);

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Publishes a synthesized model (clustered vectors, catalog, purchase history).\n"
      "  recsys_synth_model --users=1000000 --items=100000 --dim=64 --model_root=models");
  absl::ParseCommandLine(argc, argv);
  using namespace recsys;
  const std::string root = absl::GetFlag(FLAGS_model_root);
  if (root.empty()) {
    std::fprintf(stderr, "--model_root is required\n");
    return 2;
  }
  bench::SynthOptions synth;
  synth.users = absl::GetFlag(FLAGS_users);
  synth.items = absl::GetFlag(FLAGS_items);
  synth.dim = absl::GetFlag(FLAGS_dim);
  synth.centers = absl::GetFlag(FLAGS_centers);
  synth.history_mean = absl::GetFlag(FLAGS_history_mean);
  synth.seed = absl::GetFlag(FLAGS_seed);
  synth.threads = absl::GetFlag(FLAGS_threads);

  absl::Time t0 = absl::Now();
  auto data = bench::SynthesizeModel(synth);
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().ToString().c_str());
    return 2;
  }
  std::printf("synthesized %zu users x %zu items x %d dims, %zu purchases in %.2fs\n",
              data->user_ids.size(), data->items.size(), data->dim, data->history.size(),
              absl::ToDoubleSeconds(absl::Now() - t0));
  std::fflush(stdout);

  model::PublishOptions publish;
  publish.index_spec = absl::GetFlag(FLAGS_index);
  publish.version = absl::GetFlag(FLAGS_version);
  publish.flat_max_items = absl::GetFlag(FLAGS_flat_max_items);
  publish.target_recall = absl::GetFlag(FLAGS_target_recall);
  publish.recall_queries = absl::GetFlag(FLAGS_recall_queries);
  publish.log = [](absl::string_view line) {
    std::printf("%s\n", std::string(line).c_str());
    std::fflush(stdout);
  };
  t0 = absl::Now();
  auto dir = model::PublishModel(root, *data, publish);
  if (!dir.ok()) {
    std::fprintf(stderr, "publish: %s\n", dir.status().ToString().c_str());
    return 1;
  }
  std::printf("published %s in %.2fs\n", dir->c_str(), absl::ToDoubleSeconds(absl::Now() - t0));
  std::fflush(stdout);

  if (!absl::GetFlag(FLAGS_redis).empty()) {
    auto options = recsys::redis::ParseAddress(absl::GetFlag(FLAGS_redis));
    if (!options.ok()) {
      std::fprintf(stderr, "--redis: %s\n", std::string(options.status().message()).c_str());
      return 2;
    }
    options->default_timeout = absl::Seconds(30);
    auto password =
        recsys::redis::ReadPassword(absl::GetFlag(FLAGS_redis_password_file));
    if (!password.ok()) {
      std::fprintf(stderr, "--redis_password_file: %s\n",
                   std::string(password.status().message()).c_str());
      return 2;
    }
    options->user = absl::GetFlag(FLAGS_redis_user);
    options->password = *std::move(password);
    auto client = recsys::redis::Client::Create(*options);
    if (!client.ok()) {
      std::fprintf(stderr, "--redis: %s\n", std::string(client.status().message()).c_str());
      return 2;
    }
    feature_store::RedisFeatureStoreOptions store_options;
    store_options.key_prefix = absl::GetFlag(FLAGS_redis_prefix);
    auto store = feature_store::NewRedisFeatureStore(client->get(), store_options);
    if (!store.ok()) {
      std::fprintf(stderr, "--redis: %s\n", std::string(store.status().message()).c_str());
      return 2;
    }
    t0 = absl::Now();
    absl::Status loaded;
    if (absl::GetFlag(FLAGS_redis_generation)) {
      training::RedisLoadOptions load_options;
      load_options.key_prefix = store_options.key_prefix;
      loaded = training::LoadRedisGeneration(*data, client->get(), load_options).status();
    } else {
      loaded = model::LoadIntoFeatureStore(*data, store->get());
    }
    if (!loaded.ok()) {
      std::fprintf(stderr, "redis load: %s\n", loaded.ToString().c_str());
      return 1;
    }
    std::printf("loaded %zu users and %zu items into %s in %.2fs\n", data->user_ids.size(),
                data->items.size(), (*store)->Describe().c_str(),
                absl::ToDoubleSeconds(absl::Now() - t0));
  }
  return 0;
}
