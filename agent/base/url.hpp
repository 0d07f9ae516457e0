// http:// and https:// URLs as the config validates them and the webhook client connects to them:
// one grammar for both.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mobasher {

struct ParsedUrl {
  bool tls = false;
  std::string host;    // IPv6 literals without their brackets: what the resolver takes
  std::string port;    // "80" / "443" when the URL has none
  std::string target;  // path + query, "/" if empty; a #fragment is dropped (never sent)
};

// nullopt + `error` ("... is not an http:// or https:// URL", "missing host", "bad port ...")
// for bad URLs. Userinfo (user:pass@) is rejected: credentials belong in headers or
// bearer_token_file, not in a URL that ends up in logs.
std::optional<ParsedUrl> parse_url(std::string_view url, std::string& error);

// The Host header value: IPv6 literals bracketed, the port only when not the scheme's default.
std::string host_header(const ParsedUrl& url);

// "host:port", IPv6 literals bracketed: for messages and the connect error.
std::string host_port(const ParsedUrl& url);

}  // namespace mobasher
