#include "agent/quantities.hpp"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

namespace mobasher {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Leading non-negative decimal number; the rest of the text is left in `rest`.
std::optional<double> leading_number(std::string_view s, std::string_view& rest) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr == s.data() || !std::isfinite(v) || v < 0) return std::nullopt;
  rest = trim(std::string_view(ptr, static_cast<size_t>(s.data() + s.size() - ptr)));
  return v;
}

}  // namespace

std::optional<Size> parse_size(std::string_view text, bool allow_percent) {
  std::string_view rest;
  auto v = leading_number(trim(text), rest);
  if (!v) return std::nullopt;
  if (rest == "%") {
    if (!allow_percent || *v <= 0 || *v > 100) return std::nullopt;
    return Size{0, *v};
  }
  double mult = 1;
  if (!rest.empty()) {
    switch (rest.front()) {
      case 'K':
      case 'k':
        mult = 1024.0;
        break;
      case 'M':
        mult = 1024.0 * 1024;
        break;
      case 'G':
        mult = 1024.0 * 1024 * 1024;
        break;
      case 'T':
        mult = 1024.0 * 1024 * 1024 * 1024;
        break;
      case 'B':
        mult = 1;
        break;
      default:
        return std::nullopt;
    }
    std::string_view suffix = rest.substr(1);
    if (rest.front() == 'B') {
      if (!suffix.empty()) return std::nullopt;
    } else if (!(suffix.empty() || suffix == "B" || suffix == "i" || suffix == "iB")) {
      return std::nullopt;
    }
  }
  double bytes = std::round(*v * mult);
  if (bytes >= 1.8e19) return std::nullopt;
  return Size{static_cast<uint64_t>(bytes), std::nullopt};
}

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::string_view rest;
  auto v = leading_number(trim(text), rest);
  if (!v) return std::nullopt;
  double ms_per_unit;
  if (rest == "ms")
    ms_per_unit = 1;
  else if (rest == "s")
    ms_per_unit = 1e3;
  else if (rest == "m")
    ms_per_unit = 60e3;
  else if (rest == "h")
    ms_per_unit = 3600e3;
  else if (rest == "d")
    ms_per_unit = 86400e3;
  else
    return std::nullopt;
  double ms = std::round(*v * ms_per_unit);
  if (ms > 1e15) return std::nullopt;
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

std::string format_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f%s" : "%.2f%s", v, kUnits[u]);
  return buf;
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms % 86400000 == 0 && ms >= 86400000) return std::to_string(ms / 86400000) + "d";
  if (ms % 3600000 == 0 && ms >= 3600000) return std::to_string(ms / 3600000) + "h";
  if (ms % 60000 == 0 && ms >= 60000) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string format_rfc3339(std::chrono::system_clock::time_point t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(((ms % 1000) + 1000) % 1000));
  return buf;
}

}  // namespace mobasher
