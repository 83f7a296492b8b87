// recsys_load: a gRPC load generator for recsys_server (see
// bench/load_generator.h for what is measured and how).
//
//   recsys_load --target=127.0.0.1:50051 --model_dir=models/20250101000000
//       --rate=2000 --duration=30s
//   recsys_load --target=... --model_dir=... --mode=closed --concurrency=32
//   recsys_load ... --mix=home_known:70,home_new:10,home_unknown:10,similar:10
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "access/client_channel.h"
#include "bench/load_generator.h"

namespace {
const recsys::bench::LoadOptions kLoad;
}  // namespace

ABSL_FLAG(std::string, target, kLoad.target, "Server address.");
ABSL_FLAG(std::string, api_key_file, "",
          "File holding the API key (scope storefront, plus marketing for coupons; default: "
          "env RECSYS_API_KEY).");
ABSL_FLAG(std::string, tls_ca, "", "CA certificate (PEM) of the server: connect with TLS.");
ABSL_FLAG(std::string, tls_cert, "", "Client certificate (PEM), for a server with mutual TLS.");
ABSL_FLAG(std::string, tls_key, "", "Private key (PEM) of --tls_cert.");
ABSL_FLAG(std::string, mode, "open",
          "open: fixed --rate, latency from the scheduled send time; closed: "
          "--concurrency requests outstanding (maximum throughput); burst: --burst "
          "requests at once, with the server's memory read when --server_pid is given.");
ABSL_FLAG(double, rate, kLoad.rate, "open: requests per second.");
ABSL_FLAG(int, burst, kLoad.burst, "burst: requests sent at once.");
ABSL_FLAG(int, server_pid, kLoad.server_pid,
          "burst: the server's pid (same machine): its VmRSS, VmHWM and threads are read "
          "from /proc/<pid>/status before, during and after the burst (0: not read).");
ABSL_FLAG(absl::Duration, settle, kLoad.settle,
          "burst: how long after the last answer the server is read again.");
ABSL_FLAG(int, concurrency, kLoad.concurrency, "closed: requests outstanding.");
ABSL_FLAG(absl::Duration, duration, kLoad.duration, "Measured period.");
ABSL_FLAG(absl::Duration, warmup, kLoad.warmup, "Unmeasured period before it.");
ABSL_FLAG(std::string, mix, "home_known:100",
          "Request kinds and weights: home_known, home_new (a new user's first view "
          "event, then a homepage request), home_unknown, similar, coupons, health, events "
          "(RecordEvents: a new user's view), profile (GetUserProfile of a known user).");
ABSL_FLAG(std::string, slot, kLoad.slot, "Slot of homepage requests.");
ABSL_FLAG(int, k, kLoad.k, "Items per homepage slot / similar / coupons request.");
ABSL_FLAG(std::string, model_dir, "",
          "Model directory whose users.tsv and items.tsv supply known users and items.");
ABSL_FLAG(std::string, users_file, "", "Known user ids, one per line (instead of --model_dir).");
ABSL_FLAG(std::string, items_file, "",
          "Item ids, one per line or items.tsv rows (instead of --model_dir).");
ABSL_FLAG(int64_t, max_users, 0, "Use only the first N known users (0: all).");
ABSL_FLAG(absl::Duration, timeout, kLoad.timeout, "Deadline of each RPC.");
ABSL_FLAG(int, channels, kLoad.channels, "Separate connections.");
ABSL_FLAG(int, max_in_flight, kLoad.max_in_flight,
          "open: most outstanding requests before the sender waits.");
ABSL_FLAG(uint64_t, seed, kLoad.seed, "Seed of the request plan.");
ABSL_FLAG(std::string, run_id, "",
          "Prefix of new / unknown user ids (default: load-<unix time>).");
ABSL_FLAG(int64_t, request_time, 0,
          "RequestContext.request_time_unix of homepage requests (0: server time).");
ABSL_FLAG(int, event_retries, kLoad.event_retries,
          "purchase requests: resend an UNAVAILABLE or DEADLINE_EXCEEDED answer this many "
          "times with the same event id.");
ABSL_FLAG(absl::Duration, event_retry_backoff, kLoad.event_retry_backoff,
          "purchase requests: wait before each resend.");
ABSL_FLAG(std::string, ack_log, "",
          "purchase requests: append one line per event (event_id, user_id, item_id, final "
          "status code, attempts; tab-separated) to this file.");
ABSL_FLAG(std::string, json, "", "Also write the result as JSON to this file ('-': stdout).");

