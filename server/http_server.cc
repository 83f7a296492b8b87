#include "server/http_server.h"

#include <httplib.h>
#include <sys/socket.h>

#include <chrono>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "server/status_page_html.h"

namespace recsys::server {
namespace {

// Splits "host:port" or "[v6]:port".
bool SplitAddress(const std::string& address, std::string* host, int* port) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  *host = address.substr(0, colon);
  if (host->size() > 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return absl::SimpleAtoi(address.substr(colon + 1), port) && *port >= 0 &&
         *port <= 65535;
}

}  // namespace

const std::string& StatusPageHtml() {
  static const std::string* page = new std::string(internal::kStatusPageHtml);
  return *page;
}

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(
    const HttpOptions& options, const metrics::Registry* registry,
    std::function<bool()> ready) {
  std::string host;
  int port = 0;
  if (!SplitAddress(options.listen_address, &host, &port)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "http_listen: expected host:port, got '", options.listen_address, "'"));
  }
  if (options.threads < 1) {
    return absl::InvalidArgumentError("http threads: must be >= 1");
  }
  std::unique_ptr<HttpServer> s(new HttpServer());
  s->server_ = std::make_unique<httplib::Server>();
  httplib::Server& http = *s->server_;
  const int threads = options.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http.set_read_timeout(5);
  http.set_write_timeout(5);
  http.set_payload_max_length(64 << 10);
  // httplib's default also sets SO_REUSEPORT, with which a second server
  // would silently share a busy port: SO_REUSEADDR only.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http.Get("/metrics",
           [registry](const httplib::Request&, httplib::Response& res) {
             res.set_content(registry->Exposition(),
                             "text/plain; version=0.0.4; charset=utf-8");
           });
  http.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  http.Get("/readyz", [ready = std::move(ready)](const httplib::Request&,
                                                 httplib::Response& res) {
    const bool ok = ready();
    res.status = ok ? 200 : 503;
    res.set_content(ok ? "ready\n" : "not ready\n", "text/plain");
  });
  http.Get("/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(StatusPageHtml(), "text/html; charset=utf-8");
  });
  const int bound = port == 0 ? http.bind_to_any_port(host)
                              : (http.bind_to_port(host, port) ? port : -1);
  if (bound <= 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen_address));
  }
  s->port_ = bound;
  s->thread_ = std::thread([p = s.get()] { p->server_->listen_after_bind(); });
  // Stop() is a no-op before the accept loop runs: wait for it (bounded).
  for (int i = 0; i < 5000 && !http.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  LogInfo(absl::StrCat("metrics and status page on http://", host, ":", bound,
                       "/ (/metrics, /healthz, /readyz)"));
  return s;
}

void HttpServer::Stop() {
  if (server_ != nullptr) server_->stop();
  if (thread_.joinable()) thread_.join();
}

HttpServer::~HttpServer() { Stop(); }

}  // namespace recsys::server
