// Repurchase window: a bought item never returns through discovery sources;
// through a repurchase source (buy-again, blended) it returns when no
// repurchase rules are configured, or when its category is repurchasable
// (Rules::repurchasable_min_days) and its minimum days since the last
// purchase have passed. The filter also applies the request's filters and
// exclusions (RequestContext::filter / repurchase_filter) to model items.
//
// Thread safety: stateless; safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_RULES_REPURCHASE_WINDOW_H_
#define RECSYS_RECOMMENDER_RULES_REPURCHASE_WINDOW_H_

#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "model/model_store.h"
#include "recommender/rules/rule.h"
#include "recommender/slot_config.h"

namespace recsys::recommender {

// The rows of `bought_rows` that must not return at `now_unix`. `history`
// maps a bought row to its purchase (rows not in it may always return).
absl::flat_hash_set<int32_t> NotDueRows(
    const model::ModelBundle& bundle, const Rules& rules,
    const absl::flat_hash_map<int32_t, const model::HistoryEntry*>& history,
    const absl::flat_hash_set<int32_t>& bought_rows, int64_t now_unix);

class RepurchaseWindowFilter : public ShowFilter {
 public:
  absl::string_view name() const override { return "repurchase_window"; }
  // Trial items the model does not know (row -1) pass.
  bool Allows(const RequestContext& ctx, const SlotState& slot,
              const ShowCandidate& item) const override;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_RULES_REPURCHASE_WINDOW_H_
