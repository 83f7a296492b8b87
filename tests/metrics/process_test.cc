#include "metrics/process.h"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>

#include "gtest/gtest.h"

namespace recsys::metrics {
namespace {

double Find(const std::vector<FamilySnapshot>& families,
            absl::string_view name) {
  for (const FamilySnapshot& f : families) {
    if (f.name == name && f.samples.size() == 1) return f.samples[0].value;
  }
  ADD_FAILURE() << "no " << name;
  return -1;
}

TEST(ProcessMetricsTest, ReadsThisProcess) {
  const auto before = ReadProcessMetrics();
  const int fd = open("/proc/self/stat", O_RDONLY);
  ASSERT_GE(fd, 0);
  const auto during = ReadProcessMetrics();
  close(fd);
  EXPECT_EQ(Find(during, "process_open_fds"),
            Find(before, "process_open_fds") + 1);
  EXPECT_GT(Find(before, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GE(Find(before, "process_virtual_memory_bytes"),
            Find(before, "process_resident_memory_bytes"));
  EXPECT_GE(Find(before, "process_cpu_seconds_total"), 0);
  const double start = Find(before, "process_start_time_seconds");
  const double now = static_cast<double>(std::time(nullptr));
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 3600);  // this test binary started within the hour
  EXPECT_GT(Find(before, "process_max_fds"), 0);
}

}  // namespace
}  // namespace recsys::metrics
