// Three recsys_server processes on one Redis, behind one gRPC channel that
// round-robins over their addresses (as a client-side load balancer or a
// Kubernetes headless service does): a stock change made through one
// replica is seen by every replica within the item cache's staleness bound
// (--item_cache_staleness, docs/architecture.md "Threading"), and every
// replica assigns a user the same experiment variant.
#include <grpcpp/grpcpp.h>
#include <httplib.h>
#include <signal.h>

#include <cstdint>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "tests/testing/child_process.h"
#include "tests/testing/test_files.h"
#include "tests/testing/trained_shop.h"

namespace recsys::server {
namespace {

namespace v1 = recsys::v1;

// Half the users get a feed of trending items only.
constexpr char kExperiments[] = R"pb(
  attribution_window_seconds: 3600
  layers {
    name: "home"
    experiments {
      name: "layout"
      traffic_share: 1
      slots: "homepage_feed"
      variants { name: "control" share: 0.5 }
      variants {
        name: "trending"
        share: 0.5
        slots {
          name: "homepage_feed"
          sources { source: SOURCE_TRENDING weight: 1 }
        }
      }
    }
  }
)pb";

// The bound under test, passed to every replica.
constexpr absl::Duration kStaleness = absl::Seconds(1);
// How long a change may take to show on this shared, loaded test box before
// the test fails. The bound itself is kStaleness plus one round trip; the
// lags seen are printed, not asserted (no timing assertions in tests).
constexpr absl::Duration kGiveUp = absl::Seconds(30);

struct Replica {
  std::unique_ptr<recsys::testing::ChildProcess> process;
  int port = 0;
  int http_port = 0;
  std::unique_ptr<v1::Recommender::Stub> rec;
  std::unique_ptr<v1::Admin::Stub> admin;
};

void Deadline(grpc::ClientContext* ctx) {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::seconds(10));
}

// The homepage feed (in the experiment) and the hero slot; a user without
// history sees popular items in them.
grpc::Status Recommend(v1::Recommender::Stub* stub, const std::string& user,
                       v1::RecommendProductsResponse* out) {
  v1::RecommendProductsRequest req;
  req.set_user_id(user);
  auto* slot = req.add_slots();
  slot->set_name("homepage_feed");
  slot->set_k(5);
  slot = req.add_slots();
  slot->set_name("homepage_hero");
  slot->set_k(10);
  grpc::ClientContext ctx;
  Deadline(&ctx);
  return stub->RecommendProducts(&ctx, req, out);
}

// The user's variant of "layout", "?" when the call failed or has none.
std::string Variant(v1::Recommender::Stub* stub, const std::string& user) {
  v1::RecommendProductsResponse resp;
  const grpc::Status status = Recommend(stub, user, &resp);
  EXPECT_TRUE(status.ok()) << status.error_message();
  if (!status.ok() || resp.slots_size() != 2 ||
      resp.slots(0).assignments_size() != 1) {
    return "?";
  }
  return resp.slots(0).assignments(0).variant();
}

// Whether `item` is shown (in either slot) to a user without history;
// nullopt when the call failed.
std::optional<bool> Shows(v1::Recommender::Stub* stub,
                          const std::string& item) {
  v1::RecommendProductsResponse resp;
  const grpc::Status status = Recommend(stub, "replica-watcher", &resp);
  EXPECT_TRUE(status.ok()) << status.error_message();
  if (!status.ok() || resp.slots_size() != 2) return std::nullopt;
  for (const v1::SlotResult& slot : resp.slots()) {
    for (const v1::RecommendedItem& i : slot.items()) {
      if (i.item_id() == item) return true;
    }
  }
  return false;
}

// RecommendProducts calls a replica has answered, from its /metrics.
int64_t RecommendCalls(int http_port) {
  httplib::Client client("127.0.0.1", http_port);
  auto response = client.Get("/metrics");
  EXPECT_TRUE(response) << "no /metrics on port " << http_port;
  if (!response) return -1;
  int64_t total = 0;
  for (absl::string_view line : absl::StrSplit(response->body, '\n')) {
    if (!absl::StartsWith(line, "recsys_rpc_duration_seconds_count{") ||
        !absl::StrContains(line, "method=\"RecommendProducts\"")) {
      continue;
    }
    double count = 0;
    const size_t space = line.rfind(' ');
    if (space != absl::string_view::npos &&
        absl::SimpleAtod(line.substr(space + 1), &count)) {
      total += static_cast<int64_t>(count);
    }
  }
  return total;
}

