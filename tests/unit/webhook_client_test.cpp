#include "exporters/alerting/webhook_client.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
using fixtures::FixtureTree;
using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;
using testing::HasSubstr;
using testing::StartsWith;

// ---- a receiver on 127.0.0.1:<ephemeral>, served on the test's io_context ----

struct Reply {
  unsigned status = 200;
  std::string body = "ok";
  bool hang = false;  // read the request, never answer
};

class Receiver {
 public:
  Receiver(asio::io_context& io, ssl::context* tls = nullptr)
      : acceptor_(io, {asio::ip::make_address("127.0.0.1"), 0}), tls_(tls) {
    asio::co_spawn(io, accept_loop(), asio::detached);
  }
  std::string url(const std::string& path_and_query, const std::string& host = "127.0.0.1") const {
    return std::string(tls_ ? "https" : "http") + "://" + host + ":" + port() + path_and_query;
  }
  std::string port() const { return std::to_string(acceptor_.local_endpoint().port()); }

  Reply reply;
  std::vector<http::request<http::string_body>> requests;
  std::vector<std::string> sni;  // per TLS connection, "" when the client sent none
  int hung_up = 0;               // hanging exchanges ended by the client closing

 private:
  asio::awaitable<void> accept_loop() {
    for (;;)
      asio::co_spawn(acceptor_.get_executor(),
                     session(co_await acceptor_.async_accept(use_awaitable)), asio::detached);
  }

  asio::awaitable<void> session(tcp::socket socket) {
    if (!tls_) {
      beast::tcp_stream s(std::move(socket));
      co_await exchange(s);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> s(std::move(socket), *tls_);
    co_await s.async_handshake(ssl::stream_base::server, use_awaitable);
    const char* name = SSL_get_servername(s.native_handle(), TLSEXT_NAMETYPE_host_name);
    sni.push_back(name ? name : "");
    co_await exchange(s);
  }

  template <class Stream>
  asio::awaitable<void> exchange(Stream& s) {
    beast::flat_buffer buf;
    http::request<http::string_body> req;
    co_await http::async_read(s, buf, req, use_awaitable);
    requests.push_back(req);
    if (reply.hang) {
      char byte;
      beast::error_code ec;  // any outcome: end of stream once the client gives up
      co_await s.async_read_some(asio::buffer(&byte, 1), asio::redirect_error(use_awaitable, ec));
      ++hung_up;
      co_return;
    }
    http::response<http::string_body> res{static_cast<http::status>(reply.status), 11};
    res.set(http::field::connection, "close");
    res.body() = reply.body;
    res.prepare_payload();
    co_await http::async_write(s, res, use_awaitable);
  }

  tcp::acceptor acceptor_;
  ssl::context* tls_;
};

// Runs the io_context until `done` says so, at most 20 s (a generous bound for a loaded CI box).
template <class Pred>
bool run_until(asio::io_context& io, Pred done) {
  auto give_up = std::chrono::steady_clock::now() + 20s;
  while (!done() && std::chrono::steady_clock::now() < give_up) {
    if (io.stopped()) io.restart();
    io.run_one_for(50ms);
  }
  return done();
}

HttpResult post_and_wait(asio::io_context& io, WebhookClient& client, std::string body) {
  std::optional<HttpResult> result;
  client.post(std::move(body), [&](HttpResult r) { result = std::move(r); });
  if (!run_until(io, [&] { return result.has_value(); })) {
    ADD_FAILURE() << "post did not complete within 20 s";
    return {};
  }
  return *result;
}

WebhookTarget target_for(std::string url) {
  WebhookTarget t;
  t.name = "am";
  t.url = std::move(url);
  t.timeout = 5s;
  return t;
}

// ---- a self-signed certificate made here, with the OpenSSL 3 API ----

struct Pem {
  std::string cert, key;
};

template <class T, void (*Free)(T*)>
using Owned = std::unique_ptr<T, std::integral_constant<decltype(Free), Free>>;

std::string pem_text(const std::function<int(BIO*)>& write) {
  Owned<BIO, BIO_free_all> bio(BIO_new(BIO_s_mem()));
  if (!bio || write(bio.get()) != 1) throw std::runtime_error("PEM write failed");
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n);
}

