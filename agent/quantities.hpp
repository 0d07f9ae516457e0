// Sizes ("1.5G", "512M", bytes, "80%") and durations ("5s", "10m", "4h") as the config writes them.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace mobasher {

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
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

std::string format_bytes(uint64_t bytes);                  // "1.50GiB", "512MiB", "17B"
std::string format_duration(std::chrono::milliseconds d);  // "4h", "90s", "250ms"
// RFC 3339 UTC with milliseconds: "2026-12-01T08:30:00.250Z".
std::string format_rfc3339(std::chrono::system_clock::time_point t);

}  // namespace mobasher
