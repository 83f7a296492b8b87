#include "experiments/recommendation_id.h"

#include <xxhash.h>

#include <random>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/random.h"

namespace recsys::experiments {
namespace {

constexpr char kVersion[] = "1";

uint32_t Check(absl::string_view body) {
  return static_cast<uint32_t>(XXH3_64bits(body.data(), body.size()));
}

uint64_t Nonce() {
  thread_local Rng rng(std::random_device{}() ^
                       (static_cast<uint64_t>(std::random_device{}()) << 32));
  return rng.Next();
}

bool IsHex(absl::string_view s, size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c)) ||
        absl::ascii_isupper(c)) {
      return false;
    }
  }
  return true;
}

bool IsSlotName(absl::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' &&
        c != '-' && c != '.') {
      return false;
    }
  }
  return true;
}

bool Shapes(const Experiment& e, absl::string_view slot) {
  if (slot == kCouponsSlot) return !e.campaigns.empty();
  return e.slots.contains(slot);
}

}  // namespace

uint32_t UserHash(absl::string_view user_id) {
  return static_cast<uint32_t>(XXH3_64bits(user_id.data(), user_id.size()));
}

std::vector<Arm> ArmsFor(absl::Span<const Assignment> assignments,
                         absl::string_view slot) {
  std::vector<Arm> out;
  for (const Assignment& a : assignments) {
    if (Shapes(*a.experiment, slot))
      out.push_back({a.experiment->name, a.variant->name, a.forced});
  }
  return out;
}

std::string NewRecommendationId(absl::string_view user_id,
                                absl::string_view slot,
                                absl::Span<const Assignment> assignments,
                                absl::Time now) {
  std::string arms;
  for (const Assignment& a : assignments) {
    if (!Shapes(*a.experiment, slot)) continue;
    absl::StrAppend(&arms, arms.empty() ? "" : ",", a.experiment->name, ":",
                    a.variant->name, a.forced ? ":qa" : "");
  }
  std::string body = absl::StrCat(
      kVersion, "~", absl::ToUnixSeconds(now), "~", slot, "~", arms, "~",
      absl::StrFormat("%08x~%016x", UserHash(user_id), Nonce()));
  absl::StrAppend(&body, absl::StrFormat("~%08x", Check(body)));
  return body;
}

absl::StatusOr<RecommendationRef> ParseRecommendationId(absl::string_view field,
                                                        absl::string_view id) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": malformed recommendation id (", why, ")"));
  };
  if (id.size() > kMaxRecommendationIdLength) return bad("too long");
  const size_t last = id.rfind('~');
  if (last == absl::string_view::npos) return bad("not an id of this service");
  const absl::string_view body = id.substr(0, last);
  const absl::string_view check = id.substr(last + 1);
  if (!IsHex(check, 8) || absl::StrFormat("%08x", Check(body)) != check) {
    return bad("check digits do not match: truncated or edited");
  }
  const std::vector<absl::string_view> parts = absl::StrSplit(body, '~');
  if (parts.size() != 6 || parts[0] != kVersion) return bad("unknown layout");
  RecommendationRef ref;
  int64_t issued = 0;
  if (!absl::SimpleAtoi(parts[1], &issued) || issued < 0)
    return bad("issue time");
  ref.issued = absl::FromUnixSeconds(issued);
  if (!IsSlotName(parts[2])) return bad("slot");
  ref.slot = std::string(parts[2]);
  if (!parts[3].empty()) {
    for (absl::string_view arm : absl::StrSplit(parts[3], ',')) {
      const std::vector<absl::string_view> f = absl::StrSplit(arm, ':');
      if (f.size() < 2 || f.size() > 3 || (f.size() == 3 && f[2] != "qa") ||
          !CheckName("", f[0]).ok() || !CheckName("", f[1]).ok()) {
        return bad("assignment");
      }
      ref.arms.push_back({std::string(f[0]), std::string(f[1]), f.size() == 3});
    }
  }
  uint32_t user_hash = 0;
  if (!IsHex(parts[4], 8) || !absl::SimpleHexAtoi(parts[4], &user_hash))
    return bad("user");
  ref.user_hash = user_hash;
  if (!IsHex(parts[5], 16)) return bad("nonce");
  return ref;
}

}  // namespace recsys::experiments
