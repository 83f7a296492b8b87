#include "bench/load_generator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <memory>
#include <thread>
#include <utility>

#include <sys/resource.h>

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "access/client_channel.h"
#include "common/process_status.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "recsys/v1/recommender.grpc.pb.h"

namespace recsys::bench {
namespace {

namespace v1 = recsys::v1;

bool UsesKnownUsers(const RequestMix& mix) {
  return mix.weight(RequestKind::kHomeKnown) > 0 || mix.weight(RequestKind::kCoupons) > 0 ||
         mix.weight(RequestKind::kProfile) > 0;
}

bool UsesItems(const RequestMix& mix) {
  return mix.weight(RequestKind::kHomeNew) > 0 || mix.weight(RequestKind::kSimilar) > 0 ||
         mix.weight(RequestKind::kEvents) > 0 ||
         mix.weight(RequestKind::kPurchase) > 0;
}

// State shared by the sender and every in-flight call.
class Run {
 public:
  Run(const LoadOptions& options, std::vector<std::unique_ptr<v1::Recommender::Stub>> stubs,
      std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> health_stubs)
      : options_(options),
        planner_(options.mix, options.seed, static_cast<int64_t>(options.known_users.size()),
                 static_cast<int64_t>(options.items.size())),
        stubs_(std::move(stubs)),
        health_stubs_(std::move(health_stubs)) {
    if (!options.ack_log.empty()) ack_log_.open(options.ack_log, std::ios::app);
  }
  bool ack_log_ok() {
    absl::MutexLock lock(&log_mu_);
    return options_.ack_log.empty() || ack_log_.good();
  }

  // Starts request `index`, due at `origin` (its latency counts from
  // there). Never blocks.
  void Send(int64_t index, absl::Time origin);

  // Starts the next request of the plan (closed loop).
  void SendNext(absl::Time origin) { Send(next_index_.fetch_add(1), origin); }

  // Closed loop: completions send the next request until `end`.
  void set_closed_loop(absl::Time end) { closed_loop_end_ = end; }
  void set_measure_window(absl::Time start, absl::Time end) {
    measure_start_ = start;
    measure_end_ = end;
  }

  int64_t in_flight() const { return in_flight_.load(); }
  int64_t sent() const { return sent_.load(); }
  // Blocks until fewer than `limit` requests are in flight or `deadline`.
  void WaitInFlightBelow(int64_t limit, absl::Time deadline) {
    absl::MutexLock lock(&mu_);
    auto below = [this, limit] { return in_flight_.load() < limit; };
    mu_.AwaitWithDeadline(absl::Condition(&below), deadline);
  }
  absl::Time last_completion() const {
    absl::MutexLock lock(&mu_);
    return last_completion_;
  }
  const LatencyRecorder& recorder() const { return recorder_; }

 private:
  struct Call;
  void Finish(Call* call, const grpc::Status& status);
  void StartRecommend(Call* call, const std::string& user);
  // Sends call->events_request (a purchase), retrying as LoadOptions says.
  void SendPurchase(Call* call);
  void LogEvent(const Call& call, const grpc::Status& status);
  v1::Recommender::Stub* stub(int64_t index) {
    return stubs_[static_cast<size_t>(index) % stubs_.size()].get();
  }

