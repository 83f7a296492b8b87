// Role reservation: a slot's reserve_roles (slots.proto) give positions to
// items of a product role ("traffic", "profit", "image"; the item features'
// role, set through Admin.UpdateItems). For each reservation in config
// order, the best candidates of that role that may be shown are taken first,
// up to its positions (fewer when there are not enough); the rest of the
// slot fills by score as usual, and the slot's regular items are then put in
// score order, so a reserved item takes its place by score, not the top.
//
// Thread safety: stateless.
#ifndef RECSYS_RECOMMENDER_RULES_ROLE_RESERVATION_H_
#define RECSYS_RECOMMENDER_RULES_ROLE_RESERVATION_H_

#include <vector>

#include "recommender/fusion.h"
#include "recommender/request_context.h"
#include "recommender/slot_fill.h"

namespace recsys::recommender {

// The role of model row `row` ("" when not known).
absl::string_view ItemRole(const RequestContext& ctx, int32_t row);

// Indices into `candidates` (a subset of `order`, in the order taken) to
// take first for `fill`'s slot, at most `limit` in all. Each is checked with
// fill->CanShow; the caller takes them.
std::vector<size_t> ReservedPicks(const RequestContext& ctx,
                                  const std::vector<FusedCandidate>& candidates,
                                  const std::vector<size_t>& order, int limit,
                                  const SlotFill& fill);

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_RULES_ROLE_RESERVATION_H_
