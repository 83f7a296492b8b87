// Options checks and address parsing (client.h).
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "redis/client.h"

namespace recsys::redis {

absl::Status ValidateOptions(const Options& options) {
  if (options.host.empty()) return absl::InvalidArgumentError("host: empty");
  if (options.port < 1 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port: must be in 1..65535, got ", options.port));
  }
  if (options.db < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("db: must be >= 0, got ", options.db));
  }
  if (!options.user.empty() && options.password.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "user: '", options.user, "' is set but the password is empty"));
  }
  if (options.pool_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("pool_size: must be >= 1, got ", options.pool_size));
  }
  if (options.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("connect_timeout: must be positive");
  }
  if (options.default_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("default_timeout: must be positive");
  }
  if (options.reconnect_backoff < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("reconnect_backoff: must be >= 0");
  }
  if (options.stall_trip < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("stall_trip: must be >= 0, got ", options.stall_trip));
  }
  return absl::OkStatus();
}

absl::StatusOr<Options> ParseAddress(absl::string_view address) {
  if (address.empty()) {
    return absl::InvalidArgumentError("redis address is empty");
  }
  absl::string_view host = address;
  absl::string_view port_text;
  bool has_port = false;
  if (address.front() == '[') {
    // "[v6 address]" or "[v6 address]:port".
    const size_t close = address.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("missing ']' in redis address '", address, "'"));
    }
    host = address.substr(1, close - 1);
    absl::string_view rest = address.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected '", rest, "' after ']' in redis address '",
                         address, "'"));
      }
      port_text = rest.substr(1);
      has_port = true;
    }
  } else {
    const size_t colon = address.find(':');
    if (colon != absl::string_view::npos) {
      if (address.find(':', colon + 1) != absl::string_view::npos) {
        return absl::InvalidArgumentError(
            absl::StrCat("redis address '", address,
                         "' has several ':'; write IPv6 hosts as [host]:port"));
      }
      host = address.substr(0, colon);
      port_text = address.substr(colon + 1);
      has_port = true;
    }
  }
  if (host.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("empty host in redis address '", address, "'"));
  }
  Options options;
  options.host = std::string(host);
  if (has_port) {
    int port = 0;
    if (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad port '", port_text, "' in redis address '", address, "'"));
    }
    options.port = port;
  }
  return options;
}

}  // namespace recsys::redis
