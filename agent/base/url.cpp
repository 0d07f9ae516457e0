#include "agent/base/url.hpp"

namespace mobasher {

namespace {

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

// "host", "host:port", "[v6]" or "[v6]:port" into host and port (empty when not given).
bool split_authority(std::string_view authority, const std::string& quoted, std::string& host,
                     std::string_view& port, std::string& error) {
  if (!authority.starts_with('[')) {
    auto colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
    return true;
  }
  auto close = authority.find(']');
  if (close == std::string_view::npos) {
    error = "unterminated [IPv6 address] in " + quoted;
    return false;
  }
  host = authority.substr(1, close - 1);
  std::string_view after = authority.substr(close + 1);
  if (!after.empty() && !after.starts_with(':')) {
    error = "bad port \"" + std::string(after) + "\" in " + quoted;
    return false;
  }
  if (!after.empty()) port = after.substr(1);
  return true;
}

}  // namespace

std::string host_port(const ParsedUrl& url) {
  bool v6 = url.host.find(':') != std::string::npos;
  return (v6 ? "[" + url.host + "]" : url.host) + ":" + url.port;
}

std::optional<ParsedUrl> parse_url(std::string_view url, std::string& error) {
  auto quoted = "\"" + std::string(url) + "\"";
  for (unsigned char c : url) {
    if (c <= 0x20 || c == 0x7f) {
      error = quoted + " contains a space or control character";
      return std::nullopt;
    }
  }
  ParsedUrl out;
  auto scheme_end = url.find("://");
  std::string scheme = lowercase(url.substr(0, scheme_end));
  if (scheme_end == std::string_view::npos || (scheme != "http" && scheme != "https")) {
    error = quoted + " is not an http:// or https:// URL";
    return std::nullopt;
  }
  out.tls = scheme == "https";
  std::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find('#'));
  auto authority_end = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, authority_end);
  std::string_view target =
      authority_end == std::string_view::npos ? "" : rest.substr(authority_end);
  if (authority.find('@') != std::string_view::npos) {
    error = quoted + " has credentials (user:pass@): use headers or bearer_token_file";
    return std::nullopt;
  }
  std::string_view port;
  if (!split_authority(authority, quoted, out.host, port, error)) return std::nullopt;
  if (out.host.empty()) {
    error = "missing host in " + quoted;
    return std::nullopt;
  }
  if (port.empty()) {
    out.port = out.tls ? "443" : "80";  // "host:" with an empty port means the default (RFC 3986)
  } else {
    bool digits = port.size() <= 5 && port.find_first_not_of("0123456789") == std::string::npos;
    int number = digits ? std::stoi(std::string(port)) : 0;
    if (number < 1 || number > 65535) {
      error = "bad port \"" + std::string(port) + "\" in " + quoted + " (use 1-65535)";
      return std::nullopt;
    }
    out.port = port;
  }
  out.target = target.empty() || target.starts_with('?') ? "/" + std::string(target) : target;
  return out;
}

std::string host_header(const ParsedUrl& url) {
  bool default_port = url.port == (url.tls ? "443" : "80");
  if (!default_port) return host_port(url);
  return url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
}

}  // namespace mobasher
