// Minimal line-oriented logging to stderr (Abseil 20220623 has no absl/log).
//
//   recsys::LogInfo(absl::StrCat("loaded model ", version));
//
// Each call writes one line "<UTC time> <LEVEL> <message>" with a single
// fwrite, so lines from concurrent threads do not interleave.
#ifndef RECSYS_COMMON_LOG_H_
#define RECSYS_COMMON_LOG_H_

#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace recsys {

inline void LogLine(absl::string_view level, absl::string_view message) {
  std::string line = absl::StrCat(
      absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      " ", level, " ", message, "\n");
  std::fwrite(line.data(), 1, line.size(), stderr);
}
inline void LogInfo(absl::string_view message) { LogLine("INFO", message); }
inline void LogWarning(absl::string_view message) { LogLine("WARN", message); }
inline void LogError(absl::string_view message) { LogLine("ERROR", message); }

}  // namespace recsys

#endif  // RECSYS_COMMON_LOG_H_
