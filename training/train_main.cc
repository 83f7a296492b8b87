// recsys_train: trains an implicit-ALS model from a purchase file and
// publishes it under --model_root (see training/trainer.h).
//
//   recsys_train --input purchases.csv.gz --model_root /models
//   recsys_train --input purchases.csv.gz --model_root /models
//       --redis 127.0.0.1:6379 --marketing_config deploy/marketing.textproto
//   recsys_train --load_redis_only --model_dir /models/<version>
//       --redis 127.0.0.1:6379      (reload a Redis that came back empty)
//   recsys_import --input purchases.csv --model_root /models
//       --user_factors userFactors/ --item_factors itemFactors/
//       (vectors trained by Spark MLlib ALS instead of training here;
//       recsys_import is this program with the factor flags required)
// With --redis the published model goes into Redis as a new generation,
// switched live at once (training/redis_load.h).
#include <cstdint>
#include <cmath>
#include <tuple>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "marketing/coupons.h"
#include "metrics/metrics.h"
#include "model/model_format.h"
#include "redis/client.h"
#include "redis/password.h"
#include "training/factor_import.h"
#include "training/redis_load.h"
#include "training/trainer.h"

namespace {

const recsys::training::AlsOptions kAls;
const recsys::training::ConfidenceOptions kConfidence;
const recsys::training::ReadOptions kRead;

}  // namespace

ABSL_FLAG(std::string, input, "",
          "Purchase file (CSV, plain or .gz). Required.");
ABSL_FLAG(std::string, format, "auto", recsys::training::kFormatFlagHelp);
ABSL_FLAG(std::string, columns, "", recsys::training::kColumnsFlagHelp);
ABSL_FLAG(std::string, delimiter, ",", recsys::training::kDelimiterFlagHelp);
ABSL_FLAG(std::string, model_root, "",
          "Directory receiving <model_root>/<version>/. Required.");
ABSL_FLAG(std::string, version, "",
          "Model version (decimal digits); default: publish time "
          "YYYYMMDDhhmmss.");
// Defaults: the configuration docs/evaluation.md selected for the production
// ranker on validation windows of the Online Retail data.
ABSL_FLAG(int, factors, 128, "Latent factors.");
ABSL_FLAG(int, iterations, kAls.iterations, "ALS sweeps.");
ABSL_FLAG(double, regularization, 20, "L2 weight lambda.");
ABSL_FLAG(double, alpha, 3, "Confidence weight alpha.");
ABSL_FLAG(std::string, confidence, "linear",
          "log: c = 1 + alpha*log(1 + r/epsilon); linear: c = 1 + alpha*r.");
ABSL_FLAG(std::string, signal, "events",
          "What a (user, item) pair's strength counts: events (orders), quantity "
          "(units) or binary.");
ABSL_FLAG(double, epsilon, kConfidence.epsilon, "Epsilon of log confidence.");
ABSL_FLAG(double, decay_half_life_days, 30,
          "Half-life of the time decay of purchase counts; 0 = none.");
ABSL_FLAG(std::string, solver, "cg", "cg (conjugate gradient) | cholesky.");
ABSL_FLAG(int, cg_steps, kAls.cg_steps, "CG steps per row and sweep.");
ABSL_FLAG(int, threads, kAls.threads, "Worker threads.");
ABSL_FLAG(bool, bundles, true,
          "Compute 'frequently bought together' complements from the orders.");
ABSL_FLAG(int, ranker_validation_days, 30,
          "Days at the end of the data on which the production ranker's weights "
          "are fit (0: default weights).");
ABSL_FLAG(int32_t, ranker_max_users, 2000000,
          "The ranker fit's own iALS is trained on at most about this many users "
          "(a fixed sample by user id hash beyond; bounds its memory). 0: every user.");
ABSL_FLAG(uint64_t, seed, kAls.seed, "Seed of the factor initialisation.");
ABSL_FLAG(bool, tune, false,
          "Self-tuning: score iALS configurations around the given one and the "
          "ranker's feature sets on two validation windows at the end of the data "
          "(length: --ranker_validation_days, at most a sixth of the data's span), "
          "publish the best retrained on all data, and serve popularity or "
          "buy-again where they beat the ranker on validation. Every candidate's "
          "score and the choice go to the log and the manifest (tuning).");
