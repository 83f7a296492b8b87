// Tests of InMemoryFeatureStore beyond the contract suite in
// feature_store_test.cc.
#include "feature_store/in_memory_feature_store.h"

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/feature_store/test_util.h"
#include "tests/testing/status_matchers.h"

namespace recsys::feature_store {
namespace {

using test::FindPurchase;
using test::ItemIds;
using test::Purchase;
using test::T;
using test::View;

constexpr absl::Time kNoDeadline = absl::InfiniteFuture();

TEST(InMemoryFeatureStoreTest, DescribeCountsUsersAndItems) {
  InMemoryFeatureStore store;
  EXPECT_EQ(store.Describe(), "in-memory (0 users, 0 items)");
  const Event events[] = {View("a", "x", T(1)), View("b", "x", T(1))};
  RECSYS_ASSERT_OK(store.RecordEvents(events, kNoDeadline));
  const ItemFeatures items[] = {{.item_id = "x"}};
  RECSYS_ASSERT_OK(store.PutItems(items));
  EXPECT_EQ(store.Describe(), "in-memory (2 users, 1 items)");
}

TEST(InMemoryFeatureStoreTest, LimitsBelowOneKeepOneEntry) {
  InMemoryFeatureStore store({.recent_limit = 0, .impression_limit = -5});
  const Event events[] = {View("a", "x", T(1)), View("a", "y", T(2)),
                          test::Impression("a", "i", T(3)),
                          test::Impression("a", "j", T(4))};
  RECSYS_ASSERT_OK(store.RecordEvents(events, kNoDeadline));
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store.GetUser("a", kNoDeadline));
  EXPECT_EQ(ItemIds(user.recent), (std::vector<std::string>{"y"}));
  EXPECT_EQ(ItemIds(user.impressions), (std::vector<std::string>{"j"}));
}

TEST(InMemoryFeatureStoreTest, DeadlinesAreIgnored) {
  InMemoryFeatureStore store;
  const absl::Time past = absl::Now() - absl::Hours(1);
  const Event events[] = {Purchase("a", "x", T(1))};
  RECSYS_EXPECT_OK(store.RecordEvents(events, past));
  RECSYS_EXPECT_OK(store.GetUser("a", past).status());
  RECSYS_EXPECT_OK(store.Ping(past));
}

TEST(InMemoryFeatureStoreTest, ConcurrentPurchasesCountExactly) {
  InMemoryFeatureStore store({.recent_limit = 20});
  constexpr int kThreads = 8;
  constexpr int kEventsPerThread = 200;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&store, t] {
      for (int i = 0; i < kEventsPerThread; ++i) {
        const Event events[] = {Purchase("shared", "hot", T(i * kThreads + t))};
        EXPECT_TRUE(store.RecordEvents(events, kNoDeadline).ok());
        if (i % 10 == 0) {
          EXPECT_TRUE(store.GetUser("shared", kNoDeadline).ok());
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user,
                              store.GetUser("shared", kNoDeadline));
  std::optional<PurchaseRecord> hot = FindPurchase(user, "hot");
  ASSERT_TRUE(hot.has_value());
  EXPECT_EQ(hot->count, kThreads * kEventsPerThread);
  EXPECT_EQ(hot->last_purchase, T(kThreads * kEventsPerThread - 1));
  EXPECT_EQ(user.recent.size(), 20u);
}

TEST(InMemoryFeatureStoreTest, DedupWindowExpires) {
  absl::Time now = absl::FromUnixSeconds(1800000000);
  InMemoryFeatureStore store(InMemoryOptions{
      .event_dedup_window = absl::Seconds(10), .clock = [&now] { return now; }});
  Event event = Purchase("u", "a", T(1));
  event.event_id = "e1";
  const Event batch[] = {event};
  RECSYS_ASSERT_OK_AND_ASSIGN(RecordOutcome outcome, store.RecordEvents(batch, kNoDeadline));
  EXPECT_EQ(outcome.applied, 1);
  now += absl::Seconds(9);  // still within the window
  RECSYS_ASSERT_OK_AND_ASSIGN(outcome, store.RecordEvents(batch, kNoDeadline));
  EXPECT_EQ(outcome.duplicates.size(), 1u);
  now += absl::Seconds(1);  // 10 s after: forgotten, applied again
  RECSYS_ASSERT_OK_AND_ASSIGN(outcome, store.RecordEvents(batch, kNoDeadline));
  EXPECT_EQ(outcome.applied, 1);
  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures user, store.GetUser("u", kNoDeadline));
  EXPECT_EQ(FindPurchase(user, "a")->count, 2);
}

}  // namespace
}  // namespace recsys::feature_store
