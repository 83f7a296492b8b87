#include "bench/load_stats.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/random.h"

namespace recsys::bench {

absl::string_view RequestKindName(RequestKind kind) {
  switch (kind) {
    case RequestKind::kHomeKnown: return "home_known";
    case RequestKind::kHomeNew: return "home_new";
    case RequestKind::kHomeUnknown: return "home_unknown";
    case RequestKind::kSimilar: return "similar";
    case RequestKind::kCoupons: return "coupons";
    case RequestKind::kHealth: return "health";
    case RequestKind::kEvents:
      return "events";
    case RequestKind::kProfile:
      return "profile";
    case RequestKind::kPurchase:
      return "purchase";
  }
  return "?";
}

absl::StatusOr<RequestMix> RequestMix::Parse(absl::string_view spec) {
  RequestMix mix;
  std::array<bool, kNumRequestKinds> seen{};
  for (absl::string_view entry : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    entry = absl::StripAsciiWhitespace(entry);
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(entry, ':');
    int kind = -1;
    for (int k = 0; k < kNumRequestKinds; ++k) {
      if (RequestKindName(static_cast<RequestKind>(k)) == kv.first) kind = k;
    }
    if (kind < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mix: unknown request kind '", kv.first,
          "' (known: home_known, home_new, home_unknown, similar, coupons, health, events, "
          "profile, purchase)"));
    }
    if (seen[kind]) {
      return absl::InvalidArgumentError(absl::StrCat("mix: '", kv.first, "' given twice"));
    }
    seen[kind] = true;
    int64_t weight = 0;
    if (!absl::SimpleAtoi(kv.second, &weight) || weight < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "mix: weight of '", kv.first, "' must be an integer >= 0, got '", kv.second, "'"));
    }
    mix.weights_[kind] = weight;
    mix.total_ += weight;
  }
  if (mix.total_ <= 0) {
    return absl::InvalidArgumentError("mix: at least one kind needs a weight > 0");
  }
  return mix;
}

RequestKind RequestMix::Pick(uint64_t r) const {
  // r * total / 2^64 without overflow: the high half of the 128-bit product.
  const uint64_t slot = static_cast<uint64_t>(
      (static_cast<unsigned __int128>(r) * static_cast<uint64_t>(total_)) >> 64);
  uint64_t upto = 0;
  for (int k = 0; k < kNumRequestKinds; ++k) {
    upto += static_cast<uint64_t>(weights_[k]);
    if (slot < upto) return static_cast<RequestKind>(k);
  }
  return RequestKind::kHomeKnown;  // unreachable with total_ > 0
}

std::string RequestMix::ToString() const {
  std::vector<std::string> parts;
  for (int k = 0; k < kNumRequestKinds; ++k) {
    if (weights_[k] > 0) {
      parts.push_back(absl::StrCat(RequestKindName(static_cast<RequestKind>(k)), ":",
                                   weights_[k]));
    }
  }
  return absl::StrJoin(parts, ",");
}

absl::Time OpenLoopSchedule::SendTime(int64_t i) const {
  return start_ + absl::Nanoseconds(static_cast<int64_t>(
                      std::llround(static_cast<double>(i) * 1e9 / rate_)));
}

int64_t OpenLoopSchedule::CountWithin(absl::Duration d) const {
  if (d <= absl::ZeroDuration()) return 0;
  // The smallest i with SendTime(i) >= start + d.
  int64_t i = static_cast<int64_t>(std::ceil(absl::ToDoubleSeconds(d) * rate_));
  while (i > 0 && SendTime(i - 1) >= start_ + d) --i;
  while (SendTime(i) < start_ + d) ++i;
  return i;
}

PlannedRequest RequestPlanner::Plan(int64_t i) const {
  const uint64_t base = Mix64(seed_ ^ Mix64(static_cast<uint64_t>(i)));
  PlannedRequest p;
  p.kind = mix_.Pick(base);
  const uint64_t r1 = Mix64(base + 1), r2 = Mix64(base + 2);
  p.user = num_users_ > 0 ? static_cast<int64_t>(r1 % static_cast<uint64_t>(num_users_)) : 0;
  p.item = num_items_ > 0 ? static_cast<int64_t>(r2 % static_cast<uint64_t>(num_items_)) : 0;
  return p;
}

LatencySummary Summarize(std::vector<absl::Duration>* samples) {
  LatencySummary s;
  s.count = static_cast<int64_t>(samples->size());
  if (samples->empty()) return s;
  std::sort(samples->begin(), samples->end());
  auto at = [&](double q) {
    // Nearest rank: ceil(q * n), 1-based.
    int64_t rank = static_cast<int64_t>(std::ceil(q * static_cast<double>(s.count) - 1e-9));
    rank = std::clamp<int64_t>(rank, 1, s.count);
    return (*samples)[rank - 1];
  };
  absl::Duration total;
  for (absl::Duration d : *samples) total += d;
  s.mean = total / s.count;
  s.p50 = at(0.50);
  s.p90 = at(0.90);
  s.p99 = at(0.99);
  s.p999 = at(0.999);
  s.max = samples->back();
  return s;
}

void LatencyRecorder::Record(RequestKind kind, int code, absl::Duration latency) {
  absl::MutexLock lock(&mu_);
  const int k = static_cast<int>(kind);
  ++data_.codes[k][code];
  if (code == 0) data_.latencies[k].push_back(latency);
}

LatencyRecorder::Snapshot LatencyRecorder::Take() const {
  absl::MutexLock lock(&mu_);
  return data_;
}

std::string StatusCodeName(int code) {
  static constexpr const char* kNames[] = {
      "OK",        "CANCELLED",         "UNKNOWN",          "INVALID_ARGUMENT",
      "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS",   "PERMISSION_DENIED",
      "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL",      "UNAVAILABLE",      "DATA_LOSS",
      "UNAUTHENTICATED"};
  if (code >= 0 && code < static_cast<int>(std::size(kNames))) return kNames[code];
  return absl::StrCat("CODE_", code);
}

}  // namespace recsys::bench
