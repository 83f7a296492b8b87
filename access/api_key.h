// API keys: their scopes, their hash and their line in a keys file, shared
// by the server that checks them (server/auth.h) and the tools that make
// them (`recsys_cli new-api-key`).
//
// A key is "rsk_" followed by 64 hex digits (32 random bytes). A keys file
// stores its SHA-256, never the key:
//
//   storefront-web sha256:<64 hex digits> storefront
#ifndef RECSYS_ACCESS_API_KEY_H_
#define RECSYS_ACCESS_API_KEY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace recsys::access {

// What a key may call (the method → scope table is server/auth.h).
enum class Scope { kStorefront, kMarketing, kAdmin };

// "storefront", "marketing", "admin".
absl::string_view ScopeName(Scope scope);
// The inverse of ScopeName; InvalidArgument for another name.
absl::StatusOr<Scope> ParseScope(absl::string_view name);
// Comma-separated scope names, e.g. "storefront,admin", duplicates dropped;
// InvalidArgument for an unknown or empty name.
absl::StatusOr<std::vector<Scope>> ParseScopes(absl::string_view names);

// Lower-case hex SHA-256 of `data` (OpenSSL's libcrypto).
std::string Sha256Hex(absl::string_view data);

// A new random key from OpenSSL's RAND_bytes; Internal if it fails.
absl::StatusOr<std::string> NewApiKey();

// A key name: 1 to 64 of [A-Za-z0-9_.-].
bool IsValidKeyName(absl::string_view name);

// The keys-file line of `key`: "<name> sha256:<hex> <scope>[,<scope>...]".
std::string KeysFileLine(absl::string_view name, absl::string_view key,
                         const std::vector<Scope>& scopes);

}  // namespace recsys::access

#endif  // RECSYS_ACCESS_API_KEY_H_
