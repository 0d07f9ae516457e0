// HTTP basic authentication against web config's basic_auth_users (bcrypt hashes), checked with
// libcrypt's crypt_r as exporter-toolkit checks them with Go's bcrypt. A bcrypt check costs tens
// of milliseconds by design, so:
// - one check runs at a time: a flood of wrong passwords costs one core, not every worker;
// - a name that is not a user is checked against a real hash too, so the answer takes as long
//   (no user names learnt from timing);
// - the last kCached good (user, password) pairs are remembered, so Prometheus scraping every
//   few seconds costs a string compare, not a bcrypt. Bounded; wrong passwords are never cached.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

struct crypt_data;

namespace mobasher {

class BasicAuth {
 public:
  static constexpr size_t kCached = 16;
  explicit BasicAuth(std::vector<std::pair<std::string, std::string>> users);
  ~BasicAuth();
  BasicAuth(const BasicAuth&) = delete;
  BasicAuth& operator=(const BasicAuth&) = delete;

  // authorization: the request's Authorization header, nullptr when it has none.
  bool allows(const char* authorization);
  // "Basic dXNlcjpwYXNz" -> "user", "pass"; false when it is not a well-formed Basic header.
  static bool decode(std::string_view header, std::string& user, std::string& password);

 private:
  bool verify(const std::string& user, const std::string& password);

  std::vector<std::pair<std::string, std::string>> users_;
  std::mutex mu_;                     // guards what follows
  std::unique_ptr<crypt_data> work_;  // crypt_r's 32 kB scratch, kept
  std::vector<std::string> cached_;   // "user\0password", newest last, at most kCached
};

}  // namespace mobasher
