// libFuzzer target: --web.config.file (exporter-toolkit YAML, through yaml-cpp and our checks)
// and the Authorization header basic auth decodes. Errors are WebConfigError or a false.
#include <cstddef>
#include <cstdint>
#include <string>

#include "exporters/http/basic_auth.hpp"
#include "exporters/http/web_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)mobasher::parse_web_config(text, "fuzz.yml", "/nonexistent");
  } catch (const mobasher::WebConfigError&) {
  }
  std::string user, password;
  (void)mobasher::BasicAuth::decode(text, user, password);
  return 0;
}
