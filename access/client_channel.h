// The client side of access control: a channel to recsys_server that sends
// the API key on every call and speaks TLS when given a CA. Used by
// recsys_cli, recsys_audience, recsys_load and the tests.
//
//   auto channel = recsys::access::NewClientChannel(
//       {.target = "recsys:50051", .api_key = key, .tls_ca_pem = ca});
#ifndef RECSYS_ACCESS_CLIENT_CHANNEL_H_
#define RECSYS_ACCESS_CLIENT_CHANNEL_H_

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace recsys::access {

struct ClientChannelOptions {
  // host:port of the server.
  std::string target;
  // Sent as `authorization: Bearer <api_key>` metadata on every call (a
  // client interceptor); empty: no key.
  std::string api_key;
  // PEM contents. tls_ca_pem set: TLS, the server's certificate verified
  // against it; empty: plaintext.
  std::string tls_ca_pem;
  // Client certificate chain and its key for mutual TLS (both or neither;
  // require tls_ca_pem).
  std::string tls_cert_pem;
  std::string tls_key_pem;
  // Extra channel arguments (e.g. one subchannel per channel).
  grpc::ChannelArguments args;
};

// InvalidArgument for a client certificate without its key (or the
// reverse) or without tls_ca_pem. The channel connects lazily.
absl::StatusOr<std::shared_ptr<grpc::Channel>> NewClientChannel(
    const ClientChannelOptions& options);

// What a client's flags name: files, and the value of RECSYS_API_KEY (main
// reads flags and env; this reads the files).
struct ClientFiles {
  std::string target;
  // File holding the key (surrounding whitespace ignored); empty: the key
  // is `api_key_env`.
  std::string api_key_file;
  // getenv("RECSYS_API_KEY"), may be null.
  const char* api_key_env = nullptr;
  std::string tls_ca_file;    // PEM; set: TLS
  std::string tls_cert_file;  // PEM; with tls_key_file: mutual TLS
  std::string tls_key_file;
};

// ClientChannelOptions with the files read; NotFound naming the flag of a
// file that cannot be read.
absl::StatusOr<ClientChannelOptions> ReadClientFiles(const ClientFiles& files);

// The contents of `path` ("" for an empty path); NotFound naming `what`
// and the path when it cannot be read.
absl::StatusOr<std::string> ReadFileOrEmpty(absl::string_view what, const std::string& path);

// The API key a client sends: the contents of `key_file` without
// surrounding whitespace when it is set, else `env_value` (the caller's
// RECSYS_API_KEY, may be null); "" when neither is set.
absl::StatusOr<std::string> ResolveApiKey(const std::string& key_file, const char* env_value);

}  // namespace recsys::access

#endif  // RECSYS_ACCESS_CLIENT_CHANNEL_H_
