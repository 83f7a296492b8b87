// Slot filling: the slots of one request filled in request order, never
// repeating an item across them.
//
// Each slot: campaign items pinned by active festivals
// (rules/campaign_pins.h) → the slot's trial-pool quota (trial_picks.h) →
// its fused candidates (fusion.h) scored by the rule multipliers and shown
// when every filter allows them (rules/rule_set.h) → popular items filling
// what is left (scored below what the sources chose, only from the fetched
// popular prefix while the store answers) → the trial items placed at
// evenly spaced positions after the pinned ones.
//
// Thread safety: a SlotFill is used by one thread; FillSlots is safe to
// call concurrently on distinct requests.
#ifndef RECSYS_RECOMMENDER_SLOT_FILL_H_
#define RECSYS_RECOMMENDER_SLOT_FILL_H_

#include <cstdint>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "recommender/candidate.h"
#include "recommender/recommender.h"
#include "recommender/request_context.h"
#include "recommender/rules/rule.h"
#include "recommender/rules/rule_set.h"
#include "recommender/trial_pool.h"

namespace recsys::recommender {

// What the slots of one request share: the items already taken.
struct FillProgress {
  absl::flat_hash_set<int32_t> chosen;
  // Trial items unknown to the model, by id (pointing into ctx.trial).
  absl::flat_hash_set<absl::string_view> chosen_new;
  // Next position of the popular fill in the model's popularity list.
  size_t next_popular = 0;
};

// One slot being filled. `ctx`, `rules` and `*progress` are borrowed and
// must outlive it.
class SlotFill {
 public:
  SlotFill(const RequestContext& ctx, const RuleSet& rules, size_t slot, FillProgress* progress);

  const SlotState& state() const { return state_; }
  int k() const { return state_.spec->k; }
  int size() const { return static_cast<int>(out_.items.size()); }

  // Model item `row` is not taken yet in any slot and the rules allow it
  // here (`may_be_bought`: it comes from a repurchase source).
  bool CanShow(int32_t row, bool may_be_bought) const;
  // The same for a trial item the model does not know.
  bool CanShowNew(const TrialItem& t) const;
  // Appends model item `row`.
  void Take(int32_t row, float score, Explanation why);
  // Counts a trial item as taken (placed later by PlaceTrialItems).
  void Reserve(const TrialItem& t);

  SlotAnswer& answer() { return out_; }

 private:
  const RequestContext& ctx_;
  const RuleSet& rules_;
  FillProgress* const progress_;
  SlotState state_;
  SlotAnswer out_;
};

// Fused candidates of the slot's sources, best first after the rules, up to
// `regular_k` items in `*fill`.
void FillFromCandidates(const RequestContext& ctx, const CandidateLists& lists,
                        const RuleSet& rules, int regular_k, SlotFill* fill);

// Popular items up to `regular_k` items in `*fill`, from
// progress->next_popular on.
void FillPopular(const RequestContext& ctx, int regular_k, FillProgress* progress, SlotFill* fill);

// Every slot of ctx.request, in request order.
std::vector<SlotAnswer> FillSlots(const RequestContext& ctx, const CandidateLists& lists,
                                  const RuleSet& rules);

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_SLOT_FILL_H_
