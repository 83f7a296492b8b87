// recsys_nightly: the unattended nightly retraining (nightly/nightly.h):
// history -> train -> evaluation gate -> publish -> Redis refresh ->
// audience export -> prune -> one summary line and a Prometheus textfile.
//
//   recsys_nightly --input /exports/purchases --model_root /models
//       --redis 127.0.0.1:6379 --textfile
//       /var/lib/node_exporter/recsys_nightly.prom
//
// Exit codes: 0 published (or the run was already complete); 1 error (bad
// input, I/O, Redis: a rerun resumes; bad input publishes nothing and leaves
// Redis as it was); 2 usage error (bad flag); 3 the gate refused the
// candidate (kept in <model_root>/refused/<version>, nothing served or
// loaded changed; --force publishes it).
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/log.h"
#include "evaluation/gate.h"
#include "experiments/experiment_plan.h"
#include "intelligence/intel_store.h"
#include "marketing/coupon_store.h"
#include "marketing/coupons.h"
#include "marketing/intel_signals.h"
#include "marketing/segment_store.h"
#include "marketing/trigger_engine.h"
#include "marketing/triggers.h"
#include "nightly/nightly.h"
#include "redis/client.h"
#include "redis/password.h"
#include "training/redis_load.h"
#include "training/trainer.h"

namespace {

const recsys::training::AlsOptions kAls;
const recsys::evaluation::GateOptions kGate;
const recsys::nightly::NightlyOptions kNightly;

constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitRefused = 3;
// Exit code of the --crash_after test hook.
constexpr int kExitCrashHook = 86;

}  // namespace

ABSL_FLAG(
    std::string, input, "",
    "Purchase history: a CSV file (plain or .gz) or a directory of daily "
    "exports named with their date (YYYY-MM-DD) ending in .csv or .csv.gz. "
    "Required.");
ABSL_FLAG(std::string, format, "auto", recsys::training::kFormatFlagHelp);
ABSL_FLAG(std::string, columns, "", recsys::training::kColumnsFlagHelp);
ABSL_FLAG(std::string, delimiter, ",", recsys::training::kDelimiterFlagHelp);
ABSL_FLAG(
    std::string, model_root, "",
    "Model root the server polls: receives <version>/, refused/<version>/ "
    "and the job's state in .nightly/. Required.");
// Model parameters: the defaults of recsys_train.
ABSL_FLAG(int, factors, 128, "Latent factors.");
ABSL_FLAG(int, iterations, kAls.iterations, "ALS sweeps.");
ABSL_FLAG(double, regularization, 20, "L2 weight lambda.");
ABSL_FLAG(double, alpha, 3, "Confidence weight alpha.");
ABSL_FLAG(std::string, confidence, "linear", "log | linear.");
ABSL_FLAG(std::string, signal, "events", "events | quantity | binary.");
ABSL_FLAG(double, decay_half_life_days, 30,
          "Half-life of the time decay; 0 = none.");
ABSL_FLAG(int, threads, kAls.threads, "Worker threads (training and scoring).");
ABSL_FLAG(uint64_t, seed, kAls.seed, "Seed of the factor initialisation.");
ABSL_FLAG(std::string, index, "auto",
          "FAISS index_factory spec of the item indexes, or auto.");
ABSL_FLAG(int, ranker_validation_days, 30,
          "Days at the end of the data on which the ranker's weights are fit.");
ABSL_FLAG(bool, tune, true,
          "Self-tuning with the validation guard (recsys_train --tune; "
          "--tune=false: the given iALS and the plain ranker fit).");
ABSL_FLAG(double, tune_budget_factor, 5,
          "--tune: time budget of the candidates, in multiples of one plain "
          "training (recsys_train --tune_budget_factor).");
ABSL_FLAG(double, tune_budget_seconds, 0,
          "--tune: time budget in seconds (overrides --tune_budget_factor when > 0); "
          "a fixed budget makes the choice independent of the machine's speed.");
ABSL_FLAG(std::string, marketing_config, "",
          "recsys.v1.MarketingConfig text file (segment thresholds); empty: "
          "defaults.");
ABSL_FLAG(std::string, intelligence_config, "",
          "recsys.v1.IntelligenceConfig text file (tag rules, growth tiers); "
          "empty: defaults.");
ABSL_FLAG(std::string, triggers_config, "",
          "recsys.v1.TriggersConfig text file (deploy/triggers.textproto), with "
          "--redis: after the Redis refresh, the signal pass (win-back, "
          "replenishment, birthday) over every user with an intelligence record; "
          "the servers send the offers when due. Empty: no signals step.");
ABSL_FLAG(int, signals_batch, 1000, "Users per signal pass of the signals step.");
ABSL_FLAG(std::string, customers, "",
          "The shop's customer file (user_id, birthday; as recsys_train "
          "--customers); empty: none.");
