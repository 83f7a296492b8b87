// recsys_server: serves recommendations over gRPC from the newest model in
// --model_root, with features from Redis (--redis) or, by default, an
// embedded in-memory store seeded from the model.
//
// This file is the one composition root: it builds the feature, coupon and
// segment stores, the model store, the marketing engine and the storefront,
// and hands them to the gRPC server (server/recommender_service.h), which
// builds no domain object of its own.
#include <pthread.h>
#include <signal.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/log.h"
#include "experiments/attribution.h"
#include "experiments/counter_store.h"
#include "feature_store/in_memory_feature_store.h"
#include "feature_store/item_cache.h"
#include "feature_store/redis_feature_store.h"
#include "metrics/metrics.h"
#include "metrics/process.h"
#include "model/model_format.h"
#include "marketing/coupon_store.h"
#include "marketing/coupons.h"
#include "marketing/intel_signals.h"
#include "marketing/marketer.h"
#include "intelligence/intel_store.h"
#include "marketing/segment_store.h"
#include "marketing/trigger_engine.h"
#include "marketing/triggers.h"
#include "model/model_store.h"
#include "recommender/storefront.h"
#include "server/auth.h"
#include "server/coupon_event_sink.h"
#include "server/http_server.h"
#include "server/server_metrics.h"
#include "server/live_tags.h"
#include "server/triggers.h"
#include "server/recommender_service.h"
#include "redis/client.h"
#include "redis/password.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "Address to listen on (port 0: any free port); default: this host only.");
ABSL_FLAG(absl::Duration, drain, absl::Seconds(5),
          "On SIGTERM or SIGINT: report NOT_SERVING on every health name for this long, "
          "still serving calls, before the port closes.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "After the drain: how long calls in flight may run before they are cancelled.");
ABSL_FLAG(std::string, model_root, "models", "Directory of versioned model directories.");
ABSL_FLAG(std::string, redis, "",
          "Redis for features, coupons and segments: host:port, redis://[user@]host:port, a Redis "
          "Cluster as host:port,host:port,... or redis-cluster://host:port[,...] (seed nodes), "
          "or redis-sentinel://host:port[,...]/master_name; empty: embedded in-memory store "
          "seeded from the model. Passwords only from --redis_password_file or the environment.");
ABSL_FLAG(std::string, redis_prefix, "rs:", "Prefix of every Redis key.");
ABSL_FLAG(std::string, redis_user, "", recsys::redis::kUserFlagHelp);
ABSL_FLAG(std::string, redis_password_file, "",
          recsys::redis::kPasswordFileFlagHelp);
ABSL_FLAG(int, redis_coupon_replica_acks, 0,
          "With a replicated Redis (Sentinel or Cluster): each coupon issue or redemption waits "
          "(WAIT, up to 500 ms) until this many replicas hold it, so a master failover cannot "
          "lose it and grant the budget twice; unconfirmed: UNAVAILABLE, retry with the same "
          "event id. 0: no wait (docs/scaling.md).");
ABSL_FLAG(int, redis_pool, 8,
          "Maximum Redis connections of the process (one pool shared by the feature, coupon "
          "and segment stores).");
ABSL_FLAG(bool, item_cache, true,
          "Keep Redis item features (stock, flags, price) in process memory, following the "
          "store's catalog change feed (docs/redis_keys.md); false: read them per request.");
ABSL_FLAG(absl::Duration, item_cache_staleness, absl::Seconds(1),
          "With --item_cache: longest delay before an item update made by another process "
          "is seen (updates through this server are seen at once); 0s: check on every "
          "request.");
ABSL_FLAG(absl::Duration, event_dedup_window, recsys::feature_store::kDefaultEventDedupWindow,
          "How long an applied event id (RecordEvents: Event.event_id, or the id derived "
          "from the event's content) is remembered: a retry within it is not applied again "
          "(whole seconds, at least 1s). Costs Redis memory per event in the window "
          "(docs/redis_keys.md).");
ABSL_FLAG(int, poll_seconds, 30, "Seconds between checks for a newer model (0: never).");
ABSL_FLAG(
    int, max_variant_models,
    recsys::model::ModelStoreOptions().max_variant_versions,
    "Most model versions held beside the served one for experiment variants "
    "(Variant.model_version); each costs about one model's memory. Variants "
    "whose version is over the bound are served by the default model.");
ABSL_FLAG(int, max_threads, 32,
          "Maximum gRPC sync server threads: FindAudience streams, and every call with "
          "--callback_api=false.");
ABSL_FLAG(bool, callback_api, true,
          "Serve every unary call through gRPC's callback API; false: the sync thread pool "
          "(docs/benchmarks.md, \"Thread model\").");
ABSL_FLAG(int, max_concurrent_calls, recsys::server::CallLimits().max_concurrent_calls,
          "Unary calls in flight at once (callback API, from the parsed request to the sent "
          "answer); beyond it a call is answered RESOURCE_EXHAUSTED.");
ABSL_FLAG(int, max_audience_streams, recsys::server::CallLimits().max_audience_streams,
          "FindAudience streams running at once (each scans every customer); beyond it a "
          "stream is answered RESOURCE_EXHAUSTED at once.");
ABSL_FLAG(int, max_k, 200, "Largest k accepted per slot.");
ABSL_FLAG(int, feature_timeout_ms, 50,
          "Longest wait for the feature store per request before answering degraded.");
ABSL_FLAG(std::vector<std::string>, blended_slots, std::vector<std::string>({"for_you"}),
          "Slots served by the production ranker (repurchase + discovery); other "
          "slots never show items the user bought.");
ABSL_FLAG(std::string, slots_config, "",
          "Storefront slot configuration (recsys.v1.SlotsConfig in text format, e.g. "
          "deploy/slots.textproto); re-read by Admin.ReloadModel.");
ABSL_FLAG(std::string, experiments_config, "",
          "A/B experiments (recsys.v1.ExperimentsConfig in text format, e.g. "
          "deploy/experiments.textproto); re-read with --slots_config by Admin.ReloadModel. "
          "Counters live in Redis with --redis, else in this process.");
ABSL_FLAG(std::string, marketing_config, "",
          "Marketing config (recsys.v1.MarketingConfig, text format): segment and tier "
          "thresholds, incrementality priors, margin; empty: the documented defaults.");
ABSL_FLAG(std::string, coupons, "",
          "Coupon catalog (recsys.v1.CouponCatalog, text format) upserted into the coupon "
          "store at start; an invalid file stops the server with the field named.");
ABSL_FLAG(std::string, triggers_config, "",
          "Triggered offers (recsys.v1.TriggersConfig, text format, e.g. "
          "deploy/triggers.textproto): behaviour and a periodic pass turn into offers in the "
          "Redis stream outbox; needs --redis. Empty: none (Admin.RunTriggers is UNIMPLEMENTED).");
ABSL_FLAG(bool, live_tags, true,
          "Live interest tags: purchases, views and add-to-carts complete the live tag rules "
          "of the intelligence records (and their live audiences) between training runs.");
ABSL_FLAG(absl::Duration, trigger_interval, absl::Seconds(60),
          "How often the server claims due trigger checks and writes their offers (0: only "
          "through Admin.RunTriggers).");
ABSL_FLAG(std::string, api_keys_file, "",
          "API keys that may call recsys.v1, one per line as '<name> sha256:<hex> "
          "<scope>[,<scope>...]' (scopes: storefront, marketing, admin; make one with "
          "`recsys_cli new-api-key`). Empty: every call is open (a warning is logged).");
ABSL_FLAG(std::string, tls_cert, "",
          "Server certificate chain (PEM); with --tls_key the port serves TLS only.");
ABSL_FLAG(std::string, tls_key, "", "Private key of --tls_cert (PEM).");
ABSL_FLAG(std::string, tls_client_ca, "",
          "CA certificates (PEM) that sign client certificates: mutual TLS, a client "
          "without a certificate signed by them cannot connect. Requires --tls_cert.");
ABSL_FLAG(std::string, http_listen, "127.0.0.1:9464",
          "Address of the operators' HTTP port: /metrics (Prometheus), /healthz, /readyz "
          "and the live status page at /; port 0: any free port; empty: no HTTP port. "
          "Default: this host only.");
ABSL_FLAG(std::string, http_port_file, "",
          "If set, the bound HTTP port is written to this file once serving (for scripts).");
ABSL_FLAG(std::string, port_file, "",
          "If set, the bound port is written to this file once serving (for scripts).");

namespace {

// The contents of the file named by a flag ("" for an empty flag).
absl::StatusOr<std::string> ReadFlagFile(absl::string_view flag, const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  if (!in || !(text << in.rdbuf())) {
    return absl::NotFoundError(absl::StrCat("--", flag, ": cannot read ", path));
  }
  return text.str();
}

// Writes `port` and a newline to `path` through a temporary file and a
// rename, so a reader never sees a partial file.
bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  return f != nullptr && std::fprintf(f, "%d\n", port) >= 0 && std::fclose(f) == 0 &&
         std::rename(tmp.c_str(), path.c_str()) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Serves recsys.v1.Recommender and recsys.v1.Admin over gRPC.\n"
      "  recsys_server --model_root=models --redis=127.0.0.1:6379");
  absl::ParseCommandLine(argc, argv);
  // Debian's Abseil is built without NDEBUG, so every absl::Mutex lock would
  // run the deadlock detector (a global graph under a global lock): about 3%
  // of the server's CPU at 2,000 requests/s (docs/benchmarks.md, "Serving").
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  using namespace recsys;
  // Block the stop signals before any thread starts (threads inherit the
  // mask); main waits for them synchronously with sigwait below.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Access first: a bad keys file or certificate refuses start-up at once.
  server::ServerOptions server_options;
  if (!absl::GetFlag(FLAGS_api_keys_file).empty()) {
    auto keys = server::ApiKeys::Load(absl::GetFlag(FLAGS_api_keys_file));
    if (!keys.ok()) {
      LogError(absl::StrCat("--api_keys_file: ", keys.status().message()));
      return 1;
    }
    server_options.security.api_keys = std::make_shared<const server::ApiKeys>(*std::move(keys));
  }
  {
    auto cert = ReadFlagFile("tls_cert", absl::GetFlag(FLAGS_tls_cert));
    auto key = ReadFlagFile("tls_key", absl::GetFlag(FLAGS_tls_key));
    auto client_ca = ReadFlagFile("tls_client_ca", absl::GetFlag(FLAGS_tls_client_ca));
    for (const auto* read : {&cert, &key, &client_ca}) {
      if (!read->ok()) {
        LogError(read->status().message());
        return 1;
      }
    }
    server_options.security.tls_cert_pem = *std::move(cert);
    server_options.security.tls_key_pem = *std::move(key);
    server_options.security.tls_client_ca_pem = *std::move(client_ca);
  }

  // Declared first: every component that records into it must be
  // destroyed before it (the HTTP server, which scrapes it, stops first).
  metrics::Registry registry;
  registry.AddCollector(metrics::ProcessCollector());

  model::ModelStoreOptions store_options;
  store_options.root = absl::GetFlag(FLAGS_model_root);
  store_options.poll_interval = absl::Seconds(absl::GetFlag(FLAGS_poll_seconds));
  store_options.max_variant_versions = absl::GetFlag(FLAGS_max_variant_models);
  if (store_options.max_variant_versions < 0) {
    LogError(absl::StrCat("--max_variant_models: must be >= 0, got ",
                          store_options.max_variant_versions));
    return 1;
  }
  auto models = model::ModelStore::Create(store_options);
  if (!models.ok()) {
    LogError(absl::StrCat("cannot load a model: ", models.status().ToString()));
    return 1;
  }

  marketing::MarketerOptions marketer_options;
  if (!absl::GetFlag(FLAGS_marketing_config).empty()) {
    auto config = marketing::LoadMarketingConfig(absl::GetFlag(FLAGS_marketing_config));
    if (!config.ok()) {
      LogError(absl::StrCat("--marketing_config: ", config.status().ToString()));
      return 1;
    }
    marketer_options.config = *config;
  }
  const absl::Duration dedup_window = absl::GetFlag(FLAGS_event_dedup_window);
  if (dedup_window < absl::Seconds(1)) {
    LogError("--event_dedup_window: must be at least 1s");
    return 1;
  }
  marketing::CouponStoreOptions coupon_options;
  coupon_options.op_dedup_window = dedup_window;
  coupon_options.free_shipping_value =
      marketing::WithDefaults(marketer_options.config).free_shipping_value;
  // Declared before the stores that borrow it, so it outlives them.
  std::unique_ptr<redis::Client> redis_client;
  std::unique_ptr<feature_store::FeatureStore> features;
  std::unique_ptr<marketing::CouponStore> coupons;
  std::unique_ptr<marketing::SegmentStore> segments;
  std::unique_ptr<intelligence::IntelStore> intel;
  std::unique_ptr<experiments::CounterStore> experiment_counters;
  if (!absl::GetFlag(FLAGS_redis).empty()) {
    auto redis_options = redis::ParseAddress(absl::GetFlag(FLAGS_redis));
    if (!redis_options.ok()) {
      LogError(absl::StrCat("--redis: ", redis_options.status().message()));
      return 1;
    }
    redis_options->pool_size = absl::GetFlag(FLAGS_redis_pool);
    redis_options->metrics = &registry;
    auto password = redis::ReadPassword(absl::GetFlag(FLAGS_redis_password_file));
    if (!password.ok()) {
      LogError(absl::StrCat("--redis_password_file: ", password.status().message()));
      return 1;
    }
    // A user named in a redis:// URL stays unless --redis_user is given.
    if (!absl::GetFlag(FLAGS_redis_user).empty()) {
      redis_options->user = absl::GetFlag(FLAGS_redis_user);
    }
    redis_options->password = *std::move(password);
    auto client = redis::Client::Create(*redis_options);
    if (!client.ok()) {
      LogError(absl::StrCat("--redis: ", client.status().message()));
      return 1;
    }
    // The process's one Redis pool, lent to every store below.
    redis_client = *std::move(client);
    const std::string prefix = absl::GetFlag(FLAGS_redis_prefix);
    feature_store::RedisFeatureStoreOptions feature_options;
    feature_options.key_prefix = prefix;
    feature_options.event_dedup_window = dedup_window;
    auto redis_features =
        feature_store::NewRedisFeatureStore(redis_client.get(), feature_options);
    if (!redis_features.ok()) {
      LogError(absl::StrCat("--redis: ", redis_features.status().message()));
      return 1;
    }
    features = *std::move(redis_features);
    if (absl::GetFlag(FLAGS_item_cache)) {
      auto cached = feature_store::NewItemCachingFeatureStore(
          std::move(features),
          {.max_staleness = absl::GetFlag(FLAGS_item_cache_staleness)});
      if (!cached.ok()) {
        LogError(absl::StrCat("--item_cache_staleness: ", cached.status().message()));
        return 1;
      }
      server::AddItemCacheCollector(&registry, cached->get());
      features = *std::move(cached);
    }
    marketing::RedisCouponStoreOptions redis_coupon_options;
    redis_coupon_options.key_prefix = prefix;
    redis_coupon_options.coupons = coupon_options;
    redis_coupon_options.replica_acks = absl::GetFlag(FLAGS_redis_coupon_replica_acks);
    marketing::RedisSegmentStoreOptions segment_options;
    segment_options.key_prefix = prefix;
    auto coupon_store = marketing::NewRedisCouponStore(redis_client.get(), redis_coupon_options);
    auto segment_store = marketing::NewRedisSegmentStore(redis_client.get(), segment_options);
    if (!coupon_store.ok() || !segment_store.ok()) {
      LogError(absl::StrCat("--redis: ", coupon_store.ok() ? segment_store.status().message()
                                                           : coupon_store.status().message()));
      return 1;
    }
    coupons = *std::move(coupon_store);
    segments = *std::move(segment_store);
    auto intel_store = intelligence::NewRedisIntelStore(redis_client.get(), {.key_prefix = prefix});
    if (!intel_store.ok()) {
      LogError(absl::StrCat("--redis: ", intel_store.status().message()));
      return 1;
    }
    intel = *std::move(intel_store);
    auto counter_store =
        experiments::NewRedisCounterStore(redis_client.get(), {.key_prefix = prefix});
    if (!counter_store.ok()) {
      LogError(absl::StrCat("--redis: ", counter_store.status().message()));
      return 1;
    }
    experiment_counters = *std::move(counter_store);
  } else {
    experiment_counters = experiments::NewInMemoryCounterStore();
    feature_store::InMemoryOptions memory_options;
    memory_options.event_dedup_window = dedup_window;
    auto memory = std::make_unique<feature_store::InMemoryFeatureStore>(memory_options);
    // The model store holds the vectors already: only the history, items,
    // segments and intelligence here.
    auto data = model::ReadModelData((*models)->Current()->path(),
                                     {.vectors = false});
    absl::Status seeded = data.ok() ? model::LoadIntoFeatureStore(*data, memory.get())
                                    : data.status();
    if (!seeded.ok()) {
      LogError(absl::StrCat("cannot seed the in-memory feature store: ", seeded.ToString()));
      return 1;
    }
    features = std::move(memory);
    // Marketing records from the model's segments.tsv (when trained with
    // segments); coupons live in this process only.
    segments = marketing::NewInMemorySegmentStore();
    if (!data->segments_tsv.empty()) {
      auto parsed = marketing::ParseSegmentsTsv(data->segments_tsv);
      absl::Status put = parsed.ok() ? segments->PutSegments(*parsed) : parsed.status();
      if (!put.ok()) {
        LogError(absl::StrCat("cannot seed the segment store: ", put.ToString()));
        return 1;
      }
    }
    // Customer intelligence from the model's intel.tsv (when trained with it).
    intel = intelligence::NewInMemoryIntelStore();
    if (!data->intel_tsv.empty()) {
      auto parsed = intelligence::ParseIntelTsv(data->intel_tsv);
      absl::Status put = parsed.ok() ? intel->PutIntel(*parsed) : parsed.status();
      if (!put.ok()) {
        LogError(absl::StrCat("cannot seed the intelligence store: ", put.ToString()));
        return 1;
      }
    }
    auto coupon_store = marketing::NewInMemoryCouponStore(coupon_options);
    if (!coupon_store.ok()) {
      LogError(coupon_store.status().ToString());
      return 1;
    }
    coupons = *std::move(coupon_store);
  }

  // The served experiments plan: set by the storefront (load and reload),
  // read by the marketing engine.
  experiments::PlanHolder experiment_plans;
  marketer_options.intel = intel.get();
  auto marketer = marketing::Marketer::Create(models->get(), features.get(), coupons.get(),
                                              segments.get(), marketer_options, &experiment_plans,
                                              experiment_counters.get());
  if (!marketer.ok()) {
    LogError(absl::StrCat("marketing engine: ", marketer.status().ToString()));
    return 1;
  }
  if (!absl::GetFlag(FLAGS_coupons).empty()) {
    auto catalog = marketing::LoadCouponCatalog(absl::GetFlag(FLAGS_coupons));
    absl::Status put = catalog.ok() ? (*marketer)->PutCoupons(*catalog, absl::InfiniteFuture())
                                    : catalog.status();
    if (!put.ok()) {
      LogError(absl::StrCat("--coupons: ", put.ToString()));
      return 1;
    }
    LogInfo(absl::StrCat("loaded ", catalog->coupons.size(), " coupons from ",
                         absl::GetFlag(FLAGS_coupons)));
  }

  recommender::StorefrontOptions storefront_options;
  storefront_options.slots_config = absl::GetFlag(FLAGS_slots_config);
  storefront_options.experiments_config = absl::GetFlag(FLAGS_experiments_config);
  recommender::RecommenderOptions& rec_options = storefront_options.recommender;
  rec_options.max_k = absl::GetFlag(FLAGS_max_k);
  rec_options.feature_timeout = absl::Milliseconds(absl::GetFlag(FLAGS_feature_timeout_ms));
  // Buy-again ranks the items due now first by the users' repurchase cycles.
  rec_options.intel = intel.get();
  rec_options.blended_slots.clear();
  for (const std::string& slot : absl::GetFlag(FLAGS_blended_slots)) {
    rec_options.blended_slots.insert(slot);
  }
  const server::MarketerCouponSink coupon_sink(marketer->get());
  auto storefront = recommender::Storefront::Create(
      storefront_options, models->get(), features.get(), &coupon_sink, &experiment_plans,
      experiment_counters.get());
  if (!storefront.ok()) {
    LogError(absl::StrCat("--slots_config / --experiments_config: ",
                          storefront.status().ToString()));
    return 1;
  }

  // Triggered offers: the storefront hands them its stored item events; a
  // loop claims the due checks.
  // The win-back and replenishment rules read the nightly intelligence
  // (declared first: the engine borrows it).
  const marketing::IntelSignals intel_signals(intel.get());
  std::unique_ptr<marketing::TriggerEngine> triggers;
  std::unique_ptr<server::TriggerEventObserver> trigger_observer;
  if (!absl::GetFlag(FLAGS_triggers_config).empty()) {
    if (redis_client == nullptr) {
      LogError("--triggers_config: needs --redis (timers and the outbox live in Redis)");
      return 1;
    }
    auto config = marketing::LoadTriggersConfig(absl::GetFlag(FLAGS_triggers_config));
    if (!config.ok()) {
      LogError(absl::StrCat("--triggers_config: ", config.status().ToString()));
      return 1;
    }
    marketing::TriggerEngineOptions trigger_options;
    trigger_options.config = *std::move(config);
    trigger_options.key_prefix = absl::GetFlag(FLAGS_redis_prefix);
    trigger_options.event_dedup_window = dedup_window;
    trigger_options.metrics = &registry;
    auto engine = marketing::TriggerEngine::Create(redis_client.get(), coupons.get(),
                                                   segments.get(), &experiment_plans,
                                                   &intel_signals, trigger_options);
    if (!engine.ok()) {
      LogError(absl::StrCat("--triggers_config: ", engine.status().ToString()));
      return 1;
    }
    triggers = *std::move(engine);
    trigger_observer = std::make_unique<server::TriggerEventObserver>(triggers.get());
    LogInfo(absl::StrCat("triggered offers: ", triggers->config().rules.size(), " rules from ",
                         absl::GetFlag(FLAGS_triggers_config), ", outbox ",
                         absl::GetFlag(FLAGS_redis_prefix), triggers->config().stream));
  }

  // Live interest tags: the stored events complete the records' live rules.
  std::unique_ptr<server::LiveTagObserver> live_tag_observer;
  if (absl::GetFlag(FLAGS_live_tags)) {
    live_tag_observer =
        std::make_unique<server::LiveTagObserver>(models->get(), intel.get(), &registry);
  }
  const server::EventObservers event_observers({trigger_observer.get(), live_tag_observer.get()});
  if (trigger_observer != nullptr || live_tag_observer != nullptr) {
    (*storefront)->SetEventObserver(&event_observers);
  }

  server_options.listen_address = absl::GetFlag(FLAGS_listen);
  server_options.max_threads = absl::GetFlag(FLAGS_max_threads);
  server_options.callback_api = absl::GetFlag(FLAGS_callback_api);
  server_options.limits.max_concurrent_calls = absl::GetFlag(FLAGS_max_concurrent_calls);
  server_options.limits.max_audience_streams = absl::GetFlag(FLAGS_max_audience_streams);
  server_options.redis = redis_client.get();
  server_options.exposures.key_prefix = absl::GetFlag(FLAGS_redis_prefix);
  server_options.metrics = &registry;
  server_options.triggers = triggers.get();
  auto server = server::RecsysServer::Start(server_options, models->get(), features.get(),
                                            storefront->get(), marketer->get());
  if (!server.ok()) {
    LogError(server.status().ToString());
    return 1;
  }
  if (!absl::GetFlag(FLAGS_port_file).empty()) {
    if (!WritePortFile(absl::GetFlag(FLAGS_port_file), (*server)->port())) {
      LogError(absl::StrCat("cannot write --port_file ", absl::GetFlag(FLAGS_port_file)));
      return 1;
    }
  }
  std::unique_ptr<server::HttpServer> http;
  if (!absl::GetFlag(FLAGS_http_listen).empty()) {
    server::HttpOptions http_options;
    http_options.listen_address = absl::GetFlag(FLAGS_http_listen);
    auto started = server::HttpServer::Start(http_options, &registry,
                                             [s = server->get()] { return s->serving(); });
    if (!started.ok()) {
      LogError(absl::StrCat("--http_listen: ", started.status().message()));
      return 1;
    }
    http = *std::move(started);
    if (!absl::GetFlag(FLAGS_http_port_file).empty()) {
      if (!WritePortFile(absl::GetFlag(FLAGS_http_port_file), http->port())) {
        LogError(absl::StrCat("cannot write --http_port_file ",
                              absl::GetFlag(FLAGS_http_port_file)));
        return 1;
      }
    }
  }
  std::unique_ptr<server::TriggerLoop> trigger_loop;
  if (triggers != nullptr && absl::GetFlag(FLAGS_trigger_interval) > absl::ZeroDuration()) {
    trigger_loop = std::make_unique<server::TriggerLoop>(triggers.get(),
                                                         absl::GetFlag(FLAGS_trigger_interval));
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  const absl::Duration drain = absl::GetFlag(FLAGS_drain);
  LogInfo(absl::StrCat("signal ", signal_number, ": NOT_SERVING, draining for ",
                       absl::FormatDuration(drain)));
  (*server)->Drain();
  trigger_loop.reset();
  absl::SleepFor(drain);
  LogInfo("closing the port; finishing the calls in flight");
  (*server)->Shutdown(absl::GetFlag(FLAGS_shutdown_grace));
  if (http != nullptr) http->Stop();
  LogInfo("stopped");
  return 0;
}
