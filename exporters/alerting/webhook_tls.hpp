// The https half of the webhook client lives in its own module, mobasher-webhook-tls.so (built
// from webhook_tls.cpp, linked with OpenSSL), which the client loads only when a receiver's URL is
// https: an agent without one maps neither libssl nor libcrypto (1.7 MiB of RSS measured,
// docs/BENCHMARKS.md). This is the interface between the two; both are built from the same
// sources by the same compiler, so C++ types may cross it.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>

#include "exporters/alerting/webhook_exchange.hpp"

namespace mobasher {

// One receiver's TLS settings (verification, CA file), ready to make exchanges.
class TlsClientContext {
 public:
  virtual ~TlsClientContext() = default;
  virtual std::shared_ptr<ExchangeBase> exchange(boost::asio::io_context& io, ExchangeSpec spec,
                                                 WebhookRequest req, ExchangeDone done) = 0;
};

}  // namespace mobasher

// The module's one entry point. nullptr with *error set to the culprit ("ca_file /x: No such
// file or directory", "system CA certificates: ...") when the context cannot be made.
extern "C" mobasher::TlsClientContext* mobasher_webhook_tls_context(
    const mobasher::WebhookTarget* target, std::string* error);
inline constexpr const char* kWebhookTlsEntry = "mobasher_webhook_tls_context";
inline constexpr const char* kWebhookTlsModule = "mobasher-webhook-tls.so";
