// One webhook request/response on a fresh connection, over a Transport: plain TCP here
// (webhook_client.cpp) or TLS (webhook_tls.cpp, in the mobasher-webhook-tls module). Header-only
// on purpose: the module shares it without linking the agent's libraries, so it needs only
// Boost and the standard library; what it reports it gets as ready text (ExchangeSpec).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "exporters/alerting/webhook_client.hpp"

namespace mobasher {

struct ExchangeSpec {
  std::string host, port;  // what is resolved and connected to
  std::string where;       // "host:port" for messages
  std::chrono::milliseconds timeout{10'000};
  std::string timeout_text;  // "timeout after 10s", a step is appended: " (connect)"
};

using WebhookRequest = boost::beast::http::request<boost::beast::http::string_body>;
using ExchangeDone = std::function<void(HttpResult)>;

// What the client holds of an exchange, whatever its transport.
class ExchangeBase {
 public:
  virtual ~ExchangeBase() = default;
  virtual void start() = 0;
  // Ends the exchange; no handler reports after this. Returns `done` the first time only.
  virtual ExchangeDone stop() = 0;
  virtual bool stopped() const = 0;
};

// Enough for any receiver's error page; only HttpResult::kMaxBody of it is kept.
inline constexpr uint64_t kWebhookBodyReadLimit = 64 << 10;

// Handlers hold a shared_ptr to the exchange, never to the client, so the client may be destroyed
// (or post again from `done`) while they are pending. Transport: `stream` (a Beast stream),
// `handshake(handler)` or none (kHandshake false), `handshake_error(ec)` (the step's message),
// `truncated(ec)` (a peer's close without notice after the header: the verdict stands).
template <typename Transport>
class Exchange : public ExchangeBase, public std::enable_shared_from_this<Exchange<Transport>> {
  using tcp = boost::asio::ip::tcp;
  using error_code = boost::beast::error_code;

 public:
  template <typename... TransportArgs>
  Exchange(boost::asio::io_context& io, ExchangeSpec spec, WebhookRequest req, ExchangeDone done,
           TransportArgs&&... args)
      : spec_(std::move(spec)),
        resolver_(io),
        resolve_deadline_(io),
        transport_(io, std::forward<TransportArgs>(args)...),
        req_(std::move(req)),
        done_(std::move(done)) {
    parser_.body_limit(kWebhookBodyReadLimit);
  }

  void start() override {
    deadline_ = std::chrono::steady_clock::now() + spec_.timeout;
    // getaddrinfo cannot be interrupted: this timer ends the exchange on time, the lookup's late
    // completion is then ignored. After it, the stream's own expiry covers the socket.
    resolve_deadline_.expires_at(deadline_);
    resolve_deadline_.async_wait([self = this->shared_from_this()](error_code ec) {
      if (!ec && !self->resolved_)  // resolved_: its cancel() came too late to abort this
        self->finish(HttpResult::failure(self->spec_.timeout_text + " (resolve)"));
    });
    resolver_.async_resolve(spec_.host, spec_.port,
                            boost::beast::bind_front_handler(&Exchange::on_resolve, self()));
  }

  ExchangeDone stop() override {
    if (stopped_) return {};
    stopped_ = true;
    resolve_deadline_.cancel();
    resolver_.cancel();
    tcp_stream().close();
    return std::move(done_);
  }
  bool stopped() const override { return stopped_; }

 private:
  std::shared_ptr<Exchange> self() { return this->shared_from_this(); }
  boost::beast::tcp_stream& tcp_stream() {
    return boost::beast::get_lowest_layer(transport_.stream);
  }

  void finish(HttpResult r) {
    if (auto done = stop()) done(std::move(r));
  }
  void fail(const std::string& step, error_code ec) {
    if (ec == boost::beast::error::timeout)
      finish(HttpResult::failure(spec_.timeout_text + " (" + step + ")"));
    else
      finish(HttpResult::failure(step + ": " + ec.message()));
  }

  void on_resolve(error_code ec, tcp::resolver::results_type endpoints) {
    if (stopped_) return;
    resolved_ = true;
    resolve_deadline_.cancel();
    if (ec) return fail("resolve " + spec_.host, ec);
    tcp_stream().expires_at(deadline_);
    tcp_stream().async_connect(endpoints,
                               boost::beast::bind_front_handler(&Exchange::on_connect, self()));
  }

  void on_connect(error_code ec, const tcp::endpoint&) {
    if (stopped_) return;
    if (ec) return fail("connect " + spec_.where, ec);
    if constexpr (Transport::kHandshake)
      transport_.handshake(boost::beast::bind_front_handler(&Exchange::on_handshake, self()));
    else
      write();
  }

  void on_handshake(error_code ec) {
    if (stopped_) return;
    if (ec == boost::beast::error::timeout) return fail("TLS handshake", ec);
    if (ec) return finish(HttpResult::failure(transport_.handshake_error(ec)));
    write();
  }

  void write() {
    boost::beast::http::async_write(transport_.stream, req_,
                                    boost::beast::bind_front_handler(&Exchange::on_write, self()));
  }

  void on_write(error_code ec, size_t) {
    if (stopped_) return;
    if (ec) return fail("write", ec);
    boost::beast::http::async_read(transport_.stream, buffer_, parser_,
                                   boost::beast::bind_front_handler(&Exchange::on_read, self()));
  }

  void on_read(error_code ec, size_t) {
    if (stopped_) return;
    // The status is the receiver's verdict: an oversized body, or a TLS peer that closes
    // without close_notify after its header, does not undo it.
    bool verdict_known = parser_.is_header_done() &&
                         (ec == boost::beast::http::error::body_limit || Transport::truncated(ec));
    if (ec && !verdict_known) return fail("read", ec);
    HttpResult r;
    r.status = parser_.get().result_int();
    r.body = parser_.get().body().substr(0, HttpResult::kMaxBody);
    finish(std::move(r));
  }

  const ExchangeSpec spec_;
  std::chrono::steady_clock::time_point deadline_;
  tcp::resolver resolver_;
  boost::asio::steady_timer resolve_deadline_;
  Transport transport_;
  WebhookRequest req_;
  boost::beast::flat_buffer buffer_;
  boost::beast::http::response_parser<boost::beast::http::string_body> parser_;
  ExchangeDone done_;
  bool stopped_ = false;
  bool resolved_ = false;
};

}  // namespace mobasher