namespace {

// First tab-separated column of every non-empty line of `path`, at most
// `limit` lines (0: all).
bool ReadIds(const std::string& path, int64_t limit, std::vector<std::string>* out) {
  std::ifstream in(path);
  if (!in) return false;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    out->emplace_back(line.substr(0, line.find('\t')));
    if (limit > 0 && static_cast<int64_t>(out->size()) >= limit) break;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Drives recsys_server with an open-loop (fixed rate) or closed-loop load and "
      "prints latency percentiles.\n"
      "  recsys_load --target=127.0.0.1:50051 --model_dir=models/<version> --rate=2000");
  absl::ParseCommandLine(argc, argv);
  using namespace recsys::bench;

  LoadOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  {
    auto access = recsys::access::ReadClientFiles({
        .target = options.target,
        .api_key_file = absl::GetFlag(FLAGS_api_key_file),
        .api_key_env = std::getenv("RECSYS_API_KEY"),
        .tls_ca_file = absl::GetFlag(FLAGS_tls_ca),
        .tls_cert_file = absl::GetFlag(FLAGS_tls_cert),
        .tls_key_file = absl::GetFlag(FLAGS_tls_key),
    });
    if (!access.ok()) {
      std::fprintf(stderr, "%s\n", std::string(access.status().message()).c_str());
      return 2;
    }
    options.api_key = access->api_key;
    options.tls_ca_pem = access->tls_ca_pem;
    options.tls_cert_pem = access->tls_cert_pem;
    options.tls_key_pem = access->tls_key_pem;
  }
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (mode == "open") {
    options.mode = LoadMode::kOpenLoop;
  } else if (mode == "closed") {
    options.mode = LoadMode::kClosedLoop;
  } else if (mode == "burst") {
    options.mode = LoadMode::kBurst;
  } else {
    std::fprintf(stderr, "--mode: open, closed or burst, got '%s'\n", mode.c_str());
    return 2;
  }
  options.rate = absl::GetFlag(FLAGS_rate);
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.burst = absl::GetFlag(FLAGS_burst);
  options.server_pid = absl::GetFlag(FLAGS_server_pid);
  options.settle = absl::GetFlag(FLAGS_settle);
  options.duration = absl::GetFlag(FLAGS_duration);
  options.warmup = absl::GetFlag(FLAGS_warmup);
  auto mix = RequestMix::Parse(absl::GetFlag(FLAGS_mix));
  if (!mix.ok()) {
    std::fprintf(stderr, "--%s\n", std::string(mix.status().message()).c_str());
    return 2;
  }
  options.mix = *mix;
  options.slot = absl::GetFlag(FLAGS_slot);
  options.k = absl::GetFlag(FLAGS_k);
  options.timeout = absl::GetFlag(FLAGS_timeout);
  options.channels = absl::GetFlag(FLAGS_channels);
  options.max_in_flight = absl::GetFlag(FLAGS_max_in_flight);
  options.seed = absl::GetFlag(FLAGS_seed);
  options.run_id = absl::GetFlag(FLAGS_run_id);
  options.event_retries = absl::GetFlag(FLAGS_event_retries);
  options.event_retry_backoff = absl::GetFlag(FLAGS_event_retry_backoff);
  options.ack_log = absl::GetFlag(FLAGS_ack_log);
  if (options.run_id.empty()) {
    options.run_id = absl::StrCat("load-", absl::ToUnixSeconds(absl::Now()));
  }
  options.request_time_unix = absl::GetFlag(FLAGS_request_time);

  const std::string model_dir = absl::GetFlag(FLAGS_model_dir);
  std::string users_file = absl::GetFlag(FLAGS_users_file);
  std::string items_file = absl::GetFlag(FLAGS_items_file);
  if (users_file.empty() && !model_dir.empty()) users_file = model_dir + "/users.tsv";
  if (items_file.empty() && !model_dir.empty()) items_file = model_dir + "/items.tsv";
  if (!users_file.empty() &&
      !ReadIds(users_file, absl::GetFlag(FLAGS_max_users), &options.known_users)) {
    std::fprintf(stderr, "cannot read %s\n", users_file.c_str());
    return 2;
  }
  if (!items_file.empty() && !ReadIds(items_file, 0, &options.items)) {
    std::fprintf(stderr, "cannot read %s\n", items_file.c_str());
    return 2;
  }

  auto result = RunLoad(options);
  if (!result.ok()) {
    std::fprintf(stderr, "%s\n", result.status().ToString().c_str());
    return absl::IsInvalidArgument(result.status()) ? 2 : 1;
  }
  std::fputs(FormatReport(*result).c_str(), stdout);
  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (!json_path.empty()) {
    const std::string json = ToJson(*result) + "\n";
    if (json_path == "-") {
      std::fputs(json.c_str(), stdout);
    } else {
      std::ofstream out(json_path);
      out << json;
      if (!out) {
        std::fprintf(stderr, "cannot write %s\n", json_path.c_str());
        return 1;
      }
    }
  }
  return 0;
}
