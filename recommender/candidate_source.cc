#include "recommender/candidate_source.h"

#include <utility>

#include "common/status_macros.h"
#include "recommender/sources/blended.h"
#include "recommender/sources/bundle_complements.h"
#include "recommender/sources/buy_again.h"
#include "recommender/sources/category_bestsellers.h"
#include "recommender/sources/personalized.h"
#include "recommender/sources/similar_to_recent.h"
#include "recommender/sources/trending.h"

namespace recsys::recommender {

void SourceRegistry::Register(Source source, std::unique_ptr<const CandidateSource> impl) {
  sources_[source] = std::move(impl);
}

const CandidateSource* SourceRegistry::Find(Source source) const {
  auto it = sources_.find(source);
  return it == sources_.end() ? nullptr : it->second.get();
}

absl::StatusOr<CandidateLists> SourceRegistry::Generate(const RequestContext& ctx) const {
  CandidateLists lists;
  for (const SlotRule* rule : ctx.slot_rules) {
    for (const auto& [source, weight] : rule->sources) lists[source];
  }
  for (auto& [source, list] : lists) {
    const CandidateSource* impl = Find(source);
    if (impl == nullptr) continue;
    list.repurchase = impl->repurchase();
    RECSYS_ASSIGN_OR_RETURN(list.candidates, impl->Generate(ctx));
  }
  return lists;
}

std::unique_ptr<const SourceRegistry> NewDefaultSourceRegistry(const RecommenderOptions& options) {
  auto registry = std::make_unique<SourceRegistry>();
  registry->Register(Source::kPersonalized, std::make_unique<PersonalizedSource>());
  registry->Register(Source::kBlended, std::make_unique<BlendedSource>(options.ranker_candidates));
  registry->Register(Source::kBlendedNew,
                     std::make_unique<BlendedSource>(options.ranker_candidates, /*new_items=*/true));
  registry->Register(Source::kBuyAgain, std::make_unique<BuyAgainSource>());
  registry->Register(Source::kSimilarToRecent, std::make_unique<SimilarToRecentSource>());
  registry->Register(Source::kTrending, std::make_unique<TrendingSource>());
  registry->Register(Source::kCategoryBestsellers, std::make_unique<CategoryBestsellersSource>());
  registry->Register(Source::kBundleComplements, std::make_unique<BundleComplementsSource>());
  return registry;
}

}  // namespace recsys::recommender
