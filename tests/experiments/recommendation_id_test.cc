#include "experiments/recommendation_id.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace recsys::experiments {
namespace {

using ::testing::HasSubstr;

constexpr char kConfig[] = R"pb(
  layers {
    name: "home"
    experiments {
      name: "layout"
      traffic_share: 1
      slots: "homepage_feed"
      variants { name: "control" share: 0.5 }
      variants { name: "waterfall" share: 0.5 }
    }
  }
  layers {
    name: "coupons"
    experiments {
      name: "winback"
      traffic_share: 1
      campaigns: "winback"
      variants { name: "coupon" share: 0.5 }
      variants { name: "holdout" share: 0.5 }
    }
  }
  overrides { user_id: "qa" experiment: "layout" variant: "waterfall" }
)pb";

const absl::Time kNow = absl::FromUnixSeconds(1764000000);

TEST(RecommendationIdTest, CarriesTheSlotAndTheAssignmentsThatShapeIt) {
  auto plan = ExperimentPlan::Parse(kConfig);
  ASSERT_TRUE(plan.ok()) << plan.status();
  const auto assignments = (*plan)->Assign("u1", kNow, {});
  ASSERT_EQ(assignments.size(), 2u);
  const std::string id =
      NewRecommendationId("u1", "homepage_feed", assignments, kNow);
  auto ref = ParseRecommendationId("recommendation_id", id);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->slot, "homepage_feed");
  EXPECT_EQ(ref->issued, kNow);
  EXPECT_EQ(ref->user_hash, UserHash("u1"));
  ASSERT_EQ(ref->arms.size(), 1u);  // only the experiment that lists the slot
  EXPECT_EQ(ref->arms[0].experiment, "layout");
  EXPECT_EQ(ref->arms[0].variant, assignments[0].variant->name);
  EXPECT_FALSE(ref->arms[0].forced);

  auto coupons = ParseRecommendationId(
      "x", NewRecommendationId("u1", kCouponsSlot, assignments, kNow));
  ASSERT_TRUE(coupons.ok());
  ASSERT_EQ(coupons->arms.size(), 1u);
  EXPECT_EQ(coupons->arms[0].experiment, "winback");

  // Two answers never share an id.
  EXPECT_NE(id, NewRecommendationId("u1", "homepage_feed", assignments, kNow));
  // No experiment: an id all the same.
  auto none = ParseRecommendationId(
      "x", NewRecommendationId("u1", "pdp", assignments, kNow));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->arms.empty());
}

TEST(RecommendationIdTest, QaOverridesAreMarked) {
  auto plan = ExperimentPlan::Parse(kConfig);
  ASSERT_TRUE(plan.ok());
  auto ref = ParseRecommendationId(
      "x", NewRecommendationId("qa", "homepage_feed",
                               (*plan)->Assign("qa", kNow, {}), kNow));
  ASSERT_TRUE(ref.ok());
  ASSERT_EQ(ref->arms.size(), 1u);
  EXPECT_TRUE(ref->arms[0].forced);
  EXPECT_EQ(ref->arms[0].variant, "waterfall");
}

TEST(RecommendationIdTest, MalformedIdsAreRefusedNamingTheField) {
  auto plan = ExperimentPlan::Parse(kConfig);
  ASSERT_TRUE(plan.ok());
  const std::string id = NewRecommendationId("u1", "homepage_feed",
                                             (*plan)->Assign("u1", kNow, {}), kNow);
  std::string edited = id;
  edited[2] = edited[2] == '1' ? '2' : '1';  // the issue time
  for (const std::string& bad :
       {std::string(""), std::string("hello"), id.substr(0, id.size() - 1),
        edited, std::string(2000, 'a'), id + "~00000000"}) {
    auto ref = ParseRecommendationId("events[3].recommendation_id", bad);
    ASSERT_FALSE(ref.ok()) << bad;
    EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(ref.status().message(),
                HasSubstr("events[3].recommendation_id: malformed"));
  }
}

}  // namespace
}  // namespace recsys::experiments
