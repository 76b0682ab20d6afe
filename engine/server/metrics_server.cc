#include "engine/server/metrics_server.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "httplib.h"

namespace crm::server {

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(
    const std::string& host, int port, std::function<std::string()> render) {
  auto server = std::unique_ptr<MetricsServer>(new MetricsServer());
  server->http_ = std::make_unique<httplib::Server>();
  // SO_REUSEADDR only: httplib's default adds SO_REUSEPORT, which would let
  // a second worker share the port silently and split the metrics.
  server->http_->set_socket_options([](socket_t sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server->http_->Get(
      "/metrics", [render](const httplib::Request&, httplib::Response& res) {
        res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
      });
  server->http_->Get("/healthz",
                     [](const httplib::Request&, httplib::Response& res) {
                       res.set_content("ok\n", "text/plain");
                     });
  int bound = port == 0 ? server->http_->bind_to_any_port(host)
                        : (server->http_->bind_to_port(host, port) ? port : -1);
  if (bound < 0) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on ", host, ":", port));
  }
  server->port_ = bound;
  httplib::Server* http = server->http_.get();
  server->thread_ = std::thread([http] { http->listen_after_bind(); });
  // httplib's stop() does nothing until the server runs: wait for it, so
  // the destructor can always stop it.
  for (int i = 0; i < 5000 && !http->is_running(); ++i) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  return server;
}

MetricsServer::~MetricsServer() {
  if (http_ != nullptr) http_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace crm::server