// The gate.
ABSL_FLAG(double, gate_margin, kGate.margin,
          "Refuse when the candidate's key metric < (1 - margin) x the served "
          "model's.");
ABSL_FLAG(std::string, gate_metric, kGate.metric,
          "Key metric: ndcg | recall | hit_rate | map.");
ABSL_FLAG(int, gate_k, kGate.k, "Cut-off of the key metric.");
ABSL_FLAG(std::string, gate_setting, kGate.setting,
          "Setting of the key metric: all (every test item) or new (items new "
          "to the user).");
ABSL_FLAG(
    int, gate_window_days, kGate.window_days,
    "Longest scoring window, days before the latest event (it starts after the "
    "served model's latest training event).");
ABSL_FLAG(
    int, gate_min_users, kGate.min_users,
    "Fewer evaluated users in the window: refused (the window cannot tell).");
ABSL_FLAG(bool, force, false,
          "Publish even when the gate refuses (recorded as 'forced').");
ABSL_FLAG(int, keep_versions, kNightly.keep_versions,
          "Published (and refused) versions kept; older ones are removed.");
ABSL_FLAG(std::string, experiments_config, "",
          "The server's experiments config (recsys.v1.ExperimentsConfig, text "
          "format): the model versions its variants name are never pruned.");
ABSL_FLAG(std::vector<std::string>, keep_model_versions, {},
          "Comma-separated published versions never pruned.");
// Redis.
ABSL_FLAG(
    std::string, redis, "",
    "host:port (or a redis-cluster:// / redis-sentinel:// URL, see "
    "recsys_server --help); when set, load the published model's history, "
    "item metadata and segments as a new generation and switch to it at "
    "once.");
ABSL_FLAG(int, redis_keep_generations, 2,
          "Redis generations kept: the live one and previous ones (rollback "
          "targets); older ones are removed after each switch.");
ABSL_FLAG(bool, redis_rollback, false,
          "Do nothing else: point --redis back at the previous generation "
          "(the data of the model served before the last switch) and exit.");
ABSL_FLAG(std::string, redis_key_prefix, "",
          "Key prefix in Redis; empty: the store's default.");
ABSL_FLAG(std::string, redis_user, "", recsys::redis::kUserFlagHelp);
ABSL_FLAG(std::string, redis_password_file, "",
          recsys::redis::kPasswordFileFlagHelp);
ABSL_FLAG(std::string, audience_command, "",
          "Shell command run once per published version after the Redis "
          "refresh, with "
          "RECSYS_MODEL_VERSION and RECSYS_MODEL_DIR set (e.g. recsys_cli "
          "reload, then "
          "recsys_audience --out_dir /exports/$RECSYS_MODEL_VERSION).");
ABSL_FLAG(std::string, textfile, "",
          "Prometheus textfile (node-exporter textfile collector), e.g. "
          "/var/lib/node_exporter/textfile/recsys_nightly.prom; empty: none.");
ABSL_FLAG(
    std::string, crash_after, "",
    "Test hook: exit with code 86 right after this step (read, version, train, "
    "gate, publish, redis, audiences, prune, report) or Redis sub-step "
    "(redis:begin, redis:features, redis:segments, redis:verify, redis:flip, "
    "redis:prune).");

namespace {

int Usage(const absl::Status& status) {
  std::fprintf(stderr, "recsys_nightly: %s\n", status.ToString().c_str());
  return kExitUsage;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Nightly retraining: train, gate, publish, refresh Redis, prune.\n"
      "  recsys_nightly --input /exports/purchases --model_root /models "
      "--redis 127.0.0.1:6379");
  absl::ParseCommandLine(argc, argv);
  namespace tr = recsys::training;

  // One Redis pool; it outlives every use (declared first).
  std::unique_ptr<recsys::redis::Client> redis_client;
  if (const std::string redis = absl::GetFlag(FLAGS_redis); !redis.empty()) {
    absl::StatusOr<recsys::redis::Options> redis_options =
        recsys::redis::ParseAddress(redis);
    if (!redis_options.ok()) return Usage(redis_options.status());
    absl::StatusOr<std::string> password =
        recsys::redis::ReadPassword(absl::GetFlag(FLAGS_redis_password_file));
    if (!password.ok()) return Usage(password.status());
    // A user named in a redis:// URL stays unless --redis_user is given.
    if (!absl::GetFlag(FLAGS_redis_user).empty()) {
      redis_options->user = absl::GetFlag(FLAGS_redis_user);
    }
    redis_options->password = *std::move(password);
    absl::StatusOr<std::unique_ptr<recsys::redis::Client>> client =
        recsys::redis::Client::Create(*redis_options);
    if (!client.ok()) return Usage(client.status());
    redis_client = *std::move(client);
  }
  std::string key_prefix = absl::GetFlag(FLAGS_redis_key_prefix);
  if (key_prefix.empty()) key_prefix = tr::RedisLoadOptions().key_prefix;
  if (absl::GetFlag(FLAGS_redis_rollback)) {
    if (redis_client == nullptr) {
      return Usage(absl::InvalidArgumentError("--redis_rollback needs --redis"));
    }
    absl::StatusOr<int64_t> live =
        tr::RollbackRedisGeneration(redis_client.get(), key_prefix);
    if (!live.ok()) {
      recsys::LogError(absl::StrCat("recsys_nightly: rollback FAILED: ",
                                    live.status().ToString()));
      return kExitError;
    }
    std::printf("recsys_nightly: redis rolled back: generation %lld is live\n",
                static_cast<long long>(*live));
    return 0;
  }

