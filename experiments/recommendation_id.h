// Recommendation ids: what an answer hands the client so that the events it
// leads to can be attributed (docs/experiments.md, "Attribution").
//
// An id is text of the form
//   1~<issued unix>~<slot>~<exp>:<variant>[:qa],...~<user hash>~<nonce>~<check>
// where the user hash is 8 hex digits of XXH3_64 of the user id (an event
// of another user does not match), the nonce 16 random hex digits and the
// check 8 hex digits of XXH3_64 over everything before it (a truncated or
// edited id is refused). It carries everything attribution needs, so no
// server-side state is written when an answer is served.
//
// Thread safety: free functions; safe to call concurrently.
#ifndef RECSYS_EXPERIMENTS_RECOMMENDATION_ID_H_
#define RECSYS_EXPERIMENTS_RECOMMENDATION_ID_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "experiments/experiment_plan.h"

namespace recsys::experiments {

// Longest id accepted back, in bytes.
inline constexpr size_t kMaxRecommendationIdLength = 1024;

// An assignment by name, as answers carry it.
struct Arm {
  std::string experiment;
  std::string variant;
  // A QA override (not counted).
  bool forced = false;
};

struct RecommendationRef {
  absl::Time issued;
  std::string slot;
  std::vector<Arm> arms;
  uint32_t user_hash = 0;
};

// 32 bits of XXH3_64 of the user id.
uint32_t UserHash(absl::string_view user_id);

// A new id for an answer to `user_id` in `slot` at `now`, carrying those of
// `assignments` that shape `slot` (their experiment lists the slot, or for
// kCouponsSlot has a campaign). The nonce is random.
std::string NewRecommendationId(absl::string_view user_id,
                                absl::string_view slot,
                                absl::Span<const Assignment> assignments,
                                absl::Time now);

// The assignments of `assignments` that shape `slot` (as above), by name.
std::vector<Arm> ArmsFor(absl::Span<const Assignment> assignments,
                         absl::string_view slot);

// Parses an id. InvalidArgument naming `field` when it is malformed (the
// check fails, a part is missing or not of its form).
absl::StatusOr<RecommendationRef> ParseRecommendationId(absl::string_view field,
                                                        absl::string_view id);

}  // namespace recsys::experiments

#endif  // RECSYS_EXPERIMENTS_RECOMMENDATION_ID_H_
