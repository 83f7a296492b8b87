// The coupon catalog (marketing/coupons.h ParseCouponCatalog): protobuf text
// format, as read by --coupons. A catalog that parses passes ValidateCatalog,
// and every coupon's discount stays within the order and shipping.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "fuzz/fuzz_util.h"
#include "marketing/coupons.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto catalog = recsys::marketing::ParseCouponCatalog(text, "fuzz");
  if (!catalog.ok()) return 0;
  RECSYS_FUZZ_CHECK(!(!recsys::marketing::ValidateCatalog(*catalog).ok()));
  for (const auto& coupon : catalog->coupons) {
    for (int64_t order :
         {int64_t{0}, int64_t{1}, int64_t{999}, int64_t{100000000}}) {
      const int64_t cents =
          recsys::marketing::DiscountCents(coupon, order, 499);
      RECSYS_FUZZ_CHECK(!(cents > order + 499));
    }
  }
  return 0;
}
