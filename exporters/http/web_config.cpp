#include "exporters/http/web_config.hpp"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <set>
#include <sstream>

#include "agent/base/errno_text.hpp"

namespace mobasher {
namespace {

// Where a node is, for messages: "web config FILE:LINE: KEY: ".
struct Context {
  std::string source;
  std::string base_dir;
  [[noreturn]] void fail(const YAML::Node& at, const std::string& key,
                         const std::string& why) const {
    std::string line = at.Mark().is_null() ? "" : ":" + std::to_string(at.Mark().line + 1);
    throw WebConfigError("web config " + source + line + ": " + key + (key.empty() ? "" : ": ") +
                         why);
  }
};

// Only the keys this map names; exporter-toolkit reads the file strictly too.
void only_keys(const Context& cx, const YAML::Node& map, const std::string& where,
               std::initializer_list<const char*> known,
               std::initializer_list<std::pair<const char*, const char*>> unsupported = {}) {
  if (!map.IsMap()) cx.fail(map, where, "must be a mapping");
  for (const auto& kv : map) {
    auto key = kv.first.as<std::string>();
    std::string full = where.empty() ? key : where + "." + key;
    bool ok = false;
    for (const char* k : known) ok = ok || key == k;
    if (ok) continue;
    for (const auto& [name, why] : unsupported)
      if (key == name) cx.fail(kv.first, full, why);
    cx.fail(kv.first, full, "unknown key");
  }
}

std::string scalar(const Context& cx, const YAML::Node& n, const std::string& key) {
  if (!n.IsScalar()) cx.fail(n, key, "must be a string");
  return n.as<std::string>();
}

bool boolean(const Context& cx, const YAML::Node& n, const std::string& key) {
  bool value = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, value))
    cx.fail(n, key, "must be true or false");
  return value;
}

// A file the agent must be able to read at start: a mistake is found now, not at the first scrape.
std::string readable_file(const Context& cx, const YAML::Node& n, const std::string& key) {
  std::string path = scalar(cx, n, key);
  if (path.empty()) cx.fail(n, key, "is empty");
  if (path[0] != '/') path = cx.base_dir + "/" + path;
  if (::access(path.c_str(), R_OK) != 0) cx.fail(n, key, path + ": " + errno_text(errno));
  return path;
}

// One of a fixed set of names ("TLS12", "RequireAndVerifyClientCert"), else an error listing them.
template <typename E>
E choice(const Context& cx, const YAML::Node& n, const std::string& key,
         std::initializer_list<std::pair<const char*, E>> names) {
  auto s = scalar(cx, n, key);
  std::string all;
  for (const auto& [name, value] : names) {
    if (s == name) return value;
    all += (all.empty() ? "" : ", ") + std::string(name);
  }
  cx.fail(n, key, "\"" + s + "\" is not one of " + all);
}

TlsVersion tls_version(const Context& cx, const YAML::Node& n, const std::string& key) {
  return choice<TlsVersion>(cx, n, key,
                            {{"TLS10", TlsVersion::tls10},
                             {"TLS11", TlsVersion::tls11},
                             {"TLS12", TlsVersion::tls12},
                             {"TLS13", TlsVersion::tls13}});
}

ClientAuth client_auth(const Context& cx, const YAML::Node& n, const std::string& key) {
  return choice<ClientAuth>(cx, n, key,
                            {{"NoClientCert", ClientAuth::none},
                             {"RequestClientCert", ClientAuth::request},
                             {"RequireAnyClientCert", ClientAuth::require_any},
                             {"VerifyClientCertIfGiven", ClientAuth::verify_if_given},
                             {"RequireAndVerifyClientCert", ClientAuth::require_and_verify}});
}

