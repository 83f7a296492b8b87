// The marketing configuration (marketing/coupons.h ParseMarketingConfig):
// protobuf text format, as read by --marketing_config. What parses must
// pass ValidateMarketingConfig (defaults applied).
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "fuzz/fuzz_util.h"
#include "marketing/coupons.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = recsys::marketing::ParseMarketingConfig(text, "fuzz");
  RECSYS_FUZZ_CHECK(!config.ok() ||
                    recsys::marketing::ValidateMarketingConfig(*config).ok());
  return 0;
}
