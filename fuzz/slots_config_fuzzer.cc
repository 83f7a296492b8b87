// The storefront slot configuration (recommender/slot_config.h): protobuf
// text format of recsys.v1.SlotsConfig, as read by --slots_config. A plan
// that parses is queried like the recommender queries it.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "fuzz/fuzz_util.h"
#include "recommender/slot_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  auto plan = recsys::recommender::SlotPlan::Parse(text, "fuzz");
  if (!plan.ok()) return 0;
  const absl::Time times[] = {absl::FromUnixSeconds(0),
                              absl::FromUnixSeconds(1700000000),
                              absl::FromUnixSeconds(1735689599),
                              absl::InfinitePast(), absl::InfiniteFuture()};
  for (const auto& slot : (*plan)->slots()) {
    RECSYS_FUZZ_CHECK(!((*plan)->Find(slot.name) == nullptr));
    for (absl::Time t : times) (void)(*plan)->ActiveRules(slot.name, t);
  }
  (void)(*plan)->Find("not configured");
  (void)(*plan)->ActiveRules("", times[1]);
  return 0;
}