ABSL_FLAG(double, tune_budget_factor, 5,
          "--tune: time budget of the candidates, in multiples of one plain "
          "training measured first (read, iALS, plain ranker fit).");
ABSL_FLAG(double, tune_budget_seconds, 0,
          "--tune: time budget in seconds (overrides --tune_budget_factor when > 0).");
ABSL_FLAG(int, tune_max_candidates, 6, "--tune: iALS configurations at most.");
ABSL_FLAG(int, tune_ease_max_items, 5000,
          "--tune: also try EASE item neighbours when the catalog has at most this "
          "many items (0: cosine neighbours only).");
ABSL_FLAG(bool, tune_guard, true,
          "--tune: serve the winning baseline in a setting where it beats the "
          "ranker on validation.");
ABSL_FLAG(double, tune_guard_confidence, 0.95,
          "--tune: the guard serves the ranker in a setting only when the lower end of "
          "this confidence interval of its validation recall minus the best baseline's "
          "(paired over the users) is above 0; 0: whenever its recall is at least the "
          "baseline's.");
ABSL_FLAG(std::string, metrics_file, "",
          "After a successful run, write its metrics in the Prometheus text format to this "
          "file (through a temporary file and a rename), for node-exporter's textfile "
          "collector (e.g. /var/lib/node_exporter/textfile/recsys_train.prom): last success "
          "time, duration, rows read and skipped, final loss. Empty: none.");
ABSL_FLAG(bool, loss, true,
          "Compute and print the loss after every iteration (one extra pass).");
ABSL_FLAG(std::string, index, "auto",
          "FAISS index_factory spec of the item indexes, or auto: exact (Flat) up "
          "to 5000 items, IVF above, tuned for recall@20 >= 0.95.");
ABSL_FLAG(std::string, redis, "",
          "host:port (or a redis-cluster:// / redis-sentinel:// URL, see "
          "recsys_server --help); when set, load purchase histories, item "
          "metadata and segments into Redis after publishing, as a new "
          "generation switched live at once (docs/redis_keys.md).");
ABSL_FLAG(std::string, redis_key_prefix, "",
          "Key prefix in Redis; empty: the store's default.");
ABSL_FLAG(std::string, redis_user, "", recsys::redis::kUserFlagHelp);
ABSL_FLAG(std::string, redis_password_file, "",
          recsys::redis::kPasswordFileFlagHelp);
ABSL_FLAG(std::string, user_factors, "",
          "Vectors trained elsewhere: Spark MLlib ALS userFactors (JSON lines or CSV, a file "
          "or Spark's output directory; training/factor_import.h). With --item_factors, "
          "replaces training; --factors is read from the files, --alpha, --regularization "
          "and the confidence flags should be the ones the vectors were trained with.");
ABSL_FLAG(std::string, item_factors, "", "Spark MLlib ALS itemFactors (see --user_factors).");
ABSL_FLAG(std::string, user_id_map, "",
          "Optional CSV spark_id,shop_id renaming the user factor ids to the history's ids.");
ABSL_FLAG(std::string, item_id_map, "", "Optional CSV spark_id,shop_id for the item factors.");
ABSL_FLAG(bool, load_redis_only, false,
          "Do not train: load the published model in --model_dir (its purchase "
          "history, item metadata, segments and the load marker) into --redis, "
          "e.g. after Redis restarted empty.");
ABSL_FLAG(int, redis_keep_generations, 2,
          "Redis generations kept after the switch: the live one and previous "
          "ones (rollback targets).");
ABSL_FLAG(std::string, model_dir, "",
          "With --load_redis_only: a published model directory, "
          "<model_root>/<version>.");
ABSL_FLAG(int, max_error_lines, kRead.max_error_lines,
          "Malformed rows to print.");
ABSL_FLAG(int64_t, max_record_bytes, kRead.csv.max_record_bytes,
          "Longest accepted CSV record; longer records are skipped.");
ABSL_FLAG(std::string, not_before, "",
          "Use only rows at or after this time (unix seconds or "
          "YYYY-MM-DD[ HH:MM:SS]).");
ABSL_FLAG(std::string, before, "",
          "Use only rows before this time (unix seconds or "
          "YYYY-MM-DD[ HH:MM:SS]).");
