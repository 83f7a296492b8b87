// The operators' HTTP port (--http_listen, default 127.0.0.1:9464), served
// by cpp-httplib (Debian's libcpp-httplib-dev):
//   GET /metrics  the registry in the Prometheus text format 0.0.4
//   GET /healthz  200 "ok" while the process runs (liveness)
//   GET /readyz   200 "ready" while `ready()` is true, else 503 (readiness:
//                 the gRPC health status of the recommender is SERVING)
//   GET /         the live status page (status_page.html), which polls
//                 /metrics every few seconds
// Any other path is 404; any other method 405 (httplib's answer for a
// path that has no handler for it is 404 as well).
//
// Threading: requests are served by the server's own small thread pool,
// never by a gRPC thread; a scrape reads atomics and runs the registry's
// collectors there, so it never blocks a request thread.
#ifndef RECSYS_SERVER_HTTP_SERVER_H_
#define RECSYS_SERVER_HTTP_SERVER_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "metrics/metrics.h"

namespace httplib {
class Server;
}

namespace recsys::server {

struct HttpOptions {
  // "host:port" (IPv4 or a name; "[::1]:port" for IPv6). Port 0: any free
  // port (see HttpServer::port()). Default: this host only.
  std::string listen_address = "127.0.0.1:9464";
  // Threads serving HTTP requests. Default 2 (a scrape and a page).
  int threads = 2;
};

class HttpServer {
 public:
  // Binds and starts serving. `registry` is borrowed and must outlive the
  // server; `ready` is called on an HTTP thread for each /readyz.
  // InvalidArgument for a malformed address, Unavailable when it cannot be
  // bound.
  static absl::StatusOr<std::unique_ptr<HttpServer>> Start(
      const HttpOptions& options, const metrics::Registry* registry,
      std::function<bool()> ready);

  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port.
  int port() const { return port_; }
  // Stops accepting, finishes the requests in flight and joins. Idempotent.
  void Stop();

 private:
  HttpServer() = default;

  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// The status page served at "/" (server/status_page.html).
const std::string& StatusPageHtml();

}  // namespace recsys::server

#endif  // RECSYS_SERVER_HTTP_SERVER_H_
