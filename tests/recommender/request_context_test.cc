#include "recommender/request_context.h"

#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "intelligence/intel.h"
#include "intelligence/intel_store.h"
#include "tests/recommender/unit_fixture.h"

namespace recsys::recommender {
namespace {

using feature_store::EventType;

class RequestContextTest : public testing::UnitTest {};

TEST_F(RequestContextTest, RepurchaseCyclesComeFromTheIntelligenceRecord) {
  const ProductRequest request = Request("ua2", 5);
  const int64_t now = absl::ToUnixSeconds(request.now);
  std::unique_ptr<intelligence::IntelStore> intel = intelligence::NewInMemoryIntelStore();
  intelligence::UserIntel record;
  record.user_id = "ua2";
  record.due_items = {{"a3", now - 86400, 30},  // bought: kept
                      {"a7", now, 10},          // not bought by ua2
                      {"zz", now, 10}};         // not in the model
  RECSYS_ASSERT_OK(intel->PutIntel({record}));

  // Without a buy-again slot nothing is read.
  auto plain = Context(request);
  LoadUserIntel(intel.get(), absl::InfiniteFuture(), plain.get());
  EXPECT_TRUE(plain->cycles.empty());

  const auto plan = Plan(R"pb(slots {
                                name: "feed"
                                sources { source: SOURCE_BUY_AGAIN weight: 1 }
                              })pb");
  auto ctx = Context(request, plan);
  LoadUserIntel(intel.get(), absl::InfiniteFuture(), ctx.get());
  ASSERT_EQ(ctx->cycles.size(), 1u);
  EXPECT_EQ(ctx->cycles.at(Row("a3")).due_unix, now - 86400);
  EXPECT_EQ(ctx->cycles.at(Row("a3")).cycle_days, 30);

  // A purchase of a3 since the record: due one cycle after it.
  const absl::Time bought = request.now - absl::Hours(3 * 24);
  Record("ua2", "a3", EventType::kPurchase, bought);
  auto later = Context(request, plan);
  LoadUserIntel(intel.get(), absl::InfiniteFuture(), later.get());
  ASSERT_EQ(later->cycles.size(), 1u);
  EXPECT_EQ(later->cycles.at(Row("a3")).due_unix, absl::ToUnixSeconds(bought) + 30 * 86400);

  // No record, or no store: nothing.
  const ProductRequest other = Request("ua3", 5);
  auto none = Context(other, plan);
  LoadUserIntel(intel.get(), absl::InfiniteFuture(), none.get());
  EXPECT_TRUE(none->cycles.empty());
  LoadUserIntel(nullptr, absl::InfiniteFuture(), ctx.get());
  EXPECT_EQ(ctx->cycles.size(), 1u);
}

TEST_F(RequestContextTest, EarlyAccessComesFromTheGrowthTierOfTheRecord) {
  const ProductRequest request = Request("ua0", 5, "feed");
  std::unique_ptr<intelligence::IntelStore> intel = intelligence::NewInMemoryIntelStore();
  intelligence::UserIntel record;
  record.user_id = "ua0";
  record.growth_tier = "platinum";
  RECSYS_ASSERT_OK(intel->PutIntel({record}));
  const auto plan = Plan(R"pb(slots {
                                name: "feed"
                                sources { source: SOURCE_PERSONALIZED weight: 1 }
                                trial_share: 0.2
                              }
                              rules { early_access { growth_tiers: "platinum" days: 4 } })pb");
  auto ctx = Context(request, plan);
  LoadUserIntel(intel.get(), absl::InfiniteFuture(), ctx.get());
  EXPECT_EQ(ctx->early_access_days, 4);

  // Another tier, no record or no trial slot: none.
  record.user_id = "ua1";
  record.growth_tier = "silver";
  RECSYS_ASSERT_OK(intel->PutIntel({record}));
  auto silver = Context(Request("ua1", 5, "feed"), plan);
  LoadUserIntel(intel.get(), absl::InfiniteFuture(), silver.get());
  EXPECT_EQ(silver->early_access_days, 0);
  auto unknown = Context(Request("ua3", 5, "feed"), plan);
  LoadUserIntel(intel.get(), absl::InfiniteFuture(), unknown.get());
  EXPECT_EQ(unknown->early_access_days, 0);
  auto no_trial = Context(request, Plan(R"pb(slots {
                                               name: "feed"
                                               sources { source: SOURCE_PERSONALIZED weight: 1 }
                                             }
                                             rules { early_access { growth_tiers: "platinum" days: 4 } })pb"));
  LoadUserIntel(intel.get(), absl::InfiniteFuture(), no_trial.get());
  EXPECT_EQ(no_trial->early_access_days, 0);
}

