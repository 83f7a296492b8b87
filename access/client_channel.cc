#include "access/client_channel.h"

#include <fstream>
#include <sstream>
#include <utility>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/support/client_interceptor.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace recsys::access {
namespace {

namespace exp = grpc::experimental;

// Adds the authorization metadata before the call's headers are sent.
class AuthInterceptor final : public exp::Interceptor {
 public:
  explicit AuthInterceptor(const std::string* value) : value_(value) {}
  void Intercept(exp::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            exp::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", *value_});
    }
    methods->Proceed();
  }

 private:
  const std::string* value_;  // owned by the factory, which the channel keeps
};

class AuthInterceptorFactory final : public exp::ClientInterceptorFactoryInterface {
 public:
  explicit AuthInterceptorFactory(std::string value) : value_(std::move(value)) {}
  exp::Interceptor* CreateClientInterceptor(exp::ClientRpcInfo*) override {
    return new AuthInterceptor(&value_);
  }

 private:
  const std::string value_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> NewClientChannel(
    const ClientChannelOptions& options) {
  const bool client_cert = !options.tls_cert_pem.empty() || !options.tls_key_pem.empty();
  if (client_cert && (options.tls_cert_pem.empty() || options.tls_key_pem.empty())) {
    return absl::InvalidArgumentError("a client certificate needs its key (and the reverse)");
  }
  if (client_cert && options.tls_ca_pem.empty()) {
    return absl::InvalidArgumentError("a client certificate needs TLS: give the server's CA");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  if (options.tls_ca_pem.empty()) {
    credentials = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = options.tls_ca_pem;
    ssl.pem_private_key = options.tls_key_pem;
    ssl.pem_cert_chain = options.tls_cert_pem;
    credentials = grpc::SslCredentials(ssl);
  }
  std::vector<std::unique_ptr<exp::ClientInterceptorFactoryInterface>> interceptors;
  if (!options.api_key.empty()) {
    interceptors.push_back(
        std::make_unique<AuthInterceptorFactory>(absl::StrCat("Bearer ", options.api_key)));
  }
  return exp::CreateCustomChannelWithInterceptors(options.target, credentials, options.args,
                                                  std::move(interceptors));
}

absl::StatusOr<std::string> ReadFileOrEmpty(absl::string_view what, const std::string& path) {
  if (path.empty()) return std::string();
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  if (!in || !(text << in.rdbuf())) {
    return absl::NotFoundError(absl::StrCat(what, ": cannot read ", path));
  }
  return text.str();
}

absl::StatusOr<std::string> ResolveApiKey(const std::string& key_file, const char* env_value) {
  if (!key_file.empty()) {
    auto text = ReadFileOrEmpty("--api_key_file", key_file);
    if (!text.ok()) return text.status();
    return std::string(absl::StripAsciiWhitespace(*text));
  }
  if (env_value != nullptr) return std::string(absl::StripAsciiWhitespace(env_value));
  return std::string();
}

absl::StatusOr<ClientChannelOptions> ReadClientFiles(const ClientFiles& files) {
  ClientChannelOptions options;
  options.target = files.target;
  auto key = ResolveApiKey(files.api_key_file, files.api_key_env);
  if (!key.ok()) return key.status();
  options.api_key = *std::move(key);
  auto ca = ReadFileOrEmpty("--tls_ca", files.tls_ca_file);
  if (!ca.ok()) return ca.status();
  options.tls_ca_pem = *std::move(ca);
  auto cert = ReadFileOrEmpty("--tls_cert", files.tls_cert_file);
  if (!cert.ok()) return cert.status();
  options.tls_cert_pem = *std::move(cert);
  auto pem_key = ReadFileOrEmpty("--tls_key", files.tls_key_file);
  if (!pem_key.ok()) return pem_key.status();
  options.tls_key_pem = *std::move(pem_key);
  return options;
}

}  // namespace recsys::access
