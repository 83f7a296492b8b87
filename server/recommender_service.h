// gRPC service implementations of recsys.v1.Recommender and recsys.v1.Admin.
//
// The layer is thin: proto → domain request, one domain call, domain →
// proto, one status mapping (grpc_status.h). All logic, validation included,
// lives in recommender::Recommender and model::ModelStore.
//
// Threading: with ServerOptions::callback_api (the default) every unary
// call of both services is served through gRPC's callback API
// (CallbackRecommenderService, CallbackAdminService): each request runs to
// completion on the gRPC thread that read it, blocking only on the
// feature store's round trips (bounded by the request deadline and the
// Redis client's fail-fast), with no hand-off to a worker thread and no
// thread pool to exhaust. A call is refused (RESOURCE_EXHAUSTED) only above
// CallLimits::max_concurrent_calls calls in flight. FindAudience, the one
// streaming call, stays on the sync API (ServerOptions::max_threads) with
// its own bound, CallLimits::max_audience_streams. Without callback_api
// every call is served by the sync thread pool (kept for comparison). The
// services hold only borrowed, thread-safe collaborators and atomics.
//
// Access: every recsys.v1 handler starts with one check of the call's
// `authorization` metadata against ServerSecurity::api_keys (server/auth.h
// holds the method → scope table); without keys every call is open.
//
// Invalid UTF-8 in a string field of a request: INVALID_ARGUMENT naming the
// field on the callback API (server/callback_handler.h); the sync API keeps
// gRPC's INTERNAL with an empty message.
#ifndef RECSYS_SERVER_RECOMMENDER_SERVICE_H_
#define RECSYS_SERVER_RECOMMENDER_SERVICE_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/message_allocator.h>

#include "absl/synchronization/notification.h"
#include "feature_store/feature_store.h"
#include "marketing/marketer.h"
#include "marketing/trigger_engine.h"
#include "model/model_store.h"
#include "recommender/recommender.h"
#include "recommender/storefront.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "redis/client.h"
#include "server/auth.h"
#include "server/callback_handler.h"
#include "server/http_server.h"
#include "server/exposure_tracker.h"
#include "server/server_metrics.h"

namespace recsys::server {

// Health-check service names reported by the server.
inline constexpr char kRecommenderHealthName[] = "recsys.v1.Recommender";
// Reported separately so a Redis blip degrades but does not take the
// replica out of rotation.
inline constexpr char kFeatureStoreHealthName[] = "recsys.feature_store";

// Bounds on concurrent work (ServerOptions::limits).
struct CallLimits {
  // Unary calls (callback API) in flight at once, from the parse of the
  // request until its answer is sent: beyond it a call is answered
  // RESOURCE_EXHAUSTED naming this limit. Calls waiting for a gRPC thread
  // are not counted (they hold only their request bytes). >= 1.
  int max_concurrent_calls = 2000;
  // FindAudience streams running at once (each scans every customer, about
  // 30 ms of CPU per item id asked): beyond it RESOURCE_EXHAUSTED naming
  // this limit, at once. >= 1.
  int max_audience_streams = 2;
};

class RecommenderService : public recsys::v1::Recommender::Service {
 public:
  // Borrowed pointers must outlive the service. Without a `marketer`,
  // RecommendCoupons and FindAudience answer UNIMPLEMENTED (and coupon events
  // are refused by the storefront, which then has no coupon sink). Without
  // `api_keys` every call is open; with them, each call needs a key with the
  // method's scope (ApiKeys::Authorize).
  // `limits.max_audience_streams` bounds FindAudience.
  explicit RecommenderService(const recommender::Storefront* storefront,
                              const marketing::Marketer* marketer = nullptr,
                              const ApiKeys* api_keys = nullptr, const CallLimits& limits = {})
      : storefront_(storefront),
        recommender_(&storefront->recommender()),
        marketer_(marketer),
        api_keys_(api_keys),
        limits_(limits) {}

  grpc::Status RecommendProducts(grpc::ServerContext* context,
                                 const recsys::v1::RecommendProductsRequest* request,
                                 recsys::v1::RecommendProductsResponse* response) override;
  grpc::Status SimilarItems(grpc::ServerContext* context,
                            const recsys::v1::SimilarItemsRequest* request,
                            recsys::v1::SimilarItemsResponse* response) override;
  grpc::Status RecommendCoupons(grpc::ServerContext* context,
                                const recsys::v1::RecommendCouponsRequest* request,
                                recsys::v1::RecommendCouponsResponse* response) override;
  grpc::Status FindAudience(grpc::ServerContext* context,
                            const recsys::v1::FindAudienceRequest* request,
                            grpc::ServerWriter<recsys::v1::AudiencePage>* writer) override;
  grpc::Status RecordEvents(grpc::ServerContext* context,
                            const recsys::v1::RecordEventsRequest* request,
                            recsys::v1::RecordEventsResponse* response) override;
  grpc::Status GetUserProfile(grpc::ServerContext* context,
                              const recsys::v1::GetUserProfileRequest* request,
                              recsys::v1::UserProfile* response) override;

