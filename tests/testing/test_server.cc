#include "tests/testing/test_server.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace recsys::testing {

absl::StatusOr<std::unique_ptr<TestServer>> StartTestServer(
    const server::ServerOptions& options, model::ModelStore* models,
    feature_store::FeatureStore* features,
    const recommender::StorefrontOptions& storefront_options,
    const marketing::Marketer* marketer, experiments::PlanHolder* plans,
    experiments::CounterStore* counters) {
  auto served = std::make_unique<TestServer>();
  if (marketer != nullptr) {
    served->coupon_sink = std::make_unique<server::MarketerCouponSink>(marketer);
  }
  auto storefront = recommender::Storefront::Create(storefront_options, models, features,
                                                    served->coupon_sink.get(), plans, counters);
  if (!storefront.ok()) return storefront.status();
  served->storefront = *std::move(storefront);
  auto server = server::RecsysServer::Start(options, models, features,
                                            served->storefront.get(), marketer);
  if (!server.ok()) return server.status();
  served->server = *std::move(server);
  served->channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", served->server->port()),
                                        grpc::InsecureChannelCredentials());
  return served;
}

}  // namespace recsys::testing
