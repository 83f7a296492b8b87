#include "metrics/process.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace recsys::metrics {
namespace {

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Seconds since the epoch at which the system booted (/proc/stat btime).
bool BootTime(double* out) {
  std::istringstream stat(ReadFile("/proc/stat"));
  std::string line;
  while (std::getline(stat, line)) {
    if (line.rfind("btime ", 0) == 0) {
      return absl::SimpleAtod(absl::string_view(line).substr(6), out);
    }
  }
  return false;
}

}  // namespace

std::vector<FamilySnapshot> ReadProcessMetrics() {
  std::vector<FamilySnapshot> out;
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  // /proc/self/stat: the fields after the command name "(...)".
  const std::string stat = ReadFile("/proc/self/stat");
  const size_t close = stat.rfind(')');
  if (close != std::string::npos && ticks > 0) {
    std::vector<absl::string_view> f = absl::StrSplit(
        absl::string_view(stat).substr(close + 2), ' ', absl::SkipEmpty());
    // f[0] is field 3 (state): utime 14, stime 15, starttime 22, vsize 23,
    // rss 24 (1-based field numbers of proc(5)).
    double utime = 0, stime = 0, start = 0, vsize = 0, rss = 0, boot = 0;
    if (f.size() > 21 && absl::SimpleAtod(f[11], &utime) &&
        absl::SimpleAtod(f[12], &stime) && absl::SimpleAtod(f[19], &start) &&
        absl::SimpleAtod(f[20], &vsize) && absl::SimpleAtod(f[21], &rss)) {
      out.push_back(
          MakeFamily("process_cpu_seconds_total",
                     "Total user and system CPU time spent in seconds.",
                     Type::kCounter, {}, {{{}, (utime + stime) / ticks}}));
      out.push_back(MakeFamily("process_resident_memory_bytes",
                               "Resident memory size in bytes.", Type::kGauge,
                               {}, {{{}, rss * page}}));
      out.push_back(MakeFamily("process_virtual_memory_bytes",
                               "Virtual memory size in bytes.", Type::kGauge,
                               {}, {{{}, vsize}}));
      if (BootTime(&boot)) {
        out.push_back(
            MakeFamily("process_start_time_seconds",
                       "Start time of the process since unix epoch in seconds.",
                       Type::kGauge, {}, {{{}, boot + start / ticks}}));
      }
    }
  }
  if (DIR* dir = opendir("/proc/self/fd")) {
    double fds = 0;
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++fds;
    }
    closedir(dir);
    out.push_back(MakeFamily("process_open_fds",
                             "Number of open file descriptors.", Type::kGauge,
                             {}, {{{}, fds - 1}}));  // less opendir's own
  }
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.push_back(MakeFamily(
        "process_max_fds", "Maximum number of open file descriptors.",
        Type::kGauge, {}, {{{}, static_cast<double>(limit.rlim_cur)}}));
  }
  return out;
}

Collector ProcessCollector() {
  return [] { return ReadProcessMetrics(); };
}

}  // namespace recsys::metrics
