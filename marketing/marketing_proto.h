// Conversions between the recsys.v1 marketing messages
// (proto/recsys/v1/marketing.proto) and marketing's domain structs
// (coupon.h, marketing_config.h).
//
// This is an edge unit: the one marketing header that includes generated
// protobuf headers. Only code at the edges includes it: the config readers
// (coupons.cc), the Redis coupon store (its storage format is the proto
// serialization), server/ (the API) and training/ (the model manifest).
// Domain headers never do.
//
// Every field is copied as is, zeros included (no defaults applied), and
// enum values outside the known list are kept as numbers, so
// FromProto(ToProto(x)) == x, and ToProto(FromProto(p)) has every field value
// of p. Only presence may differ: ToProto leaves a coupon's all-default scope
// and eligibility unset (as a parsed catalog without them has them), and
// always sets a config's segments and tiers.
//
// Thread safety: free functions without shared state.
#ifndef RECSYS_MARKETING_MARKETING_PROTO_H_
#define RECSYS_MARKETING_MARKETING_PROTO_H_

#include "marketing/coupon.h"
#include "marketing/marketing_config.h"
#include "recsys/v1/marketing.pb.h"

namespace recsys::marketing {

CouponType FromProto(recsys::v1::CouponType type);
recsys::v1::CouponType ToProto(CouponType type);

Coupon FromProto(const recsys::v1::Coupon& coupon);
recsys::v1::Coupon ToProto(const Coupon& coupon);

CouponCatalog FromProto(const recsys::v1::CouponCatalog& catalog);
recsys::v1::CouponCatalog ToProto(const CouponCatalog& catalog);

CouponState FromProto(const recsys::v1::CouponState& state);
recsys::v1::CouponState ToProto(const CouponState& state);

CouponWithState FromProto(const recsys::v1::CouponWithState& coupon);
recsys::v1::CouponWithState ToProto(const CouponWithState& coupon);

MarketingConfig FromProto(const recsys::v1::MarketingConfig& config);
recsys::v1::MarketingConfig ToProto(const MarketingConfig& config);

}  // namespace recsys::marketing

#endif  // RECSYS_MARKETING_MARKETING_PROTO_H_
