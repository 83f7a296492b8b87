#include "feature_store/faulty_feature_store.h"

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "feature_store/in_memory_feature_store.h"
#include "gtest/gtest.h"
#include "tests/feature_store/test_util.h"
#include "tests/testing/status_matchers.h"

namespace recsys::feature_store {
namespace {

using test::Purchase;
using test::T;

constexpr absl::Time kNoDeadline = absl::InfiniteFuture();

TEST(FaultyFeatureStoreTest, ForwardsWhenNotFailing) {
  InMemoryFeatureStore base;
  FaultyFeatureStore faulty(&base);
  EXPECT_FALSE(faulty.failing());
  const Event events[] = {Purchase("u", "a", T(1))};
  RECSYS_ASSERT_OK(faulty.RecordEvents(events, kNoDeadline));
  const UserFeatures users[] = {
      {.user_id = "v", .purchases = {{.item_id = "b", .count = 2}}}};
  RECSYS_ASSERT_OK(faulty.PutUsers(users));
  const ItemFeatures items[] = {{.item_id = "a", .category = "c"}};
  RECSYS_ASSERT_OK(faulty.PutItems(items));

  RECSYS_ASSERT_OK_AND_ASSIGN(UserFeatures u, faulty.GetUser("u", kNoDeadline));
  EXPECT_EQ(u.purchases.size(), 1u);
  RECSYS_ASSERT_OK(base.GetUser("v", kNoDeadline).status());
  const std::string ids[] = {"a"};
  RECSYS_ASSERT_OK_AND_ASSIGN(auto got, faulty.GetItems(ids, kNoDeadline));
  ASSERT_TRUE(got[0].has_value());
  EXPECT_EQ(got[0]->category, "c");
  RECSYS_EXPECT_OK(faulty.Ping(kNoDeadline));
  // Errors of the wrapped store pass through unchanged.
  EXPECT_EQ(faulty.GetUser("nobody", kNoDeadline).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(FaultyFeatureStoreTest, FailsEveryCallWhileFailing) {
  InMemoryFeatureStore base;
  FaultyFeatureStore faulty(&base);
  faulty.set_failing(true);
  EXPECT_TRUE(faulty.failing());

  const Event events[] = {Purchase("u", "a", T(1))};
  absl::Status status = faulty.RecordEvents(events, kNoDeadline).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message(), "injected fault");
  EXPECT_EQ(faulty.GetUser("u", kNoDeadline).status().code(),
            absl::StatusCode::kUnavailable);
  const std::string ids[] = {"a"};
  EXPECT_EQ(faulty.GetItems(ids, kNoDeadline).status().code(),
            absl::StatusCode::kUnavailable);
  const UserFeatures users[] = {{.user_id = "u"}};
  EXPECT_EQ(faulty.PutUsers(users).code(), absl::StatusCode::kUnavailable);
  const ItemFeatures items[] = {{.item_id = "a"}};
  EXPECT_EQ(faulty.PutItems(items).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(faulty.Ping(kNoDeadline).code(), absl::StatusCode::kUnavailable);
  // Nothing reached the wrapped store.
  EXPECT_EQ(base.GetUser("u", kNoDeadline).status().code(),
            absl::StatusCode::kNotFound);

  faulty.set_failing(false);
  RECSYS_EXPECT_OK(faulty.RecordEvents(events, kNoDeadline));
  RECSYS_EXPECT_OK(faulty.GetUser("u", kNoDeadline).status());
}

TEST(FaultyFeatureStoreTest, DescribeNamesTheWrappedStore) {
  InMemoryFeatureStore base;
  FaultyFeatureStore faulty(&base);
  EXPECT_EQ(faulty.Describe(), "faulty(" + base.Describe() + ")");
}

}  // namespace
}  // namespace recsys::feature_store