  recsys::nightly::NightlyOptions options;
  options.input = absl::GetFlag(FLAGS_input);
  options.model_root = absl::GetFlag(FLAGS_model_root);
  tr::TrainerOptions& t = options.trainer;
  if (absl::Status s = tr::ParseInputFlags(absl::GetFlag(FLAGS_format), absl::GetFlag(FLAGS_columns),
                                           absl::GetFlag(FLAGS_delimiter), &t.read);
      !s.ok()) {
    return Usage(s);
  }
  absl::StatusOr<tr::ConfidenceScaling> scaling =
      tr::ParseConfidenceScaling(absl::GetFlag(FLAGS_confidence));
  if (!scaling.ok()) return Usage(scaling.status());
  t.confidence.scaling = *scaling;
  absl::StatusOr<tr::ConfidenceSignal> signal =
      tr::ParseConfidenceSignal(absl::GetFlag(FLAGS_signal));
  if (!signal.ok()) return Usage(signal.status());
  t.confidence.signal = *signal;
  t.confidence.alpha = static_cast<float>(absl::GetFlag(FLAGS_alpha));
  t.confidence.decay_half_life_days =
      static_cast<float>(absl::GetFlag(FLAGS_decay_half_life_days));
  t.als.factors = absl::GetFlag(FLAGS_factors);
  t.als.iterations = absl::GetFlag(FLAGS_iterations);
  t.als.regularization =
      static_cast<float>(absl::GetFlag(FLAGS_regularization));
  t.als.threads = absl::GetFlag(FLAGS_threads);
  t.als.seed = absl::GetFlag(FLAGS_seed);
  t.als.compute_loss = false;
  t.index_spec = absl::GetFlag(FLAGS_index);
  t.ranker_validation_days = absl::GetFlag(FLAGS_ranker_validation_days);
  t.tune = absl::GetFlag(FLAGS_tune);
  t.tune_budget_factor = absl::GetFlag(FLAGS_tune_budget_factor);
  t.tune_budget_seconds = absl::GetFlag(FLAGS_tune_budget_seconds);
  if (const std::string path = absl::GetFlag(FLAGS_marketing_config);
      !path.empty()) {
    absl::StatusOr<recsys::marketing::MarketingConfig> config =
        recsys::marketing::LoadMarketingConfig(path);
    if (!config.ok()) return Usage(config.status());
    t.marketing = *std::move(config);
  }
  if (const std::string path = absl::GetFlag(FLAGS_intelligence_config); !path.empty()) {
    absl::StatusOr<recsys::intelligence::IntelligenceConfig> config =
        recsys::intelligence::LoadIntelligenceConfig(path);
    if (!config.ok()) return Usage(config.status());
    t.intelligence = *std::move(config);
  }
  t.customers_path = absl::GetFlag(FLAGS_customers);
  options.gate.margin = absl::GetFlag(FLAGS_gate_margin);
  options.gate.metric = absl::GetFlag(FLAGS_gate_metric);
  options.gate.k = absl::GetFlag(FLAGS_gate_k);
  options.gate.setting = absl::GetFlag(FLAGS_gate_setting);
  options.gate.window_days = absl::GetFlag(FLAGS_gate_window_days);
  options.gate.min_users = absl::GetFlag(FLAGS_gate_min_users);
  options.gate.threads = t.als.threads;
  options.force = absl::GetFlag(FLAGS_force);
  options.keep_versions = absl::GetFlag(FLAGS_keep_versions);
  options.keep_pinned = absl::GetFlag(FLAGS_keep_model_versions);
  if (!absl::GetFlag(FLAGS_experiments_config).empty()) {
    auto plan = recsys::experiments::ExperimentPlan::Load(
        absl::GetFlag(FLAGS_experiments_config));
    if (!plan.ok()) {
      return Usage(absl::InvalidArgumentError(
          absl::StrCat("--experiments_config: ", plan.status().message())));
    }
    for (const auto& experiment : (*plan)->experiments()) {
      for (const recsys::experiments::Variant& v : experiment->variants) {
        if (!v.model_version.empty())
          options.keep_pinned.push_back(v.model_version);
      }
    }
  }
  options.audience_command = absl::GetFlag(FLAGS_audience_command);
  options.textfile = absl::GetFlag(FLAGS_textfile);
  options.log = [](absl::string_view line) { recsys::LogInfo(line); };
  const std::string crash_after = absl::GetFlag(FLAGS_crash_after);
  if (!crash_after.empty()) {
    bool known = false;
    for (const char* step : recsys::nightly::kSteps)
      known |= crash_after == step;
    for (const char* step : tr::kRedisLoadSteps)
      known |= crash_after == absl::StrCat("redis:", step);
    if (!known) {
      return Usage(absl::InvalidArgumentError(
          absl::StrCat("--crash_after: unknown step '", crash_after, "'")));
    }
    options.on_step = [crash_after](absl::string_view step) {
      if (step == crash_after) {
        recsys::LogInfo(absl::StrCat("--crash_after=", step, ": exiting"));
        std::fflush(nullptr);
        std::_Exit(kExitCrashHook);
      }
    };
  }
  options.redis = redis_client.get();
  options.redis_load.key_prefix = key_prefix;
  options.redis_load.keep_generations =
      absl::GetFlag(FLAGS_redis_keep_generations);

