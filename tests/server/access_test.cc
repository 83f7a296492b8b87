// Access control through real gRPC on loopback: API keys with scopes on
// every recsys.v1 call (both the callback and the sync API), open health
// checking, TLS and mutual TLS with certificates made by `openssl` at test
// time, and the real recsys_server refusing a bad keys file and never
// logging a key.
#include <signal.h>

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "access/api_key.h"
#include "access/client_channel.h"
#include "feature_store/in_memory_feature_store.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "model/model_format.h"
#include "model/model_store.h"
#include "recsys/v1/recommender.grpc.pb.h"
#include "server/auth.h"
#include "server/recommender_service.h"
#include "tests/model/test_model.h"
#include "tests/testing/child_process.h"
#include "tests/testing/status_matchers.h"
#include "tests/testing/test_files.h"
#include "tests/testing/test_server.h"

namespace recsys::server {
namespace {

namespace v1 = recsys::v1;

constexpr char kShopKey[] = "rsk_storefront-test-key-7f3a";
constexpr char kMarketingKey[] = "rsk_marketing-test-key-91c2";
constexpr char kAdminKey[] = "rsk_admin-test-key-c0de";

// Made once per process: a model root with two versions (so Rollback
// succeeds), a keys file, and a CA with a server and a client certificate.
struct Files {
  std::string dir;
  std::string model_root;
  std::string keys_file;
  std::string ca_pem, server_cert_pem, server_key_pem, client_cert_pem, client_key_pem;
  std::string other_ca_pem;
};
Files* files = nullptr;

std::string Read(const std::string& path) { return recsys::testing::ReadFileBytes(path); }

class AccessTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    files = new Files();
    files->dir = recsys::testing::MakeUniqueDir("access");
    files->model_root = files->dir + "/models";
    const model::ModelData data = model::testing::MakePlantedModel();
    for (const char* version : {"1", "2"}) {
      model::PublishOptions publish;
      publish.version = version;
      ASSERT_TRUE(model::PublishModel(files->model_root, data, publish).ok());
    }
    files->keys_file = recsys::testing::WriteFile(
        files->dir, "api_keys",
        absl::StrCat("# test keys\n",
                     access::KeysFileLine("shop", kShopKey, {Scope::kStorefront}), "\n",
                     access::KeysFileLine("crm", kMarketingKey, {Scope::kMarketing}), "\n",
                     access::KeysFileLine("ops", kAdminKey, {Scope::kAdmin}), "\n"));
    // A CA, a server certificate for 127.0.0.1 and localhost, a client
    // certificate, and a second CA that signed neither.
    const std::string d = files->dir;
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script = absl::StrCat(
        "set -e; cd ", d, "\n",
        "openssl req -x509 ", ec, " -days 2 -subj /CN=recsys-test-ca -keyout ca.key -out ca.pem\n",
        "openssl req -x509 ", ec, " -days 2 -subj /CN=other-ca -keyout other.key -out other.pem\n",
        "openssl req ", ec, " -subj /CN=localhost -keyout server.key -out server.csr\n",
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n'"
        " > server.ext\n",
        "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
        " -extfile server.ext -out server.pem\n",
        "openssl req ", ec, " -subj /CN=storefront-client -keyout client.key -out client.csr\n",
        "printf 'extendedKeyUsage=clientAuth\\n' > client.ext\n",
        "openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2"
        " -extfile client.ext -out client.pem\n");
    ASSERT_EQ(recsys::testing::RunCommand(absl::StrCat("(", script, ") > ", d,
                                                       "/openssl.log 2>&1")),
              0)
        << Read(d + "/openssl.log");
    files->ca_pem = Read(d + "/ca.pem");
    files->other_ca_pem = Read(d + "/other.pem");
    files->server_cert_pem = Read(d + "/server.pem");
    files->server_key_pem = Read(d + "/server.key");
    files->client_cert_pem = Read(d + "/client.pem");
    files->client_key_pem = Read(d + "/client.key");
  }
  static void TearDownTestSuite() {
    delete files;
    files = nullptr;
  }

  void SetUp() override {
    model::ModelStoreOptions options;
    options.root = files->model_root;
    options.poll_interval = absl::ZeroDuration();
    auto models = model::ModelStore::Create(options);
    ASSERT_TRUE(models.ok()) << models.status();
    models_ = *std::move(models);
    features_ = std::make_unique<feature_store::InMemoryFeatureStore>();
    RECSYS_ASSERT_OK(
        model::LoadIntoFeatureStore(model::testing::MakePlantedModel(), features_.get()));
  }