ABSL_FLAG(bool, segments, true,
          "Compute marketing segments (RFM, segment, tier, lifecycle) from the "
          "same rows: summary in the manifest, segments.tsv in the model, "
          "and with --redis each user's record in Redis.");
ABSL_FLAG(std::string, marketing_config, "",
          "recsys.v1.MarketingConfig text file with the segment and tier "
          "thresholds (e.g. deploy/marketing.textproto); empty: the defaults.");
ABSL_FLAG(std::string, segments_as_of, "",
          "Reference time of recency and trailing spend (unix seconds or "
          "YYYY-MM-DD[ HH:MM:SS]); empty: the latest event of the data.");
ABSL_FLAG(bool, intelligence, true,
          "Compute customer intelligence (interest tags, affinities, purchase "
          "intent and churn risk, repurchase cycles, price sensitivity, growth "
          "tiers) as of --segments_as_of: intel.tsv in the model, and with "
          "--redis each user's record in Redis.");
ABSL_FLAG(std::string, customers, "",
          "The shop's customer file (CSV with a header: user_id and birthday, "
          "MM-DD or YYYY-MM-DD; docs/marketing.md): birthdays for the "
          "intelligence records and the birthday trigger. Empty: none.");
ABSL_FLAG(std::string, intelligence_config, "",
          "recsys.v1.IntelligenceConfig text file (tag rules, model settings, "
          "growth tiers; e.g. deploy/intelligence.textproto); empty: defaults, "
          "learned tags only.");

namespace {

#ifdef RECSYS_IMPORT_BINARY
constexpr char kProgram[] = "recsys_import";
#else
constexpr char kProgram[] = "recsys_train";
#endif

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "%s: %s\n", kProgram, status.ToString().c_str());
  return 1;
}

absl::Status ParseTimeFlag(absl::string_view name, const std::string& value,
                           int64_t* out) {
  if (value.empty()) return absl::OkStatus();
  std::optional<int64_t> t = recsys::training::ParseTimestamp(value);
  if (!t) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": bad time '", value, "'"));
  }
  *out = *t;
  return absl::OkStatus();
}

}  // namespace

namespace {

// The run's metrics as a Prometheus textfile, written atomically.
absl::Status WriteMetricsFile(const std::string& path,
                              const recsys::training::TrainResult& result) {
  recsys::metrics::Registry registry;
  auto gauge = [&registry](absl::string_view name, absl::string_view help, double value) {
    registry.AddGauge(name, help)->Get({})->Set(value);
  };
  gauge("recsys_training_last_success_timestamp_seconds",
        "When the last successful training run ended.", static_cast<double>(std::time(nullptr)));
  gauge("recsys_training_duration_seconds", "Wall time of the last successful run.",
        result.total_seconds);
  gauge("recsys_training_rows_read", "Data rows read by the last successful run.",
        static_cast<double>(result.read_stats.rows_read));
  gauge("recsys_training_rows_used", "Rows used (rows read less those skipped).",
        static_cast<double>(result.read_stats.rows_used));
  auto* skipped = registry.AddGauge("recsys_training_rows_skipped",
                                    "Rows skipped by the last successful run, by reason.",
                                    {"reason"});
  skipped->Get({"total"})->Set(static_cast<double>(result.read_stats.total_skipped()));
  for (const auto& [reason, rows] : result.read_stats.skipped) {
    skipped->Get({reason})->Set(static_cast<double>(rows));
  }
  gauge("recsys_training_users", "Users in the trained model.", result.users);
  gauge("recsys_training_items", "Items in the trained model.", result.items);
  gauge("recsys_training_interactions", "Distinct (user, item) pairs trained on.",
        static_cast<double>(result.interactions));
  if (!result.iterations.empty() && !std::isnan(result.iterations.back().loss)) {
    gauge("recsys_training_final_loss",
          "Normalised ALS loss after the last iteration (evaluation of the fit).",
          result.iterations.back().loss);
  }
  if (!result.memory.empty()) {
    auto* peak = registry.AddGauge(
        "recsys_training_phase_peak_resident_bytes",
        "Peak resident memory of each phase of the last successful run.", {"phase"});
    for (const recsys::training::TrainPhaseMemory& m : result.memory) {
      peak->Get({m.phase})->Set(static_cast<double>(m.peak_kb) * 1024);
    }
  }
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  const std::string text = registry.Exposition();
  if (f == nullptr || std::fwrite(text.data(), 1, text.size(), f) != text.size() ||
      std::fclose(f) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("--metrics_file: cannot write ", path));
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Trains an implicit-ALS recommendation model and publishes it.\n"
      "  recsys_train --input purchases.csv.gz --model_root /models");
  absl::ParseCommandLine(argc, argv);
  using recsys::training::AlsSolver;
  using recsys::training::ConfidenceScaling;
  using recsys::training::ParseAlsSolver;
  using recsys::training::ParseConfidenceScaling;
  using recsys::training::Train;
  using recsys::training::TrainerOptions;
  using recsys::training::TrainResult;
  using recsys::training::ValidateTrainerOptions;

