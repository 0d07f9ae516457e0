// The defaults live in the config structs' initialisers (agent/config/config.hpp). Two texts
// restate them for people, and these tests keep them from drifting:
// - deploy/config.json, the built-in config embedded at build time: every key it sets outside
//   `groups` (the Mobasher plan proper) has the struct default;
// - docs/CONFIG.md: every key the loader knows is documented in the section of its object, and
//   every default the key tables show as one value is the struct default.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "agent/base/json_locations.hpp"
#include "agent/config/config.hpp"

namespace mobasher {
namespace {

using nlohmann::json;

// Leaves of an object as JSON pointers; arrays are leaves.
void leaves(const json& v, const std::string& at, std::vector<std::string>& out) {
  if (!v.is_object()) {
    out.push_back(at);
    return;
  }
  for (auto& [k, e] : v.items()) leaves(e, at + "/" + k, out);
}

TEST(DeployConfig, EveryKeyItSetsOutsideGroupsIsTheStructDefault) {
  const json file = parse_json_with_lines(kDefaultConfigText).value;
  const json defaults = config_values(Config{}), built_in = config_values(default_config());
  std::vector<std::string> set;
  leaves(file, "", set);
  size_t compared = 0;
  for (const auto& p : set) {
    if (p.starts_with("/groups")) continue;  // the plan itself: no struct holds it
    json::json_pointer at(p);
    ASSERT_TRUE(defaults.contains(at)) << p << ": not a key config_values() knows";
    EXPECT_EQ(built_in[at], defaults[at]) << "deploy/config.json sets " << p << " to " << file[at]
                                          << ", the struct default (agent/config/config.hpp) is "
                                          << defaults[at] << ": make them agree";
    ++compared;
  }
  EXPECT_GE(compared, 20u);
}

TEST(ConfigValues, ReadTheStructDefaultsKeyByKey) {
  const json v = config_values(Config{});
  for (const char* p : {"/listen", "/measure", "/alerts/webhooks", "/actions/handover/strategy",
                        "/actions/job_timeout", "/history/max_total_size"})
    EXPECT_TRUE(v.contains(json::json_pointer(p))) << p;
  EXPECT_EQ(v["measure"], "rss");
  EXPECT_EQ(v["actions"]["handover"]["strategy"], "restart");
  EXPECT_EQ(v["actions"]["job_timeout"], nullptr);  // unset: off unless given
  EXPECT_EQ(v["scan_interval"], 5000);
  EXPECT_EQ(v["alerts"]["node_memory_available_min"], json({{"percent", 10.0}}));
}

TEST(ConfigKeys, PathsNameEveryObjectAndArray) {
  auto paths = config_key_paths();
  auto has = [&](const std::string& p) {
    return std::find(paths.begin(), paths.end(), p) != paths.end();
  };
  for (const char* p : {"listen", "groups", "groups[].restart", "groups[].restart.predict_window",
                        "groups[].match", "groups[].match.cmdline", "alerts.webhooks[].format",
                        "actions.handover.strategy", "history.max_total_size"})
    EXPECT_TRUE(has(p)) << p;
  EXPECT_FALSE(has("alerts.webhooks[].headers.X-Scope-OrgID")) << "headers has no fixed keys";
}

// ---- docs/CONFIG.md ---------------------------------------------------------------------------

struct Section {
  std::string object;  // "" for the top level, "groups[]", "alerts.webhooks[]", "actions", ...
  std::vector<std::string> lines;
};

// "## Keys" is the top level; each heading below it names its object in one code span.
std::vector<Section> config_md_sections() {
  std::ifstream in(std::string(MOBASHER_SOURCE_DIR) + "/docs/CONFIG.md");
  static const std::regex kHeading(R"(^#{3,4} `([a-z_.\[\]]+)`\s*$)");
  std::vector<Section> out;
  bool keys = false;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (line.starts_with("## ")) {
      keys = line == "## Keys";
      if (keys) out.push_back({"", {}});
    } else if (keys && std::regex_match(line, m, kHeading)) {
      out.push_back({m[1], {}});
    } else if (keys && line.starts_with("#")) {
      ADD_FAILURE() << "docs/CONFIG.md: a heading under Keys that names no object: " << line;
    } else if (keys) {
      out.back().lines.push_back(line);
    }
  }
  return out;
}

// The code spans of a text: "`a` and `b.c`" -> {"a", "b.c"}.
std::vector<std::string> code_spans(const std::string& text) {
  static const std::regex kSpan("`([^`]*)`");
  std::vector<std::string> out;
  for (std::sregex_iterator it(text.begin(), text.end(), kSpan), end; it != end; ++it)
    out.push_back((*it)[1]);
  return out;
}

std::string name_of(const Section& s) {
  return s.object.empty() ? "Keys" : "`" + s.object + "`";
}

// The section a key path belongs to (its object's) and the path inside it.
std::pair<const Section*, std::string> section_of(const std::vector<Section>& sections,
                                                  const std::string& path) {
  const Section* best = nullptr;
  for (const auto& s : sections)
    if (path.starts_with(s.object + (s.object.empty() ? "" : ".")) &&
        (!best || s.object.size() > best->object.size()))
      best = &s;
  if (!best) return {nullptr, path};
  return {best, path.substr(best->object.empty() ? 0 : best->object.size() + 1)};
}

TEST(ConfigDocs, EveryKeyTheLoaderKnowsIsInItsSection) {
  auto sections = config_md_sections();
  ASSERT_GE(sections.size(), 6u) << "docs/CONFIG.md: Keys and its object headings";
  for (const auto& path : config_key_paths()) {
    auto [section, inside] = section_of(sections, path);
    ASSERT_NE(section, nullptr) << path;
    // Every name of the path inside the section is a word of one of its code spans: `for`,
    // `handover.strategy`, `{ on_memory, for, max_age, predict, predict_window }`.
    std::set<std::string> words;
    static const std::regex kWord("[A-Za-z_]+");
    for (const auto& line : section->lines)
      for (const auto& span : code_spans(line))
        for (std::sregex_iterator w(span.begin(), span.end(), kWord), end; w != end; ++w)
          words.insert(w->str());
    std::stringstream names(std::regex_replace(inside, std::regex(R"(\[\])"), ""));
    for (std::string name; std::getline(names, name, '.');)
      EXPECT_TRUE(words.count(name))
          << path << ": \"" << name << "\" is not in docs/CONFIG.md, section `" << section->object
          << "`";
  }
}

// A table row's cells, split at | but not at \|.
std::vector<std::string> cells(const std::string& row) {
  std::vector<std::string> out;
  std::string cell;
  for (size_t i = 1; i < row.size(); ++i) {
    if (row[i] == '|' && row[i - 1] != '\\') {
      out.push_back(std::regex_replace(cell, std::regex(R"(^\s+|\s+$)"), ""));
      cell.clear();
    } else {
      cell += row[i];
    }
  }
  return out;
}

// A default cell as JSON: `"5s"`, `true`, `[]`; a bare word (`rss`, a path) is a string.
json documented_value(const std::string& span) {
  json v = json::parse(span, nullptr, false);
  return v.is_discarded() ? json(span) : v;
}

// A file setting `inside` (dotted) of `object` to v; array objects get an element with the
// keys their elements need.
json file_with(const std::string& object, const std::string& inside, const json& v) {
  json leaf = v;
  std::vector<std::string> names;
  std::stringstream in(inside);
  for (std::string n; std::getline(in, n, '.');) names.push_back(n);
  for (auto it = names.rbegin(); it != names.rend(); ++it) leaf = json{{*it, leaf}};
  if (object == "groups[]") {
    leaf.update(json{{"name", "g"}, {"units", "g@*.service"}, {"memory_limit", "2G"}});
    return json{{"groups", json::array({leaf})}};
  }
  if (object == "alerts.webhooks[]") {
    leaf.update(json{{"url", "http://127.0.0.1:9093/"}});
    return json{{"alerts", {{"webhooks", json::array({leaf})}}}};
  }
  return object.empty() ? leaf : json{{object, leaf}};
}

json::json_pointer pointer_of(const std::string& object, const std::string& inside) {
  std::string p = "/" + object + (object.empty() ? "" : ".") + inside;
  p = std::regex_replace(p, std::regex(R"(\[\])"), ".0");
  std::replace(p.begin(), p.end(), '.', '/');
  return json::json_pointer(p);
}

TEST(ConfigDocs, EveryDefaultInTheKeyTablesIsTheStructDefault) {
  size_t checked = 0;
  for (const auto& s : config_md_sections()) {
    for (const auto& line : s.lines) {
      auto c = cells(line);
      if (c.size() < 4 || !c[0].starts_with("`")) continue;
      // `retry_backoff` / `max_retry_backoff` | … | `"5m"` / `"1h"`: pairs, in order.
      auto keys = code_spans(c[0]), values = code_spans(c[2]);
      std::string rest = std::regex_replace(c[2], std::regex("`[^`]*`|/|\\s"), "");
      if (keys.size() != values.size() || !rest.empty()) continue;  // "required", "unset", …
      for (size_t i = 0; i < keys.size(); ++i) {
        std::string inside = std::regex_replace(keys[i], std::regex(R"(\[\]$)"), "");
        SCOPED_TRACE("docs/CONFIG.md " + name_of(s) + ": " + keys[i] + " = " + values[i]);
        // An array's element starts from its struct's defaults: compare with one without the key.
        const bool element = s.object.ends_with("[]");
        Config documented, plain;
        try {
          documented =
              parse_config(file_with(s.object, inside, documented_value(values[i])).dump(), "docs");
          plain = element ? parse_config(file_with(s.object, "", json::object()).dump(), "docs")
                          : Config{};
        } catch (const ConfigError& e) {
          ADD_FAILURE() << e.what();
          continue;
        }
        auto at = pointer_of(s.object, inside);
        EXPECT_EQ(config_values(documented)[at], config_values(plain)[at])
            << "the documented default is not the struct default (agent/config/config.hpp)";
        ++checked;
      }
    }
  }
  EXPECT_GE(checked, 35u);
}

}  // namespace
}  // namespace mobasher
