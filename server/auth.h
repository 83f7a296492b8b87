// Who may call what on the gRPC port: API keys with scopes.
//
// The keys file holds one key per line, as a hash, never the key itself:
//
//   # name      hash of the key                scopes
//   storefront  sha256:9f86d081884c7d65...      storefront
//   ops         sha256:2c26b46b68ffc68f...      admin,marketing
//
// Blank lines and `#` comments are ignored. `recsys_cli new-api-key` makes a
// key and prints its line (access/api_key.h has the format). A client sends `authorization: Bearer <key>`.
//
// The method → scope table (RequiredScope) is the one place that says which
// scope each recsys.v1 method needs:
//   storefront: RecommendProducts, SimilarItems, RecordEvents
//   marketing:  RecommendCoupons, FindAudience, GetUserProfile
//   admin:      GetModelInfo, ReloadModel, Rollback, UpdateItems,
//               GetTrialReport, PutCoupons, ListCoupons, DeleteCoupon
// Health checking and reflection are not recsys.v1 methods and stay open.
#ifndef RECSYS_SERVER_AUTH_H_
#define RECSYS_SERVER_AUTH_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "access/api_key.h"

namespace recsys::server {

using access::Scope;

// The scope a recsys.v1 method (its short name, e.g. "Rollback") needs.
// NotFound for a name outside the table.
absl::StatusOr<Scope> RequiredScope(absl::string_view method);

// The parsed keys file. Immutable after Parse, so thread-safe.
class ApiKeys {
 public:
  // InvalidArgument naming the line ("line 3: ...") for a malformed line
  // (not three fields, a bad name, a hash that is not sha256:<64 hex>, an
  // unknown scope) or a name or hash used twice.
  static absl::StatusOr<ApiKeys> Parse(absl::string_view text);
  // Parse of the file's contents; NotFound when it cannot be read. Errors
  // start with the path.
  static absl::StatusOr<ApiKeys> Load(const std::string& path);

  size_t size() const { return keys_.size(); }

  // Whether the `authorization` metadata value (e.g. "Bearer rsk_...", may
  // be empty) may call `method` (a short recsys.v1 method name):
  //   OK                 a key with the method's scope;
  //   Unauthenticated    no value, not "Bearer <key>", or an unknown key;
  //   PermissionDenied   a known key without the method's scope (the
  //                      message names the method and the scope);
  //   Internal           a method missing from the table (a programming
  //                      error: every handler is listed).
  // Messages never contain the key. The key's hash is compared with every
  // stored hash in constant time.
  absl::Status Authorize(absl::string_view method, absl::string_view authorization) const;

 private:
  struct Key {
    std::string name;
    std::array<uint8_t, 32> sha256;
    std::vector<Scope> scopes;
  };
  std::vector<Key> keys_;
};

}  // namespace recsys::server

#endif  // RECSYS_SERVER_AUTH_H_
