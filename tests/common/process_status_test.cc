#include "common/process_status.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace recsys {
namespace {

TEST(ProcessStatusTest, ReadsThisProcess) {
  absl::StatusOr<ProcessStatus> status = ReadProcessStatus(getpid());
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_GT(status->rss_kb, 0);
  EXPECT_GE(status->hwm_kb, status->rss_kb);
  EXPECT_GE(status->threads, 1);
}

TEST(ProcessStatusTest, AMissingProcessIsNotFoundNamingTheFile) {
  // Pids are below 2^22 on Linux.
  absl::StatusOr<ProcessStatus> status = ReadProcessStatus(1 << 30);
  EXPECT_EQ(status.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(status.status().message().find("/proc/1073741824/status"), std::string::npos);
}

TEST(ProcessStatusTest, ResetPeakRssStartsTheCountAgain) {
  constexpr size_t kBytes = size_t{256} << 20;
  {
    // Mapped directly (not through malloc, which a sanitizer may keep in
    // quarantine) and touched, so resident until unmapped.
    void* block = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(block, MAP_FAILED);
    std::memset(block, 1, kBytes);
    absl::StatusOr<ProcessStatus> during = ReadProcessStatus(getpid());
    ASSERT_TRUE(during.ok());
    EXPECT_GE(during->hwm_kb, static_cast<int64_t>(kBytes / 1024));
    ASSERT_EQ(munmap(block, kBytes), 0);
  }
  absl::StatusOr<ProcessStatus> after_free = ReadProcessStatus(getpid());
  ASSERT_TRUE(after_free.ok());
  EXPECT_GE(after_free->hwm_kb, static_cast<int64_t>(kBytes / 1024));
  absl::Status reset = ResetPeakRss();
  if (!reset.ok()) GTEST_SKIP() << reset;
  absl::StatusOr<ProcessStatus> after_reset = ReadProcessStatus(getpid());
  ASSERT_TRUE(after_reset.ok());
  // The block's 256 MiB are gone from the peak.
  EXPECT_LT(after_reset->hwm_kb, after_free->hwm_kb - static_cast<int64_t>(kBytes / 2048));
}

}  // namespace
}  // namespace recsys
