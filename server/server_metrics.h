// The server's metrics (docs/operations.md has the list): every RPC's
// latency and status code, recorded by a gRPC server interceptor so that
// sync, callback and streaming calls are all covered; degraded answers by
// reason and fallbacks, counted from the answers' domain metadata; per-slot
// impressions, clicks, conversions and GMV from the events RecordEvents
// accepts; and the scrape-time collectors of the model, the Redis pool, the
// item cache and the coupon budgets.
//
// Labels are bounded: method names come from the served services (others
// are "other"), codes from grpc::StatusCode, degraded reasons from a fixed
// list (others "other"), slots from the configured slot names (others
// "other"). No label ever holds a user or item id.
//
// Thread safety: all methods are safe for concurrent use. On the request
// path the interceptor and RecordAnswer only update atomics (children are
// created at construction, or once per method and code and then kept);
// RecordEvents finds a slot's counters under a shared (reader) lock.
#ifndef RECSYS_SERVER_SERVER_METRICS_H_
#define RECSYS_SERVER_SERVER_METRICS_H_

#include <grpcpp/support/server_interceptor.h>

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "feature_store/feature_store.h"
#include "feature_store/item_cache.h"
#include "marketing/marketer.h"
#include "metrics/metrics.h"
#include "model/model_store.h"
#include "recommender/recommender.h"
#include "recommender/storefront.h"
#include "server/exposure_tracker.h"

namespace recsys::server {

// Per slot × experiment × variant business counts, read at scrape time.
struct SlotCounts {
  std::string slot;
  // Empty until an experiment assigns the traffic (exported as "none").
  std::string experiment;
  std::string variant;
  double impressions = 0;
  double clicks = 0;
  double conversions = 0;
  double gmv = 0;
};

// Where the per-slot business counters come from. ServerMetrics has an
// in-process one (this replica's accepted events); a source shared by every
// replica (counters in Redis per slot × experiment × variant) replaces it
// with ServerMetrics::SetSlotCountsSource. Read runs on the scraping thread
// and may do I/O.
using SlotCountsSource = std::function<std::vector<SlotCounts>()>;

class ServerMetrics {
 public:
  // Adds the families to `registry` (borrowed; must outlive this object).
  // The collectors this object adds are removed by its destructor.
  explicit ServerMetrics(metrics::Registry* registry);
  ~ServerMetrics();
  ServerMetrics(const ServerMetrics&) = delete;
  ServerMetrics& operator=(const ServerMetrics&) = delete;

  // Collectors of the served model (version info, age, load time, rejected
  // versions) and of the coupon budgets (issued, redeemed, budget and budget
  // left per coupon; a store that does not answer within 1 s leaves them
  // out and counts recsys_coupon_scrape_errors_total). Pointers are
  // borrowed and must outlive this object; a null `marketer` adds nothing.
  void AddModelCollector(const model::ModelStore* models);
  void AddCouponCollector(const marketing::Marketer* marketer);
  // Exports the experiment counters every replica shares (the storefront's
  // CounterStore, read at scrape time) per experiment x variant x slot:
  // recsys_experiment_{impressions,clicks,conversions,coupons_issued,
  // coupons_redeemed}_total, recsys_experiment_{gmv,discount}_total and the
  // gauges recsys_experiment_exposed_users and recsys_experiment_variant_share
  // (per experiment x variant; every configured variant, 0 until exposed).
  // `storefront` is borrowed and must outlive this object.
  void AddExperimentCollector(const recommender::Storefront* storefront);
  // Exports recsys_slot_exposed_users{slot} (distinct users shown each
  // slot over the last hour: the configured slots and "other", 0 until
  // shown), recsys_slot_exposure_dropped_total and
  // recsys_slot_exposure_errors_total (failed flushes and reads), and
  // records every counted impression's user into `tracker`. Borrowed; must
  // outlive this object.
  void AddExposureCollector(ExposureTracker* tracker);

  metrics::Registry* registry() const { return registry_; }

  // The interceptor factory that records recsys_rpc_duration_seconds (by
  // service, method, code) for every call; give it to
  // ServerBuilder::experimental().SetInterceptorCreators. This object must
  // outlive the server.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  NewInterceptorFactory();

