// The access unit without gRPC: the keys file parser (errors name the
// line), the method → scope table against the proto's services, and
// ApiKeys::Authorize's codes and messages.
#include "server/auth.h"

#include <string>

#include <google/protobuf/descriptor.h>

#include "absl/strings/str_cat.h"
#include "access/api_key.h"
#include "gtest/gtest.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "tests/testing/test_files.h"

namespace recsys::server {
namespace {

constexpr char kShopKey[] = "rsk_shop-secret-0001";
constexpr char kOpsKey[] = "rsk_ops-secret-0002";

std::string KeysText() {
  return absl::StrCat("# keys of the test shop\n",
                      "\n",
                      access::KeysFileLine("shop", kShopKey, {Scope::kStorefront}), "\n",
                      "   ", access::KeysFileLine("ops", kOpsKey, {Scope::kAdmin, Scope::kMarketing}),
                      "   # on-call\n");
}

ApiKeys Keys() {
  auto keys = ApiKeys::Parse(KeysText());
  EXPECT_TRUE(keys.ok()) << keys.status();
  return *keys;
}

TEST(AuthTest, ParsesCommentsBlankLinesAndIndentation) {
  auto keys = ApiKeys::Parse(KeysText());
  ASSERT_TRUE(keys.ok()) << keys.status();
  EXPECT_EQ(keys->size(), 2u);
}

TEST(AuthTest, KeysFileLineStoresTheHashNotTheKey) {
  const std::string line = access::KeysFileLine("shop", kShopKey, {Scope::kStorefront});
  EXPECT_EQ(line, absl::StrCat("shop sha256:", access::Sha256Hex(kShopKey), " storefront"));
  EXPECT_EQ(line.find(kShopKey), std::string::npos);
  // The SHA-256 of "abc" (FIPS 180-2, appendix B.1).
  EXPECT_EQ(access::Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(AuthTest, NewApiKeysAreRandomAndWellFormed) {
  auto a = access::NewApiKey();
  auto b = access::NewApiKey();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_EQ(a->size(), 4u + 64u);
  EXPECT_EQ(a->rfind("rsk_", 0), 0u);
}

TEST(AuthTest, MalformedLinesNameTheLine) {
  const std::string good = access::KeysFileLine("shop", kShopKey, {Scope::kStorefront});
  const std::string hash = absl::StrCat("sha256:", access::Sha256Hex(kOpsKey));
  struct Case {
    std::string text;
    std::string expected;
  };
  const Case cases[] = {
      {absl::StrCat(good, "\nops ", hash, "\n"), "line 2: expected"},
      {absl::StrCat("# c\n", good, "\nops ", hash, " admin extra\n"), "line 3: expected"},
      {absl::StrCat("ops md5:abc admin\n"), "line 1: hash"},
      {absl::StrCat("ops sha256:", std::string(63, 'a'), " admin\n"), "line 1: hash"},
      {absl::StrCat("ops sha256:", std::string(64, 'g'), " admin\n"), "line 1: hash"},
      {absl::StrCat("\n\nops ", hash, " root\n"), "line 3: unknown scope 'root'"},
      {absl::StrCat("ops ", hash, " admin,\n"), "line 1: unknown scope ''"},
      {absl::StrCat("o/ps ", hash, " admin\n"), "line 1: name"},
      {absl::StrCat(good, "\nshop ", hash, " admin\n"), "line 2: name 'shop' used twice"},
      {absl::StrCat(good, "\nother sha256:", access::Sha256Hex(kShopKey), " admin\n"),
       "line 2: the same key hash"},
  };
  for (const Case& c : cases) {
    auto keys = ApiKeys::Parse(c.text);
    ASSERT_FALSE(keys.ok()) << c.text;
    EXPECT_EQ(keys.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(keys.status().message().find(c.expected), absl::string_view::npos)
        << keys.status() << " for:\n" << c.text;
  }
}

TEST(AuthTest, LoadNamesThePath) {
  const std::string dir = recsys::testing::MakeUniqueDir("auth_load");
  const std::string path = recsys::testing::WriteFile(dir, "keys", "ops sha256:00 admin\n");
  auto keys = ApiKeys::Load(path);
  ASSERT_FALSE(keys.ok());
  EXPECT_NE(keys.status().message().find(absl::StrCat(path, ": line 1")), absl::string_view::npos)
      << keys.status();
  EXPECT_EQ(ApiKeys::Load(dir + "/missing").status().code(), absl::StatusCode::kNotFound);
}

TEST(AuthTest, EveryMethodOfTheApiHasAScope) {
  const auto* pool = google::protobuf::DescriptorPool::generated_pool();
  int methods = 0;
  for (const char* service : {"recsys.v1.Recommender", "recsys.v1.Admin"}) {
    const google::protobuf::ServiceDescriptor* s = pool->FindServiceByName(service);
    ASSERT_NE(s, nullptr) << service;
    for (int i = 0; i < s->method_count(); ++i) {
      EXPECT_TRUE(RequiredScope(s->method(i)->name()).ok()) << s->method(i)->full_name();
      ++methods;
    }
  }
  EXPECT_EQ(methods, 16);
  EXPECT_EQ(RequiredScope("Check").status().code(), absl::StatusCode::kNotFound);
}

TEST(AuthTest, TheDocumentedScopes) {
  for (const char* m : {"RecommendProducts", "SimilarItems", "RecordEvents"}) {
    EXPECT_EQ(*RequiredScope(m), Scope::kStorefront) << m;
  }
  for (const char* m : {"RecommendCoupons", "FindAudience", "GetUserProfile"}) {
    EXPECT_EQ(*RequiredScope(m), Scope::kMarketing) << m;
  }
  for (const char* m : {"GetModelInfo", "ReloadModel", "Rollback", "UpdateItems",
                        "GetTrialReport", "PutCoupons", "ListCoupons", "DeleteCoupon",
                        "GetExperimentReport"}) {
    EXPECT_EQ(*RequiredScope(m), Scope::kAdmin) << m;
  }
}

TEST(AuthTest, AuthorizeCodes) {
  const ApiKeys keys = Keys();
  const std::string shop = absl::StrCat("Bearer ", kShopKey);
  const std::string ops = absl::StrCat("Bearer ", kOpsKey);
  EXPECT_TRUE(keys.Authorize("RecommendProducts", shop).ok());
  EXPECT_TRUE(keys.Authorize("Rollback", ops).ok());
  EXPECT_TRUE(keys.Authorize("FindAudience", ops).ok());
  EXPECT_EQ(keys.Authorize("Rollback", "").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(keys.Authorize("Rollback", kOpsKey).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(keys.Authorize("Rollback", "Bearer ").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(keys.Authorize("Rollback", "Bearer rsk_guess").code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(keys.Authorize("Rollback", absl::StrCat("bearer ", kOpsKey)).code(),
            absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(keys.Authorize("RecommendProducts", ops).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(keys.Authorize("NoSuchMethod", ops).code(), absl::StatusCode::kInternal);
}

TEST(AuthTest, PermissionDeniedNamesMethodAndScopeButNeverTheKey) {
  const ApiKeys keys = Keys();
  const absl::Status denied = keys.Authorize("Rollback", absl::StrCat("Bearer ", kShopKey));
  ASSERT_EQ(denied.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(denied.message().find("Rollback"), absl::string_view::npos) << denied;
  EXPECT_NE(denied.message().find("admin"), absl::string_view::npos) << denied;
  EXPECT_EQ(denied.message().find(kShopKey), absl::string_view::npos) << denied;
  const absl::Status unknown = keys.Authorize("Rollback", "Bearer rsk_guess");
  EXPECT_EQ(unknown.message().find("rsk_guess"), absl::string_view::npos) << unknown;
}

}  // namespace
}  // namespace recsys::server
