#include "server/live_tags.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "feature_store/feature_store.h"

namespace recsys::server {

using feature_store::EventType;

LiveTagObserver::LiveTagObserver(const model::ModelStore* models,
                                 intelligence::IntelStore* intel,
                                 metrics::Registry* metrics)
    : models_(models), intel_(intel) {
  if (metrics != nullptr) {
    auto* family = metrics->AddCounter(
        "recsys_live_tag_events_total",
        "Purchase, view and add-to-cart events of catalog items handed to "
        "the live interest tags, by outcome (applied, error).",
        {"outcome"});
    applied_ = family->Get({"applied"});
    failed_ = family->Get({"error"});
  }
}

absl::Status LiveTagObserver::ObserveEvents(
    absl::Span<const feature_store::Event> events, absl::Time deadline) const {
  const std::shared_ptr<const model::ModelBundle> bundle = models_->Current();
  std::vector<intelligence::LiveEvent> live;
  for (const feature_store::Event& e : events) {
    if (e.type != EventType::kPurchase && e.type != EventType::kView &&
        e.type != EventType::kAddToCart) {
      continue;
    }
    const int32_t row = bundle == nullptr ? -1 : bundle->ItemRow(e.item_id);
    if (row < 0) continue;
    intelligence::LiveEvent l;
    l.user_id = e.user_id;
    l.category = bundle->item(row).category;
    if (l.category.empty()) continue;
    l.purchase = e.type == EventType::kPurchase;
    if (l.purchase) l.spend = (e.quantity == 0 ? 1 : e.quantity) * e.price;
    l.time_unix = absl::ToUnixSeconds(e.time);
    l.dedup_key = feature_store::EventDedupKey(e);
    live.push_back(std::move(l));
  }
  if (live.empty()) return absl::OkStatus();
  absl::Status st = intel_->ApplyLiveEvents(live, deadline);
  if (!st.ok()) {
    // The events are stored; the next training run recomputes the tags.
    if (failed_ != nullptr)
      failed_->Increment(static_cast<double>(live.size()));
    LogWarning(absl::StrCat("live tags: ", live.size(),
                            " events not applied: ", st.ToString()));
    return absl::OkStatus();
  }
  if (applied_ != nullptr)
    applied_->Increment(static_cast<double>(live.size()));
  return absl::OkStatus();
}

absl::Status EventObservers::ObserveEvents(
    absl::Span<const feature_store::Event> events, absl::Time deadline) const {
  absl::Status first;
  for (const recommender::EventObserver* o : all_) {
    if (o == nullptr) continue;
    absl::Status st = o->ObserveEvents(events, deadline);
    if (first.ok() && !st.ok()) first = st;
  }
  return first;
}

}  // namespace recsys::server