  // Degraded answers (by method and reason) and fallbacks (cold start,
  // fold-in, popular fill) of one answer of `method`.
  void RecordAnswer(absl::string_view method,
                    const recommender::AnswerMeta& meta);
  void RecordMarketingAnswer(absl::string_view method,
                             const marketing::MarketingMeta& meta);

  // The events of one RecordEvents call, counted per slot into the
  // in-process slot counts, except the indices in `skip` (ascending: the
  // events the domain refused and the retries of events already applied).
  void RecordEvents(absl::Span<const feature_store::Event> events,
                    const std::vector<int>& skip);

  // The slot names exported as themselves (the configured ones); any other
  // slot is counted as "other". Replaces the previous list.
  void SetKnownSlots(const std::vector<std::string>& slots);
  // Keeps the known slots equal to `storefront`'s configured slots (its
  // blended slots and the slots of its slot plan), re-read when a reload
  // replaces the plan; replaces SetKnownSlots' list. `storefront` is
  // borrowed and must outlive this object.
  void FollowSlotConfig(const recommender::Storefront* storefront);
  // Replaces the in-process slot counts by `source` (e.g. shared counters
  // in Redis). Null restores the in-process counts.
  void SetSlotCountsSource(SlotCountsSource source);

  // This replica's counts of accepted events per slot (experiment and
  // variant empty).
  std::vector<SlotCounts> LocalSlotCounts() const;

  // The label a degraded-reason text is counted under: the component named
  // before " unavailable" ("feature store unavailable (...)" →
  // "feature_store"), when it is one of the known ones; else "other".
  static std::string DegradedReasonLabel(absl::string_view reason);

 private:
  class Interceptor;
  class InterceptorFactory;
  struct MethodSeries {
    std::string service;
    std::string method;
    // Children of rpc_duration_ by status code, created at first use.
    std::array<std::atomic<metrics::Histogram*>, 17> by_code{};
  };
  MethodSeries* FindMethod(absl::string_view path);
  void RecordCall(MethodSeries* series, int code, double seconds);
  void AddCollectors();

  struct LocalSlot {
    std::string label;
    metrics::Counter impressions;
    metrics::Counter clicks;
    metrics::Counter conversions;
    metrics::Counter gmv;
  };
  LocalSlot* Slot(absl::string_view name);
  // Rebuilds known_slots_ when the followed storefront's plan changed.
  void RefreshKnownSlots();
  void CountDegraded(absl::string_view method, absl::string_view reason);

  // Immutable after construction.
  metrics::Registry* const registry_;
  metrics::Family<metrics::Histogram>* rpc_duration_;
  metrics::Family<metrics::Counter>* degraded_;
  metrics::Family<metrics::Counter>* fallbacks_;
  metrics::Counter* cold_start_;
  metrics::Counter* fold_in_;
  metrics::Counter* popular_fill_;
  metrics::Counter* model_version_;
  // "method/reason" -> child of degraded_, for the answering methods.
  absl::flat_hash_map<std::string, metrics::Counter*> degraded_by_;
  absl::flat_hash_map<std::string, std::unique_ptr<MethodSeries>> methods_;
  MethodSeries other_;
  // Collectors added to registry_, removed by the destructor.
  std::vector<int64_t> collector_ids_ ABSL_GUARDED_BY(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<LocalSlot>> slots_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> known_slots_ ABSL_GUARDED_BY(mu_);
  // Set by FollowSlotConfig; the plan known_slots_ was built from.
  const recommender::Storefront* storefront_ ABSL_GUARDED_BY(mu_) = nullptr;
  const void* known_plan_ ABSL_GUARDED_BY(mu_) = nullptr;
  SlotCountsSource source_ ABSL_GUARDED_BY(mu_);
  // Set once by AddExposureCollector, before any call is served.
  std::atomic<ExposureTracker*> exposures_{nullptr};
  std::atomic<int64_t> exposure_read_errors_{0};
};

// Adds a collector of the item cache's counters and staleness (seconds
// since its last successful change-feed read) and returns its id
// (Registry::RemoveCollector). `cache` is borrowed and must stay valid
// until the collector is removed or the registry's last scrape.
int64_t AddItemCacheCollector(
    metrics::Registry* registry,
    const feature_store::ItemCachingFeatureStore* cache);

}  // namespace recsys::server

#endif  // RECSYS_SERVER_SERVER_METRICS_H_