std::optional<TlsServerSettings> tls_settings(const Context& cx, const YAML::Node& n) {
  const std::string at = "tls_server_config";
  if (n.IsNull()) return std::nullopt;
  only_keys(cx, n, at,
            {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version",
             "max_version", "prefer_server_cipher_suites"},
            {{"cipher_suites", "not supported: mobasher-agent uses OpenSSL's default suites"},
             {"curve_preferences", "not supported: mobasher-agent uses OpenSSL's default curves"},
             {"cert", "not supported: give the certificate as cert_file"},
             {"key", "not supported: give the key as key_file"},
             {"client_ca", "not supported: give the CA as client_ca_file"},
             {"client_allowed_sans", "not supported"}});
  bool has_cert = n["cert_file"].IsDefined(), has_key = n["key_file"].IsDefined();
  if (!has_cert && !has_key) {  // exporter-toolkit: no certificate, no TLS
    if (n.size() > 0) cx.fail(n, at, "cert_file and key_file are missing");
    return std::nullopt;
  }
  if (!has_cert) cx.fail(n, at + ".cert_file", "missing (key_file is set)");
  if (!has_key) cx.fail(n, at + ".key_file", "missing (cert_file is set)");
  TlsServerSettings t;
  t.cert_file = readable_file(cx, n["cert_file"], at + ".cert_file");
  t.key_file = readable_file(cx, n["key_file"], at + ".key_file");
  if (auto m = n["client_auth_type"]) t.client_auth = client_auth(cx, m, at + ".client_auth_type");
  if (auto c = n["client_ca_file"]) {
    t.client_ca_file = readable_file(cx, c, at + ".client_ca_file");
    if (t.client_auth == ClientAuth::none)
      cx.fail(c, at + ".client_ca_file",
              "set without a client_auth_type that asks for client certificates");
  }
  bool verifies = t.client_auth == ClientAuth::verify_if_given ||
                  t.client_auth == ClientAuth::require_and_verify;
  if (verifies && t.client_ca_file.empty())
    cx.fail(n, at + ".client_ca_file", "needed: client_auth_type verifies client certificates");
  if (auto v = n["min_version"]) t.min_version = tls_version(cx, v, at + ".min_version");
  if (auto v = n["max_version"]) t.max_version = tls_version(cx, v, at + ".max_version");
  if (t.max_version && *t.max_version < t.min_version)
    cx.fail(n["max_version"], at + ".max_version", "is older than min_version");
  if (auto p = n["prefer_server_cipher_suites"])
    t.prefer_server_cipher_suites = boolean(cx, p, at + ".prefer_server_cipher_suites");
  return t;
}

