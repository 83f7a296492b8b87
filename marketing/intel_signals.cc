#include "marketing/intel_signals.h"

#include "common/status_macros.h"

namespace recsys::marketing {

UserSignals SignalsFromIntel(const intelligence::UserIntel& intel) {
  UserSignals s;
  s.intent = intel.purchase_intent < 0 ? -1 : intel.purchase_intent;
  s.churn_risk = intel.purchase_intent < 0 ? -1 : intel.churn_risk;
  if (!intel.due_items.empty() && intel.due_items.front().due_unix > 0) {
    s.next_due_unix = intel.due_items.front().due_unix;
    s.due_item_id = intel.due_items.front().item_id;
  }
  s.tags = intel.tags;
  if (!intelligence::ParseBirthday(intel.birthday, &s.birthday_month, &s.birthday_day)) {
    s.birthday_month = s.birthday_day = 0;
  }
  return s;
}

absl::StatusOr<std::vector<std::optional<UserSignals>>> IntelSignals::Get(
    absl::Span<const std::string> user_ids, absl::Time deadline) const {
  RECSYS_ASSIGN_OR_RETURN(std::vector<std::optional<intelligence::UserIntel>> records,
                          store_->GetIntels(user_ids, deadline));
  std::vector<std::optional<UserSignals>> out;
  out.reserve(records.size());
  for (const std::optional<intelligence::UserIntel>& r : records) {
    out.push_back(r.has_value() ? std::optional<UserSignals>(SignalsFromIntel(*r))
                                : std::nullopt);
  }
  return out;
}

}  // namespace recsys::marketing