  const LoadOptions& options_;
  const RequestPlanner planner_;
  const std::vector<std::unique_ptr<v1::Recommender::Stub>> stubs_;
  const std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> health_stubs_;
  absl::Time measure_start_ = absl::InfinitePast();
  absl::Time measure_end_ = absl::InfiniteFuture();
  absl::Time closed_loop_end_ = absl::InfinitePast();  // past: open loop
  LatencyRecorder recorder_;
  std::atomic<int64_t> in_flight_{0};
  std::atomic<int64_t> sent_{0};
  std::atomic<int64_t> next_index_{0};
  absl::Mutex log_mu_;
  std::ofstream ack_log_ ABSL_GUARDED_BY(log_mu_);
  mutable absl::Mutex mu_;
  absl::Time last_completion_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// One scheduled request, alive until its (last) RPC completes.
struct Run::Call {
  int64_t index = 0;
  PlannedRequest plan;
  absl::Time origin;
  bool measured = false;
  grpc::ClientContext context;
  // kHomeNew: the RecommendProducts after the event.
  std::unique_ptr<grpc::ClientContext> second_context;
  v1::RecommendProductsRequest recommend_request;
  v1::RecommendProductsResponse recommend_response;
  v1::SimilarItemsRequest similar_request;
  v1::SimilarItemsResponse similar_response;
  v1::RecommendCouponsRequest coupons_request;
  v1::RecommendCouponsResponse coupons_response;
  v1::RecordEventsRequest events_request;
  v1::RecordEventsResponse events_response;
  v1::GetUserProfileRequest profile_request;
  v1::UserProfile profile_response;
  grpc::health::v1::HealthCheckRequest health_request;
  grpc::health::v1::HealthCheckResponse health_response;
  // kPurchase: attempts made, and the context of the current one.
  int attempts = 0;
  std::unique_ptr<grpc::ClientContext> retry_context;
};

std::chrono::system_clock::time_point DeadlineAfter(absl::Duration timeout) {
  return absl::ToChronoTime(absl::Now() + timeout);
}

void Run::Send(int64_t index, absl::Time origin) {
  auto* call = new Call();
  call->index = index;
  call->plan = planner_.Plan(index);
  call->origin = origin;
  call->measured = origin >= measure_start_ && origin < measure_end_;
  call->context.set_deadline(DeadlineAfter(options_.timeout));
  in_flight_.fetch_add(1);
  sent_.fetch_add(1);
  auto done = [this, call](grpc::Status status) { Finish(call, status); };
  switch (call->plan.kind) {
    case RequestKind::kHomeKnown:
      StartRecommend(call, options_.known_users[call->plan.user]);
      break;
    case RequestKind::kHomeUnknown:
      StartRecommend(call, absl::StrCat(options_.run_id, "-unknown-", index));
      break;
    case RequestKind::kHomeNew: {
      const std::string user = absl::StrCat(options_.run_id, "-new-", index);
      v1::Event* event = call->events_request.add_events();
      event->set_type(v1::EVENT_VIEW);
      event->set_user_id(user);
      event->set_item_id(options_.items[call->plan.item]);
      stub(index)->async()->RecordEvents(
          &call->context, &call->events_request, &call->events_response,
          [this, call, user](grpc::Status status) {
            if (!status.ok()) {
              Finish(call, status);
              return;
            }
            call->second_context = std::make_unique<grpc::ClientContext>();
            call->second_context->set_deadline(DeadlineAfter(options_.timeout));
            call->recommend_request.set_user_id(user);
            v1::SlotRequest* slot = call->recommend_request.add_slots();
            slot->set_name(options_.slot);
            slot->set_k(options_.k);
            call->recommend_request.mutable_context()->set_request_time_unix(
                options_.request_time_unix);
            stub(call->index)->async()->RecommendProducts(
                call->second_context.get(), &call->recommend_request,
                &call->recommend_response,
                [this, call](grpc::Status status) { Finish(call, status); });
          });
      break;
    }
    case RequestKind::kSimilar:
      call->similar_request.set_item_id(options_.items[call->plan.item]);
      call->similar_request.set_k(options_.k);
      stub(index)->async()->SimilarItems(&call->context, &call->similar_request,
                                         &call->similar_response, done);
      break;
    case RequestKind::kCoupons:
      call->coupons_request.set_user_id(options_.known_users[call->plan.user]);
      call->coupons_request.set_k(options_.k);
      stub(index)->async()->RecommendCoupons(&call->context, &call->coupons_request,
                                             &call->coupons_response, done);
      break;
    case RequestKind::kEvents: {
      v1::Event* event = call->events_request.add_events();
      event->set_type(v1::EVENT_VIEW);
      event->set_user_id(absl::StrCat(options_.run_id, "-events-", index));
      event->set_item_id(options_.items[call->plan.item]);
      stub(index)->async()->RecordEvents(&call->context, &call->events_request,
                                         &call->events_response, done);
      break;
    }
    case RequestKind::kProfile:
      call->profile_request.set_user_id(options_.known_users[call->plan.user]);
      stub(index)->async()->GetUserProfile(&call->context, &call->profile_request,
                                           &call->profile_response, done);
      break;
    case RequestKind::kPurchase: {
      v1::Event* event = call->events_request.add_events();
      event->set_type(v1::EVENT_PURCHASE);
      event->set_user_id(absl::StrCat(options_.run_id, "-buyer-", index));
      event->set_item_id(options_.items[call->plan.item]);
      event->set_timestamp_unix(absl::ToUnixSeconds(absl::Now()));
      event->set_price(1);
      event->set_event_id(absl::StrCat(options_.run_id, "-ev-", index));
      SendPurchase(call);
      break;
    }
    case RequestKind::kHealth:
      call->health_request.set_service("recsys.v1.Recommender");
      health_stubs_[static_cast<size_t>(index) % health_stubs_.size()]->async()->Check(
          &call->context, &call->health_request, &call->health_response, done);
      break;
  }
}

void Run::StartRecommend(Call* call, const std::string& user) {
  call->recommend_request.set_user_id(user);
  v1::SlotRequest* slot = call->recommend_request.add_slots();
  slot->set_name(options_.slot);
  slot->set_k(options_.k);
  call->recommend_request.mutable_context()->set_request_time_unix(
      options_.request_time_unix);
  stub(call->index)->async()->RecommendProducts(
      &call->context, &call->recommend_request, &call->recommend_response,
      [this, call](grpc::Status status) { Finish(call, status); });
}

void Run::SendPurchase(Call* call) {
  grpc::ClientContext* context = &call->context;
  if (call->attempts > 0) {
    call->retry_context = std::make_unique<grpc::ClientContext>();
    call->retry_context->set_deadline(DeadlineAfter(options_.timeout));
    context = call->retry_context.get();
  }
  ++call->attempts;
  call->events_response.Clear();
  stub(call->index)->async()->RecordEvents(
      context, &call->events_request, &call->events_response,
      [this, call](grpc::Status status) {
        const bool retryable = status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                               status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
        if (retryable && call->attempts <= options_.event_retries) {
          // Not on gRPC's callback thread: the wait would hold it.
          std::thread([this, call] {
            absl::SleepFor(options_.event_retry_backoff);
            SendPurchase(call);
          }).detach();
          return;
        }
        LogEvent(*call, status);
        Finish(call, status);
      });
}

void Run::LogEvent(const Call& call, const grpc::Status& status) {
  if (options_.ack_log.empty()) return;
  const v1::Event& e = call.events_request.events(0);
  absl::MutexLock lock(&log_mu_);
  ack_log_ << e.event_id() << '\t' << e.user_id() << '\t' << e.item_id() << '\t'
           << static_cast<int>(status.error_code()) << '\t' << call.attempts << '\n';
  ack_log_.flush();
}

void Run::Finish(Call* call, const grpc::Status& status) {
  const absl::Time now = absl::Now();
  const bool measured = call->measured;
  if (measured) {
    recorder_.Record(call->plan.kind, static_cast<int>(status.error_code()),
                     now - call->origin);
  }
  delete call;
  // Closed loop: the completion sends the next request at once.
  if (now < closed_loop_end_) SendNext(now);
  absl::MutexLock lock(&mu_);
  if (measured) last_completion_ = std::max(last_completion_, now);
  in_flight_.fetch_sub(1);
}

KindResult MakeKindResult(std::vector<absl::Duration> latencies,
                          const std::map<int, int64_t>& codes) {
  KindResult r;
  r.codes = codes;
  for (const auto& [code, n] : codes) r.measured += n;
  r.latency = Summarize(&latencies);
  return r;
}

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

absl::Duration ProcessCpu() {
  struct rusage usage;
  if (getrusage(RUSAGE_SELF, &usage) != 0) return absl::ZeroDuration();
  return absl::DurationFromTimeval(usage.ru_utime) + absl::DurationFromTimeval(usage.ru_stime);
}

int64_t Ok(const KindResult& r) {
  auto it = r.codes.find(0);
  return it == r.codes.end() ? 0 : it->second;
}

}  // namespace

absl::Status ValidateLoadOptions(const LoadOptions& o) {
  if (o.target.empty()) return absl::InvalidArgumentError("target: must not be empty");
  if (o.mode == LoadMode::kOpenLoop && !(o.rate > 0)) {
    return absl::InvalidArgumentError(absl::StrCat("rate: must be > 0, got ", o.rate));
  }
  if (o.mode == LoadMode::kClosedLoop && o.concurrency < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("concurrency: must be >= 1, got ", o.concurrency));
  }
  if (o.mode == LoadMode::kBurst && o.burst < 1) {
    return absl::InvalidArgumentError(absl::StrCat("burst: must be >= 1, got ", o.burst));
  }
  if (o.server_pid < 0) {
    return absl::InvalidArgumentError(absl::StrCat("server_pid: must be >= 0, got ", o.server_pid));
  }
  if (o.settle < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("settle: must be >= 0");
  }
  if (o.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("duration: must be > 0");
  }
  if (o.warmup < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("warmup: must be >= 0");
  }
  if (o.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("timeout: must be > 0");
  }
  if (o.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("connect_timeout: must be > 0");
  }
  if (o.k < 1) return absl::InvalidArgumentError(absl::StrCat("k: must be >= 1, got ", o.k));
  if (o.channels < 1) {
    return absl::InvalidArgumentError(absl::StrCat("channels: must be >= 1, got ", o.channels));
  }
  if (o.max_in_flight < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_in_flight: must be >= 1, got ", o.max_in_flight));
  }
  if (UsesKnownUsers(o.mix) && o.known_users.empty()) {
    return absl::InvalidArgumentError(
        "known_users: the mix has home_known, coupons or profile requests but no known "
        "users");
  }
  if (UsesItems(o.mix) && o.items.empty()) {
    return absl::InvalidArgumentError(
        "items: the mix has home_new, similar, events or purchase requests but no items");
  }
  if (o.event_retries < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("event_retries: must be >= 0, got ", o.event_retries));
  }
  if (o.event_retry_backoff < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("event_retry_backoff: must be >= 0");
  }
  return absl::OkStatus();
}

