// Every config snippet in README.md and docs/*.md, saved as a file the way an operator would
// save it, loads, and gives the effective config the docs promise: the snippet's keys over the
// built-in plan (deploy/config.json), every other key the built-in value.
//
// Which fenced blocks are config snippets (any info string: ```json, ```jsonc, ```sh or none):
// those whose first text, comments aside, is `{ "KEY":` or `"KEY":`, KEY a top-level key of the
// built-in config or "pss". A member list (`"alerts": { ... }`, as the docs show one section) is
// wrapped in { } to make the file, on the same lines. Every other block is not a config and is
// skipped: shell, YAML, history records (JSON lines starting `{"ts":`), API output, log and
// error lines.
// Files the agent must be able to read at load (`bearer_token_file`, `ca_file`) are the reader's
// own: the test points them at an empty file it makes.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>

#include "agent/base/json_locations.hpp"
#include "agent/config/config.hpp"
#include "fixtures/fixture_tree.hpp"

namespace mobasher {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct Block {
  std::string file;  // relative to the source tree
  int line = 0;      // of the opening fence
  std::string text;
};

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<Block> fenced_blocks(const fs::path& root, const std::string& rel) {
  static const std::regex kFence(R"(^\s*```\S*\s*$)");
  std::vector<Block> out;
  std::istringstream in(read(root / rel));
  std::string line;
  std::optional<Block> open;
  for (int n = 1; std::getline(in, line); ++n) {
    if (!std::regex_match(line, kFence)) {
      if (open) open->text += line + "\n";
    } else if (open) {
      out.push_back(*open);
      open.reset();
    } else {
      open = Block{rel, n, ""};
    }
  }
  return out;
}

std::vector<Block> doc_blocks() {
  const fs::path root = MOBASHER_SOURCE_DIR;
  std::vector<std::string> files = {"README.md"};
  for (const auto& e : fs::directory_iterator(root / "docs"))
    if (e.path().extension() == ".md") files.push_back("docs/" + e.path().filename().string());
  std::sort(files.begin() + 1, files.end());
  std::vector<Block> out;
  for (const auto& f : files)
    for (auto& b : fenced_blocks(root, f)) out.push_back(std::move(b));
  return out;
}

// The text after leading blanks and comments.
std::string_view first_text(std::string_view t) {
  for (;;) {
    size_t i = t.find_first_not_of(" \t\r\n");
    if (i == std::string_view::npos) return {};
    t.remove_prefix(i);
    if (t.starts_with("//"))
      t.remove_prefix(std::min(t.size(), t.find('\n')));
    else if (auto end = t.find("*/"); t.starts_with("/*"))
      t.remove_prefix(end == std::string_view::npos ? t.size() : end + 2);
    else
      return t;
  }
}

std::set<std::string> top_level_keys() {
  std::set<std::string> keys = {"pss"};  // off in the built-in, so not written there
  const LocatedJson built_in = parse_json_with_lines(kDefaultConfigText);
  for (auto& [k, v] : built_in.value.items()) keys.insert(k);
  return keys;
}

// The file to load, or nullopt for a block that is not a config.
std::optional<std::string> config_text(const Block& b) {
  static const std::regex kFirstKey(R"re(^"([A-Za-z_]+)"\s*:)re");
  static const std::set<std::string> kKeys = top_level_keys();
  std::string_view t = first_text(b.text);
  bool whole = t.starts_with("{");
  if (whole) t = first_text(t.substr(1));
  std::string start(t.substr(0, 100));
  std::smatch m;
  if (!std::regex_search(start, m, kFirstKey) || !kKeys.count(m[1])) return std::nullopt;
  return whole ? b.text : "{" + b.text + "}";
}

// Points bearer_token_file/ca_file values at `readable` (same lines, same comments).
std::string with_readable_files(std::string text, const std::string& readable) {
  LocatedJson doc;
  try {
    doc = parse_json_with_lines(text);
  } catch (const JsonSyntaxError&) {
    return text;  // load_config_file reports it
  }
  std::function<void(const json&)> walk = [&](const json& v) {
    if (v.is_array())
      for (const auto& e : v) walk(e);
    if (!v.is_object()) return;
    for (auto& [k, e] : v.items()) {
      if ((k == "bearer_token_file" || k == "ca_file") && e.is_string()) {
        std::string quoted = json(e.get<std::string>()).dump();
        for (size_t at; (at = text.find(quoted)) != std::string::npos;)
          text.replace(at, quoted.size(), json(readable).dump());
      }
      walk(e);
    }
  };
  walk(doc.value);
  return text;
}

// --- the effective config, key by key ----------------------------------------------------------

json value(Duration d) {
  return d.count();
}
json value(const std::optional<Duration>& d) {
  return d ? json(d->count()) : json();
}
json value(const Size& s) {
  return {s.bytes, s.percent ? json(*s.percent) : json()};
}
template <typename T>
json value(const T& v) {
  return json(v);
}

// How the file writes a key: a duration, a size that may be a share ("80%"), bytes, or a plain
// JSON value (string, bool, number) kept as written.
enum class Kind { plain, duration, size, bytes };

json as_written(Kind kind, const json& v) {
  if (kind == Kind::plain || (kind != Kind::duration && v.is_number())) {
    if (kind == Kind::size) return value(Size{v.get<uint64_t>(), std::nullopt});
    return v;
  }
  std::string text = v.get<std::string>();
  if (kind == Kind::duration) return value(parse_duration(text).value_or(Duration(-1)));
  Size s = parse_size(text, kind == Kind::size).value_or(Size{0, -1.0});
  return kind == Kind::size ? value(s) : json(s.bytes);
}

struct Field {
  std::string pointer;  // in the file
  Kind kind;
  std::function<json(const Config&)> get;
};

// Every key outside `groups` and `alerts.webhooks` (compared on their own below).
const std::vector<Field>& fields() {
  using K = Kind;
  static const std::vector<Field> kFields = {
      {"/listen", K::plain, [](const Config& c) { return value(c.listen); }},
      {"/scan_interval", K::duration, [](const Config& c) { return value(c.scan_interval); }},
      {"/discovery_interval", K::duration,
       [](const Config& c) { return value(c.discovery_interval); }},
      {"/state_dir", K::plain, [](const Config& c) { return value(c.state_dir); }},
      {"/measure", K::plain, [](const Config& c) { return value(to_string(c.measure)); }},
      {"/pss", K::plain, [](const Config& c) { return value(c.pss); }},
      {"/alerts/for", K::duration, [](const Config& c) { return value(c.alerts.for_duration); }},
      {"/alerts/repeat_interval", K::duration,
       [](const Config& c) { return value(c.alerts.repeat_interval); }},
      {"/alerts/max_backoff", K::duration,
       [](const Config& c) { return value(c.alerts.max_backoff); }},
      {"/alerts/resolve", K::plain, [](const Config& c) { return value(c.alerts.resolve); }},
      {"/alerts/instance", K::plain, [](const Config& c) { return value(c.alerts.instance); }},
      {"/alerts/node_memory_available_min", K::size,
       [](const Config& c) { return value(c.alerts.node_memory_available_min); }},
      {"/alerts/node_swap_used_max", K::size,
       [](const Config& c) { return value(c.alerts.node_swap_used_max); }},
      {"/alerts/outbox_max", K::plain, [](const Config& c) { return value(c.alerts.outbox_max); }},
      {"/actions/enabled", K::plain, [](const Config& c) { return value(c.actions.enabled); }},
      {"/actions/dry_run", K::plain, [](const Config& c) { return value(c.actions.dry_run); }},
      {"/actions/bus", K::plain, [](const Config& c) { return value(c.actions.bus); }},
      {"/actions/min_gap", K::duration, [](const Config& c) { return value(c.actions.min_gap); }},
      {"/actions/cooldown", K::duration, [](const Config& c) { return value(c.actions.cooldown); }},
      {"/actions/emergency_gap", K::duration,
       [](const Config& c) { return value(c.actions.emergency_gap); }},
      {"/actions/node_memory_floor", K::size,
       [](const Config& c) { return value(c.actions.node_memory_floor); }},
      {"/actions/node_memory_for", K::duration,
       [](const Config& c) { return value(c.actions.node_memory_for); }},
      {"/actions/max_per_unit_per_hour", K::plain,
       [](const Config& c) { return value(c.actions.max_per_unit_per_hour); }},
      {"/actions/max_per_hour", K::plain,
       [](const Config& c) { return value(c.actions.max_per_hour); }},
      {"/actions/max_concurrent", K::plain,
       [](const Config& c) { return value(c.actions.max_concurrent); }},
      {"/actions/job_timeout", K::duration,
       [](const Config& c) { return value(c.actions.job_timeout); }},
      {"/actions/retry_backoff", K::duration,
       [](const Config& c) { return value(c.actions.retry_backoff); }},
      {"/actions/max_retry_backoff", K::duration,
       [](const Config& c) { return value(c.actions.max_retry_backoff); }},
      {"/actions/handover/strategy", K::plain,
       [](const Config& c) { return value(to_string(c.actions.handover)); }},
      {"/actions/handover/overlap", K::duration,
       [](const Config& c) { return value(c.actions.overlap); }},
      {"/actions/handover/start_timeout", K::duration,
       [](const Config& c) { return value(c.actions.start_timeout); }},
      {"/actions/handover/output", K::plain,
       [](const Config& c) { return value(c.actions.output); }},
      {"/history/interval", K::duration, [](const Config& c) { return value(c.history.interval); }},
      {"/history/max_file_size", K::bytes,
       [](const Config& c) { return value(c.history.max_file_size); }},
      {"/history/max_files", K::plain, [](const Config& c) { return value(c.history.max_files); }},
      {"/history/max_age", K::duration, [](const Config& c) { return value(c.history.max_age); }},
      {"/history/max_total_size", K::bytes,
       [](const Config& c) { return value(c.history.max_total_size); }},
  };
  return kFields;
}

// Leaves of the file (objects are walked, arrays are leaves), as JSON pointers.
void leaves(const json& v, const std::string& at, std::vector<std::string>& out) {
  if (!v.is_object() || at == "/alerts/webhooks") {
    out.push_back(at);
    return;
  }
  for (auto& [k, e] : v.items()) leaves(e, at + "/" + k, out);
}

std::vector<std::string> group_fields(const Config& c) {
  std::vector<std::string> out;
  for (const auto& g : c.groups) {
    const RestartPolicy& r = g.restart;
    out.push_back(json::array({g.name, g.units, g.memory_limit, value(g.warn), value(g.critical),
                               r.on_memory ? value(*r.on_memory) : json(), value(r.for_duration),
                               value(r.max_age), value(r.predict), value(r.predict_window)})
                      .dump());
  }
  return out;
}

void expect_effective(const json& file, const Config& c, const Config& built_in) {
  if (!file.contains("groups")) {
    EXPECT_EQ(group_fields(c), group_fields(built_in)) << "no groups in the file: the built-in";
  } else {
    ASSERT_EQ(c.groups.size(), file["groups"].size());
    for (size_t i = 0; i < c.groups.size(); ++i)
      EXPECT_EQ(c.groups[i].name, file["groups"][i]["name"]);
  }
  const json::json_pointer hooks("/alerts/webhooks");
  const auto& want_hooks = file.contains(hooks) ? file[hooks] : json::array();
  if (file.contains(hooks)) {
    ASSERT_EQ(c.alerts.webhooks.size(), want_hooks.size());
    for (size_t i = 0; i < want_hooks.size(); ++i)
      EXPECT_EQ(c.alerts.webhooks[i].url, want_hooks[i]["url"]);
  } else {
    EXPECT_EQ(c.alerts.webhooks.size(), built_in.alerts.webhooks.size());
  }
  std::set<std::string> compared = {"/groups", "/alerts/webhooks"};
  for (const auto& f : fields()) {
    json::json_pointer p(f.pointer);
    compared.insert(f.pointer);
    if (file.contains(p))
      EXPECT_EQ(f.get(c), as_written(f.kind, file[p])) << f.pointer << ": the file's value";
    else
      EXPECT_EQ(f.get(c), f.get(built_in)) << f.pointer << ": the built-in value";
  }
  std::vector<std::string> set;
  leaves(file, "", set);
  for (const auto& p : set)
    EXPECT_TRUE(compared.count(p)) << p << " is set but not compared: add it to fields()";
}

TEST(DocsConfigSnippets, EachLoadsAndKeepsTheBuiltInPlanForWhatItLeavesOut) {
  fixtures::FixtureTree fx;
  fx.write("readable", "");
  const std::string readable = (fx.root() / "readable").string();
  const Config built_in = default_config();
  int configs = 0;
  for (const auto& b : doc_blocks()) {
    auto text = config_text(b);
    if (!text) continue;
    ++configs;
    SCOPED_TRACE(b.file + ":" + std::to_string(b.line) + " (the block's fence)");
    std::string name = "snippet-" + std::to_string(configs) + ".json";
    fx.write(name, with_readable_files(*text, readable));
    Config c;
    try {
      c = load_config_file((fx.root() / name).string());
    } catch (const ConfigError& e) {
      ADD_FAILURE() << e.what() << "\n" << *text;
      continue;
    }
    expect_effective(parse_json_with_lines(*text).value, c, built_in);
  }
  EXPECT_GT(configs, 0) << "no config snippet found in README.md or docs/*.md";
}

TEST(DocsConfigSnippets, TheBlockRuleTellsConfigsFromOtherBlocks) {
  auto is_config = [](std::string text) { return config_text(Block{"x.md", 1, text}).has_value(); };
  EXPECT_TRUE(is_config("{ \"scan_interval\": \"5s\" }\n"));
  EXPECT_TRUE(
      is_config("// the plan\n{\n  /* archivers */ // and recorders\n  \"groups\": []\n}\n"));
  EXPECT_TRUE(is_config("\"alerts\": { \"for\": \"30s\" }\n"));
  EXPECT_FALSE(is_config("{\"ts\":\"2026-12-01T10:00:05.002Z\",\"type\":\"sample\"}\n"));
  EXPECT_FALSE(is_config("curl -s localhost:9842/metrics\n"));
  EXPECT_FALSE(is_config("config error: cfg.json:3: scan_intervall: unknown key\n"));
  EXPECT_EQ(*config_text(Block{"x.md", 1, "\"pss\": true\n"}), "{\"pss\": true\n}");
}

}  // namespace
}  // namespace mobasher
