#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace httplib {
class Server;
}

namespace crm::server {

// A small HTTP endpoint for monitoring: GET /metrics answers with
// `render()` as Prometheus text (version 0.0.4), GET /healthz with "ok".
// Serves on its own thread from Start until the object is destroyed.
// `render` is called on that thread and must be thread-safe.
class MetricsServer {
 public:
  // Binds host:port (port 0 picks a free one) and starts serving.
  // kUnavailable when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(
      const std::string& host, int port, std::function<std::string()> render);
  ~MetricsServer();

  int port() const { return port_; }

 private:
  MetricsServer() = default;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;
  int port_ = 0;
};

}  // namespace crm::server
