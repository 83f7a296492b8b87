#include "intelligence/intel_store.h"

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

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

// u1 is two purchases (or 100 of spend) short of "fit" and one view short
// of "look"; "toys" is not in reach.
UserIntel LiveRecord(absl::string_view id) {
  UserIntel u = Record(id, 0.5);
  u.live = {{.tag = "fit", .category = "sports", .min_purchases = 3, .purchases = 1},
            {.tag = "rich", .category = "sports", .min_spend = 100, .spend = 0.5},
            {.tag = "look", .category = "garden", .min_views = 2, .views = 1},
            {.tag = "toy", .category = "toys", .min_purchases = 5}};
  return u;
}

LiveEvent Event(absl::string_view user, absl::string_view category, bool purchase,
                double spend, int64_t t, absl::string_view key) {
  return {.user_id = std::string(user),
          .category = std::string(category),
          .purchase = purchase,
          .spend = spend,
          .time_unix = t,
          .dedup_key = std::string(key)};
}

std::vector<std::string> Sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

// The same events give both stores the same records (the Redis store runs
// ApplyLiveEvent's logic in Lua).
void ExerciseLive(IntelStore* store) {
  const absl::Time never = absl::InfiniteFuture();
  const int64_t t = 1700000000;
  RECSYS_ASSERT_OK(store->PutIntel({LiveRecord("u1"), LiveRecord("u2")}));
  // Before the record's as_of: already counted. No record: nothing.
  RECSYS_ASSERT_OK(store->ApplyLiveEvents(
      {Event("u1", "sports", true, 1, t, "old"), Event("nobody", "sports", true, 1, t + 1, "n"),
       Event("u1", "", true, 1, t + 1, "nocat"), Event("u1", "sports", true, 49.75, t + 5, "e1")},
      never));
  RECSYS_ASSERT_OK_AND_ASSIGN(UserIntel u1, store->GetIntel("u1", never));
  ASSERT_EQ(u1.live.size(), 4u);
  EXPECT_EQ(u1.live[0].purchases, 2);
  EXPECT_EQ(u1.live[1].spend, 50.25);
  EXPECT_EQ(u1.tags, (std::vector<std::string>{"a", "likes:coffee_tea"}));
  // The same event again (a retried batch) counts once.
  RECSYS_ASSERT_OK(
      store->ApplyLiveEvents({Event("u1", "sports", true, 49.75, t + 5, "e1")}, never));
  RECSYS_ASSERT_OK_AND_ASSIGN(u1, store->GetIntel("u1", never));
  EXPECT_EQ(u1.live[0].purchases, 2);
  // The third purchase reaches fit and rich; a view reaches look.
  RECSYS_ASSERT_OK(store->ApplyLiveEvents({Event("u1", "sports", true, 50, t + 6, "e2"),
                                           Event("u1", "garden", false, 0, t + 7, "e3"),
                                           Event("u2", "garden", false, 0, t + 7, "e3")},
                                          never));
  RECSYS_ASSERT_OK_AND_ASSIGN(u1, store->GetIntel("u1", never));
  EXPECT_EQ(u1.tags,
            (std::vector<std::string>{"a", "fit", "likes:coffee_tea", "look", "rich"}));
  ASSERT_EQ(u1.live.size(), 1u);
  EXPECT_EQ(u1.live[0].tag, "toy");
  EXPECT_EQ(u1.purchase_intent, 0.5);  // the rest of the record is kept
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<std::string> fit, store->LiveTagUsers("fit", never));
  EXPECT_EQ(fit, (std::vector<std::string>{"u1"}));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<std::string> look, store->LiveTagUsers("look", never));
  EXPECT_EQ(Sorted(look), (std::vector<std::string>{"u1", "u2"}));
  RECSYS_ASSERT_OK_AND_ASSIGN(std::vector<std::string> toy, store->LiveTagUsers("toy", never));
  EXPECT_TRUE(toy.empty());
  // A new record (a training run) replaces the live state: the live tags
  // and the audience membership go, the markers too (an event of the new
  // record's time counts again).
  UserIntel fresh = LiveRecord("u1");
  fresh.as_of_unix = t + 6;
  RECSYS_ASSERT_OK(store->PutIntel({fresh}));
  RECSYS_ASSERT_OK_AND_ASSIGN(u1, store->GetIntel("u1", never));
  EXPECT_EQ(u1.tags, (std::vector<std::string>{"a", "likes:coffee_tea"}));
  EXPECT_EQ(u1.live.size(), 4u);
  RECSYS_ASSERT_OK_AND_ASSIGN(look, store->LiveTagUsers("look", never));
  EXPECT_EQ(look, (std::vector<std::string>{"u2"}));
  RECSYS_ASSERT_OK(
      store->ApplyLiveEvents({Event("u1", "garden", false, 0, t + 7, "e3")}, never));
  RECSYS_ASSERT_OK_AND_ASSIGN(u1, store->GetIntel("u1", never));
  EXPECT_TRUE(u1.HasTag("look"));
  // Bad ids name the field.
  const absl::Status bad =
      store->ApplyLiveEvents({Event("u1", "garden", false, 0, t + 8, "x"),
                              Event("", "garden", false, 0, t + 8, "y")},
                             never);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(bad.message().find("events[1].user_id"), absl::string_view::npos) << bad;
  EXPECT_EQ(store->LiveTagUsers("", never).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(InMemoryIntelStoreTest, PutGet) {
  auto store = NewInMemoryIntelStore();
  Exercise(store.get());
}

TEST(InMemoryIntelStoreTest, LiveTags) {
  auto store = NewInMemoryIntelStore();
  ExerciseLive(store.get());
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
  ExerciseLive(store.get());
  // The live state in the record's hash: the marker fields of the events
  // applied, the live tags; the audience in its set.
  RECSYS_ASSERT_OK_AND_ASSIGN(auto marker, server->Command({"HGET", "t:u:u1:intel", "ev:e3"}));
  EXPECT_EQ(marker, "1");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto live_tags,
                              server->Command({"HGET", "t:u:u1:intel", "live_tags"}));
  EXPECT_EQ(live_tags, "look");
  RECSYS_ASSERT_OK_AND_ASSIGN(auto member,
                              server->Command({"SISMEMBER", "t:tag_live:look", "u2"}));
  EXPECT_EQ(member, "1");
  EXPECT_EQ(NewRedisIntelStore(nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A record written before the birthday field reads with none.
  RECSYS_ASSERT_OK(store->PutIntel({Record("old", 0.5)}));
  RECSYS_ASSERT_OK(server->Command({"HDEL", "t:u:old:intel", "birthday"}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(UserIntel old, store->GetIntel("old", absl::InfiniteFuture()));
  EXPECT_EQ(old.purchase_intent, 0.5);
  EXPECT_EQ(old.birthday, "");
  // A record written before the live field reads with no live progress,
  // and live events leave it alone.
  RECSYS_ASSERT_OK(server->Command({"HDEL", "t:u:old:intel", "live"}).status());
  RECSYS_ASSERT_OK_AND_ASSIGN(old, store->GetIntel("old", absl::InfiniteFuture()));
  EXPECT_TRUE(old.live.empty());
  RECSYS_ASSERT_OK(store->ApplyLiveEvents(
      {{.user_id = "old", .category = "sports", .purchase = true, .time_unix = 1800000000}},
      absl::InfiniteFuture()));
  // Another field missing: no record.
  RECSYS_ASSERT_OK(server->Command({"HDEL", "t:u:old:intel", "tags"}).status());
  EXPECT_EQ(store->GetIntel("old", absl::InfiniteFuture()).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace recsys::intelligence
