#include "exporters/http/http_server.hpp"

#include <arpa/inet.h>
#include <civetweb.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <cstdio>
#include <cstring>
#include <string_view>
#include <vector>

#include "agent/base/module_loader.hpp"
#include "exporters/http/basic_auth.hpp"
#include "exporters/http/server_tls.hpp"

namespace mobasher {
namespace {

// Header and body leave in one write: two writes on a keep-alive connection meet Nagle and the
// peer's delayed ACK (measured: 44 ms per request without tcp_nodelay).
// extra_headers: lines each ending in "\r\n" (the reply's and the web config's).
void respond(mg_connection* conn, int code, const char* reason, const char* type,
             std::string_view body, std::string_view extra_headers = "") {
  const auto* info = mg_get_request_info(conn);
  bool head = std::strcmp(info->request_method, "HEAD") == 0;
  char header[256];
  int n = std::snprintf(header, sizeof header,
                        "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                        "Cache-Control: no-store\r\n",
                        code, reason, type, body.size());
  std::string out;
  out.reserve(static_cast<size_t>(n) + extra_headers.size() + 2 + (head ? 0 : body.size()));
  out.append(header, static_cast<size_t>(n));
  out.append(extra_headers);
  out.append("\r\n");
  if (!head) out.append(body);
  mg_write(conn, out.data(), out.size());
}

// "0.0.0.0:9842" -> "0.0.0.0:9842s": civetweb's TLS ports end in 's'.
std::string tls_ports(const std::string& listen) {
  std::string out;
  size_t start = 0;
  while (start <= listen.size()) {
    auto comma = listen.find(',', start);
    std::string port = listen.substr(start, comma == std::string::npos ? comma : comma - start);
    out += (out.empty() ? "" : ",") + port + "s";
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

// Opens and closes one TCP connection to a listening port of ours (loopback for a wildcard).
void poke(const mg_server_port& port) {
  int fd = -1;
  if (port.protocol == 1) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port.port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) (void)::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  } else {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(static_cast<uint16_t>(port.port));
    a.sin6_addr = in6addr_loopback;
    fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) (void)::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  }
  if (fd >= 0) ::close(fd);
}

// civetweb dlopens "libssl.so" and calls SSL_get_peer_certificate on every https connection;
// without the agent's compat library (exporters/http/openssl_compat.cpp) that is a null pointer.
// The same dlopen from here finds what civetweb will find; refuse to start rather than crash.
void check_civetweb_openssl() {
  void* ssl = ::dlopen("libssl.so", RTLD_LAZY);
  if (!ssl) {
    const char* why = ::dlerror();
    throw HttpError(std::string("TLS: civetweb cannot load OpenSSL: ") + (why ? why : "libssl.so"));
  }
  if (!::dlsym(ssl, "SSL_get_peer_certificate"))
    throw HttpError(
        "TLS: the libssl.so civetweb finds has no SSL_get_peer_certificate (OpenSSL 3); the "
        "agent's own lib/mobasher-agent/libssl.so provides it: run the installed binary");
}

}  // namespace

// Splits and decodes a query string ("a=1&b=x%20y"); a key without '=' has an empty value.
QueryParams parse_query(std::string_view q) {
  QueryParams out;
  auto decode = [](std::string_view s) {
    std::string buf(s.size() + 1, '\0');
    int n = mg_url_decode(s.data(), static_cast<int>(s.size()), buf.data(),
                          static_cast<int>(buf.size()), 1);
    buf.resize(n < 0 ? 0 : static_cast<size_t>(n));
    return buf;
  };
  while (!q.empty()) {
    auto amp = q.find('&');
    std::string_view part = q.substr(0, amp);
    q = amp == std::string_view::npos ? std::string_view{} : q.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    out.emplace_back(decode(part.substr(0, eq)),
                     eq == std::string_view::npos ? std::string() : decode(part.substr(eq + 1)));
  }
  return out;
}

