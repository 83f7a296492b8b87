// Tests of redis::ReadPassword: file (trailing newline trimmed), environment,
// precedence, and errors that name the path but never the content.
#include "redis/password.h"

#include <cstdlib>
#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace recsys::redis {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string WriteFile(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(ReadPasswordTest, FileContentWithoutTrailingNewline) {
  unsetenv(kPasswordEnv);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::string a, ReadPassword(WriteFile("pw_a", "s3cret\n")));
  EXPECT_EQ(a, "s3cret");
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::string b, ReadPassword(WriteFile("pw_b", "s3 cret\r\n")));
  EXPECT_EQ(b, "s3 cret");
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string c,
                              ReadPassword(WriteFile("pw_c", "x")));
  EXPECT_EQ(c, "x");
}

TEST(ReadPasswordTest, FileWinsOverEnvironment) {
  setenv(kPasswordEnv, "from-env", 1);
  RECSYS_ASSERT_OK_AND_ASSIGN(
      std::string p, ReadPassword(WriteFile("pw_d", "from-file\n")));
  EXPECT_EQ(p, "from-file");
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string e, ReadPassword(""));
  EXPECT_EQ(e, "from-env");
  unsetenv(kPasswordEnv);
}

TEST(ReadPasswordTest, NoFileNoEnvironmentMeansNoPassword) {
  unsetenv(kPasswordEnv);
  RECSYS_ASSERT_OK_AND_ASSIGN(std::string p, ReadPassword(""));
  EXPECT_EQ(p, "");
}

TEST(ReadPasswordTest, ErrorsNameThePathNotTheContent) {
  absl::StatusOr<std::string> missing =
      ReadPassword(::testing::TempDir() + "/no_such_password_file");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(missing.status().message()),
              HasSubstr("no_such_password_file"));
  const std::string empty_path = WriteFile("pw_empty", "\n");
  absl::StatusOr<std::string> empty = ReadPassword(empty_path);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(empty.status().message()), HasSubstr(empty_path));
  EXPECT_THAT(std::string(empty.status().message()), Not(HasSubstr("s3cret")));
}

}  // namespace
}  // namespace recsys::redis
