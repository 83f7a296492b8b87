// MarketerCouponSink: hands the coupon events of a RecordEvents batch from
// the storefront (recommender::Storefront) to the marketing engine. It lives
// here, at the composition layer, because the recommender and marketing are
// peers that do not include each other.
//
// Thread safety: as marketing::Marketer, safe for concurrent use.
#ifndef RECSYS_SERVER_COUPON_EVENT_SINK_H_
#define RECSYS_SERVER_COUPON_EVENT_SINK_H_

#include "marketing/marketer.h"
#include "recommender/storefront.h"

namespace recsys::server {

class MarketerCouponSink final : public recommender::CouponEventSink {
 public:
  // `marketer` is borrowed and must outlive the sink.
  explicit MarketerCouponSink(const marketing::Marketer* marketer) : marketer_(marketer) {}

  absl::StatusOr<recommender::CouponEventsOutcome> RecordCouponEvents(
      absl::Span<const feature_store::Event> events, absl::Span<const int> indices,
      absl::Time deadline) const override;

 private:
  const marketing::Marketer* const marketer_;
};

}  // namespace recsys::server

#endif  // RECSYS_SERVER_COUPON_EVENT_SINK_H_