TEST_F(RequestContextTest, ResolvesTheUserAndTheSlots) {
  ProductRequest request = Request("ua2", 3, "feed");
  request.slots.push_back({"for_you", 2});
  request.filters.exclude_item_ids = {"b1", "nope"};
  auto ctx = Context(request);
  EXPECT_EQ(ctx->total_k, 5);
  EXPECT_EQ(ctx->fetch_k, 20);
  EXPECT_EQ(ctx->request_excluded, (absl::flat_hash_set<int32_t>{Row("b1")}));
  EXPECT_EQ(ctx->excluded, (absl::flat_hash_set<int32_t>{Row("b1"), Row("a2"), Row("a3")}));
  // Most recent purchase first.
  ASSERT_EQ(ctx->history.size(), 2u);
  EXPECT_EQ(ctx->history[0].item, Row("a3"));
  EXPECT_EQ(ctx->bought.at(Row("a2"))->count, 3);
  ASSERT_EQ(ctx->anchors.size(), 2u);
  EXPECT_TRUE(ctx->anchors[0].bought);
  // The trained vector.
  absl::Span<const float> trained = bundle_->user_vector(bundle_->UserRow("ua2"));
  EXPECT_EQ(ctx->query, std::vector<float>(trained.begin(), trained.end()));
  // Default rules: blended for options.blended_slots, personalized otherwise.
  ASSERT_EQ(ctx->slot_rules.size(), 2u);
  EXPECT_EQ(ctx->slot_rules[0]->sources[0].first, Source::kPersonalized);
  EXPECT_EQ(ctx->slot_rules[1]->sources[0].first, Source::kBlended);
  EXPECT_TRUE(ctx->filter->Allowed(Row("b2")));
  EXPECT_FALSE(ctx->filter->Allowed(Row("a2")));
  EXPECT_TRUE(ctx->repurchase_filter->Allowed(Row("a2")));
  EXPECT_FALSE(ctx->repurchase_filter->Allowed(Row("b1")));
}

TEST_F(RequestContextTest, NewActivityFoldsInTheUser) {
  Record("ua0", "b3", EventType::kView);
  Record("ua0", "b4", EventType::kAddToCart);
  const ProductRequest request = Request("ua0", 3);
  auto ctx = Context(request);
  absl::Span<const float> trained = bundle_->user_vector(bundle_->UserRow("ua0"));
  EXPECT_NE(ctx->query, std::vector<float>(trained.begin(), trained.end()));
  // Purchases, then the viewed and carted items.
  ASSERT_EQ(ctx->anchors.size(), 4u);
  EXPECT_FALSE(ctx->anchors[2].bought);
}

TEST_F(RequestContextTest, TheStoreDownDegradesToTheModelsHistory) {
  store_.set_failing(true);
  const ProductRequest request = Request("ua2", 3);
  auto ctx = Context(request);
  EXPECT_TRUE(meta_.degraded);
  EXPECT_FALSE(ctx->user.store_answered);
  EXPECT_EQ(ctx->history.size(), 2u);
}

TEST_F(RequestContextTest, ItemFeaturesAreReadInOneRoundTrip) {
  SetStock("b0", 7);
  const ProductRequest request = Request("ua0", 1);
  auto ctx = Context(request);
  CandidateLists lists;
  lists[Source::kPersonalized].candidates = {{Row("a9"), 1.0f, ReasonCode::kPersonalized}};
  FetchItemFeatures(lists, store_, absl::InfiniteFuture(), ctx.get(), &meta_);
  EXPECT_TRUE(ctx->features.known());
  EXPECT_TRUE(ctx->features.Checked(Row("a9")));  // a candidate
  EXPECT_TRUE(ctx->features.Checked(Row("a3")));  // in the popular prefix (14)
  EXPECT_FALSE(ctx->features.Checked(Row("a4")));
  ASSERT_NE(ctx->features.Of(Row("b0")), nullptr);
  EXPECT_EQ(ctx->features.Of(Row("b0"))->stock, 7);
}

}  // namespace
}  // namespace recsys::recommender