HttpServer::HttpServer(const std::string& listen, const Publication& pub, HistoryHandler history,
                       const WebConfig& web, int threads)
    : pub_(pub), history_(std::move(history)), tls_(web.tls) {
  if (!web.users.empty()) auth_ = std::make_unique<BasicAuth>(web.users);
  for (const auto& [name, value] : web.headers) headers_ += name + ": " + value + "\r\n";
  // Only a TLS server makes civetweb load OpenSSL (libssl.so, libcrypto.so).
  if (tls_) check_civetweb_openssl();
  mg_init_library(tls_ ? MG_FEATURES_TLS : 0);
  std::string nthreads = std::to_string(threads);
  std::string ports = tls_ ? tls_ports(listen) : listen;
  // civetweb gives every open connection a worker thread until its request is in. So: more
  // workers than clients that may stall (threads, 128: 100 connections that never finish their
  // request leave /healthz and /metrics answering at once; each idle worker costs ~20 kB of
  // RSS), a request must arrive within 5 s and fit in 8 kB (a longer URI or header block gets
  // 400), and an idle keep-alive connection is let go after 500 ms.
  // clang-format off
  const char* options[] = {
      "listening_ports", ports.c_str(),   "num_threads", nthreads.c_str(),
      "enable_keep_alive", "yes",         "keep_alive_timeout_ms", "500",
      "tcp_nodelay", "1",                 "request_timeout_ms", "5000",
      "max_request_size", "8192",
      nullptr};
  // clang-format on
  mg_callbacks callbacks{};
  if (tls_) callbacks.init_ssl = &HttpServer::init_tls;
  mg_init_data init{&callbacks, this, options};
  char text[256] = "";
  mg_error_data err{nullptr, text, sizeof text};
  ctx_ = mg_start2(&init, &err);
  if (!ctx_) {
    mg_exit_library();
    if (!tls_error_.empty())  // the web config's fault: a usage error, as a bad file
      throw WebConfigError("web config " + web.source + ": tls_server_config: " + tls_error_);
    throw HttpError("cannot listen on " + listen + ": " +
                    (text[0] ? text : "civetweb failed to start"));
  }
  mg_set_request_handler(ctx_, "/", &HttpServer::handle, this);
}

HttpServer::~HttpServer() {
  if (!ctx_) return;
  // civetweb's master thread polls its listening sockets with a 2 s quantum, so a bare mg_stop
  // takes up to 2 s. Connecting to our own ports wakes it at once; SIGTERM then ends in ms.
  mg_server_port ports[8];
  int n = mg_get_server_ports(ctx_, 8, ports);
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    mg_stop(ctx_);
    stopped = true;
  });
  for (int round = 0; round < 100 && !stopped; ++round) {
    for (int i = 0; i < n; ++i) poke(ports[i]);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // shutdown path, not the loop
  }
  stopper.join();
  mg_exit_library();
}

// civetweb's SSL_CTX is made; mobasher-server-tls.so fills it in. 1: done, -1: failed.
int HttpServer::init_tls(void* ssl_ctx, void* self) {
  auto* server = static_cast<HttpServer*>(self);
  std::string error;
  void* entry = load_module_entry(kServerTlsModule, kServerTlsEntry, error);
  if (!entry) {
    server->tls_error_ = "TLS needs " + error;
    return -1;
  }
  auto setup = reinterpret_cast<decltype(&mobasher_server_tls_setup)>(entry);
  if (!setup(ssl_ctx, &*server->tls_, &error)) {
    server->tls_error_ = error;
    return -1;
  }
  return 1;
}

int HttpServer::handle(mg_connection* conn, void* self) {
  return static_cast<HttpServer*>(self)->serve(conn);
}

std::string HttpServer::unhealthy_reason(const Published* p,
                                         std::chrono::steady_clock::time_point now) {
  if (!p) return "no scan has completed yet";
  if (!p->failure.empty()) return "last scan failed: " + p->failure;
  auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - p->scanned_at);
  if (age > p->stale_after)
    return "last scan is " + std::to_string(age.count() / 1000) +
           "s old (more than 3 scan intervals, " + std::to_string(p->stale_after.count() / 1000) +
           "s)";
  return "";
}

