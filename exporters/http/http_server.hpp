// GET /metrics, /healthz, /api/v1/status, /api/v1/history and / over civetweb, over TLS and
// behind basic auth when --web.config.file says so (web_config.hpp). Handlers only
// read the latest Publication (one atomic shared_ptr load): a request never touches /proc or the
// cgroups. /api/v1/history reads the history files through the handler the daemon gives, at most
// kMaxHistoryRequests at a time (more get 503 with Retry-After).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/base/snapshot.hpp"
#include "exporters/http/lazy_text.hpp"
#include "exporters/http/web_config.hpp"

struct mg_context;
struct mg_connection;

namespace mobasher {

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

class BasicAuth;

class HttpServer {
 public:
  // Throws HttpError naming the address when it cannot listen, WebConfigError naming the file
  // when TLS cannot be set up with it (a key that is no key, a key not the certificate's). web:
  // TLS and basic auth (default: plain HTTP, open). threads: civetweb's workers, one per open
  // connection until its request is in (the constructor's options say why 128): /healthz keeps
  // answering in milliseconds beside 100 stalled connections (integration.http_abuse), where 16
  // workers (2.2 MiB of RSS less) let 16 stalled clients block every scrape.
  HttpServer(const std::string& listen, const Publication& pub, HistoryHandler history = {},
             const WebConfig& web = {}, int threads = 128);
  static constexpr int kMaxHistoryRequests = 2;
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Health as /healthz reports it: empty when healthy, else the reason.
  static std::string unhealthy_reason(const Published* p,
                                      std::chrono::steady_clock::time_point now);

 private:
  static int handle(mg_connection* conn, void* self);
  static int init_tls(void* ssl_ctx, void* self);
  int serve(mg_connection* conn);

  void serve_history(mg_connection* conn);
  // A response with the web config's headers and `extra` (lines ending in "\r\n").
  void reply(mg_connection* conn, int code, const char* reason, const char* type,
             std::string_view body, std::string_view extra = "");

  const Publication& pub_;
  HistoryHandler history_;
  std::optional<TlsServerSettings> tls_;
  std::string tls_error_;            // why init_tls failed
  std::unique_ptr<BasicAuth> auth_;  // nullptr: no basic_auth_users
  std::string headers_;              // http_server_config.headers, as header lines
  std::atomic<int> history_busy_{0};
  mg_context* ctx_ = nullptr;
};

}  // namespace mobasher
