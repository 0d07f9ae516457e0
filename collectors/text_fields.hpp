// The small text and file helpers every /proc and cgroup reader shares: numbers, "Key: N kB"
// lines, line iteration and read-only opens. One copy, so the readers cannot drift apart.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>

namespace mobasher {

// The whole of `s` as a number; trailing spaces and newlines allowed ("123\n" of a cgroup file).
inline std::optional<uint64_t> parse_u64(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.remove_suffix(1);
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// The number `s` starts with, whatever follows it ("1234 kB", a /proc field).
inline std::optional<uint64_t> leading_u64(std::string_view s) {
  uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p == s.data()) return std::nullopt;
  return v;
}

// The next space- or tab-separated field of `s`, consumed.
inline std::string_view next_field(std::string_view& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) {
    s = {};
    return {};
  }
  s.remove_prefix(b);
  size_t e = s.find_first_of(" \t");
  std::string_view f = s.substr(0, e);
  s.remove_prefix(e == std::string_view::npos ? s.size() : e);
  return f;
}

template <typename F>
void for_each_line(std::string_view text, F&& on_line) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    on_line(text.substr(0, nl));
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
  }
}

// "Key:   1234 kB" lines (/proc/meminfo, /proc/PID/status, smaps_rollup): on_line(key, bytes).
template <typename F>
void for_each_kb_line(std::string_view text, F&& on_line) {
  for_each_line(text, [&](std::string_view line) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view rest = line.substr(colon + 1);
    if (auto v = leading_u64(next_field(rest))) on_line(line.substr(0, colon), *v * 1024);
  });
}

inline int open_ro(const std::filesystem::path& p) {
  return ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
}

// An owned file descriptor (-1: none), closed when replaced or destroyed.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

}  // namespace mobasher