  // Where answers' degraded flags, fallbacks and accepted events are
  // counted (borrowed; must outlive the service). Set before serving;
  // default null: not counted.
  void SetMetrics(ServerMetrics* metrics) { metrics_ = metrics; }

 protected:
  // OK when the call may run `method` (always, without API keys); else
  // UNAUTHENTICATED or PERMISSION_DENIED.
  grpc::Status Authorize(const grpc::ServerContextBase* context, absl::string_view method) const;
  const ApiKeys* api_keys() const { return api_keys_; }

  // The bodies of the unary calls, shared by both APIs: after access is
  // checked, with the call's deadline.
  grpc::Status DoRecommendProducts(absl::Time deadline,
                                   const recsys::v1::RecommendProductsRequest& request,
                                   recsys::v1::RecommendProductsResponse* response) const;
  grpc::Status DoSimilarItems(absl::Time deadline, const recsys::v1::SimilarItemsRequest& request,
                              recsys::v1::SimilarItemsResponse* response) const;
  grpc::Status DoRecommendCoupons(absl::Time deadline,
                                  const recsys::v1::RecommendCouponsRequest& request,
                                  recsys::v1::RecommendCouponsResponse* response) const;
  grpc::Status DoRecordEvents(absl::Time deadline, const recsys::v1::RecordEventsRequest& request,
                              recsys::v1::RecordEventsResponse* response) const;
  grpc::Status DoGetUserProfile(absl::Time deadline,
                                const recsys::v1::GetUserProfileRequest& request,
                                recsys::v1::UserProfile* response) const;

 private:
  const recommender::Storefront* const storefront_;
  const recommender::Recommender* const recommender_;
  const marketing::Marketer* const marketer_;
  const ApiKeys* const api_keys_;
  const CallLimits limits_;
  // FindAudience streams running now (<= limits_.max_audience_streams).
  std::atomic<int> audience_streams_{0};
  // Set once by RecsysServer::Create before serving (SetMetrics); may stay null.
  ServerMetrics* metrics_ = nullptr;
};

// RecommenderService with every unary call on the callback API
// (server/callback_handler.h): auth, then INVALID_ARGUMENT for a request
// whose string field held invalid UTF-8, then RESOURCE_EXHAUSTED above
// `limits.max_concurrent_calls` calls in flight (counted in `calls`, shared
// with CallbackAdminService), then the call's body. FindAudience stays on
// the sync API.
class CallbackRecommenderService final : public RecommenderService {
 public:
  // `calls` is borrowed and must outlive the server.
  CallbackRecommenderService(const recommender::Storefront* storefront,
                             const marketing::Marketer* marketer, const ApiKeys* api_keys,
                             const CallLimits& limits, CallCounter* calls);
};

class AdminService : public recsys::v1::Admin::Service {
 public:
  // All pointers are borrowed and must outlive the service. ReloadModel
  // re-reads the storefront's slot configuration first; a config that fails
  // validation is refused (INVALID_ARGUMENT naming the field) and both the
  // served config and the served model stay as they are. Without a
  // `marketer`, the coupon calls answer UNIMPLEMENTED. `api_keys` as for
  // RecommenderService (null: open).
  AdminService(model::ModelStore* models, feature_store::FeatureStore* features,
               recommender::Storefront* storefront,
               const marketing::Marketer* marketer = nullptr, const ApiKeys* api_keys = nullptr)
      : models_(models),
        features_(features),
        storefront_(storefront),
        marketer_(marketer),
        api_keys_(api_keys) {}

  grpc::Status GetModelInfo(grpc::ServerContext* context,
                            const recsys::v1::GetModelInfoRequest* request,
                            recsys::v1::ModelInfo* response) override;
  grpc::Status ReloadModel(grpc::ServerContext* context,
                           const recsys::v1::ReloadModelRequest* request,
                           recsys::v1::ReloadModelResponse* response) override;
  grpc::Status Rollback(grpc::ServerContext* context,
                        const recsys::v1::RollbackRequest* request,
                        recsys::v1::RollbackResponse* response) override;
  grpc::Status UpdateItems(grpc::ServerContext* context,
                           const recsys::v1::UpdateItemsRequest* request,
                           recsys::v1::UpdateItemsResponse* response) override;
  grpc::Status GetTrialReport(grpc::ServerContext* context,
                              const recsys::v1::GetTrialReportRequest* request,
                              recsys::v1::TrialReport* response) override;
  grpc::Status PutCoupons(grpc::ServerContext* context,
                          const recsys::v1::CouponCatalog* request,
                          recsys::v1::PutCouponsResponse* response) override;
  grpc::Status ListCoupons(grpc::ServerContext* context,
                           const recsys::v1::ListCouponsRequest* request,
                           recsys::v1::CouponList* response) override;
  grpc::Status DeleteCoupon(grpc::ServerContext* context,
                            const recsys::v1::DeleteCouponRequest* request,
                            recsys::v1::DeleteCouponResponse* response) override;
  grpc::Status GetExperimentReport(grpc::ServerContext* context,
                                   const recsys::v1::GetExperimentReportRequest* request,
                                   recsys::v1::ExperimentReports* response) override;
  grpc::Status RunTriggers(grpc::ServerContext* context,
                           const recsys::v1::RunTriggersRequest* request,
                           recsys::v1::RunTriggersResponse* response) override;

