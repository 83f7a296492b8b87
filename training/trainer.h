// The training pipeline: purchase file -> interaction matrix -> implicit ALS
// -> published model directory (model/model_format.h), and optionally
// a bulk load of every user's purchase history and the item metadata into a
// FeatureStore. From the same rows it computes the customers' marketing
// segments (marketing/segments.h): a summary in the manifest and the log,
// segments.tsv in the model directory, and each user's record in a
// SegmentStore when one is given. The model carries the production ranker
// (model/ranker.h): its weights, fit on a validation window or tuned
// (training/tuner.h), in the manifest, and its item neighbours, computed
// once over the whole history, in neighbors.bin.
//
//   TrainerOptions options;
//   options.input = "purchases.csv.gz";
//   options.model_root = "/models";
//   absl::StatusOr<TrainResult> result = Train(options, /*store=*/nullptr);
//
// Thread safety: Train uses options.als.threads worker threads internally;
// concurrent calls must publish to different model roots or versions.
#ifndef RECSYS_TRAINING_TRAINER_H_
#define RECSYS_TRAINING_TRAINER_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "feature_store/feature_store.h"
#include "intelligence/compute.h"
#include "intelligence/config.h"
#include "intelligence/intel_store.h"
#include "marketing/marketing_config.h"
#include "marketing/segment_store.h"
#include "marketing/segments.h"
#include "model/model_format.h"
#include "training/als.h"
#include "training/csv_reader.h"
#include "training/bundles.h"
#include "training/interactions.h"
#include "training/ranker_fit.h"
#include "training/tuner.h"

