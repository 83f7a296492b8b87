// The nightly job: latest purchase history -> train -> evaluation gate ->
// publish -> Redis refresh -> audience export -> prune -> summary and
// Prometheus textfile. recsys_nightly (nightly_main.cc) is its command line.
//
// Steps, in order (each logs "step <name> done"; NightlyOptions::on_step is
// called after each):
//   read       PrepareHistory (history.h): bad input stops the job here.
//   version    the version of this input: the one recorded in the job's state
//              for the same input fingerprint, else a new one (UTC time
//              YYYYMMDDhhmmss, above every published or refused version),
//              recorded before anything is written.
//   train      training::Train into <model_root>/.nightly/staging/<version>
//              (a dot directory: never served).
//   gate       evaluation::RunGate against the served model; the decision
//              is written into the staged manifest (`gate`). With force, a
//              refusal becomes "forced".
//   publish    rename of the staged directory to <model_root>/<version>, or
//              to <model_root>/refused/<version> when refused (the poller
//              reads only numeric children of the root).
//   redis      the published model's purchase history, item metadata and
//              segments written as a new Redis generation, verified, then
//              switched live in one step, old generations pruned
//              (training::LoadRedisGeneration, training/redis_load.h), when
//              a Redis client is given; the model's intel records go to
//              intel_store first (not part of a generation). Its sub-steps call on_step as
//              "redis:<step>" (redis:begin ... redis:prune).
//   audiences  `audience_command` through /bin/sh, with RECSYS_MODEL_VERSION
//              and RECSYS_MODEL_DIR in its environment, when set.
//   signals    with `triggers`: the trigger engine's signal pass (win-back,
//              replenishment, birthday; marketing/trigger_engine.h) over
//              every user of the published model's intel.tsv, in batches
//              of signals_batch, after the redis step wrote their records:
//              checks are scheduled in Redis and the servers' claims send
//              them when due. Idempotent by construction (a check and its
//              offer id are the same on a rerun).
//   prune      keeps the newest keep_versions published versions (and the
//              newest valid one, and every version in keep_pinned) and the
//              newest keep_versions refused ones.
//   report     summary line and textfile.
//
// Idempotent: a rerun after a crash at any point finishes the same run. The
// state (<model_root>/.nightly/state: input fingerprint, version, finished
// steps) is replaced atomically after each step; the train, gate and
// publish steps are skipped when their result is on disk; redis and
// audiences when the state records them for this version. A new input (new
// fingerprint) starts a new run.
//
// Thread safety: one job per model root at a time (the deploy runs it as a
// CronJob with concurrencyPolicy Forbid); nothing here is shared.
#ifndef RECSYS_NIGHTLY_NIGHTLY_H_
#define RECSYS_NIGHTLY_NIGHTLY_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "evaluation/gate.h"
#include "intelligence/intel_store.h"
#include "marketing/trigger_engine.h"
#include "redis/client.h"
#include "training/redis_load.h"
#include "training/trainer.h"

namespace recsys::nightly {

// The steps, in order.
inline constexpr const char* kSteps[] = {"read",  "version",   "train",   "gate",
                                         "publish", "redis", "audiences", "signals",
                                         "prune", "report"};

struct NightlyOptions {
  // A purchase file or a directory of daily exports (history.h).
  std::string input;
  // Receives <version>/, refused/<version>/ and .nightly/ (created if
  // missing).
  std::string model_root;
  // The model's parameters and read options (input, model_root, version
  // and log are set by the job).
  training::TrainerOptions trainer;
  // The evaluation gate (its log is set by the job).
  evaluation::GateOptions gate;
  // Publish a refused candidate anyway (decision "forced").
  bool force = false;
  // Published versions kept by the prune step (>= 1); the newest valid
  // version is always kept. Refused versions: the same number.
  int keep_versions = 5;
  // Published versions never pruned, whatever their age: the model
  // versions that experiment variants serve (recsys_nightly
  // --experiments_config, --keep_model_versions).
  std::vector<std::string> keep_pinned;
  // The Redis refreshed after publishing (null: no refresh). Not owned; must
  // outlive the call.
  redis::Client* redis = nullptr;
  // The refresh: key prefix, batch, generations kept (its on_step and log
  // are set by the job).
  training::RedisLoadOptions redis_load;
  // Receives the model's intel.tsv records in the redis step, before the
  // generation is loaded (null: none). Intel records are not part of a
  // generation (docs/redis_keys.md).
  intelligence::IntelStore* intel_store = nullptr;
  // Shell command of the audience export (empty: none).
  std::string audience_command;
  // The signals step's engine (null: no signals step). Not owned; must
  // outlive the call. Its signals should read the intel store written by
  // the redis step.
  const marketing::TriggerEngine* triggers = nullptr;
  // Users per signal pass (>= 1), and the time of the pass (InfinitePast:
  // the wall clock when the step runs).
  int signals_batch = 1000;
  absl::Time signals_now = absl::InfinitePast();
  // Prometheus textfile written at the end, also on failure (empty: none).
  std::string textfile;
  // Called after each step with its name (e.g. a test hook that stops the
  // process there).
  std::function<void(absl::string_view)> on_step;
  // Progress lines (null: silent).
  std::function<void(absl::string_view)> log;
};

struct NightlyResult {
  std::string version;
  // The gate's record ("passed", "refused", "forced", "first_model").
  recsys::v1::GateDecision gate;
  // The directory of the version: <root>/<version> or <root>/refused/<v>.
  std::string model_dir;
  bool published = false;
  // Rows of the input.
  int64_t rows_used = 0;
  int32_t users = 0;
  int32_t items = 0;
  bool redis_refreshed = false;
  bool audiences_exported = false;
  // Users passed to the signal pass and checks it scheduled (-1: no
  // signals step).
  int64_t signal_users = -1;
  int64_t signals_scheduled = 0;
  std::vector<std::string> pruned;
  double seconds = 0;
  // The one summary line (also logged).
  std::string summary;
};

// Runs the job. A refused candidate is a result (published = false), not an
// error. Errors: InvalidArgument for bad options and bad input (nothing
// published, the stores untouched; the message names the file and line),
// the trainer's, the gate's and the stores' errors, Internal when the
// audience command fails. After an error a rerun resumes the run.
absl::StatusOr<NightlyResult> RunNightly(const NightlyOptions& options);

// InvalidArgument naming the bad option.
absl::Status ValidateNightlyOptions(const NightlyOptions& options);

}  // namespace recsys::nightly

#endif  // RECSYS_NIGHTLY_NIGHTLY_H_
