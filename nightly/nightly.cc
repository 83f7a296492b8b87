#include "nightly/nightly.h"

#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/status_macros.h"
#include "intelligence/intel.h"
#include "marketing/segments.h"
#include "model/model_format.h"
#include "nightly/history.h"
#include "nightly/textfile.h"

namespace recsys::nightly {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr char kRefusedDir[] = "refused";

// The job's state: key value lines, replaced atomically.
using State = std::map<std::string, std::string>;

State ReadState(const std::string& path) {
  State state;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(line, absl::MaxSplits(' ', 1));
    if (!kv.first.empty()) state[kv.first] = kv.second;
  }
  return state;
}

absl::Status WriteState(const std::string& path, const State& state) {
  std::string text;
  for (const auto& [k, v] : state) absl::StrAppend(&text, k, " ", v, "\n");
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr)
    return absl::UnavailableError(absl::StrCat(tmp, ": cannot create"));
  const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size() &&
                  std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed || std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    return absl::UnavailableError(
        absl::StrCat(path, ": cannot write the job state"));
  }
  return absl::OkStatus();
}

bool IsVersionName(const std::string& name) {
  return !name.empty() && name.size() <= 18 &&
         name.find_first_not_of("0123456789") == std::string::npos;
}

// Numeric child directories of `dir`, newest first (none if missing).
std::vector<std::string> Versions(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> v = model::ListModelVersions(dir);
  return v.ok() ? *std::move(v) : std::vector<std::string>();
}

int64_t AsNumber(const std::string& v) {
  int64_t n = 0;
  return absl::SimpleAtoi(v, &n) ? n : 0;
}

// A new version: the UTC time, above every version present.
std::string NewVersion(const std::string& root) {
  int64_t v = AsNumber(
      absl::FormatTime("%Y%m%d%H%M%S", absl::Now(), absl::UTCTimeZone()));
  for (const std::string& dir : {root, root + "/" + kRefusedDir}) {
    for (const std::string& existing : Versions(dir))
      v = std::max(v, AsNumber(existing) + 1);
  }
  return absl::StrCat(v);
}

absl::Status SyncDir(const std::string& dir) {
  FILE* f = std::fopen(dir.c_str(), "r");
  if (f == nullptr)
    return absl::UnavailableError(absl::StrCat(dir, ": cannot open"));
  const int rc = ::fsync(fileno(f));
  std::fclose(f);
  if (rc != 0)
    return absl::UnavailableError(absl::StrCat(dir, ": cannot sync"));
  return absl::OkStatus();
}

absl::Status Rename(const std::string& from, const std::string& to) {
  std::error_code ec;
  fs::rename(from, to, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("rename ", from, " -> ", to, ": ", ec.message()));
  }
  RECSYS_RETURN_IF_ERROR(SyncDir(fs::path(to).parent_path().string()));
  return absl::OkStatus();
}

// Removes `dir` so that no numeric directory is ever half deleted: renamed
// to a dot name first.
absl::Status RemoveVersion(const std::string& parent,
                           const std::string& version) {
  const std::string gone = absl::StrCat(parent, "/.pruned-", version);
  RECSYS_RETURN_IF_ERROR(Rename(absl::StrCat(parent, "/", version), gone));
  std::error_code ec;
  fs::remove_all(gone, ec);
  if (ec)
    return absl::UnavailableError(
        absl::StrCat("remove ", gone, ": ", ec.message()));
  return absl::OkStatus();
}

absl::Status RunAudienceCommand(const std::string& command,
                                const std::string& version,
                                const std::string& dir) {
  ::setenv("RECSYS_MODEL_VERSION", version.c_str(), 1);
  ::setenv("RECSYS_MODEL_DIR", dir.c_str(), 1);
  std::fflush(nullptr);
  const int rc = std::system(command.c_str());
  if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    return absl::InternalError(
        absl::StrCat("audience export failed (", command, "): status ",
                     WIFEXITED(rc) ? WEXITSTATUS(rc) : rc));
  }
  return absl::OkStatus();
}

