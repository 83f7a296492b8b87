#include "tests/testing/test_files.h"

#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace recsys::testing {
namespace {

std::string FreshDir(const std::string& dir) {
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace

std::string MakeTestDir() {
  const ::testing::TestInfo* info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  // program_invocation_short_name (glibc): suites of different executables
  // may share test names and run concurrently under ctest.
  return FreshDir(absl::StrCat(::testing::TempDir(), "/recsys_",
                               program_invocation_short_name, "_",
                               info->test_suite_name(), "_", info->name()));
}

std::string MakeUniqueDir(absl::string_view name) {
  static std::atomic<int> counter{0};
  return FreshDir(absl::StrCat(::testing::TempDir(), "/recsys_", name, "_",
                               ::getpid(), "_", counter.fetch_add(1)));
}

std::string WriteFile(absl::string_view dir, absl::string_view name,
                      absl::string_view content) {
  const std::string path = absl::StrCat(dir, "/", name);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  out.close();
  EXPECT_TRUE(out.good()) << "cannot write " << path;
  return path;
}

std::string WriteGzFile(absl::string_view dir, absl::string_view name,
                        absl::string_view content) {
  const std::string path = absl::StrCat(dir, "/", name);
  gzFile f = gzopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr) << "cannot write " << path;
  if (f != nullptr) {
    EXPECT_EQ(gzwrite(f, content.data(), static_cast<unsigned>(content.size())),
              static_cast<int>(content.size()));
    EXPECT_EQ(gzclose(f), Z_OK);
  }
  return path;
}

std::string ReadFileBytes(absl::string_view path) {
  std::ifstream in(std::string(path), std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace recsys::testing
