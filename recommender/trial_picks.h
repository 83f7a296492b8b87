// Trial picks: which trial-pool items (trial_pool.h) a request shows and
// where.
//
// Eligible items (PickTrialItems): in their trial window at the request
// time, passing the request's filters, not excluded nor bought; best for
// the user first (dot product of the query and the item's vector), items in
// the user's recent impressions (rules/rotation.h) last, ties spread by
// RequestUniform per item. Each slot with a trial_share takes its quota
// (TrialQuota: floor(share * k), plus one with the fractional part's
// probability, drawn per request and slot) of the eligible items its
// filters allow (TakeTrialItems), and places them once the rest is filled
// (PlaceTrialItems).
//
// Thread safety: free functions; PickTrialItems writes the context it is
// given, the others only read it.
#ifndef RECSYS_RECOMMENDER_TRIAL_PICKS_H_
#define RECSYS_RECOMMENDER_TRIAL_PICKS_H_

#include <vector>

#include "absl/time/time.h"
#include "recommender/request_context.h"
#include "recommender/slot_fill.h"
#include "recommender/trial_pool.h"

namespace recsys::recommender {

// When a slot of ctx has a trial share: reads the pool's snapshot (bounded
// by `deadline`) into ctx->trial and its eligible items, ranked, into
// ctx->trial_items. Otherwise leaves both empty.
void PickTrialItems(const TrialPool& pool, absl::Time deadline, RequestContext* ctx);

// The eligible items of `snapshot` for `ctx`, ranked (pointing into
// `snapshot`).
std::vector<const TrialItem*> RankTrialItems(const RequestContext& ctx,
                                             const TrialSnapshot& snapshot);

// How many trial items a slot of `k` positions with `share` takes, given a
// number `uniform` in [0, 1) drawn for the request and slot, and at most
// `room`.
int TrialQuota(float share, int k, double uniform, int room);

// Takes the slot's quota of ctx.trial_items that `*fill` can show; they are
// counted as taken (SlotFill::Reserve) and returned in order.
std::vector<const TrialItem*> TakeTrialItems(const RequestContext& ctx, SlotFill* fill);

// Inserts `taken` into `*items` at evenly spaced positions after the first
// `pinned_count`, each carrying the score of the position it takes.
void PlaceTrialItems(const RequestContext& ctx, const std::vector<const TrialItem*>& taken,
                     size_t pinned_count, std::vector<ScoredItem>* items);

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_TRIAL_PICKS_H_
