#include "exporters/http/basic_auth.hpp"

#include <crypt.h>

#include <boost/beast/core/detail/base64.hpp>
#include <cstring>

namespace mobasher {
namespace {

// Same time whatever the first differing byte (the lengths are not secret).
bool same(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

BasicAuth::BasicAuth(std::vector<std::pair<std::string, std::string>> users)
    : users_(std::move(users)), work_(std::make_unique<crypt_data>()) {}

BasicAuth::~BasicAuth() = default;

bool BasicAuth::decode(std::string_view header, std::string& user, std::string& password) {
  constexpr std::string_view kScheme = "Basic ";
  if (header.size() <= kScheme.size() || header.size() > 4096) return false;
  for (size_t i = 0; i < kScheme.size() - 1; ++i)  // the scheme is case-insensitive (RFC 7617)
    if (std::tolower(static_cast<unsigned char>(header[i])) !=
        std::tolower(static_cast<unsigned char>(kScheme[i])))
      return false;
  if (header[kScheme.size() - 1] != ' ') return false;
  std::string_view b64 = header.substr(kScheme.size());
  while (!b64.empty() && b64.front() == ' ') b64.remove_prefix(1);
  // RFC 7617 credentials are padded base64: whole groups of 4. (Beast's decoded_size assumes
  // that and its decode writes a partial group past it: found by the web_config fuzz target.)
  if (b64.size() % 4 != 0) return false;
  namespace b = boost::beast::detail::base64;
  std::string plain(b::decoded_size(b64.size()) + 3, '\0');
  auto [written, read] = b::decode(plain.data(), b64.data(), b64.size());
  size_t padding = 0;
  while (read + padding < b64.size() && b64[read + padding] == '=') ++padding;
  if (read + padding != b64.size()) return false;  // not base64 to the end
  plain.resize(written);
  auto colon = plain.find(':');
  if (colon == std::string::npos) return false;
  user = plain.substr(0, colon);
  password = plain.substr(colon + 1);
  return true;
}

bool BasicAuth::allows(const char* authorization) {
  if (users_.empty()) return true;
  std::string user, password;
  if (!authorization || !decode(authorization, user, password)) return false;
  return verify(user, password);
}

bool BasicAuth::verify(const std::string& user, const std::string& password) {
  std::string key = user + '\0' + password;
  std::lock_guard lock(mu_);
  bool hit = false;
  for (const auto& c : cached_) hit = same(c, key) || hit;  // every entry, whatever matches
  if (hit) return true;
  const std::string* hash = &users_.front().second;  // a real hash for a name that is no user
  bool known = false;
  for (const auto& [name, h] : users_)
    if (name == user) hash = &h, known = true;
  std::memset(work_.get(), 0, sizeof(crypt_data));
  const char* out = ::crypt_r(password.c_str(), hash->c_str(), work_.get());
  bool ok = known && out && out[0] != '*' && same(out, *hash);
  if (ok) {
    if (cached_.size() == kCached) cached_.erase(cached_.begin());
    cached_.push_back(std::move(key));
  }
  return ok;
}

}  // namespace mobasher
