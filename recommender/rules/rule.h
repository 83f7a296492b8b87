// The two shapes of a business rule on the slot-filling path.
//
// ScoreRule: multiplies an item's fused score (a boost or a penalty) and
// names itself in the item's Explanation::applied_rules. ShowFilter: decides
// whether an item may be shown in a slot at all. Each rule is one class in
// one file of this folder, registered in rule_set.cc; rules read the
// request (RequestContext) and the slot being filled (SlotState) and hold
// no state of their own.
//
// Thread safety: implementations are immutable; every method is const and
// safe to call concurrently.
#ifndef RECSYS_RECOMMENDER_RULES_RULE_H_
#define RECSYS_RECOMMENDER_RULES_RULE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "recommender/request_context.h"
#include "recommender/slot_config.h"

namespace recsys::recommender {

// The slot being filled, as rules see it.
struct SlotState {
  size_t index = 0;                // in request.slots and RequestContext's per-slot vectors
  const SlotSpec* spec = nullptr;  // the request's slot
  const SlotRule* rule = nullptr;  // its configuration
  const std::vector<const TimeRule*>* active = nullptr;  // time rules active for it
  // Items taken so far per category (model items and trial items).
  absl::flat_hash_map<absl::string_view, int> per_category;
};

// An item a slot is about to show.
struct ShowCandidate {
  int32_t row = -1;            // model row; -1: a trial item the model does not know
  absl::string_view item_id;   // set for row -1
  absl::string_view category;  // the model's category, or the trial item's
  // Came from a repurchase source (buy-again, blended): a bought item may
  // return once due.
  bool may_be_bought = false;
};

class ScoreRule {
 public:
  virtual ~ScoreRule() = default;
  // `score` times this rule's multiplier(s) for model row `row` (the score
  // unchanged when the rule does not apply). When `applied` is not null,
  // appends the name of each multiplier applied ("low_stock", ...).
  virtual float Apply(const RequestContext& ctx, const SlotState& slot, int32_t row, float score,
                      std::vector<std::string>* applied) const = 0;
};

class ShowFilter {
 public:
  virtual ~ShowFilter() = default;
  // The rule's name ("stock", ...), for logs and tests.
  virtual absl::string_view name() const = 0;
  // False when `item` must not be shown in `slot`.
  virtual bool Allows(const RequestContext& ctx, const SlotState& slot,
                      const ShowCandidate& item) const = 0;
};

}  // namespace recsys::recommender

#endif  // RECSYS_RECOMMENDER_RULES_RULE_H_
