// SimilarToRecentSource (Source::kSimilarToRecent): the nearest items by
// cosine to each of the 5 most recent distinct items the user touched
// (recent activity other than impressions, then purchases), each item kept
// with its best score and anchor; best first (then row), at most fetch_k,
// never bought or filtered out. Reason kSimilarToItem.
//
// Thread safety: immutable; Generate is safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_SOURCES_SIMILAR_TO_RECENT_H_
#define RECSYS_RECOMMENDER_SOURCES_SIMILAR_TO_RECENT_H_

#include <vector>

#include "absl/status/statusor.h"
#include "recommender/candidate_source.h"

namespace recsys::recommender {

class SimilarToRecentSource : public CandidateSource {
 public:
  absl::StatusOr<std::vector<Candidate>> Generate(const RequestContext& ctx) const override;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_SOURCES_SIMILAR_TO_RECENT_H_
