#include "access/api_key.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace recsys::access {

absl::string_view ScopeName(Scope scope) {
  switch (scope) {
    case Scope::kStorefront: return "storefront";
    case Scope::kMarketing: return "marketing";
    case Scope::kAdmin: return "admin";
  }
  return "unknown";
}

absl::StatusOr<Scope> ParseScope(absl::string_view name) {
  for (Scope s : {Scope::kStorefront, Scope::kMarketing, Scope::kAdmin}) {
    if (name == ScopeName(s)) return s;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown scope '", name, "' (storefront, marketing or admin)"));
}

absl::StatusOr<std::vector<Scope>> ParseScopes(absl::string_view names) {
  std::vector<Scope> scopes;
  for (absl::string_view name : absl::StrSplit(names, ',')) {
    auto scope = ParseScope(name);
    if (!scope.ok()) return scope.status();
    if (std::find(scopes.begin(), scopes.end(), *scope) == scopes.end()) {
      scopes.push_back(*scope);
    }
  }
  return scopes;
}

std::string Sha256Hex(absl::string_view data) {
  unsigned char hash[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), hash);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(hash), sizeof(hash)));
}

absl::StatusOr<std::string> NewApiKey() {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) {
    return absl::InternalError("RAND_bytes failed");
  }
  return absl::StrCat("rsk_", absl::BytesToHexString(absl::string_view(
                                  reinterpret_cast<const char*>(bytes), sizeof(bytes))));
}

bool IsValidKeyName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' ||
           c == '.';
  });
}

std::string KeysFileLine(absl::string_view name, absl::string_view key,
                         const std::vector<Scope>& scopes) {
  return absl::StrCat(name, " sha256:", Sha256Hex(key), " ",
                      absl::StrJoin(scopes, ",", [](std::string* out, Scope s) {
                        absl::StrAppend(out, ScopeName(s));
                      }));
}

}  // namespace recsys::access