  static ServerSecurity WithKeys() {
    auto keys = ApiKeys::Load(files->keys_file);
    EXPECT_TRUE(keys.ok()) << keys.status();
    ServerSecurity security;
    security.api_keys = std::make_shared<const ApiKeys>(*std::move(keys));
    return security;
  }

  void Start(const ServerSecurity& security, bool callback_api = true) {
    ServerOptions options;
    options.listen_address = "127.0.0.1:0";
    options.callback_api = callback_api;
    options.security = security;
    auto served = recsys::testing::StartTestServer(options, models_.get(), features_.get());
    ASSERT_TRUE(served.ok()) << served.status();
    server_ = *std::move(served);
  }

  // A channel to the server: plaintext unless `client` names a CA.
  std::shared_ptr<grpc::Channel> Channel(access::ClientChannelOptions client = {}) {
    client.target = absl::StrCat("127.0.0.1:", server_->server->port());
    auto channel = access::NewClientChannel(client);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return *channel;
  }
  std::shared_ptr<grpc::Channel> KeyChannel(const std::string& key) {
    access::ClientChannelOptions client;
    client.api_key = key;
    return Channel(client);
  }

  static void SetDeadline(grpc::ClientContext* ctx) {
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  static grpc::Status Rollback(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::RollbackResponse resp;
    return v1::Admin::NewStub(channel)->Rollback(&ctx, v1::RollbackRequest(), &resp);
  }
  static grpc::Status RecommendProducts(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::RecommendProductsRequest req;
    req.set_user_id("ua0");
    auto* slot = req.add_slots();
    slot->set_name("homepage");
    slot->set_k(3);
    v1::RecommendProductsResponse resp;
    return v1::Recommender::NewStub(channel)->RecommendProducts(&ctx, req, &resp);
  }
  static grpc::Status SimilarItems(const std::shared_ptr<grpc::Channel>& channel) {
    grpc::ClientContext ctx;
    SetDeadline(&ctx);
    v1::SimilarItemsRequest req;
    req.set_item_id("a0");
    req.set_k(3);
    v1::SimilarItemsResponse resp;
    return v1::Recommender::NewStub(channel)->SimilarItems(&ctx, req, &resp);
  }

  // Every recsys.v1 method, called with an empty request.
  static std::map<std::string, grpc::Status> CallEveryMethod(
      const std::shared_ptr<grpc::Channel>& channel) {
    auto rec = v1::Recommender::NewStub(channel);
    auto admin = v1::Admin::NewStub(channel);
    std::map<std::string, grpc::Status> out;
    auto call = [&](const std::string& name, auto&& fn) {
      grpc::ClientContext ctx;
      SetDeadline(&ctx);
      out[name] = fn(&ctx);
    };
    call("RecommendProducts", [&](grpc::ClientContext* c) {
      v1::RecommendProductsResponse r;
      return rec->RecommendProducts(c, {}, &r);
    });
    call("SimilarItems", [&](grpc::ClientContext* c) {
      v1::SimilarItemsResponse r;
      return rec->SimilarItems(c, {}, &r);
    });
    call("RecommendCoupons", [&](grpc::ClientContext* c) {
      v1::RecommendCouponsResponse r;
      return rec->RecommendCoupons(c, {}, &r);
    });
    call("FindAudience", [&](grpc::ClientContext* c) {
      auto reader = rec->FindAudience(c, {});
      v1::AudiencePage page;
      while (reader->Read(&page)) {
      }
      return reader->Finish();
    });
    call("RecordEvents", [&](grpc::ClientContext* c) {
      v1::RecordEventsResponse r;
      return rec->RecordEvents(c, {}, &r);
    });
    call("GetUserProfile", [&](grpc::ClientContext* c) {
      v1::UserProfile r;
      return rec->GetUserProfile(c, {}, &r);
    });
    call("GetModelInfo", [&](grpc::ClientContext* c) {
      v1::ModelInfo r;
      return admin->GetModelInfo(c, {}, &r);
    });
    call("ReloadModel", [&](grpc::ClientContext* c) {
      v1::ReloadModelResponse r;
      return admin->ReloadModel(c, {}, &r);
    });
    call("Rollback", [&](grpc::ClientContext* c) {
      v1::RollbackResponse r;
      return admin->Rollback(c, {}, &r);
    });
    call("UpdateItems", [&](grpc::ClientContext* c) {
      v1::UpdateItemsResponse r;
      return admin->UpdateItems(c, {}, &r);
    });
    call("GetTrialReport", [&](grpc::ClientContext* c) {
      v1::TrialReport r;
      return admin->GetTrialReport(c, {}, &r);
    });
    call("PutCoupons", [&](grpc::ClientContext* c) {
      v1::PutCouponsResponse r;
      return admin->PutCoupons(c, {}, &r);
    });
    call("ListCoupons", [&](grpc::ClientContext* c) {
      v1::CouponList r;
      return admin->ListCoupons(c, {}, &r);
    });
    call("DeleteCoupon", [&](grpc::ClientContext* c) {
      v1::DeleteCouponResponse r;
      return admin->DeleteCoupon(c, {}, &r);
    });
    return out;
  }

  std::unique_ptr<model::ModelStore> models_;
  std::unique_ptr<feature_store::InMemoryFeatureStore> features_;
  std::unique_ptr<recsys::testing::TestServer> server_;
};

TEST_F(AccessTest, UnauthenticatedRollbackIsRefused) {
  Start(WithKeys());
  const grpc::Status st = Rollback(Channel());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  EXPECT_EQ(models_->Current()->version(), "2");  // nothing rolled back
  EXPECT_EQ(Rollback(KeyChannel("rsk_not-a-key")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(AccessTest, StorefrontKeyCannotRollBack) {
  Start(WithKeys());
  const grpc::Status st = Rollback(KeyChannel(kShopKey));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(st.error_message().find("Rollback"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("admin"), std::string::npos) << st.error_message();
  EXPECT_EQ(st.error_message().find(kShopKey), std::string::npos) << st.error_message();
  EXPECT_EQ(models_->Current()->version(), "2");
}

TEST_F(AccessTest, StorefrontKeyRecommendsOnBothApis) {
  for (bool callback_api : {true, false}) {
    SCOPED_TRACE(callback_api ? "callback API" : "sync API");
    Start(WithKeys(), callback_api);
    const grpc::Status ok = RecommendProducts(KeyChannel(kShopKey));
    EXPECT_TRUE(ok.ok()) << ok.error_message();
    EXPECT_TRUE(SimilarItems(KeyChannel(kShopKey)).ok());
    EXPECT_EQ(RecommendProducts(Channel()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(SimilarItems(Channel()).error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(RecommendProducts(KeyChannel(kAdminKey)).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
    server_.reset();
  }
}

TEST_F(AccessTest, AdminKeyRollsBack) {
  Start(WithKeys());
  const grpc::Status st = Rollback(KeyChannel(kAdminKey));
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(models_->Current()->version(), "1");
}

TEST_F(AccessTest, EveryMethodIsChecked) {
  for (bool callback_api : {true, false}) {
    SCOPED_TRACE(callback_api ? "callback API" : "sync API");
    Start(WithKeys(), callback_api);
    const auto no_key = CallEveryMethod(Channel());
    ASSERT_EQ(no_key.size(), 14u);
    for (const auto& [method, st] : no_key) {
      EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
    }
    // Each key reaches exactly its scope's methods (the others are
    // PERMISSION_DENIED; the allowed ones may fail on the empty request,
    // but not for access).
    const std::map<std::string, std::string> keys = {
        {kShopKey, "storefront"}, {kMarketingKey, "marketing"}, {kAdminKey, "admin"}};
    for (const auto& [key, scope] : keys) {
      for (const auto& [method, st] : CallEveryMethod(KeyChannel(key))) {
        const bool allowed = access::ScopeName(*RequiredScope(method)) == scope;
        EXPECT_NE(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
        EXPECT_EQ(st.error_code() == grpc::StatusCode::PERMISSION_DENIED, !allowed)
            << method << " with the " << scope << " key: " << st.error_message();
      }
    }
    server_.reset();
  }
}

TEST_F(AccessTest, HealthIsOpenWithoutAKey) {
  Start(WithKeys());
  auto health = grpc::health::v1::Health::NewStub(Channel());
  grpc::ClientContext ctx;
  SetDeadline(&ctx);
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(kRecommenderHealthName);
  grpc::health::v1::HealthCheckResponse resp;
  const grpc::Status st = health->Check(&ctx, req, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
}

TEST_F(AccessTest, WithoutKeysEveryCallIsOpen) {
  Start(ServerSecurity());
  for (const auto& [method, st] : CallEveryMethod(Channel())) {
    EXPECT_NE(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << method;
    EXPECT_NE(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << method;
  }
}

TEST_F(AccessTest, TlsClientWithTheCaConnectsAndPlaintextFails) {
  ServerSecurity security = WithKeys();
  security.tls_cert_pem = files->server_cert_pem;
  security.tls_key_pem = files->server_key_pem;
  Start(security);
  access::ClientChannelOptions tls;
  tls.tls_ca_pem = files->ca_pem;
  tls.api_key = kShopKey;
  const grpc::Status ok = RecommendProducts(Channel(tls));
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  access::ClientChannelOptions plaintext;
  plaintext.api_key = kShopKey;
  EXPECT_EQ(RecommendProducts(Channel(plaintext)).error_code(), grpc::StatusCode::UNAVAILABLE);
  access::ClientChannelOptions wrong_ca = tls;
  wrong_ca.tls_ca_pem = files->other_ca_pem;
  EXPECT_EQ(RecommendProducts(Channel(wrong_ca)).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(AccessTest, MutualTlsRequiresAClientCertificate) {
  ServerSecurity security = WithKeys();
  security.tls_cert_pem = files->server_cert_pem;
  security.tls_key_pem = files->server_key_pem;
  security.tls_client_ca_pem = files->ca_pem;
  Start(security);
  access::ClientChannelOptions with_cert;
  with_cert.tls_ca_pem = files->ca_pem;
  with_cert.tls_cert_pem = files->client_cert_pem;
  with_cert.tls_key_pem = files->client_key_pem;
  with_cert.api_key = kShopKey;
  const grpc::Status ok = RecommendProducts(Channel(with_cert));
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  access::ClientChannelOptions without_cert;
  without_cert.tls_ca_pem = files->ca_pem;
  without_cert.api_key = kShopKey;
  EXPECT_EQ(RecommendProducts(Channel(without_cert)).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(AccessTest, IncompleteTlsSettingsAreRefused) {
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.security.tls_cert_pem = files->server_cert_pem;
  auto storefront = recommender::Storefront::Create({}, models_.get(), features_.get());
  ASSERT_TRUE(storefront.ok());
  auto server = RecsysServer::Start(options, models_.get(), features_.get(), storefront->get());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
  options.security = ServerSecurity();
  options.security.tls_client_ca_pem = files->ca_pem;
  server = RecsysServer::Start(options, models_.get(), features_.get(), storefront->get());
  EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(AccessTest, BadKeysFileRefusesStartUpNamingTheLine) {
  const std::string bad = recsys::testing::WriteFile(
      files->dir, "bad_keys",
      absl::StrCat("# ok so far\n", access::KeysFileLine("ops", kAdminKey, {Scope::kAdmin}),
                   "\nshop sha256:1234 storefront\n"));
  const std::string log = files->dir + "/bad_keys.log";
  const int code = recsys::testing::RunCommand(
      absl::StrCat(RECSYS_SERVER, " --model_root=", files->model_root,
                   " --listen=127.0.0.1:0 --http_listen=127.0.0.1:0 --api_keys_file=", bad, " > ", log, " 2>&1"));
  EXPECT_EQ(code, 1);
  const std::string text = Read(log);
  EXPECT_NE(text.find("line 3"), std::string::npos) << text;
  EXPECT_EQ(text.find("listening"), std::string::npos) << text;
}

TEST_F(AccessTest, TheServerNeverLogsAKey) {
  const std::string log = files->dir + "/server.log";
  const std::string port_file = files->dir + "/server.port";
  auto server = recsys::testing::ChildProcess::Start(
      {RECSYS_SERVER, "--model_root=" + files->model_root, "--listen=127.0.0.1:0",
       "--http_listen=127.0.0.1:0",
       "--api_keys_file=" + files->keys_file, "--port_file=" + port_file, "--drain=0s",
       "--poll_seconds=0"},
      log);
  ASSERT_TRUE(server.ok()) << server.status();
  auto port = recsys::testing::WaitForPortFile(port_file, server->get(), absl::Seconds(60));
  ASSERT_TRUE(port.ok()) << port.status();
  auto channel = [&](const std::string& key) {
    access::ClientChannelOptions client;
    client.target = absl::StrCat("127.0.0.1:", *port);
    client.api_key = key;
    return *access::NewClientChannel(client);
  };
  EXPECT_TRUE(RecommendProducts(channel(kShopKey)).ok());
  EXPECT_EQ(Rollback(channel(kShopKey)).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Rollback(channel("rsk_wrong-guess")).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(Rollback(channel(kAdminKey)).ok());
  auto code = (*server)->Stop(SIGTERM, absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  const std::string text = Read(log);
  EXPECT_NE(text.find("3 API keys"), std::string::npos) << text;
  for (const char* key : {kShopKey, kMarketingKey, kAdminKey, "rsk_wrong-guess"}) {
    EXPECT_EQ(text.find(key), std::string::npos) << key << " in\n" << text;
  }
  EXPECT_EQ(text.find("rsk_"), std::string::npos) << text;
}

}  // namespace
}  // namespace recsys::server
