#include "exporters/alerting/webhook_client.hpp"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <system_error>
#include <variant>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "agent/base/errno_text.hpp"
#include "agent/base/quantities.hpp"

namespace mobasher {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// Enough for any receiver's error page; only HttpResult::kMaxBody of it is kept.
constexpr uint64_t kBodyReadLimit = 64 << 10;
constexpr size_t kMaxTokenFile = 64 << 10;

HttpResult failure(std::string error) {
  HttpResult r;
  r.error = std::move(error);
  return r;
}

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

bool is_token_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Control characters in a header would end it early and let the rest forge other headers.
bool has_control_char(std::string_view s) {
  for (unsigned char c : s)
    if ((c < 0x20 && c != '\t') || c == 0x7f) return true;
  return false;
}

// Read at every post so a rotated token is picked up without a reload. A small local file:
// reading it inline does not stall the io_context in any way that matters.
std::optional<std::string> read_token(const std::string& path, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "bearer_token_file " + path + ": " + errno_text(errno);
    return std::nullopt;
  }
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0 && text.size() < kMaxTokenFile) text.append(buf, n);
  int read_errno = errno;
  ::close(fd);
  if (n < 0) {
    error = "bearer_token_file " + path + ": " + errno_text(read_errno);
    return std::nullopt;
  }
  auto first = text.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) {
    error = "bearer_token_file " + path + " is empty";
    return std::nullopt;
  }
  text = text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
  if (has_control_char(text)) {
    error = "bearer_token_file " + path + ": not a single-line token";
    return std::nullopt;
  }
  return text;
}

}  // namespace

// One request/response on a fresh connection. Handlers hold a shared_ptr to it, never to the
// client, so the client may be destroyed (or post again from `done`) while they are pending.
class WebhookClient::Exchange : public std::enable_shared_from_this<Exchange> {
  using TlsStream = beast::ssl_stream<beast::tcp_stream>;
  using Stream = std::variant<beast::tcp_stream, TlsStream>;

 public:
  using Done = std::function<void(HttpResult)>;

  Exchange(asio::io_context& io, const WebhookTarget& target, ParsedUrl url,
           std::shared_ptr<ssl::context> tls, http::request<http::string_body> req, Done done)
      : url_(std::move(url)),
        timeout_(target.timeout),
        tls_(std::move(tls)),
        resolver_(io),
        resolve_deadline_(io),
        stream_(make_stream(io, tls_.get())),
        req_(std::move(req)),
        done_(std::move(done)) {
    if (auto* s = std::get_if<TlsStream>(&stream_)) {
      if (!is_ip_literal(url_.host))  // RFC 6066: no SNI for address literals
        SSL_set_tlsext_host_name(s->native_handle(), url_.host.c_str());
      // The stream (and this callback) lives inside the exchange: `this` outlives every call.
      if (!target.insecure_skip_verify)
        s->set_verify_callback([this, check = ssl::host_name_verification(url_.host)](
                                   bool preverified, ssl::verify_context& ctx) mutable {
          bool ok = check(preverified, ctx);
          if (preverified && !ok) wrong_host_ = true;  // OpenSSL would only say "unspecified"
          return ok;
        });
    }
    parser_.body_limit(kBodyReadLimit);
  }

  void start() {
    deadline_ = std::chrono::steady_clock::now() + timeout_;
    // getaddrinfo cannot be interrupted: this timer ends the exchange on time, the lookup's late
    // completion is then ignored. After it, the stream's own expiry covers the socket.
    resolve_deadline_.expires_at(deadline_);
    resolve_deadline_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec && !self->resolved_)  // resolved_: its cancel() came too late to abort this
        self->finish(failure("timeout after " + format_duration(self->timeout_) + " (resolve)"));
    });
    resolver_.async_resolve(url_.host, url_.port,
                            beast::bind_front_handler(&Exchange::on_resolve, shared_from_this()));
  }

  // Ends the exchange; no handler reports after this. Returns `done` the first time only.
  Done stop() {
    if (stopped_) return {};
    stopped_ = true;
    resolve_deadline_.cancel();
    resolver_.cancel();
    tcp().close();
    return std::move(done_);
  }
  bool stopped() const { return stopped_; }

 private:
  static Stream make_stream(asio::io_context& io, ssl::context* tls) {
    if (tls) return Stream(std::in_place_type<TlsStream>, io, *tls);
    return Stream(std::in_place_type<beast::tcp_stream>, io);
  }

  beast::tcp_stream& tcp() {
    return std::visit([](auto& s) -> beast::tcp_stream& { return beast::get_lowest_layer(s); },
                      stream_);
  }

  void finish(HttpResult r) {
    if (auto done = stop()) done(std::move(r));
  }

  void fail(const std::string& step, beast::error_code ec) {
    if (ec == beast::error::timeout)
      finish(failure("timeout after " + format_duration(timeout_) + " (" + step + ")"));
    else
      finish(failure(step + ": " + ec.message()));
  }

  void on_resolve(beast::error_code ec, tcp::resolver::results_type endpoints) {
    if (stopped_) return;
    resolved_ = true;
    resolve_deadline_.cancel();
    if (ec) return fail("resolve " + url_.host, ec);
    tcp().expires_at(deadline_);
    tcp().async_connect(endpoints,
                        beast::bind_front_handler(&Exchange::on_connect, shared_from_this()));
  }

  void on_connect(beast::error_code ec, const tcp::endpoint&) {
    if (stopped_) return;
    if (ec) return fail("connect " + host_port(url_), ec);
    if (auto* tls = std::get_if<TlsStream>(&stream_)) {
      tls->async_handshake(ssl::stream_base::client,
                           beast::bind_front_handler(&Exchange::on_handshake, shared_from_this()));
    } else {
      write();
    }
  }

  void on_handshake(beast::error_code ec) {
    if (stopped_) return;
    if (ec == beast::error::timeout) return fail("TLS handshake", ec);
    if (ec) {
      // "certificate verify failed" alone does not say which check failed.
      std::string why = wrong_host_ ? " (certificate not valid for " + url_.host + ")" : "";
      long verify = SSL_get_verify_result(std::get<TlsStream>(stream_).native_handle());
      if (why.empty() && verify != X509_V_OK)
        why = std::string(" (") + X509_verify_cert_error_string(verify) + ")";
      return finish(failure("TLS handshake: " + ec.message() + why));
    }
    write();
  }

  void write() {
    std::visit(
        [this](auto& s) {
          http::async_write(s, req_,
                            beast::bind_front_handler(&Exchange::on_write, shared_from_this()));
        },
        stream_);
  }

  void on_write(beast::error_code ec, size_t) {
    if (stopped_) return;
    if (ec) return fail("write", ec);
    std::visit(
        [this](auto& s) {
          http::async_read(s, buffer_, parser_,
                           beast::bind_front_handler(&Exchange::on_read, shared_from_this()));
        },
        stream_);
  }

  void on_read(beast::error_code ec, size_t) {
    if (stopped_) return;
    // The status is the receiver's verdict: an oversized body, or a TLS peer that closes
    // without close_notify after its header, does not undo it.
    bool verdict_known = parser_.is_header_done() &&
                         (ec == http::error::body_limit || ec == ssl::error::stream_truncated);
    if (ec && !verdict_known) return fail("read", ec);
    HttpResult r;
    r.status = parser_.get().result_int();
    r.body = parser_.get().body().substr(0, HttpResult::kMaxBody);
    finish(std::move(r));
  }

  const ParsedUrl url_;
  const std::chrono::milliseconds timeout_;
  std::chrono::steady_clock::time_point deadline_;
  std::shared_ptr<ssl::context> tls_;  // before stream_: the stream uses it until destroyed
  tcp::resolver resolver_;
  asio::steady_timer resolve_deadline_;
  Stream stream_;
  http::request<http::string_body> req_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  Done done_;
  bool stopped_ = false;
  bool resolved_ = false;
  bool wrong_host_ = false;
};