absl::StatusOr<LoadResult> RunLoad(const LoadOptions& options) {
  if (absl::Status st = ValidateLoadOptions(options); !st.ok()) return st;

  std::vector<std::unique_ptr<v1::Recommender::Stub>> stubs;
  std::vector<std::unique_ptr<grpc::health::v1::Health::Stub>> health_stubs;
  const absl::Time connect_deadline = absl::Now() + options.connect_timeout;
  for (int c = 0; c < options.channels; ++c) {
    access::ClientChannelOptions channel_options;
    channel_options.target = options.target;
    channel_options.api_key = options.api_key;
    channel_options.tls_ca_pem = options.tls_ca_pem;
    channel_options.tls_cert_pem = options.tls_cert_pem;
    channel_options.tls_key_pem = options.tls_key_pem;
    // One connection per channel: never share a subchannel.
    channel_options.args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channel_options.args.SetInt("recsys.load.channel", c);
    auto made = access::NewClientChannel(channel_options);
    if (!made.ok()) return made.status();
    std::shared_ptr<grpc::Channel> channel = *std::move(made);
    if (!channel->WaitForConnected(absl::ToChronoTime(connect_deadline))) {
      return absl::UnavailableError(
          absl::StrCat("target: cannot connect to ", options.target, " within ",
                       absl::FormatDuration(options.connect_timeout)));
    }
    stubs.push_back(v1::Recommender::NewStub(channel));
    health_stubs.push_back(grpc::health::v1::Health::NewStub(channel));
  }

  LoadResult result;
  result.options = options;
  if (options.mode == LoadMode::kBurst && options.server_pid > 0) {
    auto before = ReadProcessStatus(options.server_pid);
    if (!before.ok()) {
      return absl::Status(before.status().code(),
                          absl::StrCat("server_pid: ", before.status().message()));
    }
    result.server.read = true;
    result.server.rss_before_kb = result.server.rss_peak_kb = before->rss_kb;
    result.server.hwm_before_kb = before->hwm_kb;
    result.server.threads_before = result.server.threads_peak = before->threads;
  }
  const absl::Duration cpu_at_start = ProcessCpu();
  Run run(options, std::move(stubs), std::move(health_stubs));
  if (!run.ack_log_ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("ack_log: cannot open ", options.ack_log, " for appending"));
  }
  const absl::Time start = absl::Now() + absl::Milliseconds(50);
  const absl::Time measure_start =
      options.mode == LoadMode::kBurst ? start : start + options.warmup;
  const absl::Time measure_end =
      options.mode == LoadMode::kBurst ? absl::InfiniteFuture() : measure_start + options.duration;
  run.set_measure_window(measure_start, measure_end);

  if (options.mode == LoadMode::kBurst) {
    absl::SleepFor(start - absl::Now());
    for (int i = 0; i < options.burst; ++i) run.Send(i, start);
    // Sample the server until the last answer.
    while (run.in_flight() > 0) {
      if (result.server.read) {
        auto now = ReadProcessStatus(options.server_pid);
        if (now.ok()) {
          ++result.server.samples;
          result.server.rss_peak_kb = std::max(result.server.rss_peak_kb, now->rss_kb);
          result.server.threads_peak = std::max(result.server.threads_peak, now->threads);
        }
      }
      run.WaitInFlightBelow(1, absl::Now() + absl::Milliseconds(1));
    }
  } else if (options.mode == LoadMode::kOpenLoop) {
    const OpenLoopSchedule schedule(start, options.rate);
    const int64_t total = schedule.CountWithin(options.warmup + options.duration);
    for (int64_t i = 0; i < total; ++i) {
      const absl::Time due = schedule.SendTime(i);
      const absl::Duration wait = due - absl::Now();
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
      if (run.in_flight() >= options.max_in_flight) {
        ++result.in_flight_waits;
        run.WaitInFlightBelow(options.max_in_flight, absl::InfiniteFuture());
      }
      result.max_send_lag = std::max(result.max_send_lag, absl::Now() - due);
      run.Send(i, due);
    }
  } else {
    run.set_closed_loop(measure_end);
    for (int c = 0; c < options.concurrency; ++c) run.SendNext(absl::Now());
    absl::SleepFor(measure_end - absl::Now());
  }
  // Every call ends by its deadline at the latest.
  run.WaitInFlightBelow(1, absl::Now() + (options.timeout + options.event_retry_backoff) *
                                              (options.event_retries + 1) +
                              absl::Seconds(30));
  if (run.in_flight() > 0) {
    return absl::DeadlineExceededError(
        absl::StrCat(run.in_flight(), " calls did not complete after their deadline"));
  }

  result.client_cpu = ProcessCpu() - cpu_at_start;
  result.sent = run.sent();
  if (result.server.read) {
    absl::SleepFor(options.settle);
    auto after = ReadProcessStatus(options.server_pid);
    if (!after.ok()) return after.status();
    result.server.rss_after_kb = after->rss_kb;
    result.server.hwm_after_kb = after->hwm_kb;
    result.server.threads_after = after->threads;
  }
  LatencyRecorder::Snapshot snap = run.recorder().Take();
  std::vector<absl::Duration> all_latencies;
  std::map<int, int64_t> all_codes;
  for (int k = 0; k < kNumRequestKinds; ++k) {
    all_latencies.insert(all_latencies.end(), snap.latencies[k].begin(),
                         snap.latencies[k].end());
    for (const auto& [code, n] : snap.codes[k]) all_codes[code] += n;
    result.kinds[k] = MakeKindResult(std::move(snap.latencies[k]), snap.codes[k]);
  }
  result.all = MakeKindResult(std::move(all_latencies), all_codes);
  result.window = options.mode == LoadMode::kBurst
                      ? run.last_completion() - measure_start
                      : std::max(options.duration, run.last_completion() - measure_start);
  result.achieved_rate =
      static_cast<double>(Ok(result.all)) / absl::ToDoubleSeconds(result.window);
  return result;
}

