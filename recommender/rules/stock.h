// StockFilter: never shows an item out of stock; while the store answers,
// never shows a model item whose features the request did not read (items
// past the fetched popular prefix) nor a trial item it did not read. When
// the store did not answer, stock is unknown and everything passes.
//
// Thread safety: stateless; safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_RULES_STOCK_H_
#define RECSYS_RECOMMENDER_RULES_STOCK_H_

#include "recommender/rules/rule.h"

namespace recsys::recommender {

class StockFilter : public ShowFilter {
 public:
  absl::string_view name() const override { return "stock"; }
  bool Allows(const RequestContext& ctx, const SlotState& slot,
              const ShowCandidate& item) const override;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_RULES_STOCK_H_
