// ExperimentPlan: validation with the field named, and assignment (stable,
// uniform, independent layers, overrides, ramp-up).
#include "experiments/experiment_plan.h"

#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "stats/stats.h"

namespace recsys::experiments {
namespace {

using ::testing::HasSubstr;

// Two layers: "home" (an experiment on 40% of users, 3 variants 50/30/20,
// then a second experiment on 10%), "coupons" (a holdout on every user).
constexpr char kConfig[] = R"pb(
  layers {
    name: "home"
    experiments {
      name: "layout"
      traffic_share: 0.4
      slots: "homepage_feed"
      variants { name: "control" share: 0.5 }
      variants { name: "waterfall" share: 0.3 }
      variants { name: "categories" share: 0.2 }
    }
    experiments {
      name: "copy"
      traffic_share: 0.1
      slots: "homepage_hero"
      variants { name: "a" share: 0.5 }
      variants { name: "b" share: 0.5 }
    }
  }
  layers {
    name: "coupons"
    experiments {
      name: "winback"
      traffic_share: 1
      campaigns: "winback"
      variants { name: "coupon" share: 0.9 }
      variants {
        name: "holdout"
        share: 0.1
        coupons { campaign: "winback" holdout: true }
      }
    }
  }
)pb";

std::shared_ptr<const ExperimentPlan> MustParse(const std::string& text) {
  auto plan = ExperimentPlan::Parse(text);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return plan.ok() ? *plan : nullptr;
}

std::string Refused(const std::string& text) {
  auto plan = ExperimentPlan::Parse(text);
  EXPECT_FALSE(plan.ok());
  if (plan.ok()) return "";
  EXPECT_EQ(plan.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(plan.status().message());
}

std::string Id(int i) { return absl::StrCat("user-", i); }

const absl::Time kNow = absl::FromUnixSeconds(1764000000);

TEST(ExperimentPlanTest, BucketIsAFixedFunctionOfSaltAndUser) {
  // XXH3_64 of "home\0user-1" etc.: the same in every process and on every
  // machine, so replicas and restarts agree. A change here moves users.
  EXPECT_EQ(Bucket("home", "user-1"), Bucket("home", "user-1"));
  EXPECT_NE(Bucket("home", "user-1"), Bucket("coupons", "user-1"));
  const int pinned[] = {Bucket("home", "user-1"), Bucket("home", "user-2"),
                        Bucket("coupons", "user-1")};
  for (int b : pinned) {
    EXPECT_GE(b, 0);
    EXPECT_LT(b, kBuckets);
  }
  EXPECT_EQ(Bucket("home", "user-1"), 5934);
  EXPECT_EQ(Bucket("home", "user-2"), 5714);
  EXPECT_EQ(Bucket("coupons", "user-1"), 4052);
}

TEST(ExperimentPlanTest, TwoParsesAssignAlike) {
  auto a = MustParse(kConfig);
  auto b = MustParse(kConfig);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  for (int i = 0; i < 2000; ++i) {
    auto x = a->Assign(Id(i), kNow, {});
    auto y = b->Assign(Id(i), kNow, {});
    ASSERT_EQ(x.size(), y.size());
    for (size_t j = 0; j < x.size(); ++j) {
      EXPECT_EQ(x[j].experiment->name, y[j].experiment->name);
      EXPECT_EQ(x[j].variant->name, y[j].variant->name);
    }
  }
}

TEST(ExperimentPlanTest, SharesWithinToleranceOver100kIds) {
  auto plan = MustParse(kConfig);
  ASSERT_NE(plan, nullptr);
  constexpr int kUsers = 100000;
  std::map<std::string, int> count;
  for (int i = 0; i < kUsers; ++i) {
    for (const Assignment& a : plan->Assign(Id(i), kNow, {})) {
      ++count[absl::StrCat(a.experiment->name, "/", a.variant->name)];
      ++count[a.experiment->name];
    }
  }
  // Expected share of all users; tolerance: 5 binomial standard deviations.
  const std::map<std::string, double> expected = {{"layout", 0.4},
                                                  {"layout/control", 0.2},
                                                  {"layout/waterfall", 0.12},
                                                  {"layout/categories", 0.08},
                                                  {"copy", 0.1},
                                                  {"copy/a", 0.05},
                                                  {"copy/b", 0.05},
                                                  {"winback", 1.0},
                                                  {"winback/coupon", 0.9},
                                                  {"winback/holdout", 0.1}};
  for (const auto& [name, p] : expected) {
    const double sd = std::sqrt(kUsers * p * (1 - p));
    EXPECT_NEAR(count[name], kUsers * p, 5 * sd + 1) << name;
  }
}

TEST(ExperimentPlanTest, LayersAreIndependent) {
  auto plan = MustParse(kConfig);
  ASSERT_NE(plan, nullptr);
  // Users of "layout" by variant (rows) × winback variant (columns).
  std::vector<double> table(3 * 2, 0);
  for (int i = 0; i < 100000; ++i) {
    int row = -1, col = -1;
    for (const Assignment& a : plan->Assign(Id(i), kNow, {})) {
      if (a.experiment->name == "layout") {
        row = static_cast<int>(a.variant - a.experiment->variants.data());
      }
      if (a.experiment->name == "winback") {
        col = static_cast<int>(a.variant - a.experiment->variants.data());
      }
    }
    if (row >= 0 && col >= 0) table[row * 2 + col] += 1;
  }
  auto test = stats::ChiSquareIndependence(table, 3, 2);
  ASSERT_TRUE(test.ok()) << test.status();
  EXPECT_GT(test->p_value, 0.001) << "chi-square " << test->chi_square;
}

TEST(ExperimentPlanTest, ExperimentsOfALayerAreExclusive) {
  auto plan = MustParse(kConfig);
  ASSERT_NE(plan, nullptr);
  for (int i = 0; i < 20000; ++i) {
    int in_home = 0;
    for (const Assignment& a : plan->Assign(Id(i), kNow, {}))
      in_home += a.experiment->layer == "home";
    EXPECT_LE(in_home, 1);
  }
}

TEST(ExperimentPlanTest, RampUpKeepsEveryAssignment) {
  // layout reserves 0.6 of the layer and runs on 0.2, then 0.6.
  const std::string small = absl::StrReplaceAll(
      kConfig,
      {{"traffic_share: 0.4", "traffic_share: 0.2 reserved_share: 0.6"}});
  const std::string large = absl::StrReplaceAll(
      kConfig,
      {{"traffic_share: 0.4", "traffic_share: 0.6 reserved_share: 0.6"}});
  auto before = MustParse(small);
  auto after = MustParse(large);
  ASSERT_NE(before, nullptr);
  ASSERT_NE(after, nullptr);
  int moved = 0, kept = 0, added = 0;
  for (int i = 0; i < 50000; ++i) {
    std::map<std::string, std::string> was, is;
    for (const Assignment& a : before->Assign(Id(i), kNow, {})) {
      was[a.experiment->name] = a.variant->name;
    }
    for (const Assignment& a : after->Assign(Id(i), kNow, {})) {
      is[a.experiment->name] = a.variant->name;
    }
    for (const auto& [experiment, variant] : was) {
      if (is.contains(experiment) && is[experiment] == variant) {
        ++kept;
      } else {
        ++moved;
      }
    }
    added += is.contains("layout") && !was.contains("layout");
  }
  EXPECT_EQ(moved, 0);
  EXPECT_GT(kept, 0);
  EXPECT_NEAR(added, 50000 * 0.4, 1000);
}

TEST(ExperimentPlanTest, OverridesPinAUserAndLeaveOtherLayers) {
  auto plan = MustParse(absl::StrCat(kConfig, R"pb(
    overrides { user_id: "qa-1" experiment: "copy" variant: "b" }
  )pb"));
  ASSERT_NE(plan, nullptr);
  auto assignments = plan->Assign("qa-1", kNow, {});
  ASSERT_EQ(assignments.size(), 2u);
  EXPECT_EQ(assignments[0].experiment->name, "copy");
  EXPECT_EQ(assignments[0].variant->name, "b");
  EXPECT_TRUE(assignments[0].forced);
  EXPECT_EQ(assignments[1].experiment->name, "winback");
  EXPECT_FALSE(assignments[1].forced);
}

TEST(ExperimentPlanTest, OnlyRunningExperimentsAssign) {
  auto plan = MustParse(absl::StrReplaceAll(
      kConfig,
      {{"name: \"winback\"\n      traffic_share: 1",
        "name: \"winback\" start_unix: 1764000001 traffic_share: 1"}}));
  ASSERT_NE(plan, nullptr);
  for (int i = 0; i < 100; ++i) {
    for (const Assignment& a : plan->Assign(Id(i), kNow, {})) {
      EXPECT_NE(a.experiment->name, "winback");
    }
  }
  bool seen = false;
  for (const Assignment& a : plan->Assign(Id(0), kNow + absl::Seconds(1), {})) {
    seen = seen || a.experiment->name == "winback";
  }
  EXPECT_TRUE(seen);
}

// An experiment targeted by tags: only users having one of them enter;
// the others of its range are in no experiment of the layer. NeedsTags is
// true exactly for the users whose bucket falls in the targeted range.
TEST(ExperimentPlanTest, TargetTagsLetOnlyTaggedUsersIn) {
  auto plan = MustParse(absl::StrReplaceAll(
      kConfig, {{"slots: \"homepage_feed\"",
                 "slots: \"homepage_feed\" target_tags: \"vip\" "
                 "target_tags: \"likes:coffee\""}}));
  ASSERT_NE(plan, nullptr);
  const std::vector<std::string> vip = {"likes:books", "vip"};
  const std::vector<std::string> coffee = {"likes:coffee"};
  const std::vector<std::string> other = {"likes:books", "recent_buyer"};
  int in_range = 0;
  for (int i = 0; i < 2000; ++i) {
    const bool layout = Bucket("home", Id(i)) < 4000;  // its 40% range
    EXPECT_EQ(plan->NeedsTags(Id(i), kNow), layout) << Id(i);
    auto named = [&](const std::vector<std::string>& tags) {
      std::vector<std::string> names;
      for (const Assignment& a : plan->Assign(Id(i), kNow, tags))
        names.push_back(a.experiment->name);
      return names;
    };
    if (layout) {
      ++in_range;
      EXPECT_EQ(named(vip), (std::vector<std::string>{"layout", "winback"}));
      EXPECT_EQ(named(coffee), (std::vector<std::string>{"layout", "winback"}));
      // Not tagged: in no experiment of the layer (not in "copy" either).
      EXPECT_EQ(named(other), (std::vector<std::string>{"winback"}));
      EXPECT_EQ(named({}), (std::vector<std::string>{"winback"}));
      // The variant does not depend on the tags.
      EXPECT_EQ(plan->Assign(Id(i), kNow, vip)[0].variant,
                plan->Assign(Id(i), kNow, coffee)[0].variant);
    } else {
      EXPECT_EQ(named(vip), named(other));
    }
  }
  EXPECT_NEAR(in_range, 800, 120);
  // Not running yet: no tags needed.
  auto later = MustParse(absl::StrReplaceAll(
      kConfig, {{"slots: \"homepage_feed\"",
                 "slots: \"homepage_feed\" target_tags: \"vip\" "
                 "start_unix: 1764000001"}}));
  ASSERT_NE(later, nullptr);
  for (int i = 0; i < 200; ++i) EXPECT_FALSE(later->NeedsTags(Id(i), kNow));
  // A QA override decides the layer without tags.
  auto qa = MustParse(absl::StrCat(
      absl::StrReplaceAll(kConfig, {{"slots: \"homepage_feed\"",
                                     "slots: \"homepage_feed\" "
                                     "target_tags: \"vip\""}}),
      R"pb(overrides { user_id: "qa-1" experiment: "layout" variant: "waterfall" })pb"));
  ASSERT_NE(qa, nullptr);
  EXPECT_FALSE(qa->NeedsTags("qa-1", kNow));
  auto forced = qa->Assign("qa-1", kNow, {});
  ASSERT_FALSE(forced.empty());
  EXPECT_EQ(forced[0].variant->name, "waterfall");
  EXPECT_TRUE(forced[0].forced);
}

TEST(ExperimentPlanTest, BadConfigsNameTheField) {
  EXPECT_THAT(Refused(absl::StrReplaceAll(
                  kConfig, {{"slots: \"homepage_feed\"",
                             "slots: \"homepage_feed\" target_tags: \"\""}})),
              HasSubstr("layers[0].experiments[0].target_tags[0]: must be 1 "
                        "to 128 bytes"));
  EXPECT_THAT(Refused(absl::StrReplaceAll(
                  kConfig, {{"slots: \"homepage_feed\"",
                             "slots: \"homepage_feed\" target_tags: \"vip\" "
                             "target_tags: \"vip\""}})),
              HasSubstr("layers[0].experiments[0].target_tags[1]: duplicate "
                        "tag 'vip'"));
  // The layer's shares sum above 1.
  EXPECT_THAT(Refused(absl::StrReplaceAll(
                  kConfig, {{"traffic_share: 0.1", "traffic_share: 0.7"}})),
              HasSubstr("layers[0].experiments[1].traffic_share: the layer's "
                        "shares sum above 1"));
  // Variants overlap (their shares sum above 1).
  EXPECT_THAT(
      Refused(absl::StrReplaceAll(kConfig, {{"share: 0.2 }", "share: 0.3 }"}})),
      HasSubstr(
          "layers[0].experiments[0].variants[2].share: variants overlap"));
  // ... or leave a gap.
  EXPECT_THAT(
      Refused(absl::StrReplaceAll(kConfig, {{"share: 0.2 }", "share: 0.1 }"}})),
      HasSubstr("layers[0].experiments[0].variants: the variants' shares must "
                "sum to 1"));
  // Explicit ranges that overlap.
  EXPECT_THAT(
      Refused(absl::StrReplaceAll(
          kConfig, {{"name: \"copy\"", "name: \"copy\" first_bucket: 3000"}})),
      HasSubstr("layers[0].experiments[1].first_bucket: buckets [3000, 4000) "
                "overlap"));
  EXPECT_THAT(Refused(absl::StrCat(kConfig, R"pb(overrides {
                                                   user_id: "u"
                                                   experiment: "nope"
                                                   variant: "a"
                                                 })pb")),
              HasSubstr("overrides[0].experiment: unknown experiment 'nope'"));
  EXPECT_THAT(
      Refused(absl::StrCat(kConfig, R"pb(overrides {
                                           user_id: "u"
                                           experiment: "copy"
                                           variant: "c"
                                         })pb")),
      HasSubstr("overrides[0].variant: experiment 'copy' has no variant 'c'"));
  EXPECT_THAT(Refused(absl::StrReplaceAll(
                  kConfig, {{"name: \"waterfall\"", "name: \"control\""}})),
              HasSubstr("layers[0].experiments[0].variants[1].name: duplicate "
                        "variant 'control'"));
  EXPECT_THAT(
      Refused(absl::StrReplaceAll(kConfig,
                                  {{"name: \"copy\"", "name: \"layout\""}})),
      HasSubstr(
          "layers[0].experiments[1].name: duplicate experiment 'layout'"));
  EXPECT_THAT(
      Refused(absl::StrReplaceAll(
          kConfig,
          {{"name: \"waterfall\" share: 0.3",
            "name: \"waterfall\" share: 0.3 slots { name: \"cart\" }"}})),
      HasSubstr("layers[0].experiments[0].variants[1].slots[0].name: slot "
                "'cart' is not one of the experiment's slots"));
  EXPECT_THAT(
      Refused(absl::StrReplaceAll(kConfig, {{"campaign: \"winback\" holdout",
                                             "campaign: \"other\" holdout"}})),
      HasSubstr("layers[1].experiments[0].variants[1].coupons[0].campaign: "
                "campaign 'other'"));
  EXPECT_THAT(
      Refused(absl::StrReplaceAll(kConfig, {{"name: \"a\"", "name: \"a b\""}})),
      HasSubstr("layers[0].experiments[1].variants[0].name"));
  EXPECT_THAT(
      Refused("layers { name: \"x\" experiments { name: \"e\" traffic_share: "
              "1.5 } }"),
      HasSubstr("layers[0].experiments[0].traffic_share: must be in (0, 1]"));
  EXPECT_THAT(Refused("margin: 2"), HasSubstr("margin: must be in [0, 1]"));
  EXPECT_THAT(Refused("layers { name: \"x\" "), HasSubstr("line 1"));
}

}  // namespace
}  // namespace recsys::experiments

namespace recsys::experiments {
namespace {

TEST(ExperimentPlanTest, TheDeployedConfigLoads) {
  auto plan = ExperimentPlan::Load(std::string(RECSYS_SOURCE_DIR) +
                                   "/deploy/experiments.textproto");
  ASSERT_TRUE(plan.ok()) << plan.status();
  const Experiment* layout = (*plan)->Find("homepage_layout");
  ASSERT_NE(layout, nullptr);
  EXPECT_EQ(layout->variants[layout->control].name, "control");
  const Experiment* holdout = (*plan)->Find("welcome_holdout");
  ASSERT_NE(holdout, nullptr);
  ASSERT_NE(holdout->FindVariant("holdout")->PolicyFor("welcome"), nullptr);
  EXPECT_TRUE(holdout->FindVariant("holdout")->PolicyFor("welcome")->holdout);
}

// An emptied file stops every experiment; a missing one is NotFound.
TEST(ExperimentPlanTest, AnEmptyFileIsAConfigWithoutExperiments) {
  const std::string path = ::testing::TempDir() + "/empty_experiments.textproto";
  { std::ofstream out(path, std::ios::trunc); }
  auto plan = ExperimentPlan::Load(path);
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_TRUE((*plan)->experiments().empty());
  EXPECT_TRUE((*plan)->Assign("u1", kNow, {}).empty());
  EXPECT_EQ(ExperimentPlan::Load(path + ".missing").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ExperimentPlanTest, VariantModelVersionIsAVersionName) {
  auto plan = MustParse(absl::StrReplaceAll(
      kConfig,
      {{"name: \"waterfall\" share: 0.3",
        "name: \"waterfall\" share: 0.3 model_version: \"1700000200\""}}));
  ASSERT_NE(plan, nullptr);
  EXPECT_EQ(plan->Find("layout")->FindVariant("waterfall")->model_version,
            "1700000200");
  EXPECT_EQ(plan->Find("layout")->FindVariant("control")->model_version, "");
  for (const char* bad : {"v2", "../1", "123456789012345678901", "1 2"}) {
    EXPECT_THAT(
        Refused(absl::StrReplaceAll(
            kConfig,
            {{"name: \"waterfall\" share: 0.3",
              absl::StrCat("name: \"waterfall\" share: 0.3 model_version: \"",
                           bad, "\"")}})),
        HasSubstr(
            "layers[0].experiments[0].variants[1].model_version: must be a "
            "model version"))
        << bad;
  }
}

}  // namespace
}  // namespace recsys::experiments
