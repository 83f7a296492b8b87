// Campaign pins: the items a festival active for the slot pins
// (TimeRule::pinned_items) open the slot, up to max(1, pinned_share * k)
// per festival, in the festival's order, scored 1 and explained as
// kCampaign with "festival:<name>" applied. Pinned items obey the filters
// like any other.
//
// Thread safety: stateless.
#ifndef RECSYS_RECOMMENDER_RULES_CAMPAIGN_PINS_H_
#define RECSYS_RECOMMENDER_RULES_CAMPAIGN_PINS_H_

#include "recommender/request_context.h"
#include "recommender/slot_fill.h"

namespace recsys::recommender {

// Takes the pinned items of the time rules active for `*fill`'s slot.
void PinCampaignItems(const RequestContext& ctx, SlotFill* fill);

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_RULES_CAMPAIGN_PINS_H_
