// StartTestServer: a recsys gRPC server over a model store and a feature
// store, composed as server/main.cc composes it (a Storefront with the
// marketing engine as its coupon sink, then RecsysServer), for tests.
//
//   auto served = recsys::testing::StartTestServer(options, models, features);
//   ASSERT_TRUE(served.ok()) << served.status();
//   auto stub = recsys::v1::Recommender::NewStub((*served)->channel);
//
// Thread safety: the returned server is as thread-safe as RecsysServer.
#ifndef RECSYS_TESTS_TESTING_TEST_SERVER_H_
#define RECSYS_TESTS_TESTING_TEST_SERVER_H_

#include <memory>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "feature_store/feature_store.h"
#include "marketing/marketer.h"
#include "model/model_store.h"
#include "recommender/storefront.h"
#include "server/coupon_event_sink.h"
#include "server/recommender_service.h"

namespace recsys::testing {

struct TestServer {
  std::unique_ptr<server::MarketerCouponSink> coupon_sink;  // null without a marketer
  std::unique_ptr<recommender::Storefront> storefront;
  std::unique_ptr<server::RecsysServer> server;
  // Connected to server->port() over TCP on 127.0.0.1: plaintext, no API
  // key (for a server with ServerOptions::security set, tests build their
  // own channel with access::NewClientChannel).
  std::shared_ptr<grpc::Channel> channel;

  ~TestServer() { server.reset(); }  // stop serving before the domain goes
};

// Borrowed pointers must outlive the result. `marketer` may be null.
// `plans` (the holder the marketer reads) and `counters` as for
// Storefront::Create (null: the storefront's own, counters in memory).
// Errors: those of Storefront::Create (a bad slots or experiments config)
// and RecsysServer::Start.
absl::StatusOr<std::unique_ptr<TestServer>> StartTestServer(
    const server::ServerOptions& options, model::ModelStore* models,
    feature_store::FeatureStore* features,
    const recommender::StorefrontOptions& storefront_options = {},
    const marketing::Marketer* marketer = nullptr, experiments::PlanHolder* plans = nullptr,
    experiments::CounterStore* counters = nullptr);

}  // namespace recsys::testing

#endif  // RECSYS_TESTS_TESTING_TEST_SERVER_H_
