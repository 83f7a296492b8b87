// BundleComplementsSource (Source::kBundleComplements): the model's
// "frequently bought together" complements of the 5 most recent distinct
// items the user carted or bought (recent activity, then purchases), each
// kept with its best score and anchor; best first (then row), at most
// fetch_k, never bought or filtered out. Reason kBundleComplement.
//
// Thread safety: immutable; Generate is safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_SOURCES_BUNDLE_COMPLEMENTS_H_
#define RECSYS_RECOMMENDER_SOURCES_BUNDLE_COMPLEMENTS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "recommender/candidate_source.h"

namespace recsys::recommender {

class BundleComplementsSource : public CandidateSource {
 public:
  absl::StatusOr<std::vector<Candidate>> Generate(const RequestContext& ctx) const override;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_SOURCES_BUNDLE_COMPLEMENTS_H_
