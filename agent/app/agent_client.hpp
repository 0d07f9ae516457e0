// A tiny HTTP GET client (Boost.Beast) for `status`, which asks the running agent.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>

namespace mobasher {

class ClientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// GET http://HOST:PORT/TARGET; the body on 200, ClientError otherwise (message names the URL).
std::string http_get(const std::string& host_port, const std::string& target,
                     std::chrono::milliseconds timeout = std::chrono::milliseconds(3000));

}  // namespace mobasher