  if (absl::Status s = recsys::nightly::ValidateNightlyOptions(options);
      !s.ok()) {
    return Usage(s);
  }

  std::unique_ptr<recsys::intelligence::IntelStore> intel_store;
  if (redis_client != nullptr) {
    absl::StatusOr<std::unique_ptr<recsys::intelligence::IntelStore>> intel =
        recsys::intelligence::NewRedisIntelStore(redis_client.get(),
                                                 {.key_prefix = key_prefix});
    if (!intel.ok()) return Usage(intel.status());
    intel_store = *std::move(intel);
    options.intel_store = intel_store.get();
  }

  // The signals step: the servers' trigger engine on the same Redis, its
  // signals read from the intel records the redis step writes.
  std::unique_ptr<recsys::marketing::CouponStore> coupon_store;
  std::unique_ptr<recsys::marketing::SegmentStore> segment_store;
  std::unique_ptr<recsys::marketing::IntelSignals> intel_signals;
  std::unique_ptr<recsys::marketing::TriggerEngine> triggers;
  options.signals_batch = absl::GetFlag(FLAGS_signals_batch);
  if (const std::string path = absl::GetFlag(FLAGS_triggers_config); !path.empty()) {
    if (redis_client == nullptr) {
      return Usage(absl::InvalidArgumentError(
          "--triggers_config: needs --redis (timers and the outbox live in Redis)"));
    }
    absl::StatusOr<recsys::marketing::TriggersConfig> config =
        recsys::marketing::LoadTriggersConfig(path);
    if (!config.ok()) return Usage(config.status());
    recsys::marketing::RedisCouponStoreOptions coupon_options;
    coupon_options.key_prefix = key_prefix;
    auto coupons = recsys::marketing::NewRedisCouponStore(redis_client.get(), coupon_options);
    if (!coupons.ok()) return Usage(coupons.status());
    coupon_store = *std::move(coupons);
    recsys::marketing::RedisSegmentStoreOptions segment_options;
    segment_options.key_prefix = key_prefix;
    auto segments = recsys::marketing::NewRedisSegmentStore(redis_client.get(), segment_options);
    if (!segments.ok()) return Usage(segments.status());
    segment_store = *std::move(segments);
    intel_signals = std::make_unique<recsys::marketing::IntelSignals>(intel_store.get());
    recsys::marketing::TriggerEngineOptions trigger_options;
    trigger_options.config = *std::move(config);
    trigger_options.key_prefix = key_prefix;
    auto engine = recsys::marketing::TriggerEngine::Create(
        redis_client.get(), coupon_store.get(), segment_store.get(), nullptr,
        intel_signals.get(), trigger_options);
    if (!engine.ok()) return Usage(engine.status());
    triggers = *std::move(engine);
    options.triggers = triggers.get();
  }

  absl::StatusOr<recsys::nightly::NightlyResult> result =
      recsys::nightly::RunNightly(options);
  if (!result.ok()) {
    recsys::LogError(
        absl::StrCat("recsys_nightly: FAILED: ", result.status().ToString(),
                     " (nothing served changed before the failing step; a "
                     "rerun resumes)"));
    return kExitError;
  }
  std::printf("%s\n", result->summary.c_str());
  std::fflush(stdout);
  if (!result->published) {
    recsys::LogError(absl::StrCat("recsys_nightly: the gate REFUSED version ",
                                  result->version, ": ",
                                  result->gate.reason()));
    return kExitRefused;
  }
  return 0;
}
