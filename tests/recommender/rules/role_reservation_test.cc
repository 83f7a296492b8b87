#include "recommender/rules/role_reservation.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "recommender/candidate_source.h"
#include "recommender/rules/rule_set.h"
#include "recommender/slot_fill.h"
#include "tests/recommender/unit_fixture.h"

namespace recsys::recommender {
namespace {

using ::testing::ElementsAre;

class RoleReservationTest : public testing::UnitTest {
 protected:
  void SetRole(const std::string& id, const std::string& role) {
    feature_store::ItemFeatures f;
    const model::ItemMeta& item = bundle_->item(Row(id));
    f.item_id = id;
    f.category = item.category;
    f.price = item.price;
    f.title = item.title;
    f.role = role;
    RECSYS_ASSERT_OK(memory_.PutItems({f}));
  }

  std::vector<SlotAnswer> Fill(const std::string& slot_fields, int k) {
    request_ = Request("ua0", k);
    ctx_ = Context(request_,
                   Plan(absl::StrFormat(
                       R"pb(
                         slots {
                           name: "feed"
                           sources { source: SOURCE_TRENDING weight: 1 } %s
                         }
                       )pb",
                       slot_fields)));
    auto generated = NewDefaultSourceRegistry(options_)->Generate(*ctx_);
    EXPECT_TRUE(generated.ok()) << generated.status();
    lists_ = *std::move(generated);
    FetchItemFeatures(lists_, store_, absl::InfiniteFuture(), ctx_.get(),
                      &meta_);
    return FillSlots(*ctx_, lists_, *rules_);
  }

  ProductRequest request_;
  std::unique_ptr<RequestContext> ctx_;
  CandidateLists lists_;
  std::unique_ptr<const RuleSet> rules_ = NewDefaultRuleSet();
};

TEST_F(RoleReservationTest, ReservedRolesTakePositionsInScoreOrder) {
  // Trending for ua0: b0, b1, b2, ..., b9, a2, ...
  SetRole("b5", "profit");
  SetRole("b7", "profit");
  SetRole("b8", "profit");
  SetRole("b6", "image");
  EXPECT_THAT(Ids(Fill("", 4)[0].items), ElementsAre("b0", "b1", "b2", "b3"));
  std::vector<SlotAnswer> slots =
      Fill(R"pb(reserve_roles { role: "profit" positions: 2 }
                reserve_roles { role: "image" positions: 3 })pb",
           5);
  // Profit: b5, b7 (the best two); image: only b6 exists; then b0, b1 by
  // score; all in score order.
  EXPECT_THAT(Ids(slots[0].items), ElementsAre("b0", "b1", "b5", "b6", "b7"));
}

TEST_F(RoleReservationTest, ReservationsNeverExceedTheSlot) {
  SetRole("b4", "traffic");
  SetRole("b5", "traffic");
  SetRole("b6", "traffic");
  std::vector<SlotAnswer> slots =
      Fill(R"pb(reserve_roles { role: "traffic" positions: 5 })pb", 2);
  EXPECT_THAT(Ids(slots[0].items), ElementsAre("b4", "b5"));
}

TEST_F(RoleReservationTest, ReservedItemsObeyTheFilters) {
  SetRole("b5", "profit");
  feature_store::ItemFeatures out =
      *memory_.GetItems({"b5"}, absl::InfiniteFuture())->at(0);
  out.stock = 0;
  RECSYS_ASSERT_OK(memory_.PutItems({out}));
  SetRole("b9", "profit");
  std::vector<SlotAnswer> slots =
      Fill(R"pb(reserve_roles { role: "profit" positions: 1 })pb", 3);
  EXPECT_THAT(Ids(slots[0].items), ElementsAre("b0", "b1", "b9"));
}

}  // namespace
}  // namespace recsys::recommender
