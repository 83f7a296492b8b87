#include "intelligence/intel_store.h"

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/status_matchers.h"

namespace recsys::intelligence {
namespace {

UserIntel Record(absl::string_view id, double intent) {
  UserIntel u;
  u.user_id = std::string(id);
  u.as_of_unix = 1700000000;
  u.tags = {"a", "likes:coffee_tea"};
  u.affinities = {{"coffee_tea", 0.5}};
  u.purchase_intent = intent;
  u.churn_risk = 0.25;
  u.cycle_days = 10;
  u.next_purchase_unix = 1700864000;
  u.due_items = {{"i1", 1700100000, 14}};
  u.birthday = "04-12";
  return u;
}

void Exercise(IntelStore* store) {
  RECSYS_ASSERT_OK(store->PutIntel({Record("u1", 0.5), Record("u2", 0.25)}));
  RECSYS_ASSERT_OK_AND_ASSIGN(UserIntel u1,
                              store->GetIntel("u1", absl::InfiniteFuture()));
  EXPECT_EQ(u1.purchase_intent, 0.5);
  EXPECT_EQ(u1.tags, (std::vector<std::string>{"a", "likes:coffee_tea"}));
  EXPECT_EQ(u1.next_purchase_unix, 1700864000);
  ASSERT_EQ(u1.due_items.size(), 1u);
  EXPECT_EQ(u1.due_items[0].item_id, "i1");
  EXPECT_EQ(u1.birthday, "04-12");
  // Replaced as a whole.
  UserIntel again = Record("u1", 0.75);
  again.tags.clear();
  RECSYS_ASSERT_OK(store->PutIntel({again}));
  RECSYS_ASSERT_OK_AND_ASSIGN(u1,
                              store->GetIntel("u1", absl::InfiniteFuture()));
  EXPECT_EQ(u1.purchase_intent, 0.75);
  EXPECT_TRUE(u1.tags.empty());
  EXPECT_EQ(store->GetIntel("nobody", absl::InfiniteFuture()).status().code(),
            absl::StatusCode::kNotFound);
  // Batched: in order, none for a user without a record.
  RECSYS_ASSERT_OK_AND_ASSIGN(auto batch,
                              store->GetIntels({"u2", "nobody", "u1"}, absl::InfiniteFuture()));
  ASSERT_EQ(batch.size(), 3u);
  ASSERT_TRUE(batch[0].has_value());
  EXPECT_EQ(batch[0]->purchase_intent, 0.25);
  EXPECT_FALSE(batch[1].has_value());
  ASSERT_TRUE(batch[2].has_value());
  EXPECT_EQ(batch[2]->purchase_intent, 0.75);
  EXPECT_TRUE(store->GetIntels({}, absl::InfiniteFuture())->empty());
  const absl::Status bad = store->GetIntels({"u1", ""}, absl::InfiniteFuture()).status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("user_ids[1]"), absl::string_view::npos) << bad;
  EXPECT_EQ(store->GetIntel("", absl::InfiniteFuture()).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A refused batch stores nothing.
  EXPECT_EQ(store->PutIntel({Record("u3", 0.1), Record("", 0.1)}).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->GetIntel("u3", absl::InfiniteFuture()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(InMemoryIntelStoreTest, PutGet) {
  auto store = NewInMemoryIntelStore();
  Exercise(store.get());
}

TEST(RedisIntelStoreTest, PutGetOnARealRedis) {
  RECSYS_ASSERT_OK_AND_ASSIGN(auto server,
                              recsys::testing::RedisServer::Start());
  redis::Options options;
  options.host = server->host();
  options.port = server->port();
  options.default_timeout = absl::Seconds(20);
  options.connect_timeout = absl::Seconds(5);
  RECSYS_ASSERT_OK_AND_ASSIGN(auto client, redis::Client::Create(options));
  RECSYS_ASSERT_OK_AND_ASSIGN(
      auto store,
      NewRedisIntelStore(client.get(), {.key_prefix = "t:", .bulk_batch = 1}));
  Exercise(store.get());
  EXPECT_EQ(NewRedisIntelStore(nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A record written before the birthday field reads with none.
  RECSYS_ASSERT_OK(store->PutIntel({Record("old", 0.5)}));
  RECSYS_ASSERT_OK(server->Command({"HDEL", "t:u:old:intel", "birthday"}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(UserIntel old, store->GetIntel("old", absl::InfiniteFuture()));
  EXPECT_EQ(old.purchase_intent, 0.5);
  EXPECT_EQ(old.birthday, "");
  // Another field missing: no record.
  RECSYS_ASSERT_OK(server->Command({"HDEL", "t:u:old:intel", "tags"}).status());
  EXPECT_EQ(store->GetIntel("old", absl::InfiniteFuture()).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace recsys::intelligence
