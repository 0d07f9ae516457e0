// Sizes ("1.5G", "512M", bytes, "80%") and durations ("5s", "10m", "4h") as the config writes them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mobasher {

using WallClock = std::chrono::system_clock;
using WallTime = WallClock::time_point;
inline double unix_seconds(WallTime t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// An absolute size in bytes, or a share of the unit's memory limit.
struct Size {
  uint64_t bytes = 0;
  std::optional<double> percent;  // set for "80%"
  uint64_t resolve(uint64_t limit) const {
    return percent ? static_cast<uint64_t>(static_cast<double>(limit) * *percent / 100.0) : bytes;
  }
  bool operator==(const Size&) const = default;
};

// Base 1024, as systemd's MemoryMax=: K, M, G, T with an optional "i"/"iB"/"B" ("1.5GiB").
std::optional<Size> parse_size(std::string_view text, bool allow_percent = true);
// The longest duration anything accepts: ten years. Every `now - d` of a wall or steady clock
// (nanoseconds in 64 bits: +-292 years around 1970) stays in range with it, so a config's
// `max_age` or a `?since=` can never overflow into a time that deletes every history file.
inline constexpr std::chrono::milliseconds kMaxDuration{int64_t{3650} * 86'400'000};
// "250ms", "5s", "10m", "4h", "2d" (a decimal number before the unit); nullopt for anything else
// and for more than kMaxDuration.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

std::string format_bytes(uint64_t bytes);  // "1.50GiB", "512MiB", "17B"
// Every duration the agent prints: the largest unit (d, h, m, s, ms) and the next one unless it
// is 0, padded ("4h", "10m", "250ms", "1m30s", "2h05m", "1d03h"); anything smaller is left out.
// A round duration reads as the config writes it.
std::string format_duration(std::chrono::milliseconds d);
// A measured time in (rounded) whole seconds, negative as 0: format_seconds(372.4) == "6m12s".
std::string format_seconds(double seconds);
// RFC 3339 UTC with milliseconds: "2026-12-01T08:30:00.250Z".
std::string format_rfc3339(WallTime t);

// YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), RFC 3339 section 5.6; nullopt otherwise.
std::optional<WallTime> parse_rfc3339(std::string_view s);
// A UTC date and time of day; nullopt unless it is a real one (no Feb 30, no 24:00, no :60) in
// the years 1678-2261 (a WallTime counts nanoseconds in 64 bits: 1677-09-21 to 2262-04-11).
// The one civil-time conversion: parse_rfc3339 and the history's file names use it.
std::optional<WallTime> utc_time(int y, int mo, int d, int h, int mi, int sec);

// WHEN of --since/--until: a duration that long before now ("30m", "6h", "2d"), an RFC 3339 time
// ("2026-12-01T10:00:00Z", "2026-12-01T10:00:00.250Z", an offset "+02:00" instead of Z), or
// "now". nullopt: none of these.
std::optional<WallTime> parse_when(std::string_view text, WallTime now);

}  // namespace mobasher