std::string FormatReport(const LoadResult& r) {
  const LoadOptions& o = r.options;
  std::string out;
  if (o.mode == LoadMode::kOpenLoop) {
    absl::StrAppendFormat(&out, "open loop at %.0f req/s", o.rate);
  } else if (o.mode == LoadMode::kClosedLoop) {
    absl::StrAppendFormat(&out, "closed loop with %d outstanding", o.concurrency);
  }
  if (o.mode == LoadMode::kBurst) {
    absl::StrAppendFormat(&out, "burst of %d requests at once; %d channels to %s\n", o.burst,
                          o.channels, o.target);
  } else {
    absl::StrAppendFormat(&out, " for %s after %s warm-up; %d channels to %s\n",
                          absl::FormatDuration(o.duration), absl::FormatDuration(o.warmup),
                          o.channels, o.target);
  }
  absl::StrAppendFormat(&out, "mix %s; slot %s k=%d; timeout %s\n", o.mix.ToString(), o.slot,
                        o.k, absl::FormatDuration(o.timeout));
  absl::StrAppendFormat(&out, "%-13s %9s %9s %7s %9s %9s %9s %9s %9s\n", "kind", "measured",
                        "ok", "errors", "p50 ms", "p90 ms", "p99 ms", "p99.9 ms", "max ms");
  auto row = [&out](absl::string_view name, const KindResult& k) {
    const LatencySummary& l = k.latency;
    absl::StrAppendFormat(&out, "%-13s %9d %9d %7d %9.3f %9.3f %9.3f %9.3f %9.3f\n", name,
                          k.measured, Ok(k), k.measured - Ok(k), Ms(l.p50), Ms(l.p90),
                          Ms(l.p99), Ms(l.p999), Ms(l.max));
  };
  for (int k = 0; k < kNumRequestKinds; ++k) {
    if (o.mix.weight(static_cast<RequestKind>(k)) > 0) {
      row(RequestKindName(static_cast<RequestKind>(k)), r.kinds[k]);
    }
  }
  row("all", r.all);
  absl::StrAppendFormat(&out, "achieved %.1f ok/s over %.2f s (sent %d incl. warm-up)\n",
                        r.achieved_rate, absl::ToDoubleSeconds(r.window), r.sent);
  std::string errors;
  for (int k = 0; k < kNumRequestKinds; ++k) {
    for (const auto& [code, n] : r.kinds[k].codes) {
      if (code == 0) continue;
      absl::StrAppendFormat(&errors, "%s%s %d (%s)", errors.empty() ? "" : ", ",
                            StatusCodeName(code), n,
                            RequestKindName(static_cast<RequestKind>(k)));
    }
  }
  absl::StrAppend(&out, "errors by status: ", errors.empty() ? "none" : errors, "\n");
  if (o.mode == LoadMode::kOpenLoop) {
    absl::StrAppendFormat(&out, "sender: at most %.3f ms behind schedule, %d waits at %d in flight\n",
                          Ms(r.max_send_lag), r.in_flight_waits, o.max_in_flight);
  }
  absl::StrAppendFormat(&out, "client CPU: %.2f s\n", absl::ToDoubleSeconds(r.client_cpu));
  if (r.server.read) {
    const ServerMemory& m = r.server;
    absl::StrAppendFormat(
        &out,
        "server pid %d: VmRSS %.1f MiB before, %.1f at peak, %.1f %s after; "
        "VmHWM %.1f -> %.1f MiB; threads %d before, %d at peak, %d after (%d reads)\n",
        o.server_pid, m.rss_before_kb / 1024.0, m.rss_peak_kb / 1024.0, m.rss_after_kb / 1024.0,
        absl::FormatDuration(o.settle), m.hwm_before_kb / 1024.0, m.hwm_after_kb / 1024.0,
        m.threads_before, m.threads_peak, m.threads_after, m.samples);
  }
  return out;
}

