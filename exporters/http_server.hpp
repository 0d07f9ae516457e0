// GET /metrics, /healthz, /api/v1/status and / over civetweb. Handlers only read the latest
// Publication (one atomic shared_ptr load): a request never touches /proc or the cgroups.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include "agent/snapshot.hpp"

struct mg_context;
struct mg_connection;

namespace mobasher {

// Everything a request can serve, rendered once per scan.
struct Published {
  SnapshotPtr snapshot;
  std::string metrics;  // text exposition 0.0.4
  std::string status;   // JSON
  std::string page;     // HTML
  std::chrono::steady_clock::time_point scanned_at;
  std::chrono::milliseconds stale_after{15'000};  // 3 scan intervals
  std::string failure;                            // non-empty: the last scan failed, and why
};

class Publication {
 public:
  void publish(std::shared_ptr<const Published> p) { latest_.store(std::move(p)); }
  std::shared_ptr<const Published> latest() const { return latest_.load(); }

 private:
  std::atomic<std::shared_ptr<const Published>> latest_;
};

class HttpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class HttpServer {
 public:
  // Throws HttpError naming the address when it cannot listen.
  HttpServer(const std::string& listen, const Publication& pub, int threads = 64);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Health as /healthz reports it: empty when healthy, else the reason.
  static std::string unhealthy_reason(const Published* p,
                                      std::chrono::steady_clock::time_point now);

 private:
  static int handle(mg_connection* conn, void* self);
  int serve(mg_connection* conn);

  const Publication& pub_;
  mg_context* ctx_ = nullptr;
};

}  // namespace mobasher
