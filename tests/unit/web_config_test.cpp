// --web.config.file: exporter-toolkit's format, read strictly, every mistake named with its line.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "exporters/http/web_config.hpp"
#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

using fixtures::FixtureTree;
using ::testing::HasSubstr;

// A hash of "secret" at cost 4 (htpasswd -nbBC 4 "" secret); the format is all the parser checks.
constexpr const char* kHash = "$2y$04$Ko8TPXDxbVzDPRbLhq.pWOVHKi4D5rQOJxHdwPAg3YW6yjOHnIm8W";

struct WebConfigTest : ::testing::Test {
  FixtureTree fx;
  void SetUp() override {
    fx.write("tls/cert.pem", "-----BEGIN CERTIFICATE-----\n");
    fx.write("tls/key.pem", "-----BEGIN PRIVATE KEY-----\n");
    fx.write("tls/ca.pem", "-----BEGIN CERTIFICATE-----\n");
  }
  WebConfig parse(const std::string& yaml) {
    return parse_web_config(yaml, "/etc/web.yml", fx.root().string());
  }
  std::string error(const std::string& yaml) {
    try {
      parse(yaml);
    } catch (const WebConfigError& e) {
      return e.what();
    }
    return "(no error)";
  }
};

TEST_F(WebConfigTest, EmptyFileIsPlainHttpWithoutAuth) {
  WebConfig w = parse("");
  EXPECT_FALSE(w.secured());
  EXPECT_EQ(describe(w), "plain HTTP");
}

TEST_F(WebConfigTest, TlsAndUsersAsExporterToolkitWritesThem) {
  WebConfig w = parse(std::string("tls_server_config:\n"
                                  "  cert_file: tls/cert.pem\n"
                                  "  key_file: ") +
                      fx.root().string() +
                      "/tls/key.pem\n"
                      "  min_version: TLS13\n"
                      "basic_auth_users:\n"
                      "  prometheus: " +
                      kHash + "\n  grafana: '" + kHash +
                      "'\n"
                      "http_server_config:\n"
                      "  http2: false\n"
                      "  headers:\n"
                      "    X-Frame-Options: deny\n");
  ASSERT_TRUE(w.tls);
  EXPECT_EQ(w.tls->cert_file, fx.root().string() + "/tls/cert.pem");  // relative to the file
  EXPECT_EQ(w.tls->key_file, fx.root().string() + "/tls/key.pem");
  EXPECT_EQ(w.tls->min_version, TlsVersion::tls13);
  EXPECT_EQ(w.tls->client_auth, ClientAuth::none);
  ASSERT_EQ(w.users.size(), 2u);
  EXPECT_EQ(w.users[0].first, "prometheus");
  EXPECT_EQ(w.users[1].second, kHash);
  ASSERT_EQ(w.headers.size(), 1u);
  EXPECT_EQ(w.headers[0].first, "X-Frame-Options");
  EXPECT_EQ(describe(w), "TLS (min TLS13) + basic auth (2 users)");
}

TEST_F(WebConfigTest, DefaultsAreExporterToolkits) {
  WebConfig w = parse("tls_server_config: {cert_file: tls/cert.pem, key_file: tls/key.pem}\n");
  ASSERT_TRUE(w.tls);
  EXPECT_EQ(w.tls->min_version, TlsVersion::tls12);
  EXPECT_FALSE(w.tls->max_version);
  EXPECT_TRUE(w.tls->prefer_server_cipher_suites);
  EXPECT_TRUE(w.users.empty());
}

TEST_F(WebConfigTest, ClientCertificates) {
  WebConfig w = parse(
      "tls_server_config:\n  cert_file: tls/cert.pem\n  key_file: tls/key.pem\n"
      "  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: tls/ca.pem\n");
  EXPECT_EQ(w.tls->client_auth, ClientAuth::require_and_verify);
  EXPECT_EQ(w.tls->client_ca_file, fx.root().string() + "/tls/ca.pem");
  EXPECT_THAT(error("tls_server_config:\n  cert_file: tls/cert.pem\n  key_file: tls/key.pem\n"
                    "  client_auth_type: VerifyClientCertIfGiven\n"),
              HasSubstr("tls_server_config.client_ca_file: needed"));
  EXPECT_THAT(error("tls_server_config:\n  cert_file: tls/cert.pem\n  key_file: tls/key.pem\n"
                    "  client_ca_file: tls/ca.pem\n"),
              HasSubstr(":4: tls_server_config.client_ca_file: set without a client_auth_type"));
  EXPECT_THAT(error("tls_server_config:\n  cert_file: tls/cert.pem\n  key_file: tls/key.pem\n"
                    "  client_auth_type: Sometimes\n"),
              HasSubstr(":4: tls_server_config.client_auth_type: \"Sometimes\" is not one of"));
}