  TrainerOptions options;
  options.input = absl::GetFlag(FLAGS_input);
  options.model_root = absl::GetFlag(FLAGS_model_root);
  options.version = absl::GetFlag(FLAGS_version);
  options.index_spec = absl::GetFlag(FLAGS_index);
  if (absl::Status s = recsys::training::ParseInputFlags(
          absl::GetFlag(FLAGS_format), absl::GetFlag(FLAGS_columns),
          absl::GetFlag(FLAGS_delimiter), &options.read);
      !s.ok()) {
    return Fail(s);
  }
  options.read.max_error_lines = absl::GetFlag(FLAGS_max_error_lines);
  options.read.csv.max_record_bytes = absl::GetFlag(FLAGS_max_record_bytes);
  if (absl::Status s =
          ParseTimeFlag("not_before", absl::GetFlag(FLAGS_not_before),
                        &options.read.not_before_unix);
      !s.ok()) {
    return Fail(s);
  }
  if (absl::Status s = ParseTimeFlag("before", absl::GetFlag(FLAGS_before),
                                     &options.read.before_unix);
      !s.ok()) {
    return Fail(s);
  }
  absl::StatusOr<ConfidenceScaling> scaling =
      ParseConfidenceScaling(absl::GetFlag(FLAGS_confidence));
  if (!scaling.ok()) return Fail(scaling.status());
  options.confidence.scaling = *scaling;
  absl::StatusOr<recsys::training::ConfidenceSignal> signal =
      recsys::training::ParseConfidenceSignal(absl::GetFlag(FLAGS_signal));
  if (!signal.ok()) return Fail(signal.status());
  options.confidence.signal = *signal;
  options.confidence.alpha = static_cast<float>(absl::GetFlag(FLAGS_alpha));
  options.confidence.epsilon = static_cast<float>(absl::GetFlag(FLAGS_epsilon));
  options.confidence.decay_half_life_days =
      static_cast<float>(absl::GetFlag(FLAGS_decay_half_life_days));
  absl::StatusOr<AlsSolver> solver =
      ParseAlsSolver(absl::GetFlag(FLAGS_solver));
  if (!solver.ok()) return Fail(solver.status());
  options.als.solver = *solver;
  options.als.factors = absl::GetFlag(FLAGS_factors);
  options.als.iterations = absl::GetFlag(FLAGS_iterations);
  options.als.regularization =
      static_cast<float>(absl::GetFlag(FLAGS_regularization));
  options.als.cg_steps = absl::GetFlag(FLAGS_cg_steps);
  options.als.threads = absl::GetFlag(FLAGS_threads);
  options.ranker_validation_days = absl::GetFlag(FLAGS_ranker_validation_days);
  options.ranker_max_users = absl::GetFlag(FLAGS_ranker_max_users);
  options.tune = absl::GetFlag(FLAGS_tune);
  options.tune_budget_factor = absl::GetFlag(FLAGS_tune_budget_factor);
  options.tune_budget_seconds = absl::GetFlag(FLAGS_tune_budget_seconds);
  options.tune_max_candidates = absl::GetFlag(FLAGS_tune_max_candidates);
  options.tune_ease_max_items = absl::GetFlag(FLAGS_tune_ease_max_items);
  options.tune_guard = absl::GetFlag(FLAGS_tune_guard);
  options.tune_guard_confidence = absl::GetFlag(FLAGS_tune_guard_confidence);
  options.compute_complements = absl::GetFlag(FLAGS_bundles);
  options.als.seed = absl::GetFlag(FLAGS_seed);
  options.als.compute_loss = absl::GetFlag(FLAGS_loss);
  options.compute_segments = absl::GetFlag(FLAGS_segments);
  if (const std::string path = absl::GetFlag(FLAGS_marketing_config); !path.empty()) {
    absl::StatusOr<recsys::marketing::MarketingConfig> config =
        recsys::marketing::LoadMarketingConfig(path);
    if (!config.ok()) return Fail(config.status());
    options.marketing = *std::move(config);
  }
  options.compute_intelligence = absl::GetFlag(FLAGS_intelligence);
  if (const std::string path = absl::GetFlag(FLAGS_intelligence_config); !path.empty()) {
    absl::StatusOr<recsys::intelligence::IntelligenceConfig> config =
        recsys::intelligence::LoadIntelligenceConfig(path);
    if (!config.ok()) return Fail(config.status());
    options.intelligence = *std::move(config);
  }
  options.customers_path = absl::GetFlag(FLAGS_customers);
  if (absl::Status s = ParseTimeFlag("segments_as_of", absl::GetFlag(FLAGS_segments_as_of),
                                     &options.segments_as_of_unix);
      !s.ok()) {
    return Fail(s);
  }
  options.log = [](absl::string_view line) {
    std::printf("%.*s\n", static_cast<int>(line.size()), line.data());
    std::fflush(stdout);
  };
  const std::string user_factors = absl::GetFlag(FLAGS_user_factors);
  const std::string item_factors = absl::GetFlag(FLAGS_item_factors);
#ifdef RECSYS_IMPORT_BINARY
  if (user_factors.empty() || item_factors.empty()) {
    return Fail(absl::InvalidArgumentError(
        "recsys_import needs --user_factors and --item_factors (Spark ALS exports)"));
  }
#endif
  // Vectors trained elsewhere, read before the history so that a bad
  // export stops the run before anything else.
  recsys::training::FactorTable user_table, item_table;
  if (!user_factors.empty() || !item_factors.empty()) {
    if (user_factors.empty() || item_factors.empty()) {
      return Fail(absl::InvalidArgumentError(
          "--user_factors and --item_factors: give both or neither"));
    }
    for (auto [path, map, table, what] :
         {std::tuple{user_factors, absl::GetFlag(FLAGS_user_id_map), &user_table, "user"},
          std::tuple{item_factors, absl::GetFlag(FLAGS_item_id_map), &item_table, "item"}}) {
      recsys::training::FactorReadStats stats;
      stats.max_error_lines = absl::GetFlag(FLAGS_max_error_lines);
      absl::StatusOr<recsys::training::FactorTable> read =
          recsys::training::ReadSparkFactors(path, &stats);
      if (!read.ok()) return Fail(read.status());
      *table = *std::move(read);
      std::printf("%s factors: %lld rows of %d values read from %s, %lld malformed\n", what,
                  static_cast<long long>(stats.rows_used), table->dim, path.c_str(),
                  static_cast<long long>(stats.malformed));
      for (const std::string& e : stats.errors) std::printf("  %s\n", e.c_str());
      if (!map.empty()) {
        int64_t unmapped = 0;
        if (absl::Status st = recsys::training::ApplyIdMap(map, table, &unmapped); !st.ok()) {
          return Fail(st);
        }
        std::printf("%s factors: %lld ids not in %s dropped\n", what,
                    static_cast<long long>(unmapped), map.c_str());
      }
    }
    options.als.factors = user_table.dim;
    const float lambda = options.als.regularization;
    options.factors = [&user_table, &item_table, lambda](
                          const recsys::training::InteractionData& data,
                          const recsys::training::CsrMatrix& confidence)
        -> absl::StatusOr<recsys::training::AlsModel> {
      recsys::training::ImportStats stats;
      auto model = recsys::training::ImportFactors(user_table, item_table, data, confidence,
                                                   lambda, &stats);
      if (model.ok()) {
        std::printf(
            "imported vectors: users %d matched, %d solved from their history (%lld exported "
            "users not in the history); items %d matched, %d solved (%lld not in the history)\n",
            stats.users_matched, stats.users_solved, static_cast<long long>(stats.users_unknown),
            stats.items_matched, stats.items_solved, static_cast<long long>(stats.items_unknown));
      }
      return model;
    };
  }
  const bool load_redis_only = absl::GetFlag(FLAGS_load_redis_only);
  if (load_redis_only) {
    if (absl::GetFlag(FLAGS_model_dir).empty() || absl::GetFlag(FLAGS_redis).empty()) {
      return Fail(absl::InvalidArgumentError(
          "--load_redis_only needs --model_dir=<model_root>/<version> and --redis=host:port"));
    }
    options.compute_segments = false;
    options.compute_intelligence = false;
  } else if (absl::Status s = ValidateTrainerOptions(options); !s.ok()) {
    return Fail(s);
  }