namespace recsys::training {

struct TrainerOptions {
  // Purchase file, plain or .gz (see ReadPurchases for the layouts).
  std::string input;
  // Format, record size limit, error lines and time filter of the read.
  ReadOptions read;
  // How rows become (user, item) events.
  InteractionOptions interactions;
  // Confidence weighting. A decay reference_unix of 0 means "the latest
  // event in the data".
  ConfidenceOptions confidence;
  // Factorisation parameters. on_iteration, if set, is called in addition
  // to the trainer's own progress line.
  AlsOptions als;
  // Directory receiving <model_root>/<version>/ (created if missing).
  std::string model_root;
  // FAISS index_factory spec of the item indexes, or "auto": chosen by
  // catalog size and tuned for recall (model::PublishOptions).
  std::string index_spec = "auto";
  // Model version (decimal digits); empty: the publish time, YYYYMMDDhhmmss.
  std::string version;
  // Receives each progress line (data stats, "iter 3/15 loss 0.01234 0.08s",
  // timings, the published path), without trailing newline. Null: silent.
  std::function<void(absl::string_view)> log;
  // Users (and items) per PutUsers / PutItems call of the bulk load.
  int store_batch = 1000;
  // Length of the validation window, carved from the end of the data, on
  // which the production ranker's weights are fit (a second, smaller ALS is
  // trained on the data before the window). 0, data without timestamps, or
  // a window without usable purchases: the default ranker weights.
  int ranker_validation_days = 30;
  // Options of the ranker fit (threads default to als.threads).
  RankerFitOptions ranker_fit;
  // The ranker fit's own iALS (on the rows before the window) is trained on
  // at most about this many users: with more, on a fixed sample of them
  // (by a hash of the user id, the same users every run), which bounds its
  // memory (factors x 4 bytes per user). 0: every user.
  int32_t ranker_max_users = 2000000;
  // Self-tuning (training/tuner.h): two validation windows of
  // TuneWindowDays(ranker_validation_days) at the end of the data, the
  // candidates of TuneGrid(als, confidence, tune_max_candidates) with every
  // ranker feature set, the choice retrained on all data, the guard. Off:
  // the configured iALS and the base ranker features, fit on one window.
  // Data without timestamps or too short a span (< 6 days) is not tuned.
  bool tune = false;
  // Time budget of the candidates: tune_budget_factor x the seconds of one
  // plain training (measured first: the run up to and including the plain
  // ranker fit — read, iALS, ranker fit — which is served when the tuning
  // cannot run), or tune_budget_seconds when > 0.
  double tune_budget_factor = 5;
  double tune_budget_seconds = 0;
  int tune_max_candidates = 6;
  // The tuner also tries EASE item neighbours when the catalog has at most
  // this many items (TunerOptions::ease_max_items); 0: cosine only.
  int tune_ease_max_items = 5000;
  // Apply the validation guard (serve a baseline that beats the ranker).
  bool tune_guard = true;
  // TunerOptions::guard_confidence.
  double tune_guard_confidence = 0.95;
  // Compute "frequently bought together" complements from the orders
  // (rows of one user at one time); skipped for data without timestamps.
  bool compute_complements = true;
  ComplementOptions complements;
  // Compute marketing segments (skipped for data without timestamps).
  bool compute_segments = true;
  // Segment and tier thresholds; zero fields take the defaults of
  // marketing/coupons.h (WithDefaults). Recorded in the manifest.
  marketing::MarketingConfig marketing;
  // Reference time of recency and trailing spend; 0: the latest event of
  // the data.
  int64_t segments_as_of_unix = 0;
  // Vectors trained elsewhere (factor_import.h): when set, it replaces
  // the factorisation. Called with the interaction data and its confidence
  // matrix (users x items); returns factors in the data's row order with
  // als.factors columns (which fold-in at serving reads from the manifest,
  // with als.alpha and als.lambda: set them as the vectors were trained).
  // Everything else (ranker fit, complements, segments, indexes, publish,
  // Redis load) is as for a model trained here.
  std::function<absl::StatusOr<AlsModel>(const InteractionData& data,
                                         const CsrMatrix& confidence)>
      factors;
  // Compute customer intelligence (intel.tsv; skipped for data without
  // timestamps) as of segments_as_of_unix, with this config (tag rules
  // are checked against the data's categories: an unknown one fails the
  // run before anything is published).
  bool compute_intelligence = true;
  intelligence::IntelligenceConfig intelligence;
  // The shop's customer file (customers.h): birthdays joined to the
  // intelligence records of the users with purchases. Empty: none. Read
  // before the purchases, so a missing or unreadable file fails the run
  // before anything is published; malformed rows are counted and logged.
  std::string customers_path;
};

// The memory of one phase of Train: the process's peak resident set during
// the phase (since the start of the run when the kernel's peak cannot be
// reset: per_phase false) and its resident set at the phase's end, in kB.
struct TrainPhaseMemory {
  // "intelligence", "read", "segments", "bundles", "ranker", "factorise",
  // "publish", "store loads" (when tuning, "ranker" follows "factorise").
  std::string phase;
  int64_t peak_kb = 0;
  int64_t resident_kb = 0;
  bool per_phase = true;
};

struct TrainResult {
  // The published directory, <model_root>/<version>.
  std::string model_dir;
  ReadStats read_stats;
  int32_t users = 0;
  int32_t items = 0;
  // Distinct (user, item) pairs.
  int64_t interactions = 0;
  std::vector<AlsIterationStats> iterations;
  // Wall times of the phases and of the whole run.
  double read_seconds = 0;
  double train_seconds = 0;
  double publish_seconds = 0;
  double store_seconds = 0;
  double total_seconds = 0;
  // The ranker fit (empty origin "default" when no fit ran).
  model::RankerWeights ranker;
  double ranker_seconds = 0;
  // The tuning run (candidates empty when it did not run) and the iALS
  // configuration published (the chosen one when tuned).
  recsys::v1::TuningReport tuning;
  double tune_seconds = 0;
  AlsOptions als;
  ConfidenceOptions confidence;
  // Records written to the feature store (0 without a store).
  int64_t users_stored = 0;
  int64_t items_stored = 0;
  // Segment summary (users 0 when segments were not computed).
  marketing::SegmentSummary segments;
  double segments_seconds = 0;
  // Records written to the segment store (0 without one).
  int64_t segments_stored = 0;
  // Customer intelligence: records computed and stored, the intent model.
  int64_t intel_users = 0;
  int64_t intel_stored = 0;
  intelligence::IntentReport intent;
  double intel_seconds = 0;
  // Customer file: rows read, malformed, and records given a birthday.
  int64_t customer_rows = 0;
  int64_t customer_malformed = 0;
  int64_t birthdays_joined = 0;
  // One entry per phase that ran, in order (empty without /proc); each is
  // also logged as "memory: <phase> peak … GiB, resident after … GiB".
  std::vector<TrainPhaseMemory> memory;
};

// Runs the pipeline: customer intelligence (from its own pass over the
// input, first, while nothing else is held); the read; segments; bundles;
// the ranker fit on the last window (its own iALS, before the main
// factorisation unless tuning, so the two models are never in memory
// together); the factorisation; publish; store loads. Segment and intelligence records are held encoded (as their .tsv
// files) and decoded in batches for the store loads. Each phase's peak
// memory is in TrainResult::memory.
//
// `store` (nullable, not owned, must outlive the call) receives the bulk
// load after the model is published; `segment_store` (nullable, not owned,
// must outlive the call) then receives every user's segment record.
//
// Errors: InvalidArgument for bad options (checked before reading) and when
// the input has no usable rows (nothing is published; the message gives the
// skip counts); the ReadPurchases errors (NotFound, InvalidArgument for an
// empty file or unknown header, DataLoss); the PublishModel errors; the
// stores' errors from the bulk loads (the model is then already published,
// and TrainResult is lost: the status message names the model directory).
// `intel_store` (nullable, not owned) then receives every user's
// customer-intelligence record.
absl::StatusOr<TrainResult> Train(const TrainerOptions& options,
                                  feature_store::FeatureStore* store,
                                  marketing::SegmentStore* segment_store = nullptr,
                                  intelligence::IntelStore* intel_store = nullptr);

// Checks every option Train() depends on (input, model_root and version
// included). InvalidArgument names the bad option.
absl::Status ValidateTrainerOptions(const TrainerOptions& options);

// Assembles the model to publish. `manifest` carries version, params, data
// stats, iterations and timings; the rest comes from `data` and `model`
// (whose factor arrays are moved, not copied).
// Category strings are cleaned of tabs and line breaks. The history is
// data.events in CSR form (count = events, last_unix = latest event).
model::ModelData BuildModelData(const InteractionData& data,
                                      AlsModel model,
                                      recsys::v1::ModelManifest manifest);

// Writes every user's purchase history (one PurchaseRecord per item:
// events and latest time) and every item's metadata (category, last price,
// title; stock unknown) to `store`, `batch` records per call. Returns the
// first error of the store.
absl::Status LoadFeatureStore(const InteractionData& data, int batch,
                              feature_store::FeatureStore* store);

// One line per fact of `stats`: rows read/used, skipped counts per reason,
// then the recorded malformed rows.
std::vector<std::string> DescribeReadStats(const ReadStats& stats);

}  // namespace recsys::training

#endif  // RECSYS_TRAINING_TRAINER_H_
