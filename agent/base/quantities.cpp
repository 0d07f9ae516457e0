#include "agent/base/quantities.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <iterator>

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
  if (!(ms <= static_cast<double>(kMaxDuration.count()))) return std::nullopt;
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
  struct Unit {
    int64_t ms;
    const char* suffix;
    int digits;  // as the second unit: "2h05m", "1s050ms"
  };
  static constexpr Unit kUnits[] = {
      {86'400'000, "d", 2}, {3'600'000, "h", 2}, {60'000, "m", 2}, {1'000, "s", 2}, {1, "ms", 3}};
  int64_t ms = d.count();
  if (ms < 0) return "-" + format_duration(-d);
  if (ms == 0) return "0s";
  size_t i = 0;
  while (ms < kUnits[i].ms) ++i;
  std::string out = std::to_string(ms / kUnits[i].ms) + kUnits[i].suffix;
  if (i + 1 == std::size(kUnits)) return out;
  const Unit& next = kUnits[i + 1];
  if (int64_t n = ms % kUnits[i].ms / next.ms) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%0*lld%s", next.digits, static_cast<long long>(n), next.suffix);
    out += buf;
  }
  return out;
}

std::string format_seconds(double seconds) {
  return format_duration(std::chrono::seconds(std::llround(std::max(0.0, seconds))));
}

std::string format_rfc3339(WallTime t) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(((ms % 1000) + 1000) % 1000));
  return buf;
}

std::optional<WallTime> utc_time(int y, int mo, int d, int h, int mi, int sec) {
  std::chrono::year_month_day ymd{std::chrono::year(y),
                                  std::chrono::month(static_cast<unsigned>(mo)),
                                  std::chrono::day(static_cast<unsigned>(d))};
  if (!ymd.ok() || y < 1678 || y > 2261 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 ||
      sec > 59)
    return std::nullopt;
  return std::chrono::time_point_cast<WallTime::duration>(
      std::chrono::sys_days(ymd) + std::chrono::hours(h) + std::chrono::minutes(mi) +
      std::chrono::seconds(sec));
}

// YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM), RFC 3339 section 5.6.
std::optional<WallTime> parse_rfc3339(std::string_view s) {
  auto num = [&](size_t pos, size_t n, int& out) {
    if (pos + n > s.size()) return false;
    out = 0;
    for (size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return false;
      out = out * 10 + (s[i] - '0');
    }
    return true;
  };
  int y, mo, d, h, mi, sec;
  if (!num(0, 4, y) || s.size() < 20 || s[4] != '-' || !num(5, 2, mo) || s[7] != '-' ||
      !num(8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !num(11, 2, h) ||
      s[13] != ':' || !num(14, 2, mi) || s[16] != ':' || !num(17, 2, sec))
    return std::nullopt;
  size_t i = 19;
  int64_t frac_ns = 0;
  if (s[i] == '.') {
    size_t start = ++i;
    int64_t scale = 100'000'000;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i, scale /= 10)
      frac_ns += (s[i] - '0') * scale;
    if (i == start) return std::nullopt;
  }
  std::chrono::minutes offset{0};
  if (i + 1 == s.size() && (s[i] == 'Z' || s[i] == 'z')) {
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    int oh, om;
    if (!num(i + 1, 2, oh) || !num(i + 4, 2, om) || oh > 23 || om > 59) return std::nullopt;
    offset = std::chrono::minutes(oh * 60 + om) * (s[i] == '-' ? -1 : 1);
  } else {
    return std::nullopt;
  }
  auto t = utc_time(y, mo, d, h, mi, sec);
  if (!t) return std::nullopt;
  return *t +
         std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(frac_ns) - offset);
}

std::optional<WallTime> parse_when(std::string_view text, WallTime now) {
  if (text == "now") return now;
  if (auto t = parse_rfc3339(text)) return t;
  if (auto d = parse_duration(text))
    return now - std::chrono::duration_cast<WallTime::duration>(*d);
  return std::nullopt;
}

}  // namespace mobasher
