#include "common/validation.h"

#include <cstdint>

#include "absl/strings/str_cat.h"

namespace recsys {

bool IsValidUtf8(absl::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const unsigned char* end = p + bytes.size();
  while (p < end) {
    const unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int len = 0;
    uint32_t cp = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;  // continuation byte, overlong lead (c0, c1) or > f4
    }
    if (end - p < len) return false;
    for (int i = 1; i < len; ++i) {
      if ((p[i] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    p += len;
  }
  return true;
}

absl::Status CheckId(absl::string_view field, absl::string_view id) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": must not be empty"));
  if (id.size() > kMaxIdLength) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": longer than ", kMaxIdLength, " bytes (", id.size(), ")"));
  }
  for (size_t i = 0; i < id.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(id[i]);
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": control character 0x", absl::Hex(c, absl::kZeroPad2),
                       " at byte ", i));
    }
  }
  if (!IsValidUtf8(id)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": not valid UTF-8"));
  }
  return absl::OkStatus();
}

absl::Status CheckClientTime(absl::string_view field, absl::Time time, absl::Time now) {
  if (time < absl::FromUnixSeconds(kEarliestUnixSeconds)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", absl::ToUnixSeconds(time),
                     " is before 2000-01-01 (946684800); 0 means now"));
  }
  if (time > now + kMaxClockAhead) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", absl::ToUnixSeconds(time), " is more than a day in the future"));
  }
  return absl::OkStatus();
}

}  // namespace recsys
