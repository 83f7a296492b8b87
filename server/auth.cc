#include "server/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace recsys::server {
namespace {

struct MethodScope {
  absl::string_view method;
  Scope scope;
};

// The one method → scope table.
constexpr MethodScope kMethodScopes[] = {
    {"RecommendProducts", Scope::kStorefront},
    {"SimilarItems", Scope::kStorefront},
    {"RecordEvents", Scope::kStorefront},
    {"RecommendCoupons", Scope::kMarketing},
    {"FindAudience", Scope::kMarketing},
    {"GetUserProfile", Scope::kMarketing},
    {"GetModelInfo", Scope::kAdmin},
    {"ReloadModel", Scope::kAdmin},
    {"Rollback", Scope::kAdmin},
    {"UpdateItems", Scope::kAdmin},
    {"GetTrialReport", Scope::kAdmin},
    {"PutCoupons", Scope::kAdmin},
    {"ListCoupons", Scope::kAdmin},
    {"DeleteCoupon", Scope::kAdmin},
    {"GetExperimentReport", Scope::kAdmin},
    {"RunTriggers", Scope::kAdmin},
};

constexpr absl::string_view kHashPrefix = "sha256:";
constexpr absl::string_view kBearer = "Bearer ";

std::array<uint8_t, 32> Sha256(absl::string_view data) {
  std::array<uint8_t, 32> out;
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data());
  return out;
}

}  // namespace

absl::StatusOr<Scope> RequiredScope(absl::string_view method) {
  for (const MethodScope& m : kMethodScopes) {
    if (m.method == method) return m.scope;
  }
  return absl::NotFoundError(absl::StrCat("no scope is defined for method ", method));
}

absl::StatusOr<ApiKeys> ApiKeys::Parse(absl::string_view text) {
  ApiKeys keys;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    const size_t hash_mark = line.find('#');
    if (hash_mark != absl::string_view::npos) line = line.substr(0, hash_mark);
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    const std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    auto bad = [line_number](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, ": ", why));
    };
    if (fields.size() != 3) {
      return bad(absl::StrCat("expected '<name> sha256:<hex> <scope>[,<scope>...]', got ",
                              fields.size(), " fields"));
    }
    Key key;
    if (!access::IsValidKeyName(fields[0])) {
      return bad("name: 1 to 64 of [A-Za-z0-9_.-]");
    }
    key.name = std::string(fields[0]);
    absl::string_view hex = fields[1];
    if (!absl::ConsumePrefix(&hex, kHashPrefix) || hex.size() != 64 ||
        !std::all_of(hex.begin(), hex.end(),
                     [](char c) { return absl::ascii_isxdigit(static_cast<unsigned char>(c)); })) {
      return bad("hash: must be sha256: followed by 64 hex digits");
    }
    const std::string raw = absl::HexStringToBytes(hex);
    std::copy(raw.begin(), raw.end(), key.sha256.begin());
    auto scopes = access::ParseScopes(fields[2]);
    if (!scopes.ok()) return bad(scopes.status().message());
    key.scopes = *std::move(scopes);
    for (const Key& other : keys.keys_) {
      if (other.name == key.name) return bad(absl::StrCat("name '", key.name, "' used twice"));
      if (other.sha256 == key.sha256) return bad("the same key hash is listed twice");
    }
    keys.keys_.push_back(std::move(key));
  }
  return keys;
}

absl::StatusOr<ApiKeys> ApiKeys::Load(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::stringstream text;
  text << in.rdbuf();
  auto keys = Parse(text.str());
  if (!keys.ok()) {
    return absl::Status(keys.status().code(), absl::StrCat(path, ": ", keys.status().message()));
  }
  return keys;
}

absl::Status ApiKeys::Authorize(absl::string_view method,
                                absl::string_view authorization) const {
  auto needed = RequiredScope(method);
  if (!needed.ok()) return absl::InternalError(needed.status().message());
  absl::string_view key = authorization;
  if (!absl::ConsumePrefix(&key, kBearer) || key.empty()) {
    return absl::UnauthenticatedError(absl::StrCat(
        method, ": an API key is required (metadata 'authorization: Bearer <key>')"));
  }
  const std::array<uint8_t, 32> hash = Sha256(key);
  // Every stored hash is compared, in constant time, whatever matches.
  const Key* found = nullptr;
  for (const Key& k : keys_) {
    if (CRYPTO_memcmp(k.sha256.data(), hash.data(), hash.size()) == 0) found = &k;
  }
  if (found == nullptr) {
    return absl::UnauthenticatedError(absl::StrCat(method, ": unknown API key"));
  }
  if (std::find(found->scopes.begin(), found->scopes.end(), *needed) == found->scopes.end()) {
    return absl::PermissionDeniedError(absl::StrCat(method, " requires scope ",
                                                    access::ScopeName(*needed), "; key '", found->name,
                                                    "' does not have it"));
  }
  return absl::OkStatus();
}

}  // namespace recsys::server
