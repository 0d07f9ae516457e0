// libssl.so for civetweb, in lib/mobasher-agent (not on the system's library path).
//
// Debian 12's libcivetweb1 (1.15) is built for the OpenSSL 1.1 API and dlopens "libssl.so":
// OpenSSL 3 renamed one function it calls on every TLS connection, SSL_get_peer_certificate
// (now SSL_get1_peer_certificate; the old name is only a macro), so with the real libssl.so.3
// civetweb calls a null pointer and the agent dies at the first https request (measured:
// SIGSEGV in civetweb-worker). This library is what civetweb finds as "libssl.so" through the
// agent's DT_RPATH: it needs libssl.so.3, so dlsym finds every other function there, and adds
// the old name. Nothing else.
#include <openssl/ssl.h>

#undef SSL_get_peer_certificate  // OpenSSL 3's macro for SSL_get1_peer_certificate

extern "C" X509* SSL_get_peer_certificate(const SSL* ssl) {
  return SSL_get1_peer_certificate(ssl);
}
