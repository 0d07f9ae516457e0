#include "agent/app/agent_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace mobasher {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

std::string http_get(const std::string& host_port, const std::string& target,
                     std::chrono::milliseconds timeout) {
  auto colon = host_port.rfind(':');
  if (colon == std::string::npos) throw ClientError(host_port + " is not HOST:PORT");
  std::string host = host_port.substr(0, colon), port = host_port.substr(colon + 1);
  if (host == "0.0.0.0" || host.empty()) host = "127.0.0.1";
  if (host == "[::]") host = "::1";
  std::string url = "http://" + host + ":" + port + target;
  // Asynchronous operations: beast's timeouts (expires_after) apply to them only; a stuck agent
  // or a black-holed port then fails after `timeout` instead of hanging `status`.
  boost::asio::io_context io;
  tcp::resolver resolver(io);
  beast::tcp_stream stream(io);
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, host);
  req.set(http::field::user_agent, "mobasher-agent/" MOBASHER_VERSION);
  beast::flat_buffer buf;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 << 20);
  beast::error_code result;
  auto endpoints = resolver.resolve(host, port, result);
  if (result) throw ClientError("cannot reach the agent at " + url + ": " + result.message());
  stream.expires_after(timeout);
  stream.async_connect(endpoints, [&](beast::error_code ec, const tcp::endpoint&) {
    if (ec) {
      result = ec;
      return;
    }
    http::async_write(stream, req, [&](beast::error_code ec2, size_t) {
      if (ec2) {
        result = ec2;
        return;
      }
      http::async_read(stream, buf, parser, [&](beast::error_code ec3, size_t) { result = ec3; });
    });
  });
  io.run();
  if (result) throw ClientError("cannot reach the agent at " + url + ": " + result.message());
  auto res = parser.release();
  if (res.result() != http::status::ok)
    throw ClientError(url + " answered " + std::to_string(res.result_int()) + ": " + res.body());
  return res.body();
}

}  // namespace mobasher
