#include "recommender/slot_fill.h"

#include <algorithm>
#include <utility>

#include "recommender/fusion.h"
#include "recommender/internal.h"
#include "recommender/rules/campaign_pins.h"
#include "recommender/rules/margin.h"
#include "recommender/rules/role_reservation.h"
#include "recommender/trial_picks.h"

namespace recsys::recommender {

SlotFill::SlotFill(const RequestContext& ctx, const RuleSet& rules, size_t slot,
                   FillProgress* progress)
    : ctx_(ctx), rules_(rules), progress_(progress) {
  state_.index = slot;
  state_.spec = &ctx.request->slots[slot];
  state_.rule = ctx.slot_rules[slot];
  state_.active = &ctx.active[slot];
  out_.name = state_.spec->name;
  out_.items.reserve(state_.spec->k);
}

bool SlotFill::CanShow(int32_t row, bool may_be_bought) const {
  if (progress_->chosen.contains(row)) return false;
  const model::ItemMeta& item = ctx_.model().item(row);
  return rules_.Allows(ctx_, state_, {row, item.item_id, item.category, may_be_bought});
}

bool SlotFill::CanShowNew(const TrialItem& t) const {
  if (progress_->chosen_new.contains(t.item_id)) return false;
  return rules_.Allows(ctx_, state_, {-1, t.item_id, t.category, false});
}

void SlotFill::Take(int32_t row, float score, Explanation why) {
  progress_->chosen.insert(row);
  ++state_.per_category[ctx_.model().item(row).category];
  out_.items.push_back(internal::MakeItem(ctx_.model(), row, score, std::move(why)));
}

void SlotFill::Reserve(const TrialItem& t) {
  if (t.row >= 0) {
    progress_->chosen.insert(t.row);
  } else {
    progress_->chosen_new.insert(t.item_id);
  }
  ++state_.per_category[t.row >= 0 ? ctx_.model().item(t.row).category : t.category];
}

void FillFromCandidates(const RequestContext& ctx, const CandidateLists& lists,
                        const RuleSet& rules, int regular_k, SlotFill* fill) {
  const SlotState& slot = fill->state();
  std::vector<FusedCandidate> merged = FuseRanks(slot.rule->sources, lists);
  for (FusedCandidate& m : merged) m.score = rules.Score(ctx, slot, m.row, m.score, nullptr);
  const bool margin = slot.rule->margin_weight > 0;
  if (margin) WeighMargin(ctx, slot.rule->margin_weight, &merged);
  const std::vector<size_t> order = FusedOrder(merged);
  auto take = [&](const FusedCandidate& m) {
    Explanation why = internal::ExplainCandidate(ctx.model(), *m.why, ctx.anchors);
    rules.Score(ctx, slot, m.row, 1.0f, &why.applied_rules);  // names only: m.score has them
    if (margin) why.applied_rules.push_back("margin");
    fill->Take(m.row, m.score, std::move(why));
  };
  const size_t first = fill->size();
  std::vector<size_t> reserved;
  if (!slot.rule->reserve_roles.empty()) {
    reserved = ReservedPicks(ctx, merged, order, regular_k - static_cast<int>(first), *fill);
    for (size_t i : reserved) take(merged[i]);
  }
  for (size_t i : order) {
    if (fill->size() >= regular_k) break;
    const FusedCandidate& m = merged[i];
    if (!fill->CanShow(m.row, m.from_repurchase)) continue;
    take(m);
  }
  if (!reserved.empty()) {
    // Reserved items take their place by score among the others.
    std::vector<ScoredItem>& items = fill->answer().items;
    std::stable_sort(items.begin() + first, items.end(),
                     [](const ScoredItem& a, const ScoredItem& b) { return a.score > b.score; });
  }
}

void FillPopular(const RequestContext& ctx, int regular_k, FillProgress* progress, SlotFill* fill) {
  const model::ModelBundle& bundle = ctx.model();
  const auto& popular = bundle.popular();
  const double top_buyers =
      popular.empty() ? 1.0 : std::max(1, bundle.item(popular.front()).buyers);
  const std::vector<ScoredItem>& items = fill->answer().items;
  const float fill_scale = items.empty() ? 1.0f : std::min(1.0f, items.back().score);
  const size_t fill_end = ctx.features.known() ? ctx.features.popular_prefix() : popular.size();
  while (fill->size() < regular_k && progress->next_popular < fill_end) {
    const int32_t row = popular[progress->next_popular++];
    if (!fill->CanShow(row, false)) continue;
    fill->Take(row, fill_scale * static_cast<float>(bundle.item(row).buyers / top_buyers),
               internal::ExplainPopular(bundle, row));
  }
}

std::vector<SlotAnswer> FillSlots(const RequestContext& ctx, const CandidateLists& lists,
                                  const RuleSet& rules) {
  std::vector<SlotAnswer> slots;
  slots.reserve(ctx.request->slots.size());
  FillProgress progress;
  progress.chosen.reserve(ctx.total_k);
  for (size_t s = 0; s < ctx.request->slots.size(); ++s) {
    SlotFill fill(ctx, rules, s, &progress);
    PinCampaignItems(ctx, &fill);
    const size_t pinned_count = fill.size();
    const std::vector<const TrialItem*> trial_taken = TakeTrialItems(ctx, &fill);
    const int regular_k = fill.k() - static_cast<int>(trial_taken.size());
    FillFromCandidates(ctx, lists, rules, regular_k, &fill);
    FillPopular(ctx, regular_k, &progress, &fill);
    PlaceTrialItems(ctx, trial_taken, pinned_count, &fill.answer().items);
    slots.push_back(std::move(fill.answer()));
  }
  return slots;
}

}  // namespace recsys::recommender
