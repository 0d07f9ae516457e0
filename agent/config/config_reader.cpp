#include "agent/config/config_reader.hpp"

#include <sstream>

namespace mobasher {

void ConfigReader::fail(const std::string& path, const std::string& what) const {
  std::ostringstream msg;
  msg << "config error: " << source_ << ":" << doc_.line_of(path) << ": "
      << (path.empty() ? "(top level)" : path) << ": " << what;
  throw ConfigError(msg.str());
}

std::string ConfigReader::other(const json& obj, const std::string& key, const std::string& value,
                                const std::string& unset) {
  return key + " (" + value + (obj.contains(key) ? ")" : ", " + unset + ")");
}

std::string ConfigReader::describe(const json& v) {
  std::string dumped = v.dump();
  if (dumped.size() > 40) dumped = dumped.substr(0, 37) + "...";
  return std::string(v.type_name()) + " " + dumped;
}

void ConfigReader::only_keys(const json& obj, const std::string& path,
                             const std::set<std::string>& allowed) const {
  if (!obj.is_object()) fail(path, "must be an object, not " + describe(obj));
  for (auto& [k, v] : obj.items()) {
    if (!allowed.count(k)) {
      std::string list;
      for (auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      fail(join(path, k), "unknown key (known here: " + list + ")");
    }
  }
}

std::string ConfigReader::string(const json& v, const std::string& path) const {
  if (!v.is_string()) fail(path, "must be a string, not " + describe(v));
  return v.get<std::string>();
}

bool ConfigReader::boolean(const json& v, const std::string& path) const {
  if (!v.is_boolean()) fail(path, "must be true or false, not " + describe(v));
  return v.get<bool>();
}

int64_t ConfigReader::integer(const json& v, const std::string& path, int64_t lo,
                              int64_t hi) const {
  if (!v.is_number_integer()) fail(path, "must be a whole number, not " + describe(v));
  int64_t n = v.get<int64_t>();
  if (n < lo || n > hi)
    fail(path,
         std::to_string(n) + " is out of range " + std::to_string(lo) + ".." + std::to_string(hi));
  return n;
}

Size ConfigReader::size(const json& v, const std::string& path, bool allow_percent) const {
  if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0))
    return Size{v.get<uint64_t>(), std::nullopt};
  const char* hint = allow_percent ? "(use bytes, 1.5G, 512M or 80%)" : "(use bytes, 1.5G or 512M)";
  if (!v.is_string()) fail(path, "must be a size " + std::string(hint) + ", not " + describe(v));
  auto s = parse_size(v.get<std::string>(), allow_percent);
  if (!s) fail(path, v.dump() + " is not a size " + hint);
  return *s;
}

Duration ConfigReader::duration(const json& v, const std::string& path, Duration min) const {
  if (!v.is_string())
    fail(path, "must be a duration like \"5s\", \"10m\" or \"4h\", not " + describe(v));
  auto d = parse_duration(v.get<std::string>());
  if (!d)
    fail(path, v.dump() + " is not a duration of at most " + format_duration(kMaxDuration) +
                   " (use ms, s, m, h or d: \"5s\", \"4h\")");
  if (*d < min) fail(path, v.dump() + " is too short (at least " + format_duration(min) + ")");
  return *d;
}

Regex ConfigReader::regex(const json& v, const std::string& path) const {
  std::string pattern = string(v, path), error;
  auto re = Regex::compile(pattern, error);
  if (!re)
    fail(path, "\"" + pattern + "\" is not a valid POSIX extended regular expression: " + error);
  return *re;
}

}  // namespace mobasher
