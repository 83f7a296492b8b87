#include "training/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <optional>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/process_status.h"
#include "common/status_macros.h"
#include "marketing/coupons.h"
#include "marketing/marketing_proto.h"
#include "model/ranker.h"
#include "training/customers.h"

#include <xxhash.h>

#include <malloc.h>
#include <unistd.h>

namespace recsys::training {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Records each phase's peak and final resident set (TrainResult::memory):
// Start() resets the kernel's peak before a phase, End() returns freed heap
// memory to the system (glibc's malloc_trim) and reads both after it.
class PhaseMemory {
 public:
  PhaseMemory(std::function<void(absl::string_view)> log, std::vector<TrainPhaseMemory>* out)
      : log_(std::move(log)), out_(out), per_phase_(ResetPeakRss().ok()) {}

  void Start() {
    if (per_phase_) per_phase_ = ResetPeakRss().ok();
  }

  void End(absl::string_view phase) {
    // Hand the phase's freed heap back to the system, so the resident set
    // the next phase starts from is what is still in use.
    malloc_trim(0);
    absl::StatusOr<ProcessStatus> status = ReadProcessStatus(getpid());
    if (!status.ok()) return;  // no /proc: nothing to record
    out_->push_back({std::string(phase), status->hwm_kb, status->rss_kb, per_phase_});
    log_(absl::StrFormat("memory: %s peak %.2f GiB%s, resident after %.2f GiB", phase,
                         status->hwm_kb / 1048576.0, per_phase_ ? "" : " (since start)",
                         status->rss_kb / 1048576.0));
  }

 private:
  const std::function<void(absl::string_view)> log_;
  std::vector<TrainPhaseMemory>* const out_;
  bool per_phase_;
};

std::string CleanField(absl::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

std::string SkipSummary(const ReadStats& stats) {
  if (stats.skipped.empty()) return "none";
  std::vector<std::string> parts;
  for (const auto& [reason, rows] : stats.skipped) {
    parts.push_back(absl::StrCat(reason, " ", rows));
  }
  return absl::StrJoin(parts, ", ");
}

// The manifest's record of the segments: every group as summarized, and
// `config` as given.
recsys::v1::SegmentSummary ManifestSegments(const marketing::SegmentSummary& summary,
                                            const marketing::MarketingConfig& config) {
  recsys::v1::SegmentSummary p;
  p.set_as_of_unix(summary.as_of_unix);
  p.set_users(summary.users);
  p.set_spend(summary.spend);
  auto fill = [](const marketing::GroupShare& g, recsys::v1::SegmentShare* out) {
    out->set_name(g.name);
    out->set_users(g.users);
    out->set_user_share(g.user_share);
    out->set_spend(g.spend);
    out->set_spend_share(g.spend_share);
  };
  for (const marketing::GroupShare& g : summary.segments) fill(g, p.add_segments());
  for (const marketing::GroupShare& g : summary.tiers) fill(g, p.add_tiers());
  *p.mutable_config() = marketing::ToProto(config);
  return p;
}

}  // namespace

absl::Status ValidateTrainerOptions(const TrainerOptions& options) {
  if (options.input.empty()) {
    return absl::InvalidArgumentError("input: no purchase file given");
  }
  if (options.model_root.empty()) {
    return absl::InvalidArgumentError("model_root: no directory given");
  }
  if (!options.version.empty() &&
      options.version.find_first_not_of("0123456789") != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "version: must be decimal digits, got '", options.version, "'"));
  }
  if (options.index_spec.empty()) {
    return absl::InvalidArgumentError("index_spec: empty");
  }
  if (!(options.tune_budget_factor > 0) || !(options.tune_budget_seconds >= 0)) {
    return absl::InvalidArgumentError(
        "tune_budget: factor must be > 0 and seconds >= 0");
  }
  if (options.tune_ease_max_items < 0) {
    return absl::InvalidArgumentError("tune_ease_max_items: must be >= 0");
  }
  if (options.tune_max_candidates < 1) {
    return absl::InvalidArgumentError("tune_max_candidates: must be >= 1");
  }
  if (options.store_batch < 1) {
    return absl::InvalidArgumentError("store_batch: must be >= 1");
  }
  if (options.ranker_max_users < 0) {
    return absl::InvalidArgumentError("ranker_max_users: must be >= 0");
  }
  if (options.read.max_error_lines < 0) {
    return absl::InvalidArgumentError("max_error_lines: must be >= 0");
  }
  if (options.read.csv.max_record_bytes < 1) {
    return absl::InvalidArgumentError("max_record_bytes: must be >= 1");
  }
  if (absl::Status s = marketing::ValidateMarketingConfig(
          marketing::WithDefaults(options.marketing));
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("marketing config: ", s.message()));
  }
  if (options.segments_as_of_unix < 0) {
    return absl::InvalidArgumentError("segments_as_of_unix: must be >= 0");
  }
  RECSYS_RETURN_IF_ERROR(ValidateAlsOptions(options.als));
  return ValidateConfidenceOptions(options.confidence);
}