std::string Utc(int64_t unix) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixSeconds(unix),
                          absl::UTCTimeZone());
}

}  // namespace

absl::Status ValidateNightlyOptions(const NightlyOptions& o) {
  if (o.input.empty()) return absl::InvalidArgumentError("input: required");
  if (o.model_root.empty())
    return absl::InvalidArgumentError("model_root: required");
  if (o.keep_versions < 1)
    return absl::InvalidArgumentError("keep_versions: must be >= 1");
  if (o.signals_batch < 1)
    return absl::InvalidArgumentError("signals_batch: must be >= 1");
  if (o.redis_load.batch < 1)
    return absl::InvalidArgumentError("redis_load.batch: must be >= 1");
  if (o.redis_load.keep_generations < 1) {
    return absl::InvalidArgumentError(
        "redis_load.keep_generations: must be >= 1");
  }
  RECSYS_RETURN_IF_ERROR(evaluation::ValidateGateOptions(o.gate));
  training::TrainerOptions t = o.trainer;
  t.input = o.input;
  t.model_root = o.model_root;
  t.version = "1";
  return training::ValidateTrainerOptions(t);
}

absl::StatusOr<NightlyResult> RunNightly(const NightlyOptions& options) {
  const Clock::time_point start = Clock::now();
  auto log = [&](absl::string_view line) {
    if (options.log) options.log(line);
  };
  auto done = [&](absl::string_view step) {
    log(absl::StrCat("step ", step, " done"));
    if (options.on_step) options.on_step(step);
  };
  NightlyResult result;
  const std::string& root = options.model_root;
  const std::string job_dir = root + "/.nightly";
  const std::string state_path = job_dir + "/state";
  const std::string staging = job_dir + "/staging";
  const std::string refused_root = root + "/" + kRefusedDir;
  const int64_t started_unix = absl::ToUnixSeconds(absl::Now());

  // Writes the textfile from what is known so far; `error` empty on success.
  auto report = [&](const std::string& error) {
    if (options.textfile.empty()) return;
    const State state = ReadState(state_path);
    double last_success = 0;
    if (auto it = state.find("last_success_unix"); it != state.end()) {
      last_success = static_cast<double>(AsNumber(it->second));
    }
    std::vector<Gauge> gauges;
    gauges.push_back({"recsys_nightly_last_run_timestamp_seconds",
                      "Start of the latest run (unix seconds).",
                      {{"", static_cast<double>(started_unix)}}});
    gauges.push_back(
        {"recsys_nightly_last_success_timestamp_seconds",
         "Start of the latest run that finished without error (unix seconds; a "
         "refused candidate is a success).",
         {{"", last_success}}});
    gauges.push_back({"recsys_nightly_success",
                      "1 when the latest run finished without error, else 0.",
                      {{"", error.empty() ? 1.0 : 0.0}}});
    gauges.push_back(
        {"recsys_nightly_duration_seconds",
         "Wall time of the latest run.",
         {{"", std::chrono::duration<double>(Clock::now() - start).count()}}});
    if (!result.gate.decision().empty()) {
      Gauge decision{"recsys_nightly_gate_decision",
                     "The gate's decision on the latest candidate (1 for the "
                     "decision taken).",
                     {}};
      for (const char* d :
           {evaluation::kGatePassed, evaluation::kGateRefused,
            evaluation::kGateForced, evaluation::kGateFirstModel}) {
        decision.samples.push_back({absl::StrCat("decision=\"", d, "\""),
                                    result.gate.decision() == d ? 1.0 : 0.0});
      }
      gauges.push_back(std::move(decision));
      const std::string metric = EscapeLabelValue(result.gate.key_metric());
      gauges.push_back(
          {"recsys_nightly_gate_score",
           "The gate's key metric on the scoring window, per model.",
           {{absl::StrCat("model=\"candidate\",metric=\"", metric, "\""),
             result.gate.candidate_score()},
            {absl::StrCat("model=\"served\",metric=\"", metric, "\""),
             result.gate.current_score()}}});
    }
    if (!result.version.empty()) {
      gauges.push_back({"recsys_nightly_version",
                        "Version of the latest run's candidate.",
                        {{"", static_cast<double>(AsNumber(result.version))}}});
      gauges.push_back(
          {"recsys_nightly_published",
           "1 when the latest run's candidate was published, else 0.",
           {{"", result.published ? 1.0 : 0.0}}});
    }
    if (absl::Status s = WriteTextfile(options.textfile, FormatGauges(gauges));
        !s.ok()) {
      log(absl::StrCat("textfile: ", s.message()));
    }
  };

  auto run = [&]() -> absl::Status {
    RECSYS_RETURN_IF_ERROR(ValidateNightlyOptions(options));
    std::error_code ec;
    fs::create_directories(job_dir, ec);
    if (ec)
      return absl::UnavailableError(absl::StrCat(job_dir, ": ", ec.message()));

    // read
    RECSYS_ASSIGN_OR_RETURN(HistoryInput history,
                            PrepareHistory(options.input, options.trainer.read,
                                           job_dir + "/history.csv"));
    result.rows_used = history.rows_used;
    log(absl::StrFormat(
        "read %d file(s): %d rows used of %d, %s .. %s, fingerprint %s",
        history.files.size(), history.rows_used, history.rows_read,
        Utc(history.first_unix), Utc(history.last_unix), history.fingerprint));
    done("read");

    // version
    State state = ReadState(state_path);
    if (state["fingerprint"] == history.fingerprint &&
        IsVersionName(state["version"])) {
      result.version = state["version"];
      log(absl::StrCat("resuming the run of version ", result.version));
    } else {
      result.version = NewVersion(root);
      const std::string last_success = state["last_success_unix"];
      state.clear();
      state["fingerprint"] = history.fingerprint;
      state["version"] = result.version;
      if (!last_success.empty()) state["last_success_unix"] = last_success;
      RECSYS_RETURN_IF_ERROR(WriteState(state_path, state));
      log(absl::StrCat("new run, version ", result.version));
    }
    const std::string& version = result.version;
    const std::string published_dir = root + "/" + version;
    const std::string refused_dir = refused_root + "/" + version;
    const std::string staged_dir = staging + "/" + version;
    done("version");

    // train
    const bool on_disk =
        fs::is_directory(published_dir) || fs::is_directory(refused_dir);
    training::TrainerOptions trainer = options.trainer;
    trainer.input = history.path;
    // The combined history is canonical CSV whatever the exports' layout.
    trainer.read.format = training::PurchaseFormat::kCanonical;
    trainer.read.columns.reset();
    trainer.read.csv.delimiter = ',';
    trainer.model_root = staging;
    trainer.version = version;
    trainer.log = options.log;
    if (on_disk) {
      log("train: the version is already published or refused");
    } else if (model::ReadManifest(staged_dir).ok()) {
      log(absl::StrCat("train: ", staged_dir, " already trained"));
    } else {
      fs::remove_all(staging, ec);
      RECSYS_ASSIGN_OR_RETURN(training::TrainResult trained,
                              training::Train(trainer, nullptr));
      log(absl::StrCat("trained ", trained.model_dir));
    }
    done("train");

    // gate
    // Where the candidate is: staged, published, or kept aside as refused.
    const std::string at = fs::is_directory(published_dir) ? published_dir
                           : fs::is_directory(refused_dir) ? refused_dir
                                                           : staged_dir;
    {
      RECSYS_ASSIGN_OR_RETURN(recsys::v1::ModelManifest m,
                              model::ReadManifest(at));
      bool changed = false;
      if (m.gate().decision().empty()) {
        // Scratch fits of a gate killed before it cleaned up.
        for (const auto& entry : fs::directory_iterator(root, ec)) {
          if (entry.path().filename().string().rfind(".gate-", 0) == 0) {
            fs::remove_all(entry.path(), ec);
          }
        }
        evaluation::GateOptions gate = options.gate;
        gate.log = options.log;
        RECSYS_ASSIGN_OR_RETURN(*m.mutable_gate(),
                                evaluation::RunGate(trainer, root, gate));
        changed = true;
      }
      // --force on a refused candidate, also one refused by an earlier run
      // of the same input.
      if (options.force && m.gate().decision() == evaluation::kGateRefused) {
        m.mutable_gate()->set_decision(evaluation::kGateForced);
        changed = true;
      }
      if (changed) RECSYS_RETURN_IF_ERROR(model::RewriteManifest(at, m));
      result.gate = m.gate();
    }
    log(evaluation::DescribeGate(result.gate));
    done("gate");

    // publish
    const bool refused = result.gate.decision() == evaluation::kGateRefused;
    if (refused && at != refused_dir) {
      fs::create_directories(refused_root, ec);
      RECSYS_RETURN_IF_ERROR(Rename(at, refused_dir));
    } else if (!refused && at != published_dir) {
      RECSYS_RETURN_IF_ERROR(Rename(at, published_dir));
    }
    result.published = !refused;
    result.model_dir = refused ? refused_dir : published_dir;
    if (refused) {
      log(absl::StrCat("publish: REFUSED by the gate, kept aside in ",
                       refused_dir,
                       " (not served); rerun with --force to publish it"));
    } else {
      log(absl::StrCat("published ", published_dir));
    }
    done("publish");

    // redis
    RECSYS_ASSIGN_OR_RETURN(recsys::v1::ModelManifest manifest,
                            model::ReadManifest(result.model_dir));
    result.users = manifest.num_users();
    result.items = manifest.num_items();
    if (!refused && options.redis != nullptr) {
      if (state["redis"] == version) {
        log("redis: already loaded");
      } else {
        // The history, items, segments and intelligence: not the vectors.
        RECSYS_ASSIGN_OR_RETURN(
            model::ModelData data,
            model::ReadModelData(published_dir, {.vectors = false}));
        if (!data.intel_tsv.empty() && options.intel_store != nullptr) {
          RECSYS_ASSIGN_OR_RETURN(std::vector<intelligence::UserIntel> intel,
                                  intelligence::ParseIntelTsv(data.intel_tsv));
          const size_t batch = options.redis_load.batch;
          for (size_t b = 0; b < intel.size(); b += batch) {
            const size_t n = std::min<size_t>(batch, intel.size() - b);
            RECSYS_RETURN_IF_ERROR(
                options.intel_store->PutIntel(absl::MakeConstSpan(intel).subspan(b, n)));
          }
        }
        // A new generation, verified, switched live in one step; a rerun
        // after a crash resumes it (training/redis_load.h).
        training::RedisLoadOptions load = options.redis_load;
        load.log = log;
        load.on_step = [&](absl::string_view step) {
          if (options.on_step) options.on_step(absl::StrCat("redis:", step));
          return absl::OkStatus();
        };
        RECSYS_ASSIGN_OR_RETURN(
            training::RedisLoadResult loaded,
            training::LoadRedisGeneration(data, options.redis, load));
        state["redis"] = version;
        RECSYS_RETURN_IF_ERROR(WriteState(state_path, state));
        log(absl::StrCat("redis: version ", version, " live as generation ",
                         loaded.generation, " in ",
                         options.redis->Describe()));
      }
      result.redis_refreshed = true;
    }
    done("redis");

    // audiences
    if (!refused && !options.audience_command.empty()) {
      if (state["audiences"] == version) {
        log("audiences: already exported");
      } else {
        RECSYS_RETURN_IF_ERROR(RunAudienceCommand(options.audience_command,
                                                  version, published_dir));
        state["audiences"] = version;
        RECSYS_RETURN_IF_ERROR(WriteState(state_path, state));
        log("audiences: exported");
      }
      result.audiences_exported = true;
    }
    done("audiences");

    // signals (no state needed: a rerun schedules the same checks, which
    // Redis already holds)
    if (!refused && options.triggers != nullptr) {
      std::vector<std::string> users;
      std::ifstream in(published_dir + "/intel.tsv");
      if (in) {
        std::stringstream text;
        text << in.rdbuf();
        RECSYS_ASSIGN_OR_RETURN(std::vector<intelligence::UserIntel> intel,
                                intelligence::ParseIntelTsv(text.str()));
        users.reserve(intel.size());
        for (intelligence::UserIntel& u : intel) users.push_back(std::move(u.user_id));
      }
      const absl::Time now =
          options.signals_now == absl::InfinitePast() ? absl::Now() : options.signals_now;
      result.signal_users = static_cast<int64_t>(users.size());
      for (size_t b = 0; b < users.size(); b += options.signals_batch) {
        const size_t n = std::min<size_t>(options.signals_batch, users.size() - b);
        RECSYS_ASSIGN_OR_RETURN(
            const int scheduled,
            options.triggers->ScheduleSignals(absl::MakeConstSpan(users).subspan(b, n), now,
                                              absl::Now() + absl::Seconds(30)));
        result.signals_scheduled += scheduled;
      }
      log(absl::StrFormat("signals: %d users passed, %d checks scheduled", result.signal_users,
                          result.signals_scheduled));
    }
    done("signals");

    // prune (first what an interrupted prune left, renamed but not removed)
    for (const std::string& dir : {root, refused_root}) {
      for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (entry.path().filename().string().rfind(".pruned-", 0) == 0) {
          fs::remove_all(entry.path(), ec);
        }
      }
    }
    std::vector<std::string> published = Versions(root);
    std::string newest_valid;
    for (const std::string& v : published) {
      if (model::ReadModelData(root + "/" + v).ok()) {
        newest_valid = v;
        break;
      }
    }
    for (size_t i = options.keep_versions; i < published.size(); ++i) {
      if (published[i] == newest_valid) continue;
      if (std::find(options.keep_pinned.begin(), options.keep_pinned.end(),
                    published[i]) != options.keep_pinned.end()) {
        log(absl::StrCat("prune: keeping ", published[i], " (pinned)"));
        continue;
      }
      RECSYS_RETURN_IF_ERROR(RemoveVersion(root, published[i]));
      result.pruned.push_back(published[i]);
    }
    const std::vector<std::string> refused_versions = Versions(refused_root);
    for (size_t i = options.keep_versions; i < refused_versions.size(); ++i) {
      RECSYS_RETURN_IF_ERROR(RemoveVersion(refused_root, refused_versions[i]));
      result.pruned.push_back(
          absl::StrCat(kRefusedDir, "/", refused_versions[i]));
    }
    if (!result.pruned.empty())
      log(absl::StrCat("pruned ", absl::StrJoin(result.pruned, " ")));
    done("prune");

    state["last_success_unix"] = absl::StrCat(started_unix);
    state["finished"] = version;
    RECSYS_RETURN_IF_ERROR(WriteState(state_path, state));
    return absl::OkStatus();
  };

  absl::Status status = run();
  result.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report(status.ok() ? "" : std::string(status.message()));
  if (!status.ok()) return status;
  result.summary = absl::StrFormat(
      "recsys_nightly: %s version=%s gate=%s %s candidate=%.4f served=%.4f%s "
      "rows=%d users=%d "
      "items=%d redis=%s audiences=%s signals=%s pruned=%d seconds=%.1f",
      result.published ? "published" : "refused", result.version,
      result.gate.decision(), result.gate.key_metric(),
      result.gate.candidate_score(), result.gate.current_score(),
      result.gate.current_version().empty()
          ? ""
          : absl::StrCat(" served_version=", result.gate.current_version()),
      result.rows_used, result.users, result.items,
      result.redis_refreshed ? "loaded" : "skipped",
      result.audiences_exported ? "exported" : "skipped",
      result.signal_users < 0 ? std::string("skipped")
                              : absl::StrCat(result.signals_scheduled, "/", result.signal_users),
      result.pruned.size(),
      result.seconds);
  log(result.summary);
  done("report");
  return result;
}

}  // namespace recsys::nightly
