// The client side of access: which settings a channel refuses, and where
// the key comes from.
#include "access/client_channel.h"

#include <string>

#include "gtest/gtest.h"
#include "tests/testing/test_files.h"

namespace recsys::access {
namespace {

// Nothing listens there: channels connect lazily.
const std::string kTarget("127.0.0.1:1");

TEST(ClientChannelTest, PlaintextAndTlsChannelsAreMade) {
  ClientChannelOptions plaintext;
  plaintext.target = kTarget;
  EXPECT_TRUE(NewClientChannel(plaintext).ok());
  plaintext.api_key.assign(8, 'k');
  EXPECT_TRUE(NewClientChannel(plaintext).ok());
  ClientChannelOptions tls;
  tls.target = kTarget;
  tls.tls_ca_pem = "-----BEGIN CERTIFICATE-----";
  EXPECT_TRUE(NewClientChannel(tls).ok());
}

TEST(ClientChannelTest, IncompleteClientCertificatesAreRefused) {
  ClientChannelOptions options;
  options.target = kTarget;
  options.tls_ca_pem = "ca";
  options.tls_cert_pem = "cert";
  EXPECT_EQ(NewClientChannel(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.tls_key_pem = "key";
  options.tls_ca_pem.clear();
  EXPECT_EQ(NewClientChannel(options).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ClientChannelTest, TheKeyFileWinsOverTheEnvironment) {
  const std::string dir = recsys::testing::MakeUniqueDir("client_channel");
  const std::string file = recsys::testing::WriteFile(dir, "key", "  rsk_from_file\n");
  EXPECT_EQ(*ResolveApiKey(file, "rsk_from_env"), "rsk_from_file");
  EXPECT_EQ(*ResolveApiKey("", "rsk_from_env\n"), "rsk_from_env");
  EXPECT_EQ(*ResolveApiKey("", nullptr), "");
  EXPECT_EQ(ResolveApiKey(dir + "/missing", nullptr).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ClientChannelTest, ReadClientFilesNamesTheFlag) {
  ClientFiles files;
  files.target = "t";
  files.tls_ca_file = "/nonexistent/ca.pem";
  auto read = ReadClientFiles(files);
  ASSERT_FALSE(read.ok());
  EXPECT_NE(read.status().message().find("--tls_ca"), absl::string_view::npos) << read.status();
}

}  // namespace
}  // namespace recsys::access
