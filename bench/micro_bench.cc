// recsys_bench_micro: in-process micro-benchmarks of the serving path
// (Google Benchmark), on a published model.
//
//   recsys_bench_micro --model_root=models [--slots_config=deploy/slots.textproto]
//       [--benchmark_filter=floor] [--crossover]
//
// Benchmarks (items/s is queries or requests per second, summed over
// threads; every multi-threaded one runs at 1 thread and at all cores):
//   floor/faiss_search_k20     the FAISS floor: the served inner-product
//                              index read with faiss::read_index and searched
//                              directly (no wrapper, no RPC, no features),
//                              one user vector per call, k = 20, the index's
//                              stored search parameter.
//   index/vector_index_k20     the same through VectorIndex::Search.
//   index/vector_index_k50_filter  what a homepage slot of k = 20 asks:
//                              k = 2k + 10 with an IdFilter.
//   fold_in/items:N            FoldInUser from N items (a new user).
//   load/title_neighbors       model::TitleNeighbors over the model's
//                              catalog: what a model load adds for the
//                              ranker's title features.
//   features/get_user, features/get_items:N  InMemoryFeatureStore reads
//                              (copying and decoding the stored features).
//   rule_pass/<slot>           Recommender::RecommendProducts, one slot of
//                              --slots with k = --k, for a known user, with
//                              the in-memory store and --slots_config: the
//                              whole domain request path without gRPC and
//                              Redis.
//   redis/get_user, redis/get_items:N  (--redis) the same reads from Redis:
//                              one pipelined round trip each, decoding
//                              included (CPU time is this process only).
//   redis/rule_pass/<slot>     (--redis) rule_pass with the Redis store:
//                              the request path without gRPC.
//   cached/get_items:N, cached/rule_pass/<slot>  (--redis) the same through
//                              the server's item cache (item_cache.h, 1 s
//                              staleness), warmed with the whole catalog:
//                              the server's request path without gRPC.
//   crossover/{flat,ivf}/N     (--crossover) exact against auto-tuned IVF
//                              search on synthesized catalogs of N items:
//                              the measurement behind PublishOptions'
//                              flat_max_items.
//
// Without --model_root a small model (--synth_users x --synth_items) is
// synthesized into a temporary directory. The search benchmarks pin FAISS
// to one OpenMP thread per calling thread, as in the server.
#include <omp.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <faiss/Index.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVF.h>
#include <faiss/index_io.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "bench/load_stats.h"
#include "bench/synth_model.h"
#include "common/random.h"
#include "feature_store/in_memory_feature_store.h"
#include "feature_store/item_cache.h"
#include "feature_store/redis_feature_store.h"
#include "model/fold_in.h"
#include "model/item_text.h"
#include "model/model_format.h"
#include "model/model_store.h"
#include "redis/client.h"
#include "redis/password.h"
#include "recommender/recommender.h"
#include "recommender/slot_config.h"
#include "model/vector_index.h"

ABSL_FLAG(std::string, model_root, "",
          "Model root whose newest version is measured; empty: synthesize one.");
ABSL_FLAG(int64_t, synth_users, 20000, "Without --model_root: users of the synthesized model.");
ABSL_FLAG(int64_t, synth_items, 20000, "Without --model_root: items of the synthesized model.");
ABSL_FLAG(int, queries, 4096, "User vectors sampled as queries (and users for the rule pass).");
ABSL_FLAG(std::string, slots_config, "", "Storefront configuration for the rule pass.");
ABSL_FLAG(std::vector<std::string>, slots,
          std::vector<std::string>({"homepage", "homepage_feed", "homepage_hero", "for_you"}),
          "Slots of the rule pass (one benchmark each).");
ABSL_FLAG(int, k, 20, "k of the floor and the rule pass.");
ABSL_FLAG(bool, crossover, false, "Also run the crossover/* benchmarks.");
ABSL_FLAG(std::string, redis, "",
          "host:port of a Redis loaded with the model (recsys_synth_model --redis): "
          "also run the redis/* benchmarks.");
