#include "marketing/intel_signals.h"

namespace recsys::marketing {

UserSignals SignalsFromIntel(const intelligence::UserIntel& intel) {
  UserSignals s;
  s.intent = intel.purchase_intent < 0 ? -1 : intel.purchase_intent;
  s.churn_risk = intel.purchase_intent < 0 ? -1 : intel.churn_risk;
  if (!intel.due_items.empty() && intel.due_items.front().due_unix > 0) {
    s.next_due_unix = intel.due_items.front().due_unix;
    s.due_item_id = intel.due_items.front().item_id;
  }
  if (!intelligence::ParseBirthday(intel.birthday, &s.birthday_month, &s.birthday_day)) {
    s.birthday_month = s.birthday_day = 0;
  }
  return s;
}

absl::StatusOr<std::vector<std::optional<UserSignals>>> IntelSignals::Get(
    absl::Span<const std::string> user_ids, absl::Time deadline) const {
  std::vector<std::optional<UserSignals>> out;
  out.reserve(user_ids.size());
  for (const std::string& user : user_ids) {
    absl::StatusOr<intelligence::UserIntel> intel =
        store_->GetIntel(user, deadline);
    if (absl::IsNotFound(intel.status())) {
      out.push_back(std::nullopt);
      continue;
    }
    if (!intel.ok()) return intel.status();
    out.push_back(SignalsFromIntel(*intel));
  }
  return out;
}

}  // namespace recsys::marketing
