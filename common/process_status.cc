#include "common/process_status.h"

#include <fstream>
#include <string>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace recsys {

absl::StatusOr<ProcessStatus> ReadProcessStatus(int pid) {
  const std::string path = absl::StrCat("/proc/", pid, "/status");
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  ProcessStatus status;
  int found = 0;
  std::string line;
  while (std::getline(in, line)) {
    for (auto [key, out] : {std::pair<absl::string_view, int64_t*>{"VmRSS:", &status.rss_kb},
                            {"VmHWM:", &status.hwm_kb},
                            {"Threads:", &status.threads}}) {
      if (absl::StartsWith(line, key) &&
          absl::SimpleAtoi(
              absl::StripSuffix(
                  absl::StripAsciiWhitespace(absl::string_view(line).substr(key.size())), " kB"),
              out)) {
        ++found;
      }
    }
  }
  if (found != 3) {
    return absl::NotFoundError(absl::StrCat(path, " lacks VmRSS, VmHWM or Threads"));
  }
  return status;
}

absl::Status ResetPeakRss() {
  std::ofstream out("/proc/self/clear_refs");
  if (out) out << "5";
  if (!out || !out.flush()) {
    return absl::UnavailableError("cannot write /proc/self/clear_refs");
  }
  return absl::OkStatus();
}

}  // namespace recsys
