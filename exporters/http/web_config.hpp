// --web.config.file: TLS and basic auth for every HTTP endpoint, in the format of the Prometheus
// exporter-toolkit (docs/web-configuration.md there; docs/OPERATIONS.md "Securing the endpoints"
// here), so a scrape_config with tls_config and basic_auth that talks to node_exporter talks to
// this agent unchanged. Parsed with yaml-cpp; every error names the file, the line and the key.
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mobasher {

// tls_server_config.client_auth_type, as Go's crypto/tls names them.
enum class ClientAuth {
  none,                // NoClientCert (default)
  request,             // RequestClientCert: asked for, not verified
  require_any,         // RequireAnyClientCert: required, not verified
  verify_if_given,     // VerifyClientCertIfGiven: verified against client_ca_file when sent
  require_and_verify,  // RequireAndVerifyClientCert
};

// TLS protocol versions as in tls_server_config.min_version (TLS10..TLS13).
enum class TlsVersion { tls10 = 10, tls11 = 11, tls12 = 12, tls13 = 13 };

struct TlsServerSettings {
  std::string cert_file, key_file;  // absolute (relative ones are taken from the file's folder)
  std::string client_ca_file;       // "" unless client_auth_type verifies
  ClientAuth client_auth = ClientAuth::none;
  TlsVersion min_version = TlsVersion::tls12;  // exporter-toolkit's default
  std::optional<TlsVersion> max_version;       // none: the newest OpenSSL speaks
  bool prefer_server_cipher_suites = true;
};

struct WebConfig {
  std::string source;                    // the file; "" = none (plain HTTP, no authentication)
  std::optional<TlsServerSettings> tls;  // none: plain HTTP
  std::vector<std::pair<std::string, std::string>> users;    // basic_auth_users: name, bcrypt hash
  std::vector<std::pair<std::string, std::string>> headers;  // http_server_config.headers
  bool secured() const { return tls || !users.empty(); }
};

class WebConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads and checks the file: unknown keys, missing or unreadable certificate files, a user
// without a valid bcrypt hash, a header exporter-toolkit does not allow. Throws WebConfigError
// ("web config FILE:LINE: tls_server_config.key_file: ...").
WebConfig load_web_config(const std::string& path);
// The same on text; base_dir resolves relative file names. Pure but for checking the files.
WebConfig parse_web_config(const std::string& text, const std::string& source,
                           const std::string& base_dir);
// One line for logs and check-config: "TLS (min TLS12) + basic auth (2 users)".
std::string describe(const WebConfig& web);

}  // namespace mobasher
