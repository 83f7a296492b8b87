// RecordEvents through real gRPC on a real redis-server: a batch answered
// UNAVAILABLE while Redis was paused (SIGSTOP) had in fact been stored;
// the caller retries the same batch, as the answer tells it to, and every
// event ends up stored exactly once.
#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "feature_store/redis_feature_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model/model_format.h"
#include "model/model_store.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "redis/client.h"
#include "server/recommender_service.h"
#include "tests/model/test_model.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"
#include "tests/testing/test_server.h"

namespace recsys::server {
namespace {

using ::testing::HasSubstr;

class DedupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    RECSYS_ASSERT_OK_AND_ASSIGN(redis_, recsys::testing::RedisServer::Start());
    const std::string root = recsys::testing::MakeUniqueDir("dedup");
    model::PublishOptions publish;
    publish.version = "1";
    RECSYS_ASSERT_OK(
        model::PublishModel(root, model::testing::MakePlantedModel(), publish));
    model::ModelStoreOptions model_options;
    model_options.root = root;
    model_options.poll_interval = absl::ZeroDuration();
    RECSYS_ASSERT_OK_AND_ASSIGN(models_,
                                model::ModelStore::Create(model_options));
    redis::Options redis_options;
    redis_options.host = redis_->host();
    redis_options.port = redis_->port();
    redis_options.reconnect_backoff = absl::Milliseconds(50);
    RECSYS_ASSERT_OK_AND_ASSIGN(client_, redis::Client::Create(redis_options));
    RECSYS_ASSERT_OK_AND_ASSIGN(
        store_, feature_store::NewRedisFeatureStore(client_.get()));
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    RECSYS_ASSERT_OK_AND_ASSIGN(
        served_,
        recsys::testing::StartTestServer(options, models_.get(), store_.get()));
    stub_ = v1::Recommender::NewStub(served_->channel);
  }

  grpc::Status Send(const v1::RecordEventsRequest& request,
                    v1::RecordEventsResponse* response,
                    absl::Duration timeout = absl::Seconds(30)) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    return stub_->RecordEvents(&context, request, response);
  }

  std::string Redis(std::vector<std::string> argv) {
    absl::StatusOr<std::string> reply = redis_->Command(argv);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.value_or("");
  }

  std::unique_ptr<recsys::testing::RedisServer> redis_;
  std::unique_ptr<model::ModelStore> models_;
  std::unique_ptr<redis::Client> client_;  // outlives store_
  std::unique_ptr<feature_store::FeatureStore> store_;
  std::unique_ptr<recsys::testing::TestServer> served_;
  std::unique_ptr<v1::Recommender::Stub> stub_;
};

TEST_F(DedupTest,
       BatchAnsweredUnavailableDuringARedisPauseIsStoredOnceAfterTheRetry) {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  // Loads the event script and leaves pooled connections.
  v1::RecordEventsRequest warm;
  v1::Event* w = warm.add_events();
  w->set_type(v1::EVENT_VIEW);
  w->set_user_id("warm");
  w->set_item_id("a1");
  w->set_timestamp_unix(now);
  v1::RecordEventsResponse response;
  ASSERT_TRUE(Send(warm, &response).ok());

  v1::RecordEventsRequest batch;
  for (int i = 0; i < 10; ++i) {
    v1::Event* e = batch.add_events();
    e->set_type(i % 2 == 0 ? v1::EVENT_PURCHASE : v1::EVENT_VIEW);
    e->set_user_id("ua1");
    e->set_item_id(absl::StrCat("b", i));
    e->set_timestamp_unix(now);
    e->set_event_id(absl::StrCat("checkout-42/", i));
  }
  RECSYS_ASSERT_OK(redis_->Suspend());
  response.Clear();
  const grpc::Status lost = Send(batch, &response);
  RECSYS_ASSERT_OK(redis_->Resume());
  ASSERT_EQ(lost.error_code(), grpc::StatusCode::UNAVAILABLE)
      << lost.error_message();
  EXPECT_THAT(lost.error_message(),
              HasSubstr("retrying the same batch is safe"));
  // Every event has an id: no caveat about events a retry could repeat.
  EXPECT_THAT(lost.error_message(), ::testing::Not(HasSubstr("except")));

  // Redis applies the pipeline it had received once it resumes.
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (Redis({"LLEN", "rs:u:{ua1}:act"}) != "10" && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  ASSERT_EQ(Redis({"LLEN", "rs:u:{ua1}:act"}), "10")
      << "the paused batch was not applied";

  // The retry, until the store answers (its fail-fast backoff may still run).
  grpc::Status retry;
  do {
    response.Clear();
    retry = Send(batch, &response);
  } while (retry.error_code() == grpc::StatusCode::UNAVAILABLE &&
           absl::Now() < give_up);
  ASSERT_TRUE(retry.ok()) << retry.error_message();
  EXPECT_EQ(response.accepted(), 10);
  EXPECT_EQ(response.duplicates(), 10);
  EXPECT_EQ(Redis({"LLEN", "rs:u:{ua1}:act"}), "10");
  // Each purchase once in the user's purchase journal (docs/redis_keys.md).
  EXPECT_EQ(Redis({"ZCARD", "rs:u:{ua1}:rp"}), "5");
  for (int i = 0; i < 10; i += 2) {
    const std::string dedup = absl::StrCat("id:checkout-42/", i);
    EXPECT_NE(Redis({"ZSCORE", "rs:u:{ua1}:rp",
                     absl::StrCat(dedup.size(), ":", dedup, "b", i)}),
              "(nil)")
        << i;
  }
}

TEST_F(DedupTest, ReplayedBatchWithoutIdsCountsOnceAndSaysSo) {
  const int64_t now = absl::ToUnixSeconds(absl::Now());
  v1::RecordEventsRequest batch;
  for (int i = 0; i < 3; ++i) {
    v1::Event* e = batch.add_events();
    e->set_type(v1::EVENT_PURCHASE);
    e->set_user_id("ub2");
    e->set_item_id(absl::StrCat("a", i));
    e->set_timestamp_unix(now - i);
    e->set_price(4.5);
  }
  v1::RecordEventsResponse response;
  grpc::Status status = Send(batch, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.accepted(), 3);
  EXPECT_EQ(response.duplicates(), 0);
  response.Clear();
  status = Send(batch, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.accepted(), 3);
  EXPECT_EQ(response.duplicates(), 3);
  EXPECT_EQ(Redis({"ZCARD", "rs:u:{ub2}:rp"}), "3");
  EXPECT_EQ(Redis({"LLEN", "rs:u:{ub2}:act"}), "3");

  // An event_id with a control character is refused naming the field.
  v1::RecordEventsRequest bad;
  v1::Event* e = bad.add_events();
  e->set_type(v1::EVENT_VIEW);
  e->set_user_id("ub2");
  e->set_item_id("a1");
  e->set_event_id(std::string("x\x01", 2));
  status = Send(bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("events[0].event_id"));
}

}  // namespace
}  // namespace recsys::server