std::vector<std::string> DescribeReadStats(const ReadStats& stats) {
  std::vector<std::string> lines;
  lines.push_back(absl::StrCat("format ", PurchaseFormatName(stats.format),
                               ": rows read ", stats.rows_read, ", used ",
                               stats.rows_used, ", skipped ",
                               stats.total_skipped()));
  for (const auto& [reason, rows] : stats.skipped) {
    lines.push_back(absl::StrCat("  skipped ", reason, ": ", rows));
  }
  if (!stats.errors.empty()) {
    lines.push_back("  first malformed rows:");
    for (const std::string& e : stats.errors) {
      lines.push_back(absl::StrCat("    ", e));
    }
  }
  return lines;
}

model::ModelData BuildModelData(const InteractionData& data,
                                      AlsModel model,
                                      recsys::v1::ModelManifest manifest) {
  model::ModelData out;
  out.manifest = std::move(manifest);
  out.user_ids = data.user_ids;
  out.items.reserve(data.item_ids.size());
  for (size_t i = 0; i < data.item_ids.size(); ++i) {
    const ItemInfo& info = data.items[i];
    model::ItemMeta meta;
    meta.item_id = data.item_ids[i];
    meta.category = CleanField(info.category);
    meta.price = info.price;
    meta.purchases = info.purchases;
    meta.buyers = info.buyers;
    meta.title = info.title;
    out.items.push_back(std::move(meta));
  }
  out.dim = model.factors;
  out.user_factors = std::move(model.user_factors);
  out.item_factors = std::move(model.item_factors);
  const CsrMatrix& m = data.events;
  out.history_indptr = m.indptr;
  out.history.resize(m.indices.size());
  for (size_t k = 0; k < m.indices.size(); ++k) {
    model::HistoryEntry& h = out.history[k];
    h.item = m.indices[k];
    h.count = static_cast<int32_t>(m.values[k]);
    h.last_unix = data.last_unix[k];
  }
  return out;
}

absl::Status LoadFeatureStore(const InteractionData& data, int batch,
                              feature_store::FeatureStore* store) {
  if (store == nullptr || batch < 1) {
    return absl::InvalidArgumentError(
        "LoadFeatureStore: null store or batch < 1");
  }
  const CsrMatrix& m = data.events;
  std::vector<feature_store::UserFeatures> users;
  users.reserve(batch);
  for (int32_t u = 0; u < m.rows; ++u) {
    feature_store::UserFeatures& f = users.emplace_back();
    f.user_id = data.user_ids[u];
    f.purchases.reserve(m.indptr[u + 1] - m.indptr[u]);
    for (int64_t k = m.indptr[u]; k < m.indptr[u + 1]; ++k) {
      feature_store::PurchaseRecord& p = f.purchases.emplace_back();
      p.item_id = data.item_ids[m.indices[k]];
      p.count = static_cast<int32_t>(m.values[k]);
      p.last_purchase = absl::FromUnixSeconds(data.last_unix[k]);
    }
    if (static_cast<int>(users.size()) == batch || u + 1 == m.rows) {
      RECSYS_RETURN_IF_ERROR(store->PutUsers(users));
      users.clear();
    }
  }
  std::vector<feature_store::ItemFeatures> items;
  items.reserve(batch);
  for (size_t i = 0; i < data.item_ids.size(); ++i) {
    feature_store::ItemFeatures& f = items.emplace_back();
    f.item_id = data.item_ids[i];
    f.category = data.items[i].category;
    f.price = data.items[i].price;
    f.title = data.items[i].title;
    f.stock = -1;
    if (static_cast<int>(items.size()) == batch ||
        i + 1 == data.item_ids.size()) {
      RECSYS_RETURN_IF_ERROR(store->PutItems(items));
      items.clear();
    }
  }
  return absl::OkStatus();
}