  // The triggered-offers engine RunTriggers drives (borrowed; must outlive
  // the service). Set before serving; default null: UNIMPLEMENTED.
  void SetTriggers(const marketing::TriggerEngine* triggers) { triggers_ = triggers; }

 private:
  // As RecommenderService::Authorize.
  grpc::Status Authorize(const grpc::ServerContextBase* context, absl::string_view method) const;

 protected:
  const ApiKeys* api_keys() const { return api_keys_; }
  // The bodies of the calls, shared by both APIs (as RecommenderService's).
  grpc::Status DoGetModelInfo(absl::Time deadline, const recsys::v1::GetModelInfoRequest& request,
                              recsys::v1::ModelInfo* response) const;
  grpc::Status DoReloadModel(absl::Time deadline, const recsys::v1::ReloadModelRequest& request,
                             recsys::v1::ReloadModelResponse* response) const;
  grpc::Status DoRollback(absl::Time deadline, const recsys::v1::RollbackRequest& request,
                          recsys::v1::RollbackResponse* response) const;
  grpc::Status DoUpdateItems(absl::Time deadline, const recsys::v1::UpdateItemsRequest& request,
                             recsys::v1::UpdateItemsResponse* response) const;
  grpc::Status DoGetTrialReport(absl::Time deadline,
                                const recsys::v1::GetTrialReportRequest& request,
                                recsys::v1::TrialReport* response) const;
  grpc::Status DoPutCoupons(absl::Time deadline, const recsys::v1::CouponCatalog& request,
                            recsys::v1::PutCouponsResponse* response) const;
  grpc::Status DoListCoupons(absl::Time deadline, const recsys::v1::ListCouponsRequest& request,
                             recsys::v1::CouponList* response) const;
  grpc::Status DoDeleteCoupon(absl::Time deadline, const recsys::v1::DeleteCouponRequest& request,
                              recsys::v1::DeleteCouponResponse* response) const;
  grpc::Status DoGetExperimentReport(absl::Time deadline,
                                     const recsys::v1::GetExperimentReportRequest& request,
                                     recsys::v1::ExperimentReports* response) const;
  grpc::Status DoRunTriggers(absl::Time deadline, const recsys::v1::RunTriggersRequest& request,
                             recsys::v1::RunTriggersResponse* response) const;