  // One Redis pool; it outlives every use (declared first).
  std::unique_ptr<recsys::redis::Client> redis_client;
  // Intel records are not part of a generation: the trainer writes them.
  std::unique_ptr<recsys::intelligence::IntelStore> intel_store;
  const std::string redis = absl::GetFlag(FLAGS_redis);
  if (!redis.empty()) {
    absl::StatusOr<recsys::redis::Options> redis_options =
        recsys::redis::ParseAddress(redis);
    if (!redis_options.ok()) return Fail(redis_options.status());
    absl::StatusOr<std::string> password =
        recsys::redis::ReadPassword(absl::GetFlag(FLAGS_redis_password_file));
    if (!password.ok()) return Fail(password.status());
    // A user named in a redis:// URL stays unless --redis_user is given.
    if (!absl::GetFlag(FLAGS_redis_user).empty()) {
      redis_options->user = absl::GetFlag(FLAGS_redis_user);
    }
    redis_options->password = *std::move(password);
    absl::StatusOr<std::unique_ptr<recsys::redis::Client>> client =
        recsys::redis::Client::Create(*redis_options);
    if (!client.ok()) return Fail(client.status());
    redis_client = *std::move(client);
    if (options.compute_intelligence) {
      recsys::intelligence::RedisIntelStoreOptions intel_options;
      if (const std::string prefix = absl::GetFlag(FLAGS_redis_key_prefix);
          !prefix.empty()) {
        intel_options.key_prefix = prefix;
      }
      absl::StatusOr<std::unique_ptr<recsys::intelligence::IntelStore>> intel =
          recsys::intelligence::NewRedisIntelStore(redis_client.get(), intel_options);
      if (!intel.ok()) return Fail(intel.status());
      intel_store = *std::move(intel);
    }
  }
  recsys::training::RedisLoadOptions load_options;
  if (const std::string prefix = absl::GetFlag(FLAGS_redis_key_prefix); !prefix.empty()) {
    load_options.key_prefix = prefix;
  }
  load_options.keep_generations = absl::GetFlag(FLAGS_redis_keep_generations);
  load_options.log = options.log;
  // The published model into Redis as a new generation (training/redis_load.h).
  auto load_redis = [&](const std::string& dir) -> absl::Status {
    // The items, history and segments: not the vectors, complements or
    // intelligence (5 GiB of vectors at 10M users x 128 dims).
    absl::StatusOr<recsys::model::ModelData> data =
        recsys::model::ReadModelData(dir, {.vectors = false, .extras = false});
    if (!data.ok()) return data.status();
    absl::StatusOr<recsys::training::RedisLoadResult> loaded =
        recsys::training::LoadRedisGeneration(*data, redis_client.get(), load_options);
    if (!loaded.ok()) return loaded.status();
    std::printf("loaded %s (version %s) into %s as generation %lld\n", dir.c_str(),
                data->manifest.version().c_str(), redis_client->Describe().c_str(),
                static_cast<long long>(loaded->generation));
    return absl::OkStatus();
  };

  if (load_redis_only) {
    if (absl::Status s = load_redis(absl::GetFlag(FLAGS_model_dir)); !s.ok()) return Fail(s);
    return 0;
  }
  absl::StatusOr<TrainResult> result = Train(options, nullptr, nullptr, intel_store.get());
  if (!result.ok()) return Fail(result.status());
  if (redis_client != nullptr) {
    if (absl::Status s = load_redis(result->model_dir); !s.ok()) return Fail(s);
  }
  if (const std::string path = absl::GetFlag(FLAGS_metrics_file); !path.empty()) {
    if (absl::Status s = WriteMetricsFile(path, *result); !s.ok()) return Fail(s);
  }
  return 0;
}
