// The service on a Redis Cluster (label cluster): a shop trained and
// loaded into a three-master cluster (with replicas) by the real
// recsys_datagen and recsys_train binaries, the server composed on it, and
// a master killed while RecommendProducts calls run: every call is
// answered (degraded while the replica takes over), then the answers are
// personal again without a restart.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "feature_store/redis_feature_store.h"
#include "gtest/gtest.h"
#include "model/model_store.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "redis/client.h"
#include "redis/slot.h"
#include "tests/testing/child_process.h"
#include "tests/testing/redis_cluster.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_server.h"

namespace recsys {
namespace {

namespace fs = std::filesystem;

grpc::Status Recommend(v1::Recommender::Stub* stub, const std::string& user,
                       v1::RecommendProductsResponse* out) {
  v1::RecommendProductsRequest req;
  req.set_user_id(user);
  auto* slot = req.add_slots();
  slot->set_name("homepage_hero");
  slot->set_k(5);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stub->RecommendProducts(&ctx, req, out);
}

TEST(ClusterServerTest, MasterKilledUnderLoadEveryCallIsAnswered) {
  testing::RedisClusterOptions cluster_options;
  cluster_options.replicas_per_master = 1;
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<testing::RedisCluster> cluster,
                              testing::RedisCluster::Start(cluster_options));
  const std::string dir = absl::StrCat(fs::temp_directory_path().string(),
                                       "/recsys_cluster_", ::getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  // The trainer loads the cluster through the same --redis flag.
  ASSERT_EQ(testing::RunCommand(absl::StrCat(
                RECSYS_DATAGEN, " --users=300 --items=100 --seed=11 --out=",
                dir, "/shop.csv > ", dir, "/datagen.log 2>&1")),
            0);
  ASSERT_EQ(testing::RunCommand(absl::StrCat(
                RECSYS_TRAIN, " --input=", dir, "/shop.csv --model_root=", dir,
                "/models --factors=16 --iterations=6 --threads=2 --redis=",
                cluster->url(), " > ", dir, "/train.log 2>&1")),
            0)
      << "see " << dir << "/train.log";
  model::ModelStoreOptions store_options;
  store_options.root = dir + "/models";
  store_options.poll_interval = absl::ZeroDuration();
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<model::ModelStore> models,
                              model::ModelStore::Create(store_options));
  std::vector<std::string> users;
  std::ifstream users_file(models->Current()->path() + "/users.tsv");
  for (std::string line; std::getline(users_file, line);) users.push_back(line);
  ASSERT_GE(users.size(), 100u);

  RECSYS_ASSERT_OK_AND_ASSIGN(redis::Options redis_options,
                              redis::ParseAddress(cluster->url()));
  redis_options.connect_timeout = absl::Milliseconds(100);
  redis_options.reconnect_backoff = absl::Milliseconds(100);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::unique_ptr<redis::Client> client,
                              redis::Client::Create(redis_options));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<feature_store::FeatureStore> features,
      feature_store::NewRedisFeatureStore(client.get()));
  // The trainer's keys are spread over the three masters.
  RECSYS_ASSERT_OK_AND_ASSIGN(int64_t keys, cluster->KeyCount());
  EXPECT_GT(keys, 300);
  for (const std::string& master : client->ClusterMasters()) {
    RECSYS_ASSERT_OK_AND_ASSIGN(std::string size,
                                cluster->NodeAt(master)->Command({"DBSIZE"}));
    EXPECT_NE(size, "0") << master;
  }
  {
    RECSYS_ASSERT_OK(client->Ping(absl::Now() + absl::Seconds(5)));
    const std::vector<std::string> masters = client->ClusterMasters();
    EXPECT_EQ(masters.size(), 3u);
  }

  server::ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.health_interval = absl::Milliseconds(50);
  options.redis = client.get();
  recommender::StorefrontOptions storefront_options;
  storefront_options.recommender.feature_timeout = absl::Milliseconds(500);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::unique_ptr<testing::TestServer> served,
      testing::StartTestServer(options, models.get(), features.get(),
                               storefront_options));
  std::unique_ptr<v1::Recommender::Stub> stub =
      v1::Recommender::NewStub(served->channel);

  const std::string user = users[0];
  v1::RecommendProductsResponse response;
  const absl::Time settle = absl::Now() + absl::Seconds(30);
  do {
    ASSERT_TRUE(Recommend(stub.get(), user, &response).ok());
  } while (response.meta().degraded() && absl::Now() < settle);
  ASSERT_FALSE(response.meta().degraded()) << response.meta().degraded_reason();

  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::atomic<int> degraded{0};
  std::atomic<int> failed{0};
  std::string first_failure;
  std::thread load([&] {
    for (size_t i = 0; !stop; ++i) {
      v1::RecommendProductsResponse out;
      const grpc::Status status =
          Recommend(stub.get(), users[i % users.size()], &out);
      if (!status.ok()) {
        if (failed++ == 0) first_failure = status.error_message();
        continue;
      }
      ++answered;
      if (out.meta().degraded()) ++degraded;
    }
  });
  while (answered < 20) absl::SleepFor(absl::Milliseconds(5));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::string victim,
      cluster->MasterOf(redis::KeySlot(absl::StrCat("{", user, "}"))));
  RECSYS_ASSERT_OK(cluster->NodeAt(victim)->Stop());
  RECSYS_ASSERT_OK(cluster->WaitHealthy(absl::Seconds(60)));
  // The user's keys are served again by the promoted replica.
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  do {
    ASSERT_TRUE(Recommend(stub.get(), user, &response).ok());
  } while (response.meta().degraded() && absl::Now() < give_up);
  const int after = answered;
  while (answered < after + 20) absl::SleepFor(absl::Milliseconds(5));
  stop = true;
  load.join();
  EXPECT_FALSE(response.meta().degraded()) << response.meta().degraded_reason();
  EXPECT_EQ(failed, 0) << first_failure;
  EXPECT_GT(answered, 40);
  served.reset();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace recsys
