#include "recommender/rules/campaign_pins.h"

#include <algorithm>
#include <string>

#include "recommender/internal.h"

namespace recsys::recommender {

void PinCampaignItems(const RequestContext& ctx, SlotFill* fill) {
  const int k = fill->k();
  for (const TimeRule* r : *fill->state().active) {
    if (r->pinned_share <= 0) continue;
    const int quota = std::max(1, static_cast<int>(r->pinned_share * k));
    int pinned = 0;
    for (const std::string& id : r->pinned_items) {
      if (pinned >= quota || fill->size() >= k) break;
      const int32_t row = ctx.model().ItemRow(id);
      if (row < 0 || !fill->CanShow(row, false)) continue;
      fill->Take(row, 1.0f, internal::ExplainCampaign(ctx.model(), row, r->name));
      ++pinned;
    }
  }
}

}  // namespace recsys::recommender