Pem self_signed(const char* subject_alt_name) {
  Owned<EVP_PKEY, EVP_PKEY_free> key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  Owned<X509, X509_free> cert(X509_new());
  if (!key || !cert) throw std::runtime_error("key or certificate allocation failed");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("mobasher test receiver"), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  for (auto [nid, value] : {std::pair{NID_subject_alt_name, subject_alt_name},
                            std::pair{NID_basic_constraints, "critical,CA:TRUE"}}) {
    Owned<X509_EXTENSION, X509_EXTENSION_free> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1)
      throw std::runtime_error(std::string("bad extension ") + value);
  }
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) <= 0) throw std::runtime_error("X509_sign");
  return {pem_text([&](BIO* b) { return PEM_write_bio_X509(b, cert.get()); }),
          pem_text([&](BIO* b) {
            return PEM_write_bio_PrivateKey(b, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
          })};
}

// A TLS receiver's files in a temp dir, and its server context. Declared before the io_context:
// the sessions it still holds at the end use the context.
struct TlsFixture {
  explicit TlsFixture(const char* subject_alt_name = "IP:127.0.0.1,DNS:localhost") {
    Pem pem = self_signed(subject_alt_name);
    dir.write("cert.pem", pem.cert);
    dir.write("key.pem", pem.key);
    server.use_certificate_chain_file(cert_file());
    server.use_private_key_file((dir.root() / "key.pem").string(), ssl::context::pem);
  }
  std::string cert_file() const { return (dir.root() / "cert.pem").string(); }

  FixtureTree dir;
  ssl::context server{ssl::context::tls_server};
};

// ---- WebhookClient over plain HTTP ----

TEST(WebhookClient, PostsJsonWithHostHeadersAndTheExactBody) {
  asio::io_context io;
  Receiver rx(io);
  auto t = target_for(rx.url("/api/v2/alerts?tenant=a"));
  t.headers = {{"X-Scope-OrgID", "tenant-a"}, {"X-Extra", "1"}};
  WebhookClient client(io, t);
  std::string body = R"([{"labels":{"alertname":"MobasherUnitMemoryHigh","unit":"é"}}])";
  body += std::string(200'000, 'x');  // several writes and reads on both sides

  auto r = post_and_wait(io, client, body);

  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  ASSERT_EQ(rx.requests.size(), 1u);
  const auto& req = rx.requests[0];
  EXPECT_EQ(req.method(), http::verb::post);
  EXPECT_EQ(req.target(), "/api/v2/alerts?tenant=a");
  EXPECT_EQ(req[http::field::host], "127.0.0.1:" + rx.port());
  EXPECT_EQ(req[http::field::content_type], "application/json");
  EXPECT_EQ(req[http::field::user_agent], "mobasher-agent/" MOBASHER_VERSION);
  EXPECT_EQ(req[http::field::connection], "close");
  EXPECT_EQ(req["X-Scope-OrgID"], "tenant-a");
  EXPECT_EQ(req["X-Extra"], "1");
  EXPECT_EQ(req[http::field::authorization], "");
  EXPECT_EQ(req[http::field::content_length], std::to_string(body.size()));
  EXPECT_TRUE(req.body() == body) << "body of " << req.body().size() << " bytes differs";
}

TEST(WebhookClient, PassesStatusAndBodyThroughWithoutFollowingRedirects) {
  asio::io_context io;
  Receiver rx(io);
  WebhookClient client(io, target_for(rx.url("/hook")));
  for (auto [status, body] : {std::pair{400u, "bad alert: missing labels"},
                              std::pair{503u, "overloaded"}, std::pair{302u, "elsewhere"}}) {
    rx.reply = {status, body};
    auto r = post_and_wait(io, client, "{}");
    EXPECT_EQ(r.status, static_cast<int>(status));
    EXPECT_EQ(r.body, body);
    EXPECT_EQ(r.error, "");
  }
  EXPECT_EQ(rx.requests.size(), 3u);
}

TEST(WebhookClient, KeepsAtMost4KiBOfTheResponseBody) {
  asio::io_context io;
  Receiver rx(io);
  WebhookClient client(io, target_for(rx.url("/")));
  std::string page;
  for (int i = 0; page.size() < 10'000; ++i) page += std::to_string(i) + ",";
  rx.reply = {500, page};

  auto r = post_and_wait(io, client, "{}");

  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, page.substr(0, 4096));
}

TEST(WebhookClient, ResponseOverTheReadLimitStillGivesItsStatus) {
  asio::io_context io;
  Receiver rx(io);
  WebhookClient client(io, target_for(rx.url("/")));
  rx.reply = {202, std::string(1 << 20, 'y')};

  auto r = post_and_wait(io, client, "{}");

  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.error, "");
  EXPECT_LE(r.body.size(), HttpResult::kMaxBody);
}

