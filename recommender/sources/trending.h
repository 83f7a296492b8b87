// TrendingSource (Source::kTrending): the model's popularity list (distinct
// buyers) that passes RequestContext::filter, fetch_k items scored by
// buyers. Reason kTrending.
//
// Thread safety: immutable; Generate is safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_SOURCES_TRENDING_H_
#define RECSYS_RECOMMENDER_SOURCES_TRENDING_H_

#include <vector>

#include "absl/status/statusor.h"
#include "recommender/candidate_source.h"

namespace recsys::recommender {

class TrendingSource : public CandidateSource {
 public:
  absl::StatusOr<std::vector<Candidate>> Generate(const RequestContext& ctx) const override;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_SOURCES_TRENDING_H_