TEST_F(WebConfigTest, EveryMistakeNamesFileLineAndKey) {
  EXPECT_EQ(error("tls_server_config:\n  cert_file: tls/cert.pem\n  key_file: tls/nope.pem\n"),
            "web config /etc/web.yml:3: tls_server_config.key_file: " + fx.root().string() +
                "/tls/nope.pem: No such file or directory");
  EXPECT_EQ(error("tls_server_config:\n  cert_file: tls/cert.pem\n"),
            "web config /etc/web.yml:2: tls_server_config.key_file: missing (cert_file is set)");
  EXPECT_EQ(error("tls_server_config:\n  key_file: tls/key.pem\n"),
            "web config /etc/web.yml:2: tls_server_config.cert_file: missing (key_file is set)");
  EXPECT_EQ(error("tls_server_config:\n  min_version: TLS12\n"),
            "web config /etc/web.yml:2: tls_server_config: cert_file and key_file are missing");
  EXPECT_EQ(error("basic_auth_users:\n  alice: secret\n"),
            "web config /etc/web.yml:2: basic_auth_users.alice: is not a bcrypt hash ($2y$10$ "
            "and 53 characters; make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)");
  EXPECT_THAT(error(std::string("basic_auth_users:\n  'a:b': ") + kHash + "\n"),
              HasSubstr(":2: basic_auth_users.a:b: a user name must be non-empty and have no ':'"));
  EXPECT_EQ(error("tls_server_config: {cert_file: tls/cert.pem, key_file: tls/key.pem}\n"
                  "basic_auth_user:\n  alice: x\n"),
            "web config /etc/web.yml:2: basic_auth_user: unknown key");
  EXPECT_EQ(error("tls_server_config:\n  cert_file: tls/cert.pem\n  key_file: tls/key.pem\n"
                  "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n"),
            "web config /etc/web.yml:4: tls_server_config.cipher_suites: not supported: "
            "mobasher-agent uses OpenSSL's default suites");
  EXPECT_THAT(error("tls_server_config:\n  cert_file: tls/cert.pem\n  key_file: tls/key.pem\n"
                    "  min_version: TLS13\n  max_version: TLS12\n"),
              HasSubstr(":5: tls_server_config.max_version: is older than min_version"));
  EXPECT_THAT(error("tls_server_config:\n  cert_file: tls/cert.pem\n  key_file: tls/key.pem\n"
                    "  min_version: SSL3\n"),
              HasSubstr(":4: tls_server_config.min_version: \"SSL3\" is not one of TLS10"));
  EXPECT_THAT(error("http_server_config:\n  headers:\n    Server: nginx\n"),
              HasSubstr(":3: http_server_config.headers.Server: cannot be set"));
  EXPECT_THAT(error("http_server_config:\n  http2: maybe\n"),
              HasSubstr(":2: http_server_config.http2: must be true or false"));
  EXPECT_THAT(error("tls_server_config: [a, b]\n"),
              HasSubstr(":1: tls_server_config: must be a mapping"));
  EXPECT_THAT(error("- just\n- a list\n"),
              HasSubstr("web config /etc/web.yml:1: must be a mapping"));
  EXPECT_THAT(error("basic_auth_users: {alice: [1]}\n"),
              HasSubstr(":1: basic_auth_users.alice: must be a string"));
}

TEST_F(WebConfigTest, BrokenYamlNamesItsLine) {
  EXPECT_THAT(error("basic_auth_users:\n  alice: \"unterminated\n"),
              HasSubstr("web config /etc/web.yml:"));
  EXPECT_THAT(error("a: b\n a: c\n  - x\n"), HasSubstr("web config /etc/web.yml:"));
}

TEST_F(WebConfigTest, DeepNestingAndHugeFilesAreRefusedBeforeYamlCppRecursesIntoThem) {
  EXPECT_EQ(error("basic_auth_users:\n  x: " + std::string(100'000 / 2, '[')),
            "web config /etc/web.yml:2: nested deeper than 32 levels");
  EXPECT_EQ(error("a:\n" + std::string(80, ' ') + "b: 1\n"),
            "web config /etc/web.yml:2: indented deeper than 32 levels");
  EXPECT_THAT(error("# " + std::string(70'000, 'x') + "\n"),
              HasSubstr("web config /etc/web.yml: larger than 64 kB (70003 bytes)"));
  // Brackets in quotes and comments do not count.
  WebConfig w = parse(
      "# [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\nhttp_server_config:\n  headers:\n"
      "    Content-Security-Policy: \"" +
      std::string(40, '{') + "\"\n");
  EXPECT_EQ(w.headers.size(), 1u);
}

TEST_F(WebConfigTest, DuplicateUserIsRefused) {
  EXPECT_THAT(
      error(std::string("basic_auth_users:\n  alice: ") + kHash + "\n  alice: " + kHash + "\n"),
      HasSubstr(":3: basic_auth_users.alice: given twice"));
}

TEST_F(WebConfigTest, HeaderValuesCannotCarryNewLines) {
  EXPECT_THAT(error("http_server_config:\n  headers:\n    X-Frame-Options: \"deny\\r\\nX: y\"\n"),
              HasSubstr("http_server_config.headers.X-Frame-Options: has a control character"));
}

TEST_F(WebConfigTest, LoadReadsTheFileAndResolvesNamesBesideIt) {
  fx.write("web.yml", "tls_server_config:\n  cert_file: tls/cert.pem\n  key_file: tls/key.pem\n");
  WebConfig w = load_web_config(fx.root().string() + "/web.yml");
  EXPECT_EQ(w.source, fx.root().string() + "/web.yml");
  EXPECT_EQ(w.tls->cert_file, fx.root().string() + "/tls/cert.pem");
  EXPECT_THROW(load_web_config(fx.root().string() + "/missing.yml"), WebConfigError);
  try {
    load_web_config(fx.root().string() + "/missing.yml");
  } catch (const WebConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "web config " + fx.root().string() + "/missing.yml: No such file or directory");
  }
}

}  // namespace
}  // namespace mobasher