// bcrypt as Go's x/crypto/bcrypt (and htpasswd -B) write it: $2a$, $2b$ or $2y$, a two-digit cost
// 4..31, 53 characters of salt and hash in bcrypt's base64 alphabet.
bool bcrypt_hash(const std::string& h) {
  if (h.size() != 60 || h[0] != '$' || h[1] != '2' || h[3] != '$' || h[6] != '$') return false;
  if (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') return false;
  if (!std::isdigit(static_cast<unsigned char>(h[4])) ||
      !std::isdigit(static_cast<unsigned char>(h[5])))
    return false;
  int cost = (h[4] - '0') * 10 + (h[5] - '0');
  if (cost < 4 || cost > 31) return false;
  for (size_t i = 7; i < h.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(h[i]);
    if (!std::isalnum(c) && c != '.' && c != '/') return false;
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> users(const Context& cx, const YAML::Node& n) {
  const std::string at = "basic_auth_users";
  std::vector<std::pair<std::string, std::string>> out;
  if (n.IsNull()) return out;
  if (!n.IsMap()) cx.fail(n, at, "must be a mapping of user name to bcrypt hash");
  for (const auto& kv : n) {
    auto name = scalar(cx, kv.first, at);
    std::string key = at + "." + name;
    if (name.empty() || name.find(':') != std::string::npos)
      cx.fail(kv.first, key, "a user name must be non-empty and have no ':'");
    for (const auto& seen : out)
      if (seen.first == name) cx.fail(kv.first, key, "given twice");
    auto hash = scalar(cx, kv.second, key);
    if (!bcrypt_hash(hash))
      cx.fail(kv.second, key,
              "is not a bcrypt hash ($2y$10$ and 53 characters; make one with "
              "`htpasswd -nBC 10 \"\" | tr -d ':\\n'`)");
    out.emplace_back(name, hash);
  }
  return out;
}

// exporter-toolkit lets these, and only these, be set.
std::vector<std::pair<std::string, std::string>> headers(const Context& cx, const YAML::Node& n) {
  static const std::array<const char*, 5> kAllowed = {
      "Strict-Transport-Security", "X-Content-Type-Options", "X-Frame-Options", "X-XSS-Protection",
      "Content-Security-Policy"};
  const std::string at = "http_server_config.headers";
  std::vector<std::pair<std::string, std::string>> out;
  if (n.IsNull()) return out;
  if (!n.IsMap()) cx.fail(n, at, "must be a mapping of header to value");
  for (const auto& kv : n) {
    auto name = scalar(cx, kv.first, at);
    auto value = scalar(cx, kv.second, at + "." + name);
    bool allowed = false;
    for (const char* a : kAllowed) allowed = allowed || name == a;
    if (!allowed)
      cx.fail(kv.first, at + "." + name,
              "cannot be set (Strict-Transport-Security, X-Content-Type-Options, "
              "X-Frame-Options, X-XSS-Protection and Content-Security-Policy can)");
    for (unsigned char c : value)
      if (c < 0x20 || c == 0x7f) cx.fail(kv.second, at + "." + name, "has a control character");
    out.emplace_back(name, value);
  }
  return out;
}

std::string version_name(TlsVersion v) {
  return "TLS" + std::to_string(static_cast<int>(v));
}

// yaml-cpp recurses once per level of nesting: a few thousand '[' would exhaust the stack
// before it could say anything. A web config is three levels deep; more than kMaxDepth of
// flow brackets or indentation is refused before yaml-cpp sees the text. Quoted text and
// comments are skipped; the count only has to be safe, not exact.
constexpr int kMaxDepth = 32;
constexpr size_t kMaxSize = 64 * 1024;
void check_shape(const std::string& text, const std::string& source) {
  if (text.size() > kMaxSize)
    throw WebConfigError("web config " + source + ": larger than 64 kB (" +
                         std::to_string(text.size()) + " bytes)");
  int depth = 0, line = 1;
  char quote = 0;
  bool comment = false, line_start = true;
  size_t indent = 0;
  for (char c : text) {
    if (c == '\n') {
      ++line, comment = false, line_start = true, indent = 0;
      continue;
    }
    if (line_start && c == ' ') {
      if (++indent > 2 * kMaxDepth)
        throw WebConfigError("web config " + source + ":" + std::to_string(line) +
                             ": indented deeper than " + std::to_string(kMaxDepth) + " levels");
      continue;
    }
    line_start = false;
    if (comment) continue;
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#') {
      comment = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxDepth)
        throw WebConfigError("web config " + source + ":" + std::to_string(line) +
                             ": nested deeper than " + std::to_string(kMaxDepth) + " levels");
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
}

}  // namespace

WebConfig parse_web_config(const std::string& text, const std::string& source,
                           const std::string& base_dir) {
  Context cx{source, base_dir.empty() ? "." : base_dir};
  check_shape(text, source);
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw WebConfigError("web config " + source + ":" + std::to_string(e.mark.line + 1) + ": " +
                         e.msg);
  }
  WebConfig web;
  web.source = source;
  if (root.IsNull()) return web;  // an empty file: exporter-toolkit serves plain HTTP
  try {
    only_keys(cx, root, "", {"tls_server_config", "basic_auth_users", "http_server_config"});
    if (auto t = root["tls_server_config"]) web.tls = tls_settings(cx, t);
    if (auto u = root["basic_auth_users"]) web.users = users(cx, u);
    if (auto h = root["http_server_config"]) {
      only_keys(cx, h, "http_server_config", {"http2", "headers"});
      if (auto v = h["http2"]) (void)boolean(cx, v, "http_server_config.http2");  // HTTP/1.1 only
      if (auto v = h["headers"]) web.headers = headers(cx, v);
    }
  } catch (const YAML::Exception& e) {  // a key that is not a scalar, and the like
    throw WebConfigError("web config " + source + ":" + std::to_string(e.mark.line + 1) + ": " +
                         e.msg);
  }
  return web;
}

WebConfig load_web_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw WebConfigError("web config " + path + ": " + errno_text(errno));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) throw WebConfigError("web config " + path + ": read failed");
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
  return parse_web_config(text.str(), path, dir);
}

std::string describe(const WebConfig& web) {
  std::string out;
  if (web.tls) {
    out = "TLS (min " + version_name(web.tls->min_version) +
          (web.tls->client_auth == ClientAuth::none ? "" : ", client certificates") + ")";
  } else {
    out = "plain HTTP";
  }
  if (!web.users.empty())
    out += " + basic auth (" + std::to_string(web.users.size()) +
           (web.users.size() == 1 ? " user)" : " users)");
  return out;
}

}  // namespace mobasher