TEST(WebhookClient, ResolvesLocalhost) {
  asio::io_context io;
  Receiver rx(io);  // 127.0.0.1 only: a ::1 first address is refused, the next one is tried
  WebhookClient client(io, target_for(rx.url("/x", "localhost")));

  auto r = post_and_wait(io, client, "{}");

  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(rx.requests.size(), 1u);
  EXPECT_EQ(rx.requests[0][http::field::host], "localhost:" + rx.port());
}

TEST(WebhookClient, ReadsTheBearerTokenFileAtEveryPost) {
  asio::io_context io;
  Receiver rx(io);
  FixtureTree dir;
  dir.write("token", "first-token\n");
  auto t = target_for(rx.url("/"));
  t.bearer_token_file = (dir.root() / "token").string();
  WebhookClient client(io, t);

  EXPECT_EQ(post_and_wait(io, client, "{}").status, 200);
  dir.write("token", "  rotated-token \r\n");
  EXPECT_EQ(post_and_wait(io, client, "{}").status, 200);

  ASSERT_EQ(rx.requests.size(), 2u);
  EXPECT_EQ(rx.requests[0][http::field::authorization], "Bearer first-token");
  EXPECT_EQ(rx.requests[1][http::field::authorization], "Bearer rotated-token");
}

TEST(WebhookClient, MissingBearerTokenFileFailsNamingIt) {
  asio::io_context io;
  Receiver rx(io);
  FixtureTree dir;
  auto t = target_for(rx.url("/"));
  t.bearer_token_file = (dir.root() / "gone").string();
  WebhookClient client(io, t);

  auto r = post_and_wait(io, client, "{}");

  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, "bearer_token_file " + t.bearer_token_file + ": No such file or directory");
  EXPECT_TRUE(rx.requests.empty());
  dir.write("gone", "\n\n");
  EXPECT_EQ(post_and_wait(io, client, "{}").error,
            "bearer_token_file " + t.bearer_token_file + " is empty");
}

TEST(WebhookClient, ConnectionRefusedIsAnErrorWithoutStatus) {
  asio::io_context io;
  std::string port;
  {
    tcp::acceptor closed(io, {asio::ip::make_address("127.0.0.1"), 0});
    port = std::to_string(closed.local_endpoint().port());
  }
  WebhookClient client(io, target_for("http://127.0.0.1:" + port + "/"));

  auto r = post_and_wait(io, client, "{}");

  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.error, StartsWith("connect 127.0.0.1:" + port + ": "));
  EXPECT_THAT(r.error, HasSubstr("refused"));
}

