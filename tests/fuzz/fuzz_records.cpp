// libFuzzer target: what the agent reads back from its own state directory, which a crash, a
// full disk or a person can leave in any shape: history lines (time, unit, numbers by key, file
// names) and outbox records (a JSON notification). Errors are values or nlohmann's exceptions.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string_view>

#include "agent/state/alerts.hpp"
#include "exporters/history/history_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  mobasher::WallTime t;
  (void)mobasher::record_time(text, t);
  (void)mobasher::record_unit(text);
  (void)mobasher::sample_number(text, "rss");
  unsigned seq = 0;
  bool compressed = false;
  (void)mobasher::parse_history_name(text, t, seq, compressed);
  try {
    auto j = nlohmann::json::parse(text);
    (void)mobasher::Notification::from_json(j.at("notification"));
  } catch (const nlohmann::json::exception&) {
  }
  return 0;
}
