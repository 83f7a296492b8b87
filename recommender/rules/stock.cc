#include "recommender/rules/stock.h"

namespace recsys::recommender {

bool StockFilter::Allows(const RequestContext& ctx, const SlotState& /*slot*/,
                         const ShowCandidate& item) const {
  const ItemFeatureLookup& features = ctx.features;
  if (!features.known()) return true;
  if (item.row >= 0) {
    if (!features.Checked(item.row)) return false;
    const feature_store::ItemFeatures* f = features.Of(item.row);
    return f == nullptr || f->stock != 0;
  }
  const std::optional<feature_store::ItemFeatures>* f = features.OfNew(item.item_id);
  if (f == nullptr) return false;
  return !f->has_value() || (*f)->stock != 0;
}

}  // namespace recsys::recommender
