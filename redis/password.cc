// ReadPassword (password.h).
#include "redis/password.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace recsys::redis {

absl::StatusOr<std::string> ReadPassword(const std::string& path) {
  if (path.empty()) {
    const char* env = std::getenv(kPasswordEnv);
    return std::string(env == nullptr ? "" : env);
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat(
        "cannot read redis password file '", path, "': ", std::strerror(errno)));
  }
  std::string password((std::istreambuf_iterator<char>(in)),
                       std::istreambuf_iterator<char>());
  while (!password.empty() &&
         (password.back() == '\n' || password.back() == '\r')) {
    password.pop_back();
  }
  if (password.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("redis password file '", path, "' is empty"));
  }
  return password;
}

}  // namespace recsys::redis
