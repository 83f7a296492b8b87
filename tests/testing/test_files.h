// Temporary directories and files for tests, shared by every suite.
//
//   const std::string dir = recsys::testing::MakeTestDir();
//   const std::string csv = recsys::testing::WriteFile(dir, "a.csv", "...");
//
// Directories live under ::testing::TempDir() (TEST_TMPDIR when set) and
// are left in place after the test, for inspection; each call starts from
// an empty directory. Failures to write are reported as gtest failures of
// the running test (EXPECT), and the path is returned anyway.
//
// Thread safety: MakeTestDir and MakeUniqueDir may be called from any
// thread; writing the same path from two threads at once is not supported.
#ifndef RECSYS_TESTS_TESTING_TEST_FILES_H_
#define RECSYS_TESTS_TESTING_TEST_FILES_H_

#include <string>

#include "absl/strings/string_view.h"

namespace recsys::testing {

// A fresh empty directory named after the test executable and the running
// test: <tmp>/recsys_<program>_<suite>_<test>. REQUIRES: a test is running.
std::string MakeTestDir();

// A fresh empty directory unique to this call within the process and among
// concurrent processes: <tmp>/recsys_<name>_<pid>_<counter>.
std::string MakeUniqueDir(absl::string_view name);

// Writes `content` to <dir>/<name> (binary, truncating); returns the path.
std::string WriteFile(absl::string_view dir, absl::string_view name,
                      absl::string_view content);

// Writes `content` gzip-compressed to <dir>/<name>; returns the path.
std::string WriteGzFile(absl::string_view dir, absl::string_view name,
                        absl::string_view content);

// The bytes of the file at `path` ("" when it cannot be read).
std::string ReadFileBytes(absl::string_view path);

}  // namespace recsys::testing

#endif  // RECSYS_TESTS_TESTING_TEST_FILES_H_
