// mobasher-webhook-tls.so: https exchanges for the webhook client (webhook_tls.hpp says why this
// is a module). Links Boost (headers), OpenSSL and the standard library only.
#include "exporters/alerting/webhook_tls.hpp"

#include <fcntl.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/ssl.hpp>

namespace mobasher {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;

bool is_ip_literal(const std::string& host) {
  boost::system::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// The stream lives inside its Exchange, which never moves: `this` outlives every callback.
struct TlsTransport {
  static constexpr bool kHandshake = true;
  std::shared_ptr<ssl::context> ctx;  // before stream: the stream uses it until destroyed
  beast::ssl_stream<beast::tcp_stream> stream;
  std::string host;
  bool wrong_host = false;

  TlsTransport(asio::io_context& io, std::shared_ptr<ssl::context> context, std::string h,
               bool verify)
      : ctx(std::move(context)), stream(io, *ctx), host(std::move(h)) {
    if (!is_ip_literal(host))  // RFC 6066: no SNI for address literals
      SSL_set_tlsext_host_name(stream.native_handle(), host.c_str());
    if (verify)
      stream.set_verify_callback([this, check = ssl::host_name_verification(host)](
                                     bool preverified, ssl::verify_context& vc) mutable {
        bool ok = check(preverified, vc);
        if (preverified && !ok) wrong_host = true;  // OpenSSL would only say "unspecified"
        return ok;
      });
  }
  template <typename Handler>
  void handshake(Handler&& h) {
    stream.async_handshake(ssl::stream_base::client, std::forward<Handler>(h));
  }
  // "certificate verify failed" alone does not say which check failed.
  std::string handshake_error(beast::error_code ec) {
    std::string why = wrong_host ? " (certificate not valid for " + host + ")" : "";
    long verify = SSL_get_verify_result(stream.native_handle());
    if (why.empty() && verify != X509_V_OK)
      why = std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    return "TLS handshake: " + ec.message() + why;
  }
  static bool truncated(beast::error_code ec) { return ec == ssl::error::stream_truncated; }
};

class Context : public TlsClientContext {
 public:
  Context(std::shared_ptr<ssl::context> ctx, bool verify) : ctx_(std::move(ctx)), verify_(verify) {}
  std::shared_ptr<ExchangeBase> exchange(asio::io_context& io, ExchangeSpec spec,
                                         WebhookRequest req, ExchangeDone done) override {
    std::string host = spec.host;
    return std::make_shared<Exchange<TlsTransport>>(
        io, std::move(spec), std::move(req), std::move(done), ctx_, std::move(host), verify_);
  }

 private:
  std::shared_ptr<ssl::context> ctx_;
  bool verify_;
};

Context* make_context(const WebhookTarget& target, std::string& error) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  if (target.insecure_skip_verify) {
    ctx->set_verify_mode(ssl::verify_none);
    return new Context(ctx, false);
  }
  ctx->set_verify_mode(ssl::verify_peer);
  boost::system::error_code ec;
  if (target.ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) {
      error = "system CA certificates: " + ec.message();
      return nullptr;
    }
    return new Context(ctx, true);
  }
  // Open it first: errno says "No such file" / "Permission denied", OpenSSL only "system lib".
  int fd = ::open(target.ca_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "ca_file " + target.ca_file + ": " + std::generic_category().message(errno);
    return nullptr;
  }
  ::close(fd);
  ctx->load_verify_file(target.ca_file, ec);
  if (ec) {
    error = "ca_file " + target.ca_file + ": " + ec.message();
    return nullptr;
  }
  return new Context(ctx, true);
}

}  // namespace
}  // namespace mobasher

extern "C" mobasher::TlsClientContext* mobasher_webhook_tls_context(
    const mobasher::WebhookTarget* target, std::string* error) {
  try {
    return mobasher::make_context(*target, *error);
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
}
