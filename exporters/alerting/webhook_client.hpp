// One receiver's HTTP(S) POSTs, asynchronous on the agent's io_context (Boost.Beast; https through
// the mobasher-webhook-tls module, webhook_tls.hpp).
// Delivery policy (outbox, retries, back-off) is the notifier's; this only does one exchange.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "agent/base/url.hpp"

namespace mobasher {

class ExchangeBase;
class TlsClientContext;

struct WebhookTarget {
  std::string name;  // receiver name, for messages
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;  // override the defaults if same name
  // Empty: none. Read at EVERY post (rotation), content trimmed -> "Authorization: Bearer X"
  // (over any Authorization in headers).
  std::string bearer_token_file;
  // The whole exchange: resolve + connect + TLS handshake + write + read.
  std::chrono::milliseconds timeout{10'000};
  std::string ca_file;  // empty: the system's default verify paths
  bool insecure_skip_verify = false;
};

struct HttpResult {
  int status = 0;     // HTTP status; 0 when there is no response (error says why)
  std::string body;   // at most kMaxBody bytes of the response body (for logs; may cut UTF-8)
  std::string error;  // transport error, empty when a response arrived, e.g.
                      // "connect 127.0.0.1:9: Connection refused", "timeout after 10s (read)",
                      // "TLS handshake: certificate verify failed (self-signed certificate)",
                      // "bearer_token_file /x: No such file or directory"
  static constexpr size_t kMaxBody = 4096;
  static HttpResult failure(std::string why) {  // no response: `error` says why
    HttpResult r;
    r.error = std::move(why);
    return r;
  }
};

// Redirects are not followed: a 3xx is a result like any other status (the caller's failure).
// A response whose body exceeds 64 KiB still gives its status, with the body read so far.
// All calls on the io_context's thread (or before it runs).
class WebhookClient {
 public:
  // Throws std::invalid_argument naming the receiver and the culprit (bad url, header,
  // unreadable ca_file).
  WebhookClient(boost::asio::io_context& io, WebhookTarget target);
  // Safe while a post is in flight: the exchange is cancelled and its `done` never runs (the
  // owner is going away with its callback's captures).
  ~WebhookClient();
  WebhookClient(const WebhookClient&) = delete;
  WebhookClient& operator=(const WebhookClient&) = delete;

  // One POST at a time: a post while one is in flight gets error "a post is already in flight".
  // `done` runs exactly once, on the io_context's thread, never inside post() itself, and may
  // post again. Content-Type: application/json; User-Agent: mobasher-agent/MOBASHER_VERSION.
  void post(std::string body, std::function<void(HttpResult)> done);
  // Ends the post in flight, if any: its `done` runs soon with error "cancelled".
  void cancel();
  bool in_flight() const;

  const WebhookTarget& target() const { return target_; }

 private:
  boost::asio::io_context& io_;
  WebhookTarget target_;
  ParsedUrl url_;
  std::shared_ptr<TlsClientContext> tls_;  // https only (loads the module); shared with exchanges
  std::shared_ptr<ExchangeBase> current_;
};

}  // namespace mobasher