ABSL_FLAG(std::string, redis_prefix, "rs:", "Prefix of every Redis key.");
ABSL_FLAG(std::string, redis_user, "", recsys::redis::kUserFlagHelp);
ABSL_FLAG(std::string, redis_password_file, "",
          recsys::redis::kPasswordFileFlagHelp);
ABSL_FLAG(std::string, crossover_items, "5000,10000,20000,50000,100000",
          "Catalog sizes of the crossover benchmarks.");

namespace {

using namespace recsys;
namespace fs = std::filesystem;

// Everything the benchmarks share; built once in main.
struct Fixture {
  std::unique_ptr<model::ModelStore> models;
  std::shared_ptr<const model::ModelBundle> bundle;
  std::unique_ptr<faiss::Index> raw_index;
  std::vector<int32_t> query_users;  // user rows
  std::unique_ptr<feature_store::InMemoryFeatureStore> store;
  std::unique_ptr<recommender::Recommender> recommender;
  std::vector<std::string> feature_item_ids;
  // --redis only. The pool outlives the stores over it.
  std::unique_ptr<recsys::redis::Client> redis_client;
  std::unique_ptr<feature_store::FeatureStore> redis;
  std::unique_ptr<recommender::Recommender> redis_recommender;
  std::unique_ptr<feature_store::ItemCachingFeatureStore> cached;
  std::unique_ptr<recommender::Recommender> cached_recommender;
};
Fixture* fixture = nullptr;

int HardwareThreads() { return std::max(1u, std::thread::hardware_concurrency()); }

// Allows every id but the multiples of 97 (a few "bought" items).
class SkipSome : public model::IdFilter {
 public:
  bool Allowed(int64_t id) const override { return id % 97 != 0; }
};

void BM_FaissFloor(benchmark::State& state) {
  omp_set_num_threads(1);
  const faiss::Index& index = *fixture->raw_index;
  const int k = static_cast<int>(state.range(0));
  faiss::SearchParametersIVF ivf;
  const faiss::SearchParameters* params = nullptr;
  if (const auto* i = dynamic_cast<const faiss::IndexIVF*>(&index)) {
    ivf.nprobe = i->nprobe;
    params = &ivf;
  }
  std::vector<float> distances(k);
  std::vector<faiss::Index::idx_t> labels(k);
  size_t q = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    const int32_t row = fixture->query_users[q++ % fixture->query_users.size()];
    index.search(1, fixture->bundle->user_vector(row).data(), k, distances.data(),
                 labels.data(), params);
    benchmark::DoNotOptimize(labels.data());
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_VectorIndex(benchmark::State& state) {
  omp_set_num_threads(1);
  const int k = static_cast<int>(state.range(0));
  const bool filtered = state.range(1) != 0;
  SkipSome filter;
  model::SearchOptions options;
  if (filtered) options.filter = &filter;
  size_t q = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    const int32_t row = fixture->query_users[q++ % fixture->query_users.size()];
    auto hits = fixture->bundle->ip_index().Search(fixture->bundle->user_vector(row), k, options);
    if (!hits.ok()) state.SkipWithError(std::string(hits.status().message()).c_str());
    benchmark::DoNotOptimize(hits);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_FoldIn(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  std::vector<model::WeightedItem> items;
  for (int i = 0; i < n; ++i) {
    items.push_back({static_cast<int32_t>((i * 7919) % fixture->bundle->num_items()), 1.0f});
  }
  for (auto _ : state) {
    auto v = model::FoldInUser(*fixture->bundle, items);
    benchmark::DoNotOptimize(v);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_TitleNeighbors(benchmark::State& state) {
  std::vector<model::ItemMeta> items;
  for (int32_t i = 0; i < fixture->bundle->num_items(); ++i) {
    items.push_back(fixture->bundle->item(i));
  }
  size_t entries = 0;
  for (auto _ : state) {
    const model::ItemNeighbors n = model::TitleNeighbors(items);
    entries = n.items.size();
    benchmark::DoNotOptimize(n);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(absl::StrCat(items.size(), " items, ", entries, " neighbours"));
}

void BM_GetUser(benchmark::State& state, const feature_store::FeatureStore* store) {
  size_t q = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    const int32_t row = fixture->query_users[q++ % fixture->query_users.size()];
    auto user = store->GetUser(fixture->bundle->user_id(row), absl::InfiniteFuture());
    if (!user.ok()) state.SkipWithError(std::string(user.status().message()).c_str());
    benchmark::DoNotOptimize(user);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_GetItems(benchmark::State& state, const feature_store::FeatureStore* store) {
  const size_t n = static_cast<size_t>(state.range(0));
  const auto& ids = fixture->feature_item_ids;
  size_t offset = 0;
  for (auto _ : state) {
    offset = (offset + 131) % (ids.size() - n + 1);
    auto items = store->GetItems(absl::MakeConstSpan(ids.data() + offset, n),
                                 absl::InfiniteFuture());
    if (!items.ok()) state.SkipWithError(std::string(items.status().message()).c_str());
    benchmark::DoNotOptimize(items);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RecommendProducts(benchmark::State& state, const recommender::Recommender* recommender,
                          std::string slot) {
  omp_set_num_threads(1);
  recommender::ProductRequest request;
  request.slots.push_back({slot, absl::GetFlag(FLAGS_k)});
  size_t q = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    const int32_t row = fixture->query_users[q++ % fixture->query_users.size()];
    request.user_id = fixture->bundle->user_id(row);
    auto answer = recommender->RecommendProducts(request);
    if (!answer.ok()) state.SkipWithError(std::string(answer.status().message()).c_str());
    benchmark::DoNotOptimize(answer);
  }
  state.SetItemsProcessed(state.iterations());
}

// crossover/*: one synthesized catalog per size, published twice (exact and
// auto-tuned IVF); kept alive for the process.
struct Crossover {
  std::shared_ptr<const model::ModelBundle> flat, ivf;
};

void BM_Crossover(benchmark::State& state, const model::ModelBundle* bundle) {
  omp_set_num_threads(1);
  const int k = absl::GetFlag(FLAGS_k);
  int32_t u = 0;
  for (auto _ : state) {
    auto hits = bundle->ip_index().Search(bundle->user_vector(u), k);
    benchmark::DoNotOptimize(hits);
    u = (u + 1) % bundle->num_users();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(bundle->ip_index().Describe());
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "%s\n", status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  absl::ParseCommandLine(argc, argv);
  Fixture f;
  fixture = &f;

  std::string root = absl::GetFlag(FLAGS_model_root);
  std::string temp_root;
  if (root.empty()) {
    temp_root = (fs::temp_directory_path() / absl::StrCat("recsys_micro_", ::getpid())).string();
    bench::SynthOptions synth;
    synth.users = absl::GetFlag(FLAGS_synth_users);
    synth.items = absl::GetFlag(FLAGS_synth_items);
    auto data = bench::SynthesizeModel(synth);
    if (!data.ok()) return Fail(data.status());
    auto dir = model::PublishModel(temp_root, *data);
    if (!dir.ok()) return Fail(dir.status());
    root = temp_root;
  }
  model::ModelStoreOptions store_options;
  store_options.root = root;
  store_options.poll_interval = absl::ZeroDuration();
  auto models = model::ModelStore::Create(store_options);
  if (!models.ok()) return Fail(models.status());
  f.models = *std::move(models);
  f.bundle = f.models->Current();
  const model::ModelBundle& bundle = *f.bundle;
  try {
    f.raw_index.reset(faiss::read_index((bundle.path() + "/items_ip.faiss").c_str()));
  } catch (const std::exception& e) {
    return Fail(absl::DataLossError(e.what()));
  }
  std::printf("model %s: %d users x %d items x %d dims; ip index %s\n", bundle.path().c_str(),
              bundle.num_users(), bundle.num_items(), bundle.dim(),
              bundle.ip_index().Describe().c_str());

  // Query users: a seeded sample of the model's users (with vectors).
  const int queries = std::max(1, absl::GetFlag(FLAGS_queries));
  for (int i = 0; i < queries; ++i) {
    f.query_users.push_back(static_cast<int32_t>(
        recsys::Mix64(static_cast<uint64_t>(i) + 17) % std::max(1, bundle.num_users())));
  }
  if (bundle.num_users() == 0) return Fail(absl::FailedPreconditionError("model has no users"));

  // The in-memory store: every item, and the query users' histories.
  f.store = std::make_unique<feature_store::InMemoryFeatureStore>();
  std::vector<feature_store::ItemFeatures> items;
  for (int32_t i = 0; i < bundle.num_items(); ++i) {
    const model::ItemMeta& m = bundle.item(i);
    items.push_back(model::ItemFeaturesFromMeta(m));
    f.feature_item_ids.push_back(m.item_id);
  }
  if (absl::Status st = f.store->PutItems(items); !st.ok()) return Fail(st);
  std::vector<feature_store::UserFeatures> users;
  for (int32_t row : f.query_users) {
    feature_store::UserFeatures u;
    u.user_id = bundle.user_id(row);
    for (const model::HistoryEntry& h : bundle.history(row)) {
      u.purchases.push_back({bundle.item(h.item).item_id, h.count,
                             absl::FromUnixSeconds(h.last_unix)});
    }
    if (!u.purchases.empty()) users.push_back(std::move(u));
  }
  if (absl::Status st = f.store->PutUsers(users); !st.ok()) return Fail(st);
  f.recommender = std::make_unique<recommender::Recommender>(f.models.get(), f.store.get());
  if (!absl::GetFlag(FLAGS_slots_config).empty()) {
    auto plan = recommender::SlotPlan::Load(absl::GetFlag(FLAGS_slots_config));
    if (!plan.ok()) return Fail(plan.status());
    f.recommender->SetSlotPlan(*plan);
  }
  if (!absl::GetFlag(FLAGS_redis).empty()) {
    auto options = recsys::redis::ParseAddress(absl::GetFlag(FLAGS_redis));
    if (!options.ok()) return Fail(options.status());
    auto password =
        recsys::redis::ReadPassword(absl::GetFlag(FLAGS_redis_password_file));
    if (!password.ok()) return Fail(password.status());
    options->user = absl::GetFlag(FLAGS_redis_user);
    options->password = *std::move(password);
    auto client = recsys::redis::Client::Create(*options);
    if (!client.ok()) return Fail(client.status());
    f.redis_client = *std::move(client);
    feature_store::RedisFeatureStoreOptions store_options;
    store_options.key_prefix = absl::GetFlag(FLAGS_redis_prefix);
    auto redis = feature_store::NewRedisFeatureStore(f.redis_client.get(), store_options);
    if (!redis.ok()) return Fail(redis.status());
    f.redis = *std::move(redis);
    f.redis_recommender =
        std::make_unique<recommender::Recommender>(f.models.get(), f.redis.get());
    f.redis_recommender->SetSlotPlan(f.recommender->slot_plan());
    auto cached = feature_store::NewItemCachingFeatureStore(f.redis.get(), {});
    if (!cached.ok()) return Fail(cached.status());
    f.cached = *std::move(cached);
    // Warm, as in a server that has run for a while: every catalog item read
    // once, so cached/ measures hits.
    for (size_t i = 0; i < f.feature_item_ids.size(); i += 1000) {
      const size_t n = std::min<size_t>(1000, f.feature_item_ids.size() - i);
      auto warm = f.cached->GetItems(absl::MakeConstSpan(f.feature_item_ids.data() + i, n),
                                     absl::InfiniteFuture());
      if (!warm.ok()) return Fail(warm.status());
    }
    f.cached_recommender =
        std::make_unique<recommender::Recommender>(f.models.get(), f.cached.get());
    f.cached_recommender->SetSlotPlan(f.recommender->slot_plan());
  }

  const int k = absl::GetFlag(FLAGS_k);
  const int all = HardwareThreads();
  auto threads = [all](benchmark::internal::Benchmark* b) {
    b->Threads(1);
    if (all > 1) b->Threads(all);
    b->UseRealTime();
  };
  threads(benchmark::RegisterBenchmark(absl::StrCat("floor/faiss_search_k", k).c_str(),
                                       BM_FaissFloor)
              ->Arg(k));
  threads(benchmark::RegisterBenchmark(absl::StrCat("index/vector_index_k", k).c_str(),
                                       BM_VectorIndex)
              ->Args({k, 0}));
  threads(benchmark::RegisterBenchmark(
              absl::StrCat("index/vector_index_k", 2 * k + 10, "_filter").c_str(),
              BM_VectorIndex)
              ->Args({2 * k + 10, 1}));
  benchmark::RegisterBenchmark("fold_in/items", BM_FoldIn)->Arg(1)->Arg(5)->Arg(50);
  benchmark::RegisterBenchmark("load/title_neighbors", BM_TitleNeighbors)
      ->Unit(benchmark::kMillisecond);
  const int64_t get_items = std::min<int64_t>(150, bundle.num_items());
  threads(benchmark::RegisterBenchmark("features/get_user", BM_GetUser, f.store.get()));
  benchmark::RegisterBenchmark("features/get_items", BM_GetItems, f.store.get())
      ->Arg(get_items);
  for (const std::string& slot : absl::GetFlag(FLAGS_slots)) {
    threads(benchmark::RegisterBenchmark(absl::StrCat("rule_pass/", slot).c_str(),
                                         BM_RecommendProducts, f.recommender.get(), slot));
  }
  if (f.redis != nullptr) {
    threads(benchmark::RegisterBenchmark("redis/get_user", BM_GetUser, f.redis.get()));
    threads(benchmark::RegisterBenchmark("redis/get_items", BM_GetItems, f.redis.get())
                ->Arg(get_items));
    for (const std::string& slot : absl::GetFlag(FLAGS_slots)) {
      threads(benchmark::RegisterBenchmark(absl::StrCat("redis/rule_pass/", slot).c_str(),
                                           BM_RecommendProducts, f.redis_recommender.get(),
                                           slot));
    }
    threads(benchmark::RegisterBenchmark("cached/get_items", BM_GetItems, f.cached.get())
                ->Arg(get_items));
    for (const std::string& slot : absl::GetFlag(FLAGS_slots)) {
      threads(benchmark::RegisterBenchmark(absl::StrCat("cached/rule_pass/", slot).c_str(),
                                           BM_RecommendProducts, f.cached_recommender.get(),
                                           slot));
    }
  }

  std::vector<std::unique_ptr<Crossover>> crossovers;
  if (absl::GetFlag(FLAGS_crossover)) {
    for (absl::string_view n_text :
         absl::StrSplit(absl::GetFlag(FLAGS_crossover_items), ',', absl::SkipEmpty())) {
      int64_t n = 0;
      if (!absl::SimpleAtoi(n_text, &n) || n < 1) {
        return Fail(absl::InvalidArgumentError(absl::StrCat("--crossover_items: '", n_text, "'")));
      }
      bench::SynthOptions synth;
      synth.users = 2000;
      synth.items = n;
      synth.dim = bundle.dim();
      auto data = bench::SynthesizeModel(synth);
      if (!data.ok()) return Fail(data.status());
      auto c = std::make_unique<Crossover>();
      const std::string dir =
          (fs::temp_directory_path() / absl::StrCat("recsys_crossover_", ::getpid(), "_", n))
              .string();
      for (const char* spec : {"Flat", "auto"}) {
        model::PublishOptions publish;
        publish.index_spec = spec;
        publish.flat_max_items = 0;  // auto: always IVF here
        publish.recall_queries = 500;
        auto published = model::PublishModel(dir, *data, publish);
        if (!published.ok()) return Fail(published.status());
        auto loaded = model::ModelBundle::Load(*published);
        if (!loaded.ok()) return Fail(loaded.status());
        (std::string(spec) == "Flat" ? c->flat : c->ivf) = *loaded;
        std::printf("crossover %lld items: %s (recall@20 ip %.4f)\n", static_cast<long long>(n),
                    (*loaded)->ip_index().Describe().c_str(),
                    (*loaded)->manifest().index().ip().recall());
      }
      fs::remove_all(dir);
      benchmark::RegisterBenchmark(absl::StrCat("crossover/flat/", n).c_str(), BM_Crossover,
                                   c->flat.get());
      benchmark::RegisterBenchmark(absl::StrCat("crossover/ivf/", n).c_str(), BM_Crossover,
                                   c->ivf.get());
      crossovers.push_back(std::move(c));
    }
  }
  std::fflush(stdout);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (!temp_root.empty()) fs::remove_all(temp_root);
  return 0;
}