TEST(WebhookClient, HangingReceiverTimesOut) {
  asio::io_context io;
  Receiver rx(io);
  rx.reply.hang = true;
  auto t = target_for(rx.url("/"));
  t.timeout = 300ms;
  WebhookClient client(io, t);

  auto r = post_and_wait(io, client, "{}");

  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, "timeout after 300ms (read)");  // as the config spells it
  EXPECT_EQ(rx.requests.size(), 1u);
  EXPECT_TRUE(run_until(io, [&] { return rx.hung_up == 1; })) << "the socket was not closed";
}

TEST(WebhookClient, CancelEndsThePostWithCancelledOnce) {
  asio::io_context io;
  Receiver rx(io);
  rx.reply.hang = true;
  WebhookClient client(io, target_for(rx.url("/")));
  std::vector<HttpResult> results;
  client.post("{}", [&](HttpResult r) { results.push_back(std::move(r)); });
  ASSERT_TRUE(run_until(io, [&] { return rx.requests.size() == 1; }));

  client.cancel();
  EXPECT_FALSE(client.in_flight());
  EXPECT_TRUE(results.empty()) << "done ran inside cancel()";
  EXPECT_TRUE(run_until(io, [&] { return rx.hung_up == 1; }));

  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status, 0);
  EXPECT_EQ(results[0].error, "cancelled");
}

TEST(WebhookClient, DestroyedWhileInFlightNeverRunsDone) {
  asio::io_context io;
  Receiver rx(io);
  rx.reply.hang = true;
  auto client = std::make_unique<WebhookClient>(io, target_for(rx.url("/")));
  bool ran = false;
  client->post("{}", [&](HttpResult) { ran = true; });
  ASSERT_TRUE(run_until(io, [&] { return rx.requests.size() == 1; }));

  client.reset();

  EXPECT_TRUE(run_until(io, [&] { return rx.hung_up == 1; })) << "the socket was not closed";
  io.poll();
  EXPECT_FALSE(ran);
}

TEST(WebhookClient, PostWhileInFlightFailsAndDoneMayPostAgain) {
  asio::io_context io;
  Receiver rx(io);
  WebhookClient client(io, target_for(rx.url("/")));
  std::vector<HttpResult> results;
  std::function<void(HttpResult)> record = [&](HttpResult r) { results.push_back(std::move(r)); };

  client.post("first", [&](HttpResult r) {
    results.push_back(std::move(r));
    client.post("second", record);  // the next notification, from the completion
  });
  client.post("overlapping", record);
  ASSERT_TRUE(run_until(io, [&] { return results.size() == 3; }));

  EXPECT_EQ(results[0].error, "a post is already in flight");
  EXPECT_EQ(results[1].status, 200);
  EXPECT_EQ(results[2].status, 200);
  ASSERT_EQ(rx.requests.size(), 2u);
  EXPECT_EQ(rx.requests[0].body(), "first");
  EXPECT_EQ(rx.requests[1].body(), "second");
}

