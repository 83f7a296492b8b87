// ReadPassword: where a program's Redis password comes from. Call it from
// main only (it reads a file or the environment); never take the password
// as a flag value, which `ps` and logs would show.
#ifndef RECSYS_REDIS_PASSWORD_H_
#define RECSYS_REDIS_PASSWORD_H_

#include <string>

#include "absl/status/statusor.h"

namespace recsys::redis {

// The environment variable read when no password file is given.
inline constexpr char kPasswordEnv[] = "RECSYS_REDIS_PASSWORD";

// Help texts of the --redis_user and --redis_password_file flags, the same
// in every main that talks to Redis.
inline constexpr char kUserFlagHelp[] =
    "Redis ACL user (Redis 6+) to AUTH as; empty: the default user. Needs a "
    "password.";
inline constexpr char kPasswordFileFlagHelp[] =
    "File holding the Redis password (trailing newline ignored), sent with "
    "AUTH on every new connection; empty: $RECSYS_REDIS_PASSWORD, or no AUTH "
    "when that is unset. The password itself is never a flag.";

// The Redis password for Options::password:
//   - `path` non-empty (--redis_password_file): the file's content, with
//     trailing newlines ("\n" or "\r\n") removed, as a Kubernetes Secret
//     mount or `echo secret > file` leaves it. NotFound when the file cannot
//     be read; InvalidArgument when it is empty. A file wins over the
//     environment.
//   - `path` empty: the value of $RECSYS_REDIS_PASSWORD, or "" (no AUTH)
//     when it is unset or empty.
// Error messages name the path, never the content.
absl::StatusOr<std::string> ReadPassword(const std::string& path);

}  // namespace recsys::redis

#endif  // RECSYS_REDIS_PASSWORD_H_
