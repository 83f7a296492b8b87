// The recsys_load engine: drives a recsys server over gRPC with the
// callback (async) client API and measures latency.
//
// Open loop (the default): request i is sent at start + i / rate whatever
// the server does, and its latency is measured from that scheduled time,
// not from when the client got round to sending it. A slow server therefore
// cannot hide its latency by slowing the client down (no coordinated
// omission): a stall shows up in the latency of every request scheduled
// during it.
//
// Closed loop: `concurrency` requests are kept outstanding; each completion
// sends the next one at once. Latency is measured from the actual send. It
// finds the maximum throughput.
//
// Burst: `burst` requests are sent at once, without waiting for any
// answer (the tester's "300 concurrent RecordEvents"), and every one is
// measured from that moment; warmup and duration do not apply. With
// `server_pid`, the server's memory and threads are read from
// /proc/<pid>/status before the burst, every millisecond or so until the
// last answer (the peak), and `settle` after it.
//
// In open and closed loop the first `warmup` is sent but not measured.
// Errors are counted by status code (latency percentiles cover OK answers
// only).
//
// Thread safety: RunLoad may be called from any thread; it blocks until the
// run has finished and every request has completed or timed out.
#ifndef RECSYS_BENCH_LOAD_GENERATOR_H_
#define RECSYS_BENCH_LOAD_GENERATOR_H_

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/load_stats.h"

namespace recsys::bench {

enum class LoadMode { kOpenLoop, kClosedLoop, kBurst };

struct LoadOptions {
  // Server address.
  std::string target = "127.0.0.1:50051";
  // Access (access/client_channel.h): the API key sent on every call (never
  // printed in results) and the PEM files' contents for TLS (tls_ca_pem)
  // and mutual TLS (tls_cert_pem, tls_key_pem); empty: plaintext, no key.
  std::string api_key;
  std::string tls_ca_pem;
  std::string tls_cert_pem;
  std::string tls_key_pem;
  LoadMode mode = LoadMode::kOpenLoop;
  // Open loop: requests per second (> 0).
  double rate = 1000;
  // Closed loop: requests kept outstanding (>= 1).
  int concurrency = 16;
  // Burst: requests sent at once (>= 1).
  int burst = 2000;
  // Burst: the server process whose /proc/<pid>/status is read (0: none;
  // the server must run on this machine).
  int server_pid = 0;
  // Burst: how long after the last answer the server is read again.
  absl::Duration settle = absl::Seconds(2);
  // Measured period, after the warm-up (> 0).
  absl::Duration duration = absl::Seconds(30);
  // Sent but not measured (>= 0).
  absl::Duration warmup = absl::Seconds(5);
  // Kinds of request and their weights.
  RequestMix mix = *RequestMix::Parse("home_known:1");
  // Homepage requests: the slot asked for and its k.
  std::string slot = "homepage";
  int k = 20;
  // Users the model knows (home_known, coupons) and catalog items
  // (home_new's viewed item, similar); required when the mix uses them.
  std::vector<std::string> known_users;
  std::vector<std::string> items;
  // Deadline of each RPC; a request that misses it counts as
  // DEADLINE_EXCEEDED.
  absl::Duration timeout = absl::Seconds(1);
  // Separate HTTP/2 connections the requests are spread over (>= 1).
  int channels = 4;
  // How long RunLoad waits for each connection before giving up (> 0).
  absl::Duration connect_timeout = absl::Seconds(10);
  // Open loop: at most this many requests outstanding. When reached, the
  // sender waits (the waiting shows up as latency, since latency counts
  // from the scheduled time) (>= 1).
  int max_in_flight = 20000;
  // Seeds the request plan (RequestPlanner).
  uint64_t seed = 1;
  // Prefix of the ids of brand-new and unknown users, so runs against the
  // same Redis do not reuse them.
  std::string run_id = "load";
  // RequestContext.request_time_unix of homepage requests (0: server time).
  int64_t request_time_unix = 0;
  // Purchase requests: how many times an UNAVAILABLE or DEADLINE_EXCEEDED
  // answer is sent again (same event id), each after event_retry_backoff
  // (>= 0). The latency covers every attempt.
  int event_retries = 0;
  absl::Duration event_retry_backoff = absl::Milliseconds(200);
  // Purchase requests: when set, one line per event is appended to this
  // file at its final answer: event_id, user_id, item_id, final status code
  // (0 = acknowledged), attempts, tab-separated.
  std::string ack_log;
};

struct KindResult {
  // Requests measured: sent after the warm-up (open loop: scheduled after).
  int64_t measured = 0;
  // Final status code -> count (0 = OK).
  std::map<int, int64_t> codes;
  // Latency of the OK ones.
  LatencySummary latency;
};

// The server's /proc/<pid>/status at three moments of a burst (kB and
// thread counts).
struct ServerMemory {
  bool read = false;
  int64_t rss_before_kb = 0, rss_peak_kb = 0, rss_after_kb = 0;
  // VmHWM: the process's peak resident set since it started, as the kernel
  // keeps it. The kernel updates that mark lazily (on unmap, exit) and keeps
  // resident counts per thread, so it may read below an RSS sampled earlier;
  // report both, compare neither.
  int64_t hwm_before_kb = 0, hwm_after_kb = 0;
  int64_t threads_before = 0, threads_peak = 0, threads_after = 0;
  // Reads taken during the burst.
  int64_t samples = 0;
};

struct LoadResult {
  LoadOptions options;
  // Per kind, indexed by RequestKind, and all kinds together.
  std::array<KindResult, kNumRequestKinds> kinds;
  KindResult all;
  // Requests sent, warm-up included.
  int64_t sent = 0;
  // Measured window: from the end of the warm-up to the last completion of
  // a measured request (at least `duration`).
  absl::Duration window;
  // OK answers to measured requests per second of the window.
  double achieved_rate = 0;
  // Open loop: how far behind schedule the sender fell at worst (a large
  // value means the client, not the server, was the bottleneck) and how
  // often it had to wait for max_in_flight.
  absl::Duration max_send_lag;
  int64_t in_flight_waits = 0;
  // CPU time (user + system) the load generator itself used during the
  // run: it shares the machine with the server.
  absl::Duration client_cpu;
  // Burst with server_pid.
  ServerMemory server;
};

// InvalidArgument naming the first bad field of `options` (including a mix
// that needs known users or items that were not given).
absl::Status ValidateLoadOptions(const LoadOptions& options);

// Runs the load. InvalidArgument as ValidateLoadOptions; Unavailable when a
// connection to the server cannot be made within connect_timeout;
// NotFound when server_pid's /proc/<pid>/status cannot be read.
absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options);

// A human-readable report: settings, a table of percentiles per kind, the
// achieved rate, errors by status code.
std::string FormatReport(const LoadResult& result);

// The same as a JSON object (durations in milliseconds).
std::string ToJson(const LoadResult& result);


}  // namespace recsys::bench

#endif  // RECSYS_BENCH_LOAD_GENERATOR_H_
