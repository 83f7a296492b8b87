// BuyAgainSource (Source::kBuyAgain): the user's purchases that are due again
// (rules/repurchase_window.h) and pass the request filters, scored by
// purchase count. Order: first the items due now by the user's repurchase
// cycle (RequestContext::cycles, from the intelligence record), earliest
// due first; then the items without a known cycle, most purchased first
// (then most recent, then row); last the items whose cycle says they are
// not due yet, soonest due first. Reason kBuyAgain.
//
// Thread safety: immutable; Generate is safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_SOURCES_BUY_AGAIN_H_
#define RECSYS_RECOMMENDER_SOURCES_BUY_AGAIN_H_

#include <vector>

#include "absl/status/statusor.h"
#include "recommender/candidate_source.h"

namespace recsys::recommender {

class BuyAgainSource : public CandidateSource {
 public:
  bool repurchase() const override { return true; }
  absl::StatusOr<std::vector<Candidate>> Generate(const RequestContext& ctx) const override;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_SOURCES_BUY_AGAIN_H_
