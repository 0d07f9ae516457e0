// Basic auth against bcrypt hashes, with libcrypt's crypt_r (as exporter-toolkit with Go's bcrypt).
#include <crypt.h>
#include <gtest/gtest.h>

#include <string>

#include "exporters/http/basic_auth.hpp"

namespace mobasher {
namespace {

// A bcrypt hash of `password` in the given flavour ($2y$ as htpasswd and Go write, $2b$), cost 4
// so tests stay fast.
std::string bcrypt(const std::string& password, const char* prefix = "$2y$") {
  char salt[CRYPT_GENSALT_OUTPUT_SIZE];
  EXPECT_NE(crypt_gensalt_rn(prefix, 4, nullptr, 0, salt, sizeof salt), nullptr);
  crypt_data work{};
  const char* out = crypt_r(password.c_str(), salt, &work);
  EXPECT_NE(out, nullptr);
  return out ? out : "";
}

std::string header(const std::string& user_colon_password) {
  static const char* kB64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out = "Basic ";
  const std::string& s = user_colon_password;
  for (size_t i = 0; i < s.size(); i += 3) {
    unsigned v = static_cast<unsigned char>(s[i]) << 16;
    if (i + 1 < s.size()) v |= static_cast<unsigned char>(s[i + 1]) << 8;
    if (i + 2 < s.size()) v |= static_cast<unsigned char>(s[i + 2]);
    out += kB64[(v >> 18) & 63];
    out += kB64[(v >> 12) & 63];
    out += i + 1 < s.size() ? kB64[(v >> 6) & 63] : '=';
    out += i + 2 < s.size() ? kB64[v & 63] : '=';
  }
  return out;
}

TEST(BasicAuth, DecodesTheHeader) {
  std::string user, password;
  ASSERT_TRUE(BasicAuth::decode("Basic cHJvbWV0aGV1czpzM2NyZXQ6Og==", user, password));
  EXPECT_EQ(user, "prometheus");
  EXPECT_EQ(password, "s3cret::");  // the password may hold ':'
  EXPECT_TRUE(BasicAuth::decode("basic cHJvbWV0aGV1czpzM2NyZXQ6Og==", user, password));
  EXPECT_FALSE(BasicAuth::decode("Bearer cHJvbWV0aGV1czpzM2NyZXQ=", user, password));
  EXPECT_FALSE(BasicAuth::decode("Basic", user, password));
  EXPECT_FALSE(BasicAuth::decode("Basic !!!!", user, password));
  EXPECT_FALSE(BasicAuth::decode("Basic bm9jb2xvbg==", user, password));  // "nocolon"
  EXPECT_FALSE(BasicAuth::decode("Basic " + std::string(5000, 'A'), user, password));
  // Unpadded: not whole groups of 4 (the fuzzer's heap overflow in Beast's decode).
  EXPECT_FALSE(BasicAuth::decode("Basic QUFBQUE", user, password));
}

TEST(BasicAuth, RightPasswordInBothBcryptFlavours) {
  BasicAuth auth({{"prometheus", bcrypt("s3cret")}, {"grafana", bcrypt("other", "$2b$")}});
  EXPECT_TRUE(auth.allows(header("prometheus:s3cret").c_str()));
  EXPECT_TRUE(auth.allows(header("grafana:other").c_str()));
}

TEST(BasicAuth, RefusesWrongPasswordUnknownUserAndNoHeader) {
  BasicAuth auth({{"prometheus", bcrypt("s3cret")}});
  EXPECT_FALSE(auth.allows(nullptr));
  EXPECT_FALSE(auth.allows(""));
  EXPECT_FALSE(auth.allows(header("prometheus:S3cret").c_str()));
  EXPECT_FALSE(auth.allows(header("prometheus:").c_str()));
  EXPECT_FALSE(auth.allows(header("grafana:s3cret").c_str()));  // the password of another user
  EXPECT_FALSE(auth.allows(header(":s3cret").c_str()));
}

TEST(BasicAuth, ACachedGoodPasswordDoesNotLetAWrongOneIn) {
  BasicAuth auth({{"prometheus", bcrypt("s3cret")}, {"grafana", bcrypt("other")}});
  ASSERT_TRUE(auth.allows(header("prometheus:s3cret").c_str()));
  ASSERT_TRUE(auth.allows(header("prometheus:s3cret").c_str()));  // from the cache
  EXPECT_FALSE(auth.allows(header("prometheus:s3cre").c_str()));
  EXPECT_FALSE(auth.allows(header("grafana:s3cret").c_str()));
  // More good pairs than the cache holds: each still checked right.
  for (size_t i = 0; i < BasicAuth::kCached + 2; ++i) {
    EXPECT_TRUE(auth.allows(header("grafana:other").c_str()));
    EXPECT_TRUE(auth.allows(header("prometheus:s3cret").c_str()));
  }
}

TEST(BasicAuth, NoUsersMeansOpen) {
  BasicAuth auth({});
  EXPECT_TRUE(auth.allows(nullptr));
}

}  // namespace
}  // namespace mobasher
