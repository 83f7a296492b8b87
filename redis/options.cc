// Options checks and address parsing (client.h).
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "redis/client.h"

namespace recsys::redis {
namespace {

std::string EndpointText(const Endpoint& endpoint) {
  if (absl::StrContains(endpoint.host, ':')) {
    return absl::StrCat("[", endpoint.host, "]:", endpoint.port);
  }
  return absl::StrCat(endpoint.host, ":", endpoint.port);
}

}  // namespace

absl::Status ValidateOptions(const Options& options) {
  if (options.topology == Topology::kSingle) {
    if (options.host.empty()) return absl::InvalidArgumentError("host: empty");
    if (options.port < 1 || options.port > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("port: must be in 1..65535, got ", options.port));
    }
  } else {
    if (options.nodes.empty()) {
      return absl::InvalidArgumentError(
          options.topology == Topology::kCluster
              ? "nodes: a cluster needs at least one seed node"
              : "nodes: sentinel mode needs at least one sentinel");
    }
    for (size_t i = 0; i < options.nodes.size(); ++i) {
      const Endpoint& node = options.nodes[i];
      if (node.host.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat("nodes[", i, "].host: empty"));
      }
      if (node.port < 1 || node.port > 65535) {
        return absl::InvalidArgumentError(absl::StrCat(
            "nodes[", i, "].port: must be in 1..65535, got ", node.port));
      }
    }
  }
  if (options.topology == Topology::kSentinel &&
      options.sentinel_master.empty()) {
    return absl::InvalidArgumentError(
        "sentinel_master: empty (the master's name, e.g. "
        "redis-sentinel://host:26379/mymaster)");
  }
  if (options.topology == Topology::kCluster && options.db != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "db: a Redis Cluster has only database 0, got ", options.db));
  }
  if (options.max_redirects < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_redirects: must be >= 1, got ", options.max_redirects));
  }
  if (options.cluster_refresh_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("cluster_refresh_interval: must be >= 0");
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

namespace {

// "host:port", "host", "[v6]:port" or "[v6]".
absl::StatusOr<Endpoint> ParseHostPort(absl::string_view address) {
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
  Endpoint endpoint;
  endpoint.host = std::string(host);
  if (has_port) {
    int port = 0;
    if (!absl::SimpleAtoi(port_text, &port) || port < 1 || port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad port '", port_text, "' in redis address '", address, "'"));
    }
    endpoint.port = port;
  }
  return endpoint;
}

absl::StatusOr<std::vector<Endpoint>> ParseHostList(absl::string_view list) {
  std::vector<Endpoint> endpoints;
  for (absl::string_view part : absl::StrSplit(list, ',')) {
    absl::StatusOr<Endpoint> endpoint = ParseHostPort(part);
    if (!endpoint.ok()) return endpoint.status();
    endpoints.push_back(*std::move(endpoint));
  }
  return endpoints;
}

}  // namespace

absl::StatusOr<Options> ParseAddress(absl::string_view address) {
  Options options;
  absl::string_view rest = address;
  enum class Scheme {
    kNone,
    kRedis,
    kCluster,
    kSentinel
  } scheme = Scheme::kNone;
  if (absl::ConsumePrefix(&rest, "redis://")) {
    scheme = Scheme::kRedis;
  } else if (absl::ConsumePrefix(&rest, "redis-cluster://")) {
    scheme = Scheme::kCluster;
  } else if (absl::ConsumePrefix(&rest, "redis-sentinel://")) {
    scheme = Scheme::kSentinel;
  } else if (absl::StrContains(address, "://")) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown scheme in redis address '", address,
                     "'; use redis://, redis-cluster:// or redis-sentinel://"));
  }
  if (scheme != Scheme::kNone) {
    const size_t at = rest.rfind('@');
    if (at != absl::string_view::npos) {
      const absl::string_view userinfo = rest.substr(0, at);
      if (absl::StrContains(userinfo, ':')) {
        // Never quote the address: it holds the password.
        return absl::InvalidArgumentError(
            "the redis address holds a password (user:password@); give the "
            "password with --redis_password_file or RECSYS_REDIS_PASSWORD "
            "instead, never on the command line");
      }
      if (userinfo.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "empty user before '@' in redis address '", address, "'"));
      }
      options.user = std::string(userinfo);
      rest = rest.substr(at + 1);
    }
  }
  if (scheme == Scheme::kSentinel) {
    const size_t slash = rest.find('/');
    if (slash == absl::string_view::npos || slash + 1 == rest.size()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "redis address '", address,
          "' names no master: use redis-sentinel://host:port[,...]/master"));
    }
    options.sentinel_master = std::string(rest.substr(slash + 1));
    rest = rest.substr(0, slash);
  } else if (absl::EndsWith(rest, "/")) {
    rest.remove_suffix(1);
  }
  absl::StatusOr<std::vector<Endpoint>> endpoints = ParseHostList(rest);
  if (!endpoints.ok()) return endpoints.status();
  if (scheme == Scheme::kSentinel) {
    options.topology = Topology::kSentinel;
    options.nodes = *std::move(endpoints);
  } else if (scheme == Scheme::kCluster || endpoints->size() > 1) {
    options.topology = Topology::kCluster;
    options.nodes = *std::move(endpoints);
  } else {
    options.host = (*endpoints)[0].host;
    options.port = (*endpoints)[0].port;
  }
  return options;
}

std::string FormatAddress(const Options& options) {
  switch (options.topology) {
    case Topology::kSingle:
      return EndpointText(Endpoint{options.host, options.port});
    case Topology::kCluster:
    case Topology::kSentinel: {
      std::string text = options.topology == Topology::kCluster
                             ? "redis-cluster://"
                             : "redis-sentinel://";
      absl::StrAppend(&text,
                      absl::StrJoin(options.nodes, ",",
                                    [](std::string* out, const Endpoint& e) {
                                      out->append(EndpointText(e));
                                    }));
      if (options.topology == Topology::kSentinel) {
        absl::StrAppend(&text, "/", options.sentinel_master);
      }
      return text;
    }
  }
  return "";
}

}  // namespace recsys::redis
