// CategoryBestsellersSource (Source::kCategoryBestsellers): the best sellers
// (model::ModelBundle::category_popular) of the user's top 3 categories by
// purchase count plus recent activity, fetch_k / categories + 1 per
// category, stably sorted by buyers. Reason kCategoryBestseller.
//
// Thread safety: immutable; Generate is safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_SOURCES_CATEGORY_BESTSELLERS_H_
#define RECSYS_RECOMMENDER_SOURCES_CATEGORY_BESTSELLERS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "recommender/candidate_source.h"

namespace recsys::recommender {

class CategoryBestsellersSource : public CandidateSource {
 public:
  absl::StatusOr<std::vector<Candidate>> Generate(const RequestContext& ctx) const override;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_SOURCES_CATEGORY_BESTSELLERS_H_
