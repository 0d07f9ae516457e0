// libFuzzer target: short values from outside: sizes ("1.5G", "80%"), durations, RFC 3339 and
// `--since` times, unit names (channel, history name), webhook URLs, and the HTTP query string of
// /api/v1/history as the server decodes and checks it. Errors are values or HistoryQueryError.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "agent/base/quantities.hpp"
#include "agent/base/url.hpp"
#include "collectors/discovery.hpp"
#include "exporters/history/history_api.hpp"
#include "exporters/history/history_record.hpp"
#include "exporters/http/http_server.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)mobasher::parse_size(text);
  (void)mobasher::parse_duration(text);
  (void)mobasher::parse_rfc3339(text);
  auto now = mobasher::WallTime(std::chrono::seconds(1'796'000'000));
  (void)mobasher::parse_when(text, now);
  (void)mobasher::channel_of(std::string(text));
  (void)mobasher::history_unit_name(text);
  std::string error;
  (void)mobasher::parse_url(text, error);
  auto params = mobasher::parse_query(text);
  try {
    (void)mobasher::parse_history_query(params, now);
  } catch (const mobasher::HistoryQueryError&) {
  }
  return 0;
}
