// The request checks below the service: common/validation.h (IsValidUtf8,
// CheckId, CheckClientTime) against a plain reference of the documented
// rules, and feature_store/validation.h on event, user and item batches,
// which are then written to the in-memory store (a batch the checks accept
// must store).
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/validation.h"
#include "feature_store/feature_store.h"
#include "feature_store/in_memory_feature_store.h"
#include "feature_store/validation.h"
#include "fuzz/fuzz_util.h"

namespace {

namespace fstore = recsys::feature_store;

// Reference UTF-8 check, written from the definition (RFC 3629 table 3-7).
bool ReferenceUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = b(i);
    int n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c == 0xE0) {
      n = 2, lo = 0xA0;
    } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
      n = 2;
    } else if (c == 0xED) {
      n = 2, hi = 0x9F;
    } else if (c == 0xF0) {
      n = 3, lo = 0x90;
    } else if (c >= 0xF1 && c <= 0xF3) {
      n = 3;
    } else if (c == 0xF4) {
      n = 3, hi = 0x8F;
    } else {
      return false;
    }
    // The lead byte and its n continuation bytes must all be there.
    if (i + static_cast<size_t>(n) >= s.size()) return false;
    if (b(i + 1) < lo || b(i + 1) > hi) return false;
    for (int k = 2; k <= n; ++k) {
      if (b(i + k) < 0x80 || b(i + k) > 0xBF) return false;
    }
    i += n + 1;
  }
  return true;
}

bool ReferenceId(const std::string& id) {
  if (id.empty() || id.size() > recsys::kMaxIdLength || !ReferenceUtf8(id))
    return false;
  for (char c : id) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

absl::Time ConsumeTime(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 3)) {
    case 0:
      return absl::InfinitePast();
    case 1:
      return absl::InfiniteFuture();
    case 2:
      return absl::FromUnixSeconds(
          in.ConsumeIntegralInRange<int64_t>(0, 4000000000));
    default:
      return absl::FromUnixNanos(in.ConsumeIntegral<int64_t>());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const std::string id = in.ConsumeRandomLengthString(300);
  RECSYS_FUZZ_CHECK(recsys::IsValidUtf8(id) == ReferenceUtf8(id));
  const absl::Status id_status = recsys::CheckId("events[0].user_id", id);
  RECSYS_FUZZ_CHECK(id_status.ok() == ReferenceId(id));
  if (!id_status.ok()) {
    RECSYS_FUZZ_CHECK(id_status.code() == absl::StatusCode::kInvalidArgument);
    RECSYS_FUZZ_CHECK(id_status.message().rfind("events[0].user_id", 0) == 0);
  }
  const absl::Time now = absl::FromUnixSeconds(1700000000);
  const absl::Time t = ConsumeTime(in);
  RECSYS_FUZZ_CHECK(recsys::CheckClientTime("t", t, now).ok() ==
                    (t >= absl::FromUnixSeconds(recsys::kEarliestUnixSeconds) &&
                     t <= now + recsys::kMaxClockAhead));

  std::vector<fstore::Event> events(in.ConsumeIntegralInRange(0, 8));
  for (fstore::Event& e : events) {
    e.type = static_cast<fstore::EventType>(in.ConsumeIntegralInRange(-1, 9));
    e.user_id = in.ConsumeRandomLengthString(40);
    e.item_id = in.ConsumeRandomLengthString(40);
    e.coupon_id = in.ConsumeRandomLengthString(20);
    e.time = ConsumeTime(in);
    e.quantity = in.ConsumeIntegral<int32_t>();
    e.price = in.ConsumeFloatingPoint<double>();
    e.slot = in.ConsumeRandomLengthString(20);
    e.count_for_trial = in.ConsumeBool();
  }
  std::vector<fstore::UserFeatures> users(in.ConsumeIntegralInRange(0, 3));
  for (fstore::UserFeatures& u : users) {
    u.user_id = in.ConsumeRandomLengthString(20);
    u.purchases.resize(in.ConsumeIntegralInRange(0, 3));
    for (auto& p : u.purchases) {
      p.item_id = in.ConsumeRandomLengthString(20);
      p.count = in.ConsumeIntegral<int32_t>();
      p.last_purchase = ConsumeTime(in);
    }
  }
  std::vector<fstore::ItemFeatures> items(in.ConsumeIntegralInRange(0, 3));
  for (fstore::ItemFeatures& it : items) {
    it.item_id = in.ConsumeRandomLengthString(20);
    it.category = in.ConsumeRandomLengthString(20);
    it.price = in.ConsumeFloatingPoint<double>();
    it.stock = in.ConsumeIntegral<int64_t>();
    it.slow_mover = in.ConsumeBool();
    it.listed = ConsumeTime(in);
  }

  fstore::InMemoryFeatureStore store;
  const absl::Time deadline = absl::InfiniteFuture();
  if (fstore::internal::ValidateItems(items).ok())
    RECSYS_FUZZ_CHECK(store.PutItems(items).ok());
  if (fstore::internal::ValidateUsers(users).ok())
    RECSYS_FUZZ_CHECK(store.PutUsers(users).ok());
  if (fstore::internal::ValidateEvents(events).ok()) {
    RECSYS_FUZZ_CHECK(store.RecordEvents(events, deadline).ok());
  }
  for (const fstore::Event& e : events) {
    if (!e.user_id.empty()) (void)store.GetUser(e.user_id, deadline);
  }
  std::vector<std::string> ids;
  for (const fstore::ItemFeatures& it : items) ids.push_back(it.item_id);
  if (fstore::internal::ValidateItemIds(ids).ok())
    (void)store.GetItems(ids, deadline);
  (void)store.GetListedItems(10, deadline);
  return 0;
}