TEST(ReplicaServerTest, ThreeReplicasBehindOneChannelAgree) {
  auto shop = recsys::testing::TrainedShop::Create(
      {.datagen = RECSYS_DATAGEN, .train = RECSYS_TRAIN, .name = "replicas"});
  ASSERT_TRUE(shop.ok()) << shop.status();
  const recsys::testing::TrainedShop& world = **shop;
  const std::string config = recsys::testing::WriteFile(
      world.dir, "experiments.textproto", kExperiments);

  std::vector<Replica> replicas(3);
  std::vector<std::string> addresses;
  for (size_t r = 0; r < replicas.size(); ++r) {
    const std::string name = absl::StrCat("replica", r);
    const std::string port_file = absl::StrCat(world.dir, "/", name, ".port");
    const std::string http_port_file =
        absl::StrCat(world.dir, "/", name, ".http_port");
    auto process = recsys::testing::ChildProcess::Start(
        {RECSYS_SERVER, "--listen=127.0.0.1:0", "--http_listen=127.0.0.1:0",
         absl::StrCat("--port_file=", port_file),
         absl::StrCat("--http_port_file=", http_port_file),
         absl::StrCat("--model_root=", world.dir, "/models"),
         absl::StrCat("--redis=", world.redis->address()), "--poll_seconds=0",
         "--drain=0s", "--feature_timeout_ms=2000",
         absl::StrCat("--item_cache_staleness=",
                      absl::FormatDuration(kStaleness)),
         absl::StrCat("--experiments_config=", config)},
        absl::StrCat(world.dir, "/", name, ".log"));
    ASSERT_TRUE(process.ok()) << process.status();
    replicas[r].process = *std::move(process);
  }
  for (size_t r = 0; r < replicas.size(); ++r) {
    Replica& replica = replicas[r];
    const std::string name = absl::StrCat("replica", r);
    auto port = recsys::testing::WaitForPortFile(
        absl::StrCat(world.dir, "/", name, ".port"), replica.process.get(),
        absl::Seconds(60));
    ASSERT_TRUE(port.ok()) << port.status() << "; see " << world.dir << "/"
                           << name << ".log";
    auto http_port = recsys::testing::WaitForPortFile(
        absl::StrCat(world.dir, "/", name, ".http_port"), replica.process.get(),
        absl::Seconds(60));
    ASSERT_TRUE(http_port.ok()) << http_port.status();
    replica.port = *port;
    replica.http_port = *http_port;
    addresses.push_back(absl::StrCat("127.0.0.1:", replica.port));
    auto channel = grpc::CreateChannel(addresses.back(),
                                       grpc::InsecureChannelCredentials());
    replica.rec = v1::Recommender::NewStub(channel);
    replica.admin = v1::Admin::NewStub(channel);
  }

  // One channel over the three addresses, round robin.
  grpc::ChannelArguments args;
  args.SetLoadBalancingPolicyName("round_robin");
  auto balanced = grpc::CreateCustomChannel(
      absl::StrCat("ipv4:", absl::StrJoin(addresses, ",")),
      grpc::InsecureChannelCredentials(), args);
  ASSERT_TRUE(balanced->WaitForConnected(std::chrono::system_clock::now() +
                                         std::chrono::seconds(30)));
  auto rec = v1::Recommender::NewStub(balanced);

  // The channel spreads calls over every replica: poll until each has
  // answered some of the balanced calls (round robin skips a replica only
  // while its connection is not ready yet).
  std::vector<int64_t> before;
  for (const Replica& replica : replicas) {
    before.push_back(RecommendCalls(replica.http_port));
  }
  {
    const absl::Time give_up = absl::Now() + kGiveUp;
    bool every_replica = false;
    int calls = 0;
    while (!every_replica && absl::Now() < give_up) {
      v1::RecommendProductsResponse resp;
      ASSERT_TRUE(Recommend(rec.get(), world.users[0], &resp).ok());
      if (++calls % 3 != 0) continue;
      every_replica = true;
      for (size_t r = 0; r < replicas.size(); ++r) {
        every_replica &= RecommendCalls(replicas[r].http_port) > before[r];
      }
    }
    EXPECT_TRUE(every_replica) << "after " << calls << " balanced calls";
  }

  // Experiment assignment: the same variant from every replica, directly
  // and through the balanced channel (three calls, so each replica answers
  // one once round robin cycles), for known users and new visitors.
  std::vector<std::string> users(world.users.begin(), world.users.begin() + 20);
  for (int i = 0; i < 10; ++i) users.push_back(absl::StrCat("visitor-", i));
  std::map<std::string, int> variants_seen;
  for (const std::string& user : users) {
    const std::string expected = Variant(replicas[0].rec.get(), user);
    ASSERT_NE(expected, "?") << user;
    ++variants_seen[expected];
    for (size_t r = 1; r < replicas.size(); ++r) {
      EXPECT_EQ(Variant(replicas[r].rec.get(), user), expected)
          << user << " on replica " << r;
    }
    for (size_t i = 0; i < replicas.size(); ++i) {
      EXPECT_EQ(Variant(rec.get(), user), expected) << user << " balanced";
    }
  }
  // Both variants occur, so agreeing is not trivial.
  EXPECT_EQ(variants_seen.size(), 2u);

  // Catalog change: the most popular item, shown to a user without history
  // by every replica (so every replica's item cache holds it in stock), goes
  // out of stock through replica 0, then back in stock through replica 2.
  const auto bundle = world.models->Current();
  const std::string top = bundle->item(bundle->popular()[0]).item_id;
  for (const Replica& replica : replicas) {
    ASSERT_EQ(Shows(replica.rec.get(), top), true);
  }
  auto set_stock = [&](const Replica& via, int64_t stock) {
    v1::UpdateItemsRequest req;
    v1::ItemUpdate* u = req.add_items();
    u->set_item_id(top);
    u->set_stock(stock);
    v1::UpdateItemsResponse resp;
    grpc::ClientContext ctx;
    Deadline(&ctx);
    const grpc::Status status = via.admin->UpdateItems(&ctx, req, &resp);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(resp.updated(), 1);
  };
  // Polls every replica until it `shows` the item, and the balanced channel
  // for as many calls in a row.
  auto expect_everywhere = [&](bool shows, absl::Time changed) {
    for (size_t r = 0; r < replicas.size(); ++r) {
      const absl::Time give_up = changed + kGiveUp;
      std::optional<bool> seen;
      do {
        seen = Shows(replicas[r].rec.get(), top);
      } while (seen != shows && absl::Now() < give_up);
      EXPECT_EQ(seen, shows) << "replica " << r << " after " << kGiveUp;
      std::cout << "replica " << r << " shows the stock change, checked "
                << absl::FormatDuration(absl::Now() - changed)
                << " after it (bound " << absl::FormatDuration(kStaleness)
                << ")\n";
    }
    for (size_t i = 0; i < replicas.size(); ++i) {
      EXPECT_EQ(Shows(rec.get(), top), shows) << "balanced call " << i;
    }
  };
  absl::Time changed = absl::Now();
  set_stock(replicas[0], 0);
  // The replica that made the change sees it at once.
  EXPECT_EQ(Shows(replicas[0].rec.get(), top), false);
  expect_everywhere(false, changed);
  changed = absl::Now();
  set_stock(replicas[2], 25);
  EXPECT_EQ(Shows(replicas[2].rec.get(), top), true);
  expect_everywhere(true, changed);

  for (Replica& replica : replicas) {
    auto code = replica.process->Stop(SIGTERM, absl::Seconds(20));
    EXPECT_TRUE(code.ok()) << code.status();
    if (code.ok()) {
      EXPECT_EQ(*code, 0);
    }
  }
}

}  // namespace
}  // namespace recsys::server
