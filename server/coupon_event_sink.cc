#include "server/coupon_event_sink.h"

#include <utility>
#include <vector>

namespace recsys::server {

absl::StatusOr<recommender::CouponEventsOutcome> MarketerCouponSink::RecordCouponEvents(
    absl::Span<const feature_store::Event> events, absl::Span<const int> indices,
    absl::Time deadline) const {
  std::vector<marketing::CouponEvent> coupon_events;
  coupon_events.reserve(events.size());
  for (size_t i = 0; i < events.size(); ++i) {
    const feature_store::Event& e = events[i];
    marketing::CouponEvent& c = coupon_events.emplace_back();
    c.index = indices[i];
    c.redeemed = e.type == feature_store::EventType::kCouponRedeemed;
    c.user_id = e.user_id;
    c.coupon_id = e.coupon_id;
    c.time = e.time;
    c.order_value = e.price;
    c.op_id = feature_store::EventDedupKey(e);
  }
  auto answer = marketer_->RecordCouponEvents(coupon_events, deadline);
  if (!answer.ok()) return answer.status();
  recommender::CouponEventsOutcome outcome;
  outcome.accepted = answer->accepted;
  outcome.duplicates = answer->duplicates;
  outcome.rejected = std::move(answer->rejected);
  outcome.discounts = std::move(answer->discounts);
  return outcome;
}

}  // namespace recsys::server
