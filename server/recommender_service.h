// gRPC service implementations of recsys.v1.Recommender and recsys.v1.Admin.
//
// The layer is thin: proto → domain request, one domain call, domain →
// proto, one status mapping (grpc_status.h). All logic, validation included,
// lives in recommender::Recommender and model::ModelStore.
//
// Threading: the sync gRPC API calls these handlers from its thread pool.
// With ServerOptions::callback_api, RecommendProducts and SimilarItems (the
// storefront's latency-bound calls) are served through the callback API
// instead, on gRPC's own threads (CallbackRecommenderService); the other
// calls stay sync. The services hold only borrowed, thread-safe
// collaborators.
//
// Access: every recsys.v1 handler starts with one check of the call's
// `authorization` metadata against ServerSecurity::api_keys (server/auth.h
// holds the method → scope table); without keys every call is open.
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
#include "model/model_store.h"
#include "recommender/recommender.h"
#include "recommender/storefront.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "redis/client.h"
#include "server/auth.h"

namespace recsys::server {

// Health-check service names reported by the server.
inline constexpr char kRecommenderHealthName[] = "recsys.v1.Recommender";
// Reported separately so a Redis blip degrades but does not take the
// replica out of rotation.
inline constexpr char kFeatureStoreHealthName[] = "recsys.feature_store";

class RecommenderService : public recsys::v1::Recommender::Service {
 public:
  // Borrowed pointers must outlive the service. Without a `marketer`,
  // RecommendCoupons and FindAudience answer UNIMPLEMENTED (and coupon events
  // are refused by the storefront, which then has no coupon sink). Without
  // `api_keys` every call is open; with them, each call needs a key with the
  // method's scope (ApiKeys::Authorize).
  explicit RecommenderService(const recommender::Storefront* storefront,
                              const marketing::Marketer* marketer = nullptr,
                              const ApiKeys* api_keys = nullptr) {
    Init(storefront, marketer, api_keys);
  }

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

 protected:
  // For CallbackRecommenderService, whose gRPC base classes are default
  // constructed: Init before use.
  RecommenderService() = default;
  void Init(const recommender::Storefront* storefront, const marketing::Marketer* marketer,
            const ApiKeys* api_keys) {
    storefront_ = storefront;
    recommender_ = &storefront->recommender();
    marketer_ = marketer;
    api_keys_ = api_keys;
  }
  // OK when the call may run `method` (always, without API keys); else
  // UNAUTHENTICATED or PERMISSION_DENIED.
  grpc::Status Authorize(const grpc::ServerContextBase* context, absl::string_view method) const;

  // The bodies of the storefront calls, shared by both APIs.
  grpc::Status DoRecommendProducts(absl::Time deadline,
                                   const recsys::v1::RecommendProductsRequest& request,
                                   recsys::v1::RecommendProductsResponse* response) const;
  grpc::Status DoSimilarItems(absl::Time deadline, const recsys::v1::SimilarItemsRequest& request,
                              recsys::v1::SimilarItemsResponse* response) const;

 private:
  const recommender::Storefront* storefront_ = nullptr;
  const recommender::Recommender* recommender_ = nullptr;
  const marketing::Marketer* marketer_ = nullptr;
  const ApiKeys* api_keys_ = nullptr;
};

// RecommenderService with RecommendProducts and SimilarItems on the
// callback API: each request runs to completion on the gRPC thread that
// read it (the handlers block only on the feature store's round trips,
// bounded by RecommenderOptions::feature_timeout), with no hand-off to a
// sync worker thread.
// Requests and responses of both calls live in a protobuf arena per call,
// whose first block is allocated with the call's state: one allocation per
// call for the messages instead of one per field.
class CallbackRecommenderService final
    : public recsys::v1::Recommender::WithCallbackMethod_RecommendProducts<
          recsys::v1::Recommender::WithCallbackMethod_SimilarItems<RecommenderService>> {
 public:
  CallbackRecommenderService(const recommender::Storefront* storefront,
                             const marketing::Marketer* marketer = nullptr,
                             const ApiKeys* api_keys = nullptr);
  ~CallbackRecommenderService() override;

  grpc::ServerUnaryReactor* RecommendProducts(
      grpc::CallbackServerContext* context, const recsys::v1::RecommendProductsRequest* request,
      recsys::v1::RecommendProductsResponse* response) override;
  grpc::ServerUnaryReactor* SimilarItems(grpc::CallbackServerContext* context,
                                         const recsys::v1::SimilarItemsRequest* request,
                                         recsys::v1::SimilarItemsResponse* response) override;

 private:
  // Must outlive the server (gRPC keeps pointers to them).
  std::unique_ptr<grpc::MessageAllocator<recsys::v1::RecommendProductsRequest,
                                         recsys::v1::RecommendProductsResponse>>
      products_allocator_;
  std::unique_ptr<
      grpc::MessageAllocator<recsys::v1::SimilarItemsRequest, recsys::v1::SimilarItemsResponse>>
      similar_allocator_;
};

class AdminService final : public recsys::v1::Admin::Service {
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

 private:
  // As RecommenderService::Authorize.
  grpc::Status Authorize(const grpc::ServerContextBase* context, absl::string_view method) const;

  model::ModelStore* const models_;
  feature_store::FeatureStore* const features_;
  recommender::Storefront* const storefront_;
  const marketing::Marketer* const marketer_;
  const ApiKeys* const api_keys_;
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
  // Maximum threads of the sync server (ResourceQuota::SetMaxThreads).
  int max_threads = 32;
  // Serve RecommendProducts and SimilarItems through the callback API
  // (CallbackRecommenderService) instead of the sync thread pool.
  // docs/benchmarks.md ("Thread model") has the measurements behind the
  // default.
  bool callback_api = true;
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

 private:
  RecsysServer() = default;
  void HealthLoop();
  // What kFeatureStoreHealthName reports: ServerOptions::redis's Ping, else
  // the feature store's; then the store's CheckLoaded (a Redis restarted
  // empty is NOT_SERVING and makes answers degraded until it is reloaded).
  absl::Status PingFeatureBackend(absl::Time deadline) const;

  ServerOptions options_;
  feature_store::FeatureStore* features_ = nullptr;
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