// Fits the ranker on the last `ranker_validation_days` of the data: ALS on
// the rows before the window, labels from the rows inside it.
absl::StatusOr<RankerFitResult> FitRankerOnInput(const TrainerOptions& options,
                                                 int64_t last_event_unix, int32_t num_users) {
  const int64_t cut = last_event_unix - int64_t{options.ranker_validation_days} * 86400;
  // Past ranker_max_users, a sample of the users by a fixed hash of their id
  // (the same users every run): the fit's iALS then holds vectors for the
  // sample only.
  const bool sample = options.ranker_max_users > 0 && num_users > options.ranker_max_users;
  const uint64_t keep_below =
      sample ? static_cast<uint64_t>(static_cast<long double>(options.ranker_max_users) /
                                     num_users * 18446744073709551615.0L)
             : 0;
  auto keep = [&](absl::string_view user_id) {
    return !sample || XXH3_64bits(user_id.data(), user_id.size()) < keep_below;
  };
  ReadOptions before = options.read;
  before.before_unix = std::min(before.before_unix, cut);
  before.max_error_lines = 0;
  InteractionBuilder builder(options.interactions);
  ReadStats stats;
  RECSYS_RETURN_IF_ERROR(ReadPurchases(
      options.input, before,
      [&](const PurchaseRow& row) {
        if (keep(row.user_id)) builder.Add(row);
      },
      &stats));
  if (stats.rows_used == 0) {
    return absl::FailedPreconditionError("no purchases before the validation window");
  }
  const InteractionData data = builder.Build();
  if (sample && options.log) {
    options.log(absl::StrFormat("ranker: its iALS on a sample of %d of %d users (ranker_max_users)",
                                data.num_users(), num_users));
  }
  ConfidenceOptions confidence = options.confidence;
  if (confidence.reference_unix == 0) confidence.reference_unix = data.last_event_unix;
  RECSYS_ASSIGN_OR_RETURN(CsrMatrix weights, BuildConfidence(data, confidence));
  AlsOptions als = options.als;
  als.on_iteration = nullptr;
  als.compute_loss = false;
  RECSYS_ASSIGN_OR_RETURN(AlsModel model, TrainAls(weights, als));

  WindowLabels labels(data);
  ReadOptions inside = options.read;
  inside.not_before_unix = std::max(inside.not_before_unix, cut);
  inside.max_error_lines = 0;
  ReadStats inside_stats;
  RECSYS_RETURN_IF_ERROR(ReadPurchases(
      options.input, inside,
      [&labels](const PurchaseRow& row) { labels.Add(row.user_id, row.item_id); },
      &inside_stats));
  WindowFitOptions fit;
  fit.fit = options.ranker_fit;
  if (fit.fit.threads < 1) fit.fit.threads = options.als.threads;
  return FitRankerOnWindow(data, model, labels.Take(), cut, last_event_unix, fit);
}

// Re-reads the input and groups its rows into orders (one user, one time).
absl::StatusOr<std::vector<std::vector<int32_t>>> ReadBaskets(const TrainerOptions& options,
                                                              const InteractionData& data) {
  absl::flat_hash_map<absl::string_view, int32_t> user_rows, item_rows;
  for (size_t u = 0; u < data.user_ids.size(); ++u) user_rows[data.user_ids[u]] = u;
  for (size_t i = 0; i < data.item_ids.size(); ++i) item_rows[data.item_ids[i]] = i;
  absl::flat_hash_map<std::pair<int32_t, int64_t>, int32_t> basket_of;
  std::vector<std::vector<int32_t>> baskets;
  ReadOptions read = options.read;
  read.max_error_lines = 0;
  ReadStats stats;
  RECSYS_RETURN_IF_ERROR(ReadPurchases(
      options.input, read,
      [&](const PurchaseRow& row) {
        auto u = user_rows.find(row.user_id);
        auto i = item_rows.find(row.item_id);
        if (u == user_rows.end() || i == item_rows.end()) return;
        auto [it, inserted] =
            basket_of.emplace(std::make_pair(u->second, row.timestamp_unix), baskets.size());
        if (inserted) baskets.emplace_back();
        baskets[it->second].push_back(i->second);
      },
      &stats));
  return baskets;
}

