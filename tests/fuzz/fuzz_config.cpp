// libFuzzer target: the config file (JSON with comments, sizes, durations, regexes, URLs).
// Any input either loads or throws ConfigError naming the culprit; anything else is a bug.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "agent/config/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    mobasher::parse_config(text, "fuzz.json");
  } catch (const mobasher::ConfigError&) {
  }
  return 0;
}