 private:
  model::ModelStore* const models_;
  feature_store::FeatureStore* const features_;
  recommender::Storefront* const storefront_;
  const marketing::Marketer* const marketer_;
  const ApiKeys* const api_keys_;
  const marketing::TriggerEngine* triggers_ = nullptr;
};

// AdminService with every call on the callback API, admitted as
// CallbackRecommenderService's calls (`calls` shared with it).
class CallbackAdminService final : public AdminService {
 public:
  CallbackAdminService(model::ModelStore* models, feature_store::FeatureStore* features,
                       recommender::Storefront* storefront, const marketing::Marketer* marketer,
                       const ApiKeys* api_keys, const CallLimits& limits, CallCounter* calls);
};

// Who may connect and call (docs/architecture.md, "Access").
struct ServerSecurity {
  // The keys that may call recsys.v1 (ApiKeys::Authorize on every call).
  // Null: every call is open and Start logs a warning. Health checking and
  // reflection are open either way.
  std::shared_ptr<const ApiKeys> api_keys;
  // PEM contents (not paths). Certificate chain and private key of the
  // server: both set → TLS (grpc::SslServerCredentials); both empty →
  // plaintext, with a warning at start when the address is not loopback.
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // Set (requires TLS): mutual TLS, every client must present a
  // certificate signed by these CAs.
  std::string tls_client_ca_pem;
};

struct ServerOptions {
  // Address to listen on, e.g. "0.0.0.0:50051"; port 0 picks a free port.
  // Default: this host only; a deployment names the interface it serves on
  // (deploy/ uses 0.0.0.0:50051 inside the pod).
  std::string listen_address = "127.0.0.1:50051";
  // Maximum threads of the sync server (ResourceQuota::SetMaxThreads):
  // FindAudience, and every call without callback_api.
  int max_threads = 32;
  // Serve every unary call through the callback API (CallbackRecommender-
  // Service, CallbackAdminService) instead of the sync thread pool.
  // docs/benchmarks.md ("Thread model") has the measurements behind the
  // default.
  bool callback_api = true;
  // Calls in flight and audience streams (CallLimits has the defaults).
  CallLimits limits;
  // How often the feature store's health (Ping, then CheckLoaded) is probed.
  absl::Duration health_interval = absl::Seconds(1);
  // The process's Redis pool, shared by the Redis stores (borrowed; must
  // outlive the server). When set, kFeatureStoreHealthName reports this
  // pool (its Ping, which fails fast while the pool backs off or its stall
  // breaker is open) and state changes are logged with its Stats; when
  // null (in-memory stores), the feature store's Ping.
  const redis::Client* redis = nullptr;
  // Serve the reflection service (for grpcurl and similar tools).
  bool reflection = true;
  // API keys and TLS; default: open and plaintext.
  ServerSecurity security;
  // Where the server records its metrics (server_metrics.h: every call's
  // latency and code, degraded answers, fallbacks, per-slot events, the
  // model and coupon collectors). Borrowed; must outlive the server.
  // Default null: no metrics.
  metrics::Registry* metrics = nullptr;
  // Distinct users shown each slot over the last hour (exposure_tracker.h),
  // kept with the metrics: shared in `redis` when it is set (give the
  // stores' key prefix), else counted in process.
  ExposureTrackerOptions exposures;
  // The triggered-offers engine behind Admin.RunTriggers (borrowed; must
  // outlive the server). Default null: RunTriggers is UNIMPLEMENTED.
  const marketing::TriggerEngine* triggers = nullptr;
};

// A running gRPC server with both services, health checking (the
// recommender is SERVING once constructed, since a model is loaded; the
// feature store is reported under kFeatureStoreHealthName) and reflection.
class RecsysServer {
 public:
  // Serves the given domain objects; it builds none. Borrowed pointers must
  // outlive the server; `marketer` may be null (no marketing calls).
  // `features` is the store the health check probes. Unavailable when the
  // address cannot be bound; InvalidArgument for an incomplete
  // ServerSecurity (a certificate without its key or the reverse, a client
  // CA without TLS).
  static absl::StatusOr<std::unique_ptr<RecsysServer>> Start(
      const ServerOptions& options, model::ModelStore* models,
      feature_store::FeatureStore* features, recommender::Storefront* storefront,
      const marketing::Marketer* marketer = nullptr);

  ~RecsysServer();  // Shutdown() with a 5 s grace.

  int port() const { return port_; }
  void Wait() { server_->Wait(); }
  // First phase of a graceful stop: every health service name reports
  // NOT_SERVING from now on (load balancers stop sending new calls) while
  // calls keep being served. Idempotent.
  void Drain();
  // Drain(), then stops accepting calls, lets the calls in flight finish
  // for up to `grace` (those still running then are cancelled), and joins.
  // Idempotent.
  void Shutdown(absl::Duration grace = absl::Seconds(5));
  // In-process channel, for tests and tools in the same process.
  std::shared_ptr<grpc::Channel> InProcessChannel();
  // True while the recommender's gRPC health status is SERVING: from Start
  // until Drain (what /readyz reports).
  bool serving() const { return !draining_.load(); }
  // Null without ServerOptions::metrics.
  ServerMetrics* metrics() const { return metrics_.get(); }

 private:
  RecsysServer() = default;
  void HealthLoop();
  // What kFeatureStoreHealthName reports: ServerOptions::redis's Ping, else
  // the feature store's; then the store's CheckLoaded (a Redis restarted
  // empty is NOT_SERVING and makes answers degraded until it is reloaded).
  absl::Status PingFeatureBackend(absl::Time deadline) const;

  ServerOptions options_;
  feature_store::FeatureStore* features_ = nullptr;
  // Declared before metrics_, whose collector reads it.
  std::unique_ptr<ExposureTracker> exposures_;
  // Declared before server_: the interceptors point to it.
  std::unique_ptr<ServerMetrics> metrics_;
  // Unary calls in flight on the callback API (both services).
  CallCounter calls_;
  std::unique_ptr<RecommenderService> recommender_service_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  absl::Notification stop_;
  std::atomic<bool> draining_{false};
  std::atomic<bool> shut_down_{false};
  std::thread health_thread_;
};

}  // namespace recsys::server

#endif  // RECSYS_SERVER_RECOMMENDER_SERVICE_H_