void HttpServer::serve_history(mg_connection* conn) {
  if (!history_) {
    reply(conn, 404, "Not Found", "text/plain; charset=utf-8", "no history store\n");
    return;
  }
  // Reading files costs real CPU: a few at a time, the rest are told to come back.
  if (history_busy_.fetch_add(1) >= kMaxHistoryRequests) {
    history_busy_.fetch_sub(1);
    reply(conn, 503, "Service Unavailable", "text/plain; charset=utf-8",
          "history: too many requests at once, retry\n", "Retry-After: 1\r\n");
    return;
  }
  const mg_request_info* info = mg_get_request_info(conn);
  HttpReply r;
  try {
    r = history_(parse_query(info->query_string ? info->query_string : ""),
                 std::strcmp(info->request_method, "HEAD") == 0);
  } catch (const std::exception& e) {
    r = {500, "text/plain; charset=utf-8", std::string("history: ") + e.what() + "\n", ""};
  }
  history_busy_.fetch_sub(1);
  const char* reason = r.code == 200   ? "OK"
                       : r.code == 400 ? "Bad Request"
                       : r.code == 503 ? "Service Unavailable"
                                       : "Error";
  reply(conn, r.code, reason, r.type.c_str(), r.body, r.headers.c_str());
}

void HttpServer::reply(mg_connection* conn, int code, const char* reason, const char* type,
                       std::string_view body, std::string_view extra) {
  if (headers_.empty()) return respond(conn, code, reason, type, body, extra);
  respond(conn, code, reason, type, body, headers_ + std::string(extra));
}

int HttpServer::serve(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  // Every path, as exporter-toolkit does: /healthz too.
  if (auth_ && !auth_->allows(mg_get_header(conn, "Authorization"))) {
    reply(conn, 401, "Unauthorized", "text/plain; charset=utf-8", "Unauthorized\n",
          "WWW-Authenticate: Basic realm=\"mobasher-agent\"\r\n");
    return 401;
  }
  std::string_view path = info->local_uri ? info->local_uri : "";
  std::string_view method = info->request_method;
  static constexpr std::string_view kKnown[] = {"/metrics", "/healthz", "/api/v1/status",
                                                "/api/v1/history", "/"};
  bool known = false;
  for (auto k : kKnown) known = known || path == k;
  if (!known) {
    reply(conn, 404, "Not Found", "text/plain; charset=utf-8",
          "not found; try /metrics, /healthz, /api/v1/status, /api/v1/history or /\n");
    return 404;
  }
  if (method != "GET" && method != "HEAD") {
    reply(conn, 405, "Method Not Allowed", "text/plain; charset=utf-8", "only GET is allowed\n",
          "Allow: GET, HEAD\r\n");
    return 405;
  }
  auto p = pub_.latest();
  if (path == "/healthz") {
    std::string reason = unhealthy_reason(p.get(), std::chrono::steady_clock::now());
    if (reason.empty())
      reply(conn, 200, "OK", "text/plain; charset=utf-8",
            p->warning.empty() ? "ok\n" : "ok\nwarning: " + p->warning + "\n");
    else
      reply(conn, 503, "Service Unavailable", "text/plain; charset=utf-8", reason + "\n");
    return reason.empty() ? 200 : 503;
  }
  if (path == "/api/v1/history") {
    serve_history(conn);
    return 200;
  }
  if (!p) {
    reply(conn, 503, "Service Unavailable", "text/plain; charset=utf-8",
          "no scan has completed yet\n");
    return 503;
  }
  if (path == "/metrics")
    reply(conn, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", p->metrics->get());
  else if (path == "/api/v1/status")
    reply(conn, 200, "OK", "application/json", p->status->get());
  else
    reply(conn, 200, "OK", "text/html; charset=utf-8", p->page->get());
  return 200;
}

}  // namespace mobasher
