// GET /metrics, /healthz, /api/v1/status, /api/v1/history and / over civetweb. Handlers only
// read the latest Publication (one atomic shared_ptr load): a request never touches /proc or the
// cgroups. /api/v1/history reads the history files through the handler the daemon gives, at most
// kMaxHistoryRequests at a time (more get 503 with Retry-After).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "agent/base/snapshot.hpp"

struct mg_context;
struct mg_connection;

namespace mobasher {

// A body made by the first request that asks for it and kept for the snapshot's life: a scan
// nobody scrapes costs no rendering. Thread-safe.
class LazyText {
 public:
  explicit LazyText(std::function<std::string()> make) : make_(std::move(make)) {}
  const std::string& get() const {
    std::call_once(once_, [this] {
      text_ = make_();
      make_ = nullptr;  // what it captured (the snapshot) is not kept twice
    });
    return text_;
  }

 private:
  mutable std::once_flag once_;
  mutable std::function<std::string()> make_;
  mutable std::string text_;
};

// Everything a request can serve, from one scan.
struct Published {
  SnapshotPtr snapshot;
  std::shared_ptr<const LazyText> metrics;  // text exposition 0.0.4
  std::shared_ptr<const LazyText> status;   // JSON
  std::shared_ptr<const LazyText> page;     // HTML
  std::chrono::steady_clock::time_point scanned_at;
  std::chrono::milliseconds stale_after{15'000};  // 3 scan intervals
  std::string failure;                            // non-empty: the last scan failed, and why
  std::string warning;  // non-empty: degraded but serving (e.g. history not written), and why
};

using QueryParams = std::vector<std::pair<std::string, std::string>>;  // decoded, in order
// Splits and decodes a query string ("a=1&b=x%20y"); a key without '=' has an empty value.
QueryParams parse_query(std::string_view query);
struct HttpReply {
  int code = 200;
  std::string type = "application/json", body;
  std::string headers;  // more header lines, each ending in "\r\n" ("Retry-After: 2\r\n")
};
// head: a HEAD request, which gets the same status and no body (so no file needs reading).
using HistoryHandler = std::function<HttpReply(const QueryParams&, bool head)>;

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
  // Throws HttpError naming the address when it cannot listen. threads: civetweb's workers; each
  // that has served a request keeps ~35 kB of stack and buffers (measured: 64 workers, all used
  // once, cost 2.2 MiB of RSS); 16 serve wrk at 200 keep-alive connections without an error.
  HttpServer(const std::string& listen, const Publication& pub, HistoryHandler history = {},
             int threads = 16);
  static constexpr int kMaxHistoryRequests = 2;
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Health as /healthz reports it: empty when healthy, else the reason.
  static std::string unhealthy_reason(const Published* p,
                                      std::chrono::steady_clock::time_point now);

 private:
  static int handle(mg_connection* conn, void* self);
  int serve(mg_connection* conn);

  void serve_history(mg_connection* conn);

  const Publication& pub_;
  HistoryHandler history_;
  std::atomic<int> history_busy_{0};
  mg_context* ctx_ = nullptr;
};

}  // namespace mobasher