WebhookClient::WebhookClient(asio::io_context& io, WebhookTarget target)
    : io_(io), target_(std::move(target)) {
  auto who = "webhook receiver \"" + target_.name + "\": ";
  std::string error;
  auto url = parse_url(target_.url, error);
  if (!url) throw std::invalid_argument(who + "url " + error);
  url_ = *url;
  if (target_.timeout <= std::chrono::milliseconds::zero())
    throw std::invalid_argument(who + "timeout must be positive");
  for (const auto& [name, value] : target_.headers) {
    bool token = !name.empty() && std::all_of(name.begin(), name.end(), is_token_char);
    if (!token || has_control_char(value))
      throw std::invalid_argument(who + "header \"" + name + "\" is not a valid HTTP header");
  }
  if (!url_.tls) return;  // ca_file and insecure_skip_verify only matter for https

  tls_ = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(tls_->native_handle(), TLS1_2_VERSION);
  if (target_.insecure_skip_verify) {
    tls_->set_verify_mode(ssl::verify_none);
    return;
  }
  tls_->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (target_.ca_file.empty()) {
    tls_->set_default_verify_paths(ec);
    if (ec) throw std::invalid_argument(who + "system CA certificates: " + ec.message());
    return;
  }
  // Open it first: errno says "No such file" / "Permission denied", OpenSSL only "system lib".
  int fd = ::open(target_.ca_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    throw std::invalid_argument(who + "ca_file " + target_.ca_file + ": " + errno_text(errno));
  ::close(fd);
  tls_->load_verify_file(target_.ca_file, ec);
  if (ec) throw std::invalid_argument(who + "ca_file " + target_.ca_file + ": " + ec.message());
}

WebhookClient::~WebhookClient() {
  if (current_) current_->stop();  // `done` is dropped, not run: see the header
}

bool WebhookClient::in_flight() const {
  return current_ && !current_->stopped();
}

void WebhookClient::post(std::string body, std::function<void(HttpResult)> done) {
  auto fail_soon = [&](std::string error) {
    asio::post(io_, [done = std::move(done), error = std::move(error)] { done(failure(error)); });
  };
  if (in_flight()) return fail_soon("a post is already in flight");

  // A new connection per post (Connection: close): notifications are rare, and a kept-alive
  // socket would only add stale-connection handling.
  http::request<http::string_body> req{http::verb::post, url_.target, 11};
  req.set(http::field::host, host_header(url_));
  req.set(http::field::user_agent, "mobasher-agent/" MOBASHER_VERSION);
  req.set(http::field::content_type, "application/json");
  req.set(http::field::connection, "close");
  for (const auto& [name, value] : target_.headers) req.set(name, value);
  if (!target_.bearer_token_file.empty()) {
    std::string error;
    auto token = read_token(target_.bearer_token_file, error);
    if (!token) return fail_soon(std::move(error));
    req.set(http::field::authorization, "Bearer " + *token);
  }
  req.body() = std::move(body);
  req.prepare_payload();

  current_ = std::make_shared<Exchange>(io_, target_, url_, tls_, std::move(req), std::move(done));
  current_->start();
}

void WebhookClient::cancel() {
  if (!current_) return;
  if (auto done = current_->stop())
    asio::post(io_, [done = std::move(done)] { done(failure("cancelled")); });
  current_.reset();
}

}  // namespace mobasher
