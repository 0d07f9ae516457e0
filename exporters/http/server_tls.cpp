// mobasher-server-tls.so: fills in civetweb's SSL_CTX from tls_server_config (server_tls.hpp
// says why this is a module). Links OpenSSL and the standard library only.
#include "exporters/http/server_tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

using mobasher::ClientAuth;
using mobasher::TlsVersion;

// OpenSSL's queued errors as one line ("... no such file; ... PEM routines::no start line").
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out += (out.empty() ? "" : "; ") + std::string(buf);
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

int protocol(TlsVersion v) {
  switch (v) {
    case TlsVersion::tls10:
      return TLS1_VERSION;
    case TlsVersion::tls11:
      return TLS1_1_VERSION;
    case TlsVersion::tls12:
      return TLS1_2_VERSION;
    case TlsVersion::tls13:
      return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

// RequestClientCert and RequireAnyClientCert take any certificate, as Go's do.
int accept_any(int, X509_STORE_CTX*) {
  return 1;
}

bool client_certificates(SSL_CTX* ctx, const mobasher::TlsServerSettings& t, std::string& error) {
  if (t.client_auth == ClientAuth::none) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return true;
  }
  bool require =
      t.client_auth == ClientAuth::require_any || t.client_auth == ClientAuth::require_and_verify;
  bool verify = t.client_auth == ClientAuth::verify_if_given ||
                t.client_auth == ClientAuth::require_and_verify;
  int mode = SSL_VERIFY_PEER | (require ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
  if (verify) {
    if (SSL_CTX_load_verify_locations(ctx, t.client_ca_file.c_str(), nullptr) != 1) {
      error = "client_ca_file " + t.client_ca_file + ": " + openssl_errors();
      return false;
    }
    SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(t.client_ca_file.c_str()));
  }
  SSL_CTX_set_verify(ctx, mode, verify ? nullptr : accept_any);
  // Session resumption with client certificates needs an id context (else handshakes fail).
  static const unsigned char kId[] = "mobasher-agent";
  SSL_CTX_set_session_id_context(ctx, kId, sizeof kId - 1);
  return true;
}

}  // namespace

extern "C" bool mobasher_server_tls_setup(void* ssl_ctx, const mobasher::TlsServerSettings* tls,
                                          std::string* error) {
  auto* ctx = static_cast<SSL_CTX*>(ssl_ctx);
  const auto& t = *tls;
  ERR_clear_error();
  if (SSL_CTX_use_certificate_chain_file(ctx, t.cert_file.c_str()) != 1) {
    *error = "cert_file " + t.cert_file + ": " + openssl_errors();
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, t.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = "key_file " + t.key_file + ": " + openssl_errors();
    return false;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    *error = "key_file " + t.key_file + " does not match cert_file " + t.cert_file;
    return false;
  }
  if (SSL_CTX_set_min_proto_version(ctx, protocol(t.min_version)) != 1 ||
      (t.max_version && SSL_CTX_set_max_proto_version(ctx, protocol(*t.max_version)) != 1)) {
    *error = "min_version/max_version: " + openssl_errors();
    return false;
  }
  // civetweb set options with its own copies of OpenSSL 1.1's SSL_OP_* values, some of whose
  // bits mean something else in OpenSSL 3: SSL_OP_DISABLE_TLSEXT_CA_NAMES among them, which made
  // a TLS 1.3 CertificateRequest carry an empty certificate_authorities list that Go's TLS
  // (Prometheus) rejects ("tls: unexpected message"). The options are set again from this
  // OpenSSL's own values.
  SSL_CTX_clear_options(ctx, SSL_CTX_get_options(ctx));
  SSL_CTX_set_options(ctx,
                      SSL_OP_ALL | SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                          (t.prefer_server_cipher_suites ? SSL_OP_CIPHER_SERVER_PREFERENCE : 0));
  return client_certificates(ctx, t, *error);
}