absl::StatusOr<TrainResult> Train(const TrainerOptions& options,
                                  feature_store::FeatureStore* store,
                                  marketing::SegmentStore* segment_store,
                                  intelligence::IntelStore* intel_store) {
  RECSYS_RETURN_IF_ERROR(ValidateTrainerOptions(options));
  auto log = [&](absl::string_view line) {
    if (options.log) options.log(line);
  };
  const Clock::time_point start = Clock::now();
  TrainResult result;
  PhaseMemory memory(log, &result.memory);

  // 0. The customer file, before anything is read or published.
  CustomerFile customers;
  const Clock::time_point customers_start = Clock::now();
  if (!options.customers_path.empty()) {
    RECSYS_ASSIGN_OR_RETURN(customers, ReadCustomerFile(options.customers_path));
    result.customer_rows = customers.rows_read;
    result.customer_malformed = customers.malformed;
    log(absl::StrFormat("customers %s: rows %d, birthdays %d, unknown %d, malformed %d",
                        options.customers_path, customers.rows_read, customers.birthdays.size(),
                        customers.unknown, customers.malformed));
    for (const std::string& e : customers.errors) log(absl::StrCat("  ", e));
  }
  const double customers_seconds = SecondsSince(customers_start);

  // 1. Customer intelligence, from its own pass over the input, first: its
  // builder keeps every purchase line, so it runs while nothing else is held
  // (filled alongside the interaction matrix, the read's peak would be the
  // sum of both), and only its encoded records are kept.
  memory.Start();
  // Kept encoded only (the decoded records take several times the memory):
  // the intelligence store load decodes intel_tsv in batches.
  std::string intel_tsv;
  if (options.compute_intelligence) {
    const Clock::time_point intel_start = Clock::now();
    intelligence::IntelBuilder intel_builder;
    ReadOptions read = options.read;
    read.max_error_lines = 0;  // logged by the main read
    ReadStats unused;
    RECSYS_RETURN_IF_ERROR(ReadPurchases(
        options.input, read,
        [&intel_builder](const PurchaseRow& row) {
          intel_builder.Add({row.user_id, row.item_id, row.category, row.timestamp_unix,
                             intelligence::ActivityKind::kPurchase, row.quantity, row.price});
        },
        &unused));
    intel_builder.ShrinkToFit();
    if (intel_builder.empty()) {
      // No usable rows: the main read below says so.
    } else if (intel_builder.last_time_unix() <= 0) {
      log("intelligence: skipped (the data has no timestamps)");
    } else {
      // Each record is encoded as it is computed (with the customer file's
      // birthday joined), never all held decoded.
      intel_tsv = std::string(intelligence::IntelTsvHeader());
      absl::Status encoded;
      intelligence::ComputeOptions compute;
      compute.as_of_unix = options.segments_as_of_unix;
      compute.on_user = [&](intelligence::UserIntel&& u) {
        ++result.intel_users;
        auto it = customers.birthdays.find(u.user_id);
        if (it != customers.birthdays.end()) {
          u.birthday = it->second;
          ++result.birthdays_joined;
        }
        if (encoded.ok()) encoded = intelligence::AppendIntelTsvLine(u, &intel_tsv);
      };
      RECSYS_ASSIGN_OR_RETURN(intelligence::IntelResult computed,
                              intel_builder.Build(options.intelligence, compute));
      RECSYS_RETURN_IF_ERROR(encoded);
      result.intent = computed.intent;
      if (!options.customers_path.empty()) {
        log(absl::StrFormat("customers: birthdays joined to %d of %d intelligence records",
                            result.birthdays_joined, result.intel_users));
      }
      result.intel_seconds = SecondsSince(intel_start);
      log(absl::StrFormat(
          "intelligence: %d users in %.2fs; intent model %s (train users %d, positive rate "
          "%.3f, calibration users %d, AUC %.3f, ECE %.3f)",
          result.intel_users, result.intel_seconds,
          result.intent.fitted ? "fitted" : "not fitted (too little history)",
          result.intent.train_users, result.intent.train_positive_rate,
          result.intent.calibration_users, result.intent.calibration_auc,
          result.intent.calibration_ece));
    }
  }
  memory.End("intelligence");

  // 2. Read and aggregate (orders for the segments too: one order per user
  // and time, as the files carry no order ids).
  memory.Start();
  const Clock::time_point read_start = Clock::now();
  InteractionBuilder builder(options.interactions);
  marketing::SegmentBuilder segment_builder;
  RECSYS_RETURN_IF_ERROR(ReadPurchases(
      options.input, options.read,
      [&](const PurchaseRow& row) {
        builder.Add(row);
        if (options.compute_segments) {
          segment_builder.Add(row.user_id, "", row.timestamp_unix, row.quantity * row.price);
        }
      },
      &result.read_stats));
  const ReadStats& stats = result.read_stats;
  log(absl::StrCat("read ", options.input));
  for (const std::string& line : DescribeReadStats(stats)) log(line);
  if (stats.rows_used == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.input, ": no usable purchase rows (read ", stats.rows_read,
        " rows; skipped: ", SkipSummary(stats), "); nothing published"));
  }
  const InteractionData data = builder.Build();
  result.users = data.num_users();
  result.items = data.num_items();
  result.interactions = data.events.nnz();
  result.read_seconds = SecondsSince(read_start);
  const double density = static_cast<double>(result.interactions) /
                         (static_cast<double>(result.users) * result.items);
  log(absl::StrFormat(
      "users %d, items %d, interactions %d (density %.5f%%), events %d, "
      "read in %.2fs",
      result.users, result.items, result.interactions, 100 * density,
      data.total_events, result.read_seconds));
  memory.End("read");

  // 2b. Marketing segments, from the same rows; computed before the
  // factorisation so their builders' memory is freed first.
  memory.Start();
  // Kept encoded only (the decoded records take several times the memory):
  // the segment store load decodes segments_tsv in batches.
  std::string segments_tsv;
  recsys::v1::SegmentSummary segment_summary;
  if (options.compute_segments && data.last_event_unix > 0) {
    const Clock::time_point segments_start = Clock::now();
    const marketing::MarketingConfig config = marketing::WithDefaults(options.marketing);
    const int64_t as_of =
        options.segments_as_of_unix > 0 ? options.segments_as_of_unix : data.last_event_unix;
    RECSYS_ASSIGN_OR_RETURN(std::vector<marketing::UserSegment> segments,
                            segment_builder.Build(config, as_of));
    result.segments = marketing::Summarize(segments, as_of);
    segment_summary = ManifestSegments(result.segments, config);
    RECSYS_ASSIGN_OR_RETURN(segments_tsv, marketing::SegmentsToTsv(segments));
    result.segments_seconds = SecondsSince(segments_start);
    log(absl::StrFormat("segments as of %s: %d users in %.2fs",
                        absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", absl::FromUnixSeconds(as_of),
                                         absl::UTCTimeZone()),
                        result.segments.users, result.segments_seconds));
    for (absl::string_view line :
         absl::StrSplit(marketing::FormatSummaryTable(result.segments), '\n', absl::SkipEmpty())) {
      log(absl::StrCat("  ", line));
    }
  } else if (options.compute_segments) {
    log("segments: skipped (the data has no timestamps)");
  }
  segment_builder = marketing::SegmentBuilder();
  memory.End("segments");

  // 2c. Bundles: complements from co-purchases in the same order. They do
  // not need the model, so they are computed before either iALS, and their
  // orders are freed before the factors are held.
  memory.Start();
  std::vector<std::vector<std::pair<int32_t, float>>> complements;
  double bundles_seconds = 0;
  if (options.compute_complements && data.last_event_unix > 0) {
    const Clock::time_point bundle_start = Clock::now();
    RECSYS_ASSIGN_OR_RETURN(std::vector<std::vector<int32_t>> baskets, ReadBaskets(options, data));
    std::vector<std::string> categories;
    categories.reserve(data.items.size());
    for (const ItemInfo& info : data.items) categories.push_back(info.category);
    complements = ComputeComplements(baskets, categories, options.complements);
    int64_t with = 0;
    for (const auto& list : complements) with += !list.empty();
    bundles_seconds = SecondsSince(bundle_start);
    log(absl::StrFormat("bundles: %d orders, complements for %d of %d items in %.2fs",
                        baskets.size(), with, data.num_items(), bundles_seconds));
  }
  memory.End("bundles");

  // The plain ranker fit (its own iALS on the rows before the window). When
  // tuning, it runs after the factorisation (it completes one plain
  // training, whose measured time sets the budget, and it is served when the
  // tuning cannot run); otherwise before it, so that the two models are
  // never in memory together.
  std::optional<absl::StatusOr<RankerFitResult>> plain_fit;
  double plain_fit_seconds = 0;
  auto fit_plain = [&] {
    const Clock::time_point ranker_start = Clock::now();
    plain_fit = FitRankerOnInput(options, data.last_event_unix, data.num_users());
    plain_fit_seconds = SecondsSince(ranker_start);
  };
  // Without a fit (or when it fails), the default weights.
  result.ranker = model::DefaultRankerWeights();
  auto report_plain_fit = [&] {
    const absl::StatusOr<RankerFitResult>& fit = *plain_fit;
    result.ranker_seconds = plain_fit_seconds;
    if (fit.ok()) {
      result.ranker = fit->weights;
      log(absl::StrFormat("ranker %s in %.2fs", fit->weights.origin, result.ranker_seconds));
    } else {
      log(absl::StrCat("ranker: default weights (", fit.status().message(), ")"));
    }
  };
  const bool ranker_first =
      !options.tune && options.ranker_validation_days > 0 && data.last_event_unix > 0;
  if (ranker_first) {
    memory.Start();
    fit_plain();
    report_plain_fit();
    memory.End("ranker");
  }

  // 2. Factorise.
  memory.Start();
  ConfidenceOptions confidence = options.confidence;
  if (confidence.reference_unix == 0) {
    confidence.reference_unix = data.last_event_unix;
  }
  RECSYS_ASSIGN_OR_RETURN(CsrMatrix weights, BuildConfidence(data, confidence));
  AlsOptions als = options.als;
  double iteration_seconds = 0;  // sum so far, for the ETA
  als.on_iteration = [&](const AlsIterationStats& it) {
    iteration_seconds += it.seconds;
    const int left = options.als.iterations - it.iteration;
    const double eta = it.iteration > 0 ? iteration_seconds / it.iteration * left : 0;
    log(absl::StrFormat("iter %d/%d loss %s %.2fs, %d%% done, ETA %.0fs", it.iteration,
                        options.als.iterations,
                        std::isnan(it.loss) ? std::string("-")
                                            : absl::StrFormat("%.5f", it.loss),
                        it.seconds, 100 * it.iteration / std::max(1, options.als.iterations),
                        eta));
    if (options.als.on_iteration) options.als.on_iteration(it);
  };
  const Clock::time_point train_start = Clock::now();
  absl::StatusOr<AlsModel> trained =
      options.factors ? options.factors(data, weights) : TrainAls(weights, als);
  if (!trained.ok()) return trained.status();
  AlsModel model = *std::move(trained);
  if (options.factors &&
      (model.factors != options.als.factors || model.num_users != data.num_users() ||
       model.num_items != data.num_items() ||
       model.user_factors.size() != size_t{1} * model.num_users * model.factors ||
       model.item_factors.size() != size_t{1} * model.num_items * model.factors)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "factors: expected ", data.num_users(), " users and ", data.num_items(), " items x ",
        options.als.factors, " factors, got ", model.num_users, " x ", model.num_items, " x ",
        model.factors));
  }
  result.train_seconds = SecondsSince(train_start);
  result.iterations = model.iterations;
  double solve_seconds = 0;
  for (const AlsIterationStats& it : model.iterations)
    solve_seconds += it.seconds;
  log(absl::StrFormat("trained in %.2fs (%.3fs per iteration without loss)",
                      result.train_seconds,
                      model.iterations.empty()
                          ? 0.0
                          : solve_seconds / model.iterations.size()));
  weights = CsrMatrix();
  memory.End("factorise");
  if (!ranker_first) memory.Start();

  // 3. The production ranker's weights: tuned (which may also replace the
  // factorisation), or fit on the last window.
  result.als = options.als;
  result.confidence = options.confidence;
  bool tuned = false;
  if (options.tune && options.ranker_validation_days > 0 && data.last_event_unix > 0) {
    const int days =
        TuneWindowDays(data.first_unix, data.last_event_unix, options.ranker_validation_days);
    fit_plain();
    // Read, iALS and the ranker fit: the customer file, segments,
    // intelligence and bundles, which tuning does not repeat, are left out.
    const double plain_seconds = SecondsSince(start) - customers_seconds -
                                 result.segments_seconds - result.intel_seconds -
                                 bundles_seconds;
    const Clock::time_point tune_start = Clock::now();
    absl::StatusOr<TuneOutcome> outcome =
        absl::FailedPreconditionError("the data spans less than 6 days");
    if (days > 0) {
      RowVisitor rows = [&options](const std::function<void(const PurchaseRow&)>& row) {
        ReadOptions read = options.read;
        read.max_error_lines = 0;
        ReadStats unused;
        return ReadPurchases(options.input, read, row, &unused);
      };
      auto windows = BuildTuneWindows(rows, options.interactions, data.last_event_unix, days);
      if (windows.ok()) {
        TunerOptions tuner;
        tuner.fit = options.ranker_fit;
        if (tuner.fit.threads < 1) tuner.fit.threads = options.als.threads;
        tuner.budget_seconds =
            options.tune_budget_seconds > 0
                ? options.tune_budget_seconds
                : options.tune_budget_factor * std::max(plain_seconds, 0.1);
        log(absl::StrFormat(
            "tune: the plain training (read, iALS, ranker fit in %.2fs) took "
            "%.2fs; budget %.1fs",
            plain_fit_seconds, plain_seconds, tuner.budget_seconds));
        tuner.guard = options.tune_guard;
        tuner.guard_confidence = options.tune_guard_confidence;
        tuner.ease_max_items = options.tune_ease_max_items;
        tuner.log = log;
        outcome = TuneRanker(*windows,
                             TuneGrid(options.als, options.confidence, options.tune_max_candidates),
                             tuner);
      } else {
        outcome = windows.status();
      }
    }
    if (outcome.ok()) {
      tuned = true;
      result.ranker = outcome->weights;
      result.tuning = outcome->report;
      const std::vector<TuneCandidate> grid =
          TuneGrid(options.als, options.confidence, options.tune_max_candidates);
      if (outcome->chosen != 0) {
        // Retrain the chosen configuration on all data.
        result.als = grid[outcome->chosen].als;
        result.confidence = grid[outcome->chosen].confidence;
        ConfidenceOptions confidence_full = result.confidence;
        if (confidence_full.reference_unix == 0) {
          confidence_full.reference_unix = data.last_event_unix;
        }
        RECSYS_ASSIGN_OR_RETURN(CsrMatrix chosen_weights, BuildConfidence(data, confidence_full));
        AlsOptions als_full = result.als;
        als_full.on_iteration = nullptr;
        const Clock::time_point retrain_start = Clock::now();
        RECSYS_ASSIGN_OR_RETURN(model, TrainAls(chosen_weights, als_full));
        result.iterations = model.iterations;
        log(absl::StrFormat("tune: retrained %s on all data in %.2fs",
                            grid[outcome->chosen].spec, SecondsSince(retrain_start)));
      }
    } else {
      log(absl::StrCat("tune: not tuned (", outcome.status().message(), ")"));
    }
    result.tune_seconds = SecondsSince(tune_start);
    result.ranker_seconds = plain_fit_seconds + result.tune_seconds;
  }
  if (tuned) {
    log(absl::StrFormat("ranker %s in %.2fs", result.ranker.origin, result.ranker_seconds));
  } else if (ranker_first) {
    // Fit and reported before the factorisation.
  } else if (options.ranker_validation_days > 0 && data.last_event_unix > 0) {
    // Tuning did not run: the plain fit it started with is served.
    if (!plain_fit.has_value()) fit_plain();
    report_plain_fit();
  } else {
    log("ranker: default weights (no validation window)");
  }

  if (!ranker_first) memory.End("ranker");

  // 4. Publish.
  recsys::v1::ModelManifest manifest;
  *manifest.mutable_ranker() = model::RankerWeightsToConfig(result.ranker);
  manifest.set_version(options.version);
  manifest.set_created_unix(absl::ToUnixSeconds(absl::Now()));
  recsys::v1::TrainingParams* params = manifest.mutable_params();
  params->set_factors(result.als.factors);
  params->set_iterations(result.als.iterations);
  params->set_regularization(result.als.regularization);
  params->set_alpha(result.confidence.alpha);
  params->set_confidence(
      std::string(ConfidenceScalingName(result.confidence.scaling)));
  params->set_epsilon(result.confidence.epsilon);
  params->set_signal(std::string(ConfidenceSignalName(result.confidence.signal)));
  params->set_cg_steps(result.als.solver == AlsSolver::kConjugateGradient
                           ? result.als.cg_steps
                           : 0);
  params->set_threads(result.als.threads);
  params->set_seed(result.als.seed);
  params->set_decay_half_life_days(result.confidence.decay_half_life_days);
  params->set_index_spec(options.index_spec);
  recsys::v1::DataStats* ds = manifest.mutable_data();
  ds->set_source(options.input);
  ds->set_format(std::string(PurchaseFormatName(stats.format)));
  ds->set_rows_read(stats.rows_read);
  ds->set_rows_used(stats.rows_used);
  for (const auto& [reason, rows] : stats.skipped) {
    recsys::v1::SkipCount* skip = ds->add_skipped();
    skip->set_reason(reason);
    skip->set_rows(rows);
  }
  ds->set_users(result.users);
  ds->set_items(result.items);
  ds->set_interactions(result.interactions);
  ds->set_first_event_unix(data.first_unix);
  ds->set_last_event_unix(data.last_event_unix);
  ds->set_density(density);
  for (const AlsIterationStats& it : model.iterations) {
    recsys::v1::IterationStat* s = manifest.add_iterations();
    s->set_iteration(it.iteration);
    if (!std::isnan(it.loss)) s->set_loss(it.loss);
    s->set_seconds(it.seconds);
  }
  manifest.set_train_seconds(result.train_seconds);
  if (!segments_tsv.empty()) *manifest.mutable_segments() = std::move(segment_summary);
  if (result.tuning.candidates_size() > 0) *manifest.mutable_tuning() = result.tuning;

  memory.Start();
  const Clock::time_point publish_start = Clock::now();
  model::PublishOptions publish;
  publish.index_spec = options.index_spec;
  publish.version = options.version;
  publish.log = log;
  {
    model::ModelData model_data =
        BuildModelData(data, std::move(model), std::move(manifest));
    // The ranker's item neighbours go with the model, so the server does not
    // compute them (an EASE solve) on every load.
    const Clock::time_point neighbors_start = Clock::now();
    model::RankerItemStats ranker_stats = model::ComputeRankerItemStats(
        data.num_items(), model_data.history_indptr, model_data.history,
        model::RankerStatsOptionsFor(result.ranker));
    model_data.ranker_neighbors = std::move(ranker_stats.neighbors);
    log(absl::StrFormat("ranker neighbours (%s): %d entries in %.2fs",
                        model::NeighborKindName(result.ranker.neighbors),
                        model_data.ranker_neighbors.items.size(),
                        SecondsSince(neighbors_start)));
    model_data.complements = std::move(complements);
    model_data.segments_tsv = std::move(segments_tsv);
    model_data.intel_tsv = std::move(intel_tsv);
    RECSYS_ASSIGN_OR_RETURN(
        result.model_dir,
        model::PublishModel(options.model_root, model_data, publish));
    segments_tsv = std::move(model_data.segments_tsv);
    intel_tsv = std::move(model_data.intel_tsv);
  }
  result.publish_seconds = SecondsSince(publish_start);
  log(absl::StrFormat("published %s in %.2fs", result.model_dir,
                      result.publish_seconds));
  memory.End("publish");

  // 5. Bulk load the feature store, then the segment store.
  memory.Start();
  if (store != nullptr) {
    const Clock::time_point store_start = Clock::now();
    absl::Status loaded = LoadFeatureStore(data, options.store_batch, store);
    if (!loaded.ok()) {
      return absl::Status(
          loaded.code(),
          absl::StrCat("feature store bulk load into ", store->Describe(),
                       " failed (model already published at ", result.model_dir,
                       "): ", loaded.message()));
    }
    // Last, so the marker means "a complete load" (FeatureStore::MarkLoaded).
    loaded = store->MarkLoaded(std::filesystem::path(result.model_dir).filename().string(),
                               absl::Now());
    if (!loaded.ok()) {
      return absl::Status(loaded.code(),
                          absl::StrCat("load marker in ", store->Describe(), " failed: ",
                                       loaded.message()));
    }
    result.users_stored = data.num_users();
    result.items_stored = data.num_items();
    result.store_seconds = SecondsSince(store_start);
    log(absl::StrFormat("loaded %d users and %d items into %s in %.2fs",
                        result.users_stored, result.items_stored,
                        store->Describe(), result.store_seconds));
  }
  if (segment_store != nullptr && !segments_tsv.empty()) {
    const Clock::time_point start_segments = Clock::now();
    absl::Status stored = marketing::ForEachSegmentBatch(
        segments_tsv, options.store_batch,
        [&](absl::Span<const marketing::UserSegment> batch) {
          RECSYS_RETURN_IF_ERROR(segment_store->PutSegments(batch));
          result.segments_stored += static_cast<int64_t>(batch.size());
          return absl::OkStatus();
        });
    if (!stored.ok()) {
      return absl::Status(stored.code(),
                          absl::StrCat("segment load into ", segment_store->Describe(),
                                       " failed (model already published at ",
                                       result.model_dir, "): ", stored.message()));
    }
    log(absl::StrFormat("loaded %d segment records into %s in %.2fs", result.segments_stored,
                        segment_store->Describe(), SecondsSince(start_segments)));
  }
  if (intel_store != nullptr && !intel_tsv.empty()) {
    const Clock::time_point start_intel = Clock::now();
    absl::Status stored = intelligence::ForEachIntelBatch(
        intel_tsv, options.store_batch, [&](absl::Span<const intelligence::UserIntel> batch) {
          RECSYS_RETURN_IF_ERROR(intel_store->PutIntel(batch));
          result.intel_stored += static_cast<int64_t>(batch.size());
          return absl::OkStatus();
        });
    if (!stored.ok()) {
      return absl::Status(stored.code(),
                          absl::StrCat("intelligence load into ", intel_store->Describe(),
                                       " failed (model already published at ",
                                       result.model_dir, "): ", stored.message()));
    }
    log(absl::StrFormat("loaded %d intelligence records into %s in %.2fs", result.intel_stored,
                        intel_store->Describe(), SecondsSince(start_intel)));
  }
  if (store != nullptr || segment_store != nullptr || intel_store != nullptr) {
    memory.End("store loads");
  }
  if (!result.memory.empty()) {
    const TrainPhaseMemory* top = &result.memory[0];
    for (const TrainPhaseMemory& m : result.memory) {
      if (m.peak_kb > top->peak_kb) top = &m;
    }
    log(absl::StrFormat("memory: run peak %.2f GiB (%s)", top->peak_kb / 1048576.0, top->phase));
  }
  result.total_seconds = SecondsSince(start);
  log(absl::StrFormat("total %.2fs", result.total_seconds));
  return result;
}

}  // namespace recsys::training
