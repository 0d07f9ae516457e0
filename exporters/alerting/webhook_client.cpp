#include "exporters/alerting/webhook_client.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <stdexcept>
#include <system_error>

#include <boost/asio/post.hpp>

#include "agent/base/errno_text.hpp"
#include "agent/base/module_loader.hpp"
#include "agent/base/quantities.hpp"
#include "exporters/alerting/webhook_exchange.hpp"
#include "exporters/alerting/webhook_tls.hpp"

namespace mobasher {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr size_t kMaxTokenFile = 64 << 10;

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

struct PlainTransport {
  static constexpr bool kHandshake = false;
  beast::tcp_stream stream;
  explicit PlainTransport(asio::io_context& io) : stream(io) {}
  template <typename Handler>
  void handshake(Handler&&) {}
  std::string handshake_error(beast::error_code) { return {}; }
  static bool truncated(beast::error_code) { return false; }
};

// Loads mobasher-webhook-tls.so (agent/base/module_loader.hpp says where from).
std::shared_ptr<TlsClientContext> load_tls(const WebhookTarget& target, std::string& error) {
  void* entry = load_module_entry(kWebhookTlsModule, kWebhookTlsEntry, error);
  if (!entry) {
    error = "https needs " + error;
    return nullptr;
  }
  auto make = reinterpret_cast<decltype(&mobasher_webhook_tls_context)>(entry);
  return std::shared_ptr<TlsClientContext>(make(&target, &error));
}

}  // namespace

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

  tls_ = load_tls(target_, error);
  if (!tls_) throw std::invalid_argument(who + error);
}

WebhookClient::~WebhookClient() {
  if (current_) current_->stop();  // `done` is dropped, not run: see the header
}

bool WebhookClient::in_flight() const {
  return current_ && !current_->stopped();
}

void WebhookClient::post(std::string body, std::function<void(HttpResult)> done) {
  auto fail_soon = [&](std::string error) {
    asio::post(io_, [done = std::move(done), error = std::move(error)] {
      done(HttpResult::failure(error));
    });
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

  ExchangeSpec spec{url_.host, url_.port, host_port(url_), target_.timeout,
                    "timeout after " + format_duration(target_.timeout)};
  if (tls_)
    current_ = tls_->exchange(io_, std::move(spec), std::move(req), std::move(done));
  else
    current_ = std::make_shared<Exchange<PlainTransport>>(io_, std::move(spec), std::move(req),
                                                          std::move(done));
  current_->start();
}

void WebhookClient::cancel() {
  if (!current_) return;
  if (auto done = current_->stop())
    asio::post(io_, [done = std::move(done)] { done(HttpResult::failure("cancelled")); });
  current_.reset();
}

}  // namespace mobasher
