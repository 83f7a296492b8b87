// Model swaps under load: clients call RecommendProducts through real gRPC
// without pause while new versions are published and served
// (Admin.ReloadModel) and rolled back (Admin.Rollback). No call may fail,
// and every answer's ResponseMeta.model_version must have been live at some
// moment of that call.
//
// "Live" is tracked on a logical clock, not wall time: the swapper ticks it
// before and after each Admin call, the clients read it before and after
// each RecommendProducts. A version is live from the tick before the call
// that served it to the tick after the call that replaced it; an answer is
// valid when its version's live span overlaps the call's span. Nothing
// depends on timing.
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "model/model_format.h"
#include "model/model_store.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "server/recommender_service.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_server.h"
#include "tests/testing/trained_shop.h"

namespace recsys::server {
namespace {

constexpr int kClients = 3;
// Answers completed after each swap before the next one starts.
constexpr int64_t kAnswersBetweenSwaps = 30;

void Deadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(30));
}

struct Answer {
  int64_t start_tick = 0;
  int64_t end_tick = 0;
  grpc::Status status;
  std::string version;
};

struct Span {
  std::string version;
  int64_t from = 0;
  int64_t to = 0;  // INT64_MAX while live
};

TEST(ModelSwapTest, NoFailedCallAndEveryAnswerFromALiveVersion) {
  auto shop = recsys::testing::TrainedShop::Create({.datagen = RECSYS_DATAGEN,
                                                    .train = RECSYS_TRAIN,
                                                    .name = "model_swap_test"});
  ASSERT_TRUE(shop.ok()) << shop.status();
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.redis = (*shop)->redis_client.get();
  recommender::StorefrontOptions storefront_options;
  storefront_options.recommender.feature_timeout = absl::Seconds(5);
  auto served = recsys::testing::StartTestServer(options, (*shop)->models.get(),
                                                 (*shop)->features.get(),
                                                 storefront_options);
  ASSERT_TRUE(served.ok()) << served.status();
  const std::string root = (*shop)->models->root();
  const std::string first = (*shop)->models->Current()->version();
  RECSYS_ASSERT_OK_AND_ASSIGN(model::ModelData data,
                              model::ReadModelData(root + "/" + first));
  const std::vector<std::string>& users = (*shop)->users;
  ASSERT_FALSE(users.empty());

  std::atomic<int64_t> tick{0};
  std::atomic<int64_t> answered{0};
  std::atomic<bool> stop{false};
  std::vector<std::vector<Answer>> answers(kClients);
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = v1::Recommender::NewStub((*served)->channel);
      for (int64_t i = c; !stop.load(); i += kClients) {
        v1::RecommendProductsRequest req;
        req.set_user_id(users[i % users.size()]);
        v1::SlotRequest* slot = req.add_slots();
        slot->set_name("homepage_feed");
        slot->set_k(10);
        v1::RecommendProductsResponse resp;
        grpc::ClientContext ctx;
        Deadline(&ctx);
        Answer a;
        a.start_tick = tick.load();
        a.status = stub->RecommendProducts(&ctx, req, &resp);
        a.end_tick = tick.load();
        a.version = resp.meta().model_version();
        answers[c].push_back(std::move(a));
        answered.fetch_add(1);
      }
    });
  }

  // The swaps: publish a new version and serve it, roll back, serve the
  // newest again, ...
  std::vector<Span> spans = {{first, 0, INT64_MAX}};
  auto admin = v1::Admin::NewStub((*served)->channel);
  auto wait_for_answers = [&] {
    const int64_t target = answered.load() + kAnswersBetweenSwaps;
    while (answered.load() < target)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  int64_t next_version = std::stoll(first);
  int swaps = 0;
  for (int round = 0; round < 4; ++round) {
    for (int op = 0; op < 3; ++op) {
      wait_for_answers();
      std::string version;
      const int64_t before = ++tick;
      grpc::Status st;
      if (op == 0) {  // publish a new version, then ReloadModel (newest)
        model::ModelData copy = data;
        model::PublishOptions publish;
        publish.index_spec = "Flat";
        publish.version = absl::StrCat(++next_version + 1000);
        auto dir = model::PublishModel(root, copy, publish);
        ASSERT_TRUE(dir.ok()) << dir.status();
        v1::ReloadModelResponse r;
        grpc::ClientContext ctx;
        Deadline(&ctx);
        st = admin->ReloadModel(&ctx, v1::ReloadModelRequest(), &r);
        version = r.version();
        EXPECT_EQ(version, publish.version);
      } else if (op == 1) {
        v1::RollbackResponse r;
        grpc::ClientContext ctx;
        Deadline(&ctx);
        st = admin->Rollback(&ctx, v1::RollbackRequest(), &r);
        version = r.version();
      } else {
        v1::ReloadModelResponse r;
        grpc::ClientContext ctx;
        Deadline(&ctx);
        st = admin->ReloadModel(&ctx, v1::ReloadModelRequest(), &r);
        version = r.version();
      }
      const int64_t after = ++tick;
      ASSERT_TRUE(st.ok()) << st.error_message();
      if (version != spans.back().version) {
        spans.back().to = after;
        spans.push_back({version, before, INT64_MAX});
        ++swaps;
      }
    }
  }
  wait_for_answers();
  stop.store(true);
  for (std::thread& t : clients) t.join();

  int64_t total = 0;
  int64_t failed = 0;
  std::map<std::string, int64_t> by_version;
  for (const auto& list : answers) {
    for (const Answer& a : list) {
      ++total;
      if (!a.status.ok()) {
        ++failed;
        ADD_FAILURE() << "RPC failed: " << a.status.error_message();
        continue;
      }
      ++by_version[a.version];
      bool live = false;
      for (const Span& s : spans) {
        live |= s.version == a.version && s.from <= a.end_tick &&
                s.to >= a.start_tick;
      }
      EXPECT_TRUE(live) << "version " << a.version << " answered in ticks ["
                        << a.start_tick << ", " << a.end_tick
                        << "] when it was not live";
    }
  }
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(swaps, 12);
  // Every version that was served answered calls.
  for (const Span& s : spans) EXPECT_GT(by_version[s.version], 0) << s.version;
  std::printf(
      "model swaps under load: %d swaps (%zu versions), %lld RPCs, %lld "
      "failed\n",
      swaps, by_version.size(), static_cast<long long>(total),
      static_cast<long long>(failed));
}

}  // namespace
}  // namespace recsys::server
