#include "agent/app/logging.hpp"

#include <spdlog/formatter.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <ctime>

namespace mobasher {
namespace {

bool key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// One `key=value` or `key="value"` at the start of s: its length, or 0 when s does not start so.
size_t pair_at(std::string_view s, std::string& key, std::string& value) {
  size_t i = 0;
  while (i < s.size() && key_char(s[i])) ++i;
  if (i == 0 || i >= s.size() || s[i] != '=') return 0;
  key.assign(s.substr(0, i));
  ++i;
  if (i < s.size() && s[i] == '"') {
    size_t end = i + 1;
    value.clear();
    while (end < s.size() && s[end] != '"') {
      if (s[end] == '\\' && end + 1 < s.size()) ++end;
      value += s[end++];
    }
    if (end >= s.size()) return 0;  // unterminated: not a pair
    return end + 1;
  }
  size_t end = s.find(' ', i);
  if (end == std::string_view::npos) end = s.size();
  value.assign(s.substr(i, end - i));
  return end;
}

class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& m, spdlog::memory_buf_t& dest) override {
    auto fields = logfmt_fields(std::string_view(m.payload.data(), m.payload.size()));
    auto secs = std::chrono::system_clock::to_time_t(m.time);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(m.time.time_since_epoch()) % 1000;
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char ts[64];
    std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms.count()));
    auto level = spdlog::level::to_string_view(m.level);
    nlohmann::json line = {{"ts", ts}, {"level", std::string(level.data(), level.size())}};
    line.update(fields);
    // Invalid UTF-8 (a process name) is replaced, never a reason to lose the line.
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

}  // namespace

nlohmann::json logfmt_fields(std::string_view message) {
  nlohmann::json out = nlohmann::json::object();
  std::string msg, key, value;
  auto add_msg = [&](std::string_view word) {
    if (!msg.empty()) msg += ' ';
    msg.append(word);
  };
  while (!message.empty()) {
    if (message.front() == ' ') {
      message.remove_prefix(1);
      continue;
    }
    if (size_t n = pair_at(message, key, value);
        n > 0 && key != "ts" && key != "level" && key != "msg" && !out.contains(key)) {
      out[key] = value;
      message.remove_prefix(n);
      continue;
    }
    size_t end = message.find(' ');
    add_msg(message.substr(0, end));
    message.remove_prefix(end == std::string_view::npos ? message.size() : end);
  }
  out["msg"] = msg;
  return out;
}

void setup_logging(const std::string& level, LogFormat format) {
  auto logger = spdlog::stderr_logger_mt("mobasher");
  if (format == LogFormat::json)
    logger->set_formatter(std::make_unique<JsonFormatter>());
  else
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
  logger->set_level(spdlog::level::from_str(level));
  spdlog::set_default_logger(logger);
}

}  // namespace mobasher
