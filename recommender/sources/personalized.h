// PersonalizedSource (Source::kPersonalized): the fetch_k items nearest to the
// user's query vector by inner product, never bought or filtered out
// (RequestContext::filter); none for a user without a query vector.
// Reason kPersonalized.
//
// Thread safety: immutable; Generate is safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_SOURCES_PERSONALIZED_H_
#define RECSYS_RECOMMENDER_SOURCES_PERSONALIZED_H_

#include <vector>

#include "absl/status/statusor.h"
#include "recommender/candidate_source.h"

namespace recsys::recommender {

class PersonalizedSource : public CandidateSource {
 public:
  absl::StatusOr<std::vector<Candidate>> Generate(const RequestContext& ctx) const override;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_SOURCES_PERSONALIZED_H_
