#include "agent/agent_client.hpp"

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
  try {
    boost::asio::io_context io;
    tcp::resolver resolver(io);
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    stream.connect(resolver.resolve(host, port));
    http::request<http::empty_body> req{http::verb::get, target, 11};
    req.set(http::field::host, host);
    req.set(http::field::user_agent, "mobasher-agent/" MOBASHER_VERSION);
    http::write(stream, req);
    beast::flat_buffer buf;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    http::read(stream, buf, parser);
    auto res = parser.release();
    if (res.result() != http::status::ok)
      throw ClientError(url + " answered " + std::to_string(res.result_int()) + ": " + res.body());
    return res.body();
  } catch (const boost::system::system_error& e) {
    throw ClientError("cannot reach the agent at " + url + ": " + e.code().message());
  }
}

}  // namespace mobasher
