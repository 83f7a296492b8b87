#include "recommender/candidate_source.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"
#include "tests/recommender/unit_fixture.h"

namespace recsys::recommender {
namespace {

class CandidateSourceTest : public testing::UnitTest {};

// A source that proposes one fixed item.
class FixedSource : public CandidateSource {
 public:
  explicit FixedSource(int32_t row) : row_(row) {}
  absl::StatusOr<std::vector<Candidate>> Generate(const RequestContext&) const override {
    return std::vector<Candidate>{{row_, 1.0f, ReasonCode::kTrending}};
  }

 private:
  const int32_t row_;
};

TEST_F(CandidateSourceTest, EverySourceIsRegistered) {
  std::unique_ptr<const SourceRegistry> registry = NewDefaultSourceRegistry(options_);
  for (Source s :
       {Source::kPersonalized, Source::kBlended, Source::kBuyAgain, Source::kSimilarToRecent,
        Source::kTrending, Source::kCategoryBestsellers, Source::kBundleComplements,
        Source::kBlendedNew}) {
    EXPECT_NE(registry->Find(s), nullptr) << SourceName(s);
  }
  EXPECT_TRUE(registry->Find(Source::kBuyAgain)->repurchase());
  EXPECT_FALSE(registry->Find(Source::kTrending)->repurchase());
  EXPECT_TRUE(registry->Find(Source::kBlended)->repurchase());
  EXPECT_FALSE(registry->Find(Source::kBlendedNew)->repurchase());
}

TEST_F(CandidateSourceTest, GeneratesOnlyTheSourcesTheSlotsUse) {
  SourceRegistry registry;
  registry.Register(Source::kTrending, std::make_unique<FixedSource>(Row("b7")));
  registry.Register(Source::kPersonalized, std::make_unique<FixedSource>(Row("a7")));
  const ProductRequest request = Request("ua0", 3);
  auto ctx = Context(request, Plan(R"pb(
                       slots {
                         name: "feed"
                         sources { source: SOURCE_TRENDING weight: 1 }
                         sources { source: SOURCE_BUY_AGAIN weight: 1 }
                       }
                     )pb"));
  RECSYS_ASSERT_OK_AND_ASSIGN(CandidateLists lists, registry.Generate(*ctx));
  ASSERT_EQ(lists.size(), 2u);
  ASSERT_EQ(lists[Source::kTrending].candidates.size(), 1u);
  EXPECT_EQ(lists[Source::kTrending].candidates[0].row, Row("b7"));
  EXPECT_TRUE(lists[Source::kBuyAgain].candidates.empty());  // not registered here
  EXPECT_FALSE(lists.contains(Source::kPersonalized));
}

}  // namespace
}  // namespace recsys::recommender
