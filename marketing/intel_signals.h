// IntelSignals: the trigger engine's UserSignalsSource (trigger_engine.h)
// read from the nightly customer-intelligence records
// (intelligence/intel_store.h), so that the win-back and replenishment
// rules act on the computed churn risk, purchase intent and repurchase
// times (docs/marketing.md, "Per-user signals").
//
// Mapping of a UserIntel record to UserSignals:
//   churn_risk    = churn_risk, or unknown (-1) when no intent model was
//                   fitted (purchase_intent < 0): the rule's segment
//                   fallback then decides;
//   intent        = purchase_intent (-1 unknown);
//   next_due_unix = the earliest due item's time, due_item_id names it
//                   (0: no due item; the record keeps only items overdue
//                   by at most one cycle, so a long-lapsed customer is not
//                   "due", and the order-level next_purchase_unix, which
//                   has no such bound, is not used);
//   monetary, usual_active_hour: unknown (the segment record's spend and
//                   the engine's own hour histogram stand in);
//   birthday_month, birthday_day = the record's birthday (0: none).
// A user without a record (NotFound) has no signals (nullopt).
//
// Thread safety: safe for concurrent calls when the store is (every
// IntelStore is).
#ifndef RECSYS_MARKETING_INTEL_SIGNALS_H_
#define RECSYS_MARKETING_INTEL_SIGNALS_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "intelligence/intel.h"
#include "intelligence/intel_store.h"
#include "marketing/trigger_engine.h"

namespace recsys::marketing {

// The signals of one record (the mapping above).
UserSignals SignalsFromIntel(const intelligence::UserIntel& intel);

class IntelSignals final : public UserSignalsSource {
 public:
  // `store` is borrowed and must outlive this object.
  explicit IntelSignals(const intelligence::IntelStore* store)
      : store_(store) {}

  // One batched store read (IntelStore::GetIntels). Its errors
  // (Unavailable / DeadlineExceeded, InvalidArgument for a bad id) are
  // returned as they are.
  absl::StatusOr<std::vector<std::optional<UserSignals>>> Get(
      absl::Span<const std::string> user_ids,
      absl::Time deadline) const override;

 private:
  const intelligence::IntelStore* const store_;
};

}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_INTEL_SIGNALS_H_
