// TLS for the HTTP server (tls_server_config of --web.config.file) lives in its own module,
// mobasher-server-tls.so (built from server_tls.cpp, linked with OpenSSL), loaded only when the
// web config asks for TLS: an agent serving plain HTTP maps neither libssl nor libcrypto.
// civetweb makes the SSL_CTX and hands it to its init_ssl callback; the module fills it in:
// certificate chain, key, protocol versions, client certificates.
#pragma once

#include <string>

#include "exporters/http/web_config.hpp"

// ssl_ctx: civetweb's SSL_CTX. false with *error naming the culprit ("cert_file /x: ...").
extern "C" bool mobasher_server_tls_setup(void* ssl_ctx, const mobasher::TlsServerSettings* tls,
                                          std::string* error);
inline constexpr const char* kServerTlsEntry = "mobasher_server_tls_setup";
inline constexpr const char* kServerTlsModule = "mobasher-server-tls.so";
