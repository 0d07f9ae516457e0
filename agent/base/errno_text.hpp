// An errno value as text ("No such file or directory"), thread-safe (unlike std::strerror): the
// one spelling every module's error messages use.
#pragma once

#include <string>
#include <system_error>

namespace mobasher {

inline std::string errno_text(int err) {
  return std::error_code(err, std::generic_category()).message();
}

}  // namespace mobasher
