// One config document being read: typed accessors that know the key path, so every error names
// file, line and key and says what would be accepted. Used by the key tables (config_keys.hpp).
#pragma once

#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "agent/base/json_locations.hpp"
#include "agent/base/quantities.hpp"
#include "agent/base/regex.hpp"
#include "agent/config/config.hpp"

namespace mobasher {

class ConfigReader {
 public:
  using json = nlohmann::json;
  ConfigReader(const LocatedJson& doc, std::string source)
      : doc_(doc), source_(std::move(source)) {}

  // Throws ConfigError "config error: SOURCE:LINE: PATH: WHAT".
  [[noreturn]] void fail(const std::string& path, const std::string& what) const;

  // For a cross-key message: what the other side is and where it came from.
  static std::string other(const json& obj, const std::string& key, const std::string& value,
                           const std::string& unset = "the built-in value");
  static std::string join(const std::string& parent, const std::string& key) {
    return parent.empty() ? key : parent + "." + key;
  }
  static std::string describe(const json& v);  // "string \"5\"", shortened

  // obj is an object naming only keys of `allowed`.
  void only_keys(const json& obj, const std::string& path,
                 const std::set<std::string>& allowed) const;
  std::string string(const json& v, const std::string& path) const;
  bool boolean(const json& v, const std::string& path) const;
  int64_t integer(const json& v, const std::string& path, int64_t lo, int64_t hi) const;
  Size size(const json& v, const std::string& path, bool allow_percent) const;
  Duration duration(const json& v, const std::string& path, Duration min) const;
  Regex regex(const json& v, const std::string& path) const;

 private:
  const LocatedJson& doc_;
  std::string source_;
};

}  // namespace mobasher