std::string ToJson(const LoadResult& r) {
  const LoadOptions& o = r.options;
  auto kind_json = [](const KindResult& k) {
    std::string codes;
    for (const auto& [code, n] : k.codes) {
      absl::StrAppend(&codes, codes.empty() ? "" : ",", "\"", StatusCodeName(code), "\":", n);
    }
    const LatencySummary& l = k.latency;
    return absl::StrFormat(
        "{\"measured\":%d,\"ok\":%d,\"codes\":{%s},\"mean_ms\":%.4f,\"p50_ms\":%.4f,"
        "\"p90_ms\":%.4f,\"p99_ms\":%.4f,\"p999_ms\":%.4f,\"max_ms\":%.4f}",
        k.measured, Ok(k), codes, Ms(l.mean), Ms(l.p50), Ms(l.p90), Ms(l.p99), Ms(l.p999),
        Ms(l.max));
  };
  std::string kinds;
  for (int k = 0; k < kNumRequestKinds; ++k) {
    if (o.mix.weight(static_cast<RequestKind>(k)) == 0) continue;
    absl::StrAppend(&kinds, kinds.empty() ? "" : ",", "\"",
                    RequestKindName(static_cast<RequestKind>(k)), "\":", kind_json(r.kinds[k]));
  }
  std::string server = "null";
  if (r.server.read) {
    const ServerMemory& m = r.server;
    server = absl::StrFormat(
        "{\"pid\":%d,\"rss_before_kb\":%d,\"rss_peak_kb\":%d,\"rss_after_kb\":%d,"
        "\"hwm_before_kb\":%d,\"hwm_after_kb\":%d,\"threads_before\":%d,"
        "\"threads_peak\":%d,\"threads_after\":%d,\"samples\":%d,\"settle_s\":%.3f}",
        o.server_pid, m.rss_before_kb, m.rss_peak_kb, m.rss_after_kb, m.hwm_before_kb,
        m.hwm_after_kb, m.threads_before, m.threads_peak, m.threads_after, m.samples,
        absl::ToDoubleSeconds(o.settle));
  }
  const char* mode = o.mode == LoadMode::kOpenLoop     ? "open"
                     : o.mode == LoadMode::kClosedLoop ? "closed"
                                                       : "burst";
  return absl::StrFormat(
      "{\"mode\":\"%s\",\"rate\":%.3f,\"concurrency\":%d,\"burst\":%d,"
      "\"duration_s\":%.3f,\"warmup_s\":%.3f,\"channels\":%d,\"mix\":\"%s\","
      "\"slot\":\"%s\",\"k\":%d,"
      "\"sent\":%d,\"window_s\":%.4f,\"achieved_rate\":%.3f,\"max_send_lag_ms\":%.4f,"
      "\"in_flight_waits\":%d,\"client_cpu_s\":%.3f,\"kinds\":{%s},\"all\":%s,"
      "\"server\":%s}",
      mode, o.rate, o.concurrency, o.burst, absl::ToDoubleSeconds(o.duration),
      absl::ToDoubleSeconds(o.warmup), o.channels, o.mix.ToString(), o.slot, o.k, r.sent,
      absl::ToDoubleSeconds(r.window), r.achieved_rate, Ms(r.max_send_lag), r.in_flight_waits,
      absl::ToDoubleSeconds(r.client_cpu), kinds, kind_json(r.all), server);
}

}  // namespace recsys::bench
