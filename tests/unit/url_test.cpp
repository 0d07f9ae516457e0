// agent/base/url: the webhook URLs the config accepts and how they are split.
#include "agent/base/url.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace mobasher {
namespace {

using testing::HasSubstr;
using testing::StartsWith;

ParsedUrl parsed(std::string_view url) {
  std::string error;
  auto u = parse_url(url, error);
  EXPECT_TRUE(u) << url << ": " << error;
  return u.value_or(ParsedUrl{});
}

std::string rejection(std::string_view url) {
  std::string error;
  EXPECT_FALSE(parse_url(url, error)) << url << " was accepted";
  return error;
}

TEST(ParseUrl, HttpDefaultsToPort80AndRootTarget) {
  auto u = parsed("http://am.example");
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.host, "am.example");
  EXPECT_EQ(u.port, "80");
  EXPECT_EQ(u.target, "/");
  EXPECT_EQ(host_header(u), "am.example");
}

TEST(ParseUrl, HttpsDefaultsToPort443KeepsQueryDropsFragment) {
  auto u = parsed("HTTPS://am.example/api/v2/alerts?tenant=a#top");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "am.example");
  EXPECT_EQ(u.port, "443");
  EXPECT_EQ(u.target, "/api/v2/alerts?tenant=a");
  EXPECT_EQ(host_header(u), "am.example");
}

TEST(ParseUrl, ExplicitPortAndQueryWithoutPath) {
  auto u = parsed("http://127.0.0.1:9093?x=1");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, "9093");
  EXPECT_EQ(u.target, "/?x=1");
  EXPECT_EQ(host_header(u), "127.0.0.1:9093");
  EXPECT_EQ(host_header(parsed("https://h:80/")), "h:80");  // 80 is not https' default
}

TEST(ParseUrl, Ipv6LiteralIsUnbracketedForTheResolver) {
  auto u = parsed("http://[::1]:9093/api/v2/alerts");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, "9093");
  EXPECT_EQ(u.target, "/api/v2/alerts");
  EXPECT_EQ(host_header(u), "[::1]:9093");
  EXPECT_EQ(host_header(parsed("https://[::1]/")), "[::1]");
}

TEST(ParseUrl, RejectsOtherSchemesAndMissingScheme) {
  EXPECT_EQ(rejection("127.0.0.1:9093/api"),
            "\"127.0.0.1:9093/api\" is not an http:// or https:// URL");
  EXPECT_THAT(rejection("ftp://h/x"), HasSubstr("is not an http:// or https:// URL"));
  EXPECT_THAT(rejection(""), HasSubstr("is not an http:// or https:// URL"));
}

TEST(ParseUrl, RejectsUserinfoPointingToHeaders) {
  auto error = rejection("https://user:secret@am.example/");
  EXPECT_THAT(error, HasSubstr("user:pass@"));
  EXPECT_THAT(error, HasSubstr("headers or bearer_token_file"));
}

TEST(ParseUrl, RejectsEmptyHost) {
  EXPECT_EQ(rejection("http:///api"), "missing host in \"http:///api\"");
  EXPECT_THAT(rejection("http://:9093/"), HasSubstr("missing host"));
  EXPECT_THAT(rejection("https://[]:1/"), HasSubstr("missing host"));
}

TEST(ParseUrl, RejectsBadPorts) {
  for (auto url : {"http://h:0/", "http://h:65536/", "http://h:9o93/", "http://h:-1/",
                   "http://[::1]9093/", "http://h:123456/"})
    EXPECT_THAT(rejection(url), StartsWith("bad port")) << url;
  EXPECT_EQ(parsed("http://h:65535/").port, "65535");
}

TEST(ParseUrl, RejectsSpacesAndControlCharacters) {
  EXPECT_THAT(rejection("http://h/a b"), HasSubstr("space or control character"));
  EXPECT_THAT(rejection("http://h/\r\nX-Injected: 1"), HasSubstr("space or control character"));
}

}  // namespace
}  // namespace mobasher
