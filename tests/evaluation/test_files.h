// Temporary files for the evaluation tests (never the shared data sets).
#ifndef RECSYS_TESTS_EVALUATION_TEST_FILES_H_
#define RECSYS_TESTS_EVALUATION_TEST_FILES_H_

#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace recsys::evaluation::testing {

// A fresh directory under the test temp dir, named after the running test.
inline std::string MakeTestDir() {
  const ::testing::TestInfo* info =
      ::testing::UnitTest::GetInstance()->current_test_info();
  std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) /
                              (std::string("recsys_evaluation_") +
                               info->test_suite_name() + "_" + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline std::string WriteFile(const std::string& dir, const std::string& name,
                             const std::string& content) {
  const std::string path = dir + "/" + name;
  std::ofstream out(path, std::ios::binary);
  out << content;
  return path;
}

inline std::string WriteGzFile(const std::string& dir, const std::string& name,
                               const std::string& content) {
  const std::string path = dir + "/" + name;
  gzFile f = gzopen(path.c_str(), "wb");
  EXPECT_NE(f, nullptr);
  if (f != nullptr) {
    gzwrite(f, content.data(), static_cast<unsigned>(content.size()));
    gzclose(f);
  }
  return path;
}

}  // namespace recsys::evaluation::testing

#endif  // RECSYS_TESTS_EVALUATION_TEST_FILES_H_