TEST(WebhookClient, RejectsBadConfigurationNamingTheReceiver) {
  asio::io_context io;
  auto what = [&](WebhookTarget t) -> std::string {
    try {
      WebhookClient client(io, std::move(t));
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "(no exception)";
  };
  EXPECT_EQ(what(target_for("http:///x")),
            "webhook receiver \"am\": url missing host in \"http:///x\"");
  auto header = target_for("http://h/");
  header.headers = {{"X-Tenant", "a\r\nX-Forged: 1"}};
  EXPECT_THAT(what(header), HasSubstr("header \"X-Tenant\""));
  auto timeout = target_for("http://h/");
  timeout.timeout = 0ms;
  EXPECT_THAT(what(timeout), HasSubstr("timeout"));
}

// ---- HTTPS ----

TEST(WebhookClient, HttpsWithCaFileVerifiesAndDelivers) {
  TlsFixture tls;
  asio::io_context io;
  Receiver rx(io, &tls.server);
  auto t = target_for(rx.url("/api/v2/alerts"));
  t.ca_file = tls.cert_file();
  WebhookClient client(io, t);

  auto r = post_and_wait(io, client, R"({"alert":"MobasherUnitDown"})");

  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok");
  ASSERT_EQ(rx.requests.size(), 1u);
  EXPECT_EQ(rx.requests[0].body(), R"({"alert":"MobasherUnitDown"})");
  EXPECT_EQ(rx.requests[0].target(), "/api/v2/alerts");
  EXPECT_EQ(rx.sni, std::vector<std::string>{""});  // no SNI for an IP address
}

TEST(WebhookClient, HttpsByNameSendsSniAndMatchesTheDnsName) {
  TlsFixture tls;
  asio::io_context io;
  Receiver rx(io, &tls.server);
  auto t = target_for(rx.url("/", "localhost"));
  t.ca_file = tls.cert_file();
  WebhookClient client(io, t);

  auto r = post_and_wait(io, client, "{}");

  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(rx.sni, std::vector<std::string>{"localhost"});
}

TEST(WebhookClient, HttpsWithoutCaFileRejectsTheSelfSignedCertificate) {
  TlsFixture tls;
  asio::io_context io;
  Receiver rx(io, &tls.server);
  WebhookClient client(io, target_for(rx.url("/")));  // system CAs only

  auto r = post_and_wait(io, client, "{}");

  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.error, StartsWith("TLS handshake: "));
  EXPECT_THAT(r.error, HasSubstr("certificate verify failed"));
  EXPECT_THAT(r.error, HasSubstr("self-signed certificate"));
  EXPECT_TRUE(rx.requests.empty());
}

TEST(WebhookClient, HttpsRejectsACertificateForAnotherHost) {
  TlsFixture tls("DNS:other.example");
  asio::io_context io;
  Receiver rx(io, &tls.server);
  auto t = target_for(rx.url("/"));
  t.ca_file = tls.cert_file();  // trusted, but not issued for 127.0.0.1
  WebhookClient client(io, t);

  auto r = post_and_wait(io, client, "{}");

  EXPECT_EQ(r.status, 0);
  EXPECT_THAT(r.error, HasSubstr("certificate verify failed"));
  EXPECT_THAT(r.error, HasSubstr("(certificate not valid for 127.0.0.1)"));
  EXPECT_TRUE(rx.requests.empty());
}

TEST(WebhookClient, HttpsInsecureSkipVerifyAcceptsAnyCertificate) {
  TlsFixture tls("DNS:other.example");
  asio::io_context io;
  Receiver rx(io, &tls.server);
  auto t = target_for(rx.url("/"));
  t.insecure_skip_verify = true;
  WebhookClient client(io, t);

  auto r = post_and_wait(io, client, "payload");

  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200);
  ASSERT_EQ(rx.requests.size(), 1u);
  EXPECT_EQ(rx.requests[0].body(), "payload");
}

TEST(WebhookClient, UnreadableCaFileThrowsNamingIt) {
  asio::io_context io;
  FixtureTree dir;
  auto t = target_for("https://127.0.0.1:1/");
  t.ca_file = (dir.root() / "missing.pem").string();
  try {
    WebhookClient client(io, t);
    ADD_FAILURE() << "no exception for a missing ca_file";
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()),
              "webhook receiver \"am\": ca_file " + t.ca_file + ": No such file or directory");
  }
  dir.write("garbage.pem", "not a certificate\n");
  t.ca_file = (dir.root() / "garbage.pem").string();
  try {
    WebhookClient client(io, t);
    ADD_FAILURE() << "no exception for a ca_file without certificates";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), HasSubstr("webhook receiver \"am\": ca_file " + t.ca_file + ": "));
  }
}

}  // namespace
}  // namespace mobasher
