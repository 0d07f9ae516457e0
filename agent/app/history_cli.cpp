#include "agent/app/history_cli.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <ostream>
#include <vector>

#include "agent/app/cli.hpp"
#include "agent/base/quantities.hpp"
#include "agent/state/alert_rules.hpp"
#include "exporters/history/history_record.hpp"
#include "exporters/http/status_table.hpp"

namespace mobasher {
namespace {

using ojson = nlohmann::ordered_json;

std::optional<uint64_t> number(const ojson& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  if (it->is_number_float()) return static_cast<uint64_t>(std::max(0.0, it->get<double>()));
  if (it->is_number_integer() && it->get<int64_t>() < 0) return std::nullopt;
  return it->get<uint64_t>();
}

std::string size_cell(const ojson& j, const char* key) {
  auto v = number(j, key);
  return v ? format_bytes(*v) : "-";
}

std::string text_of(const ojson& v) {
  if (v.is_string()) {
    const auto& s = v.get_ref<const std::string&>();
    bool plain = !s.empty() && s.find_first_of(" \t\"=,") == std::string::npos;
    return plain ? s : v.dump();
  }
  return v.dump();
}

// The fields after ts/type/unit that have no column, as key=value ("cause=age total=3"); human:
// sizes and alert values as a person reads them (the table), else as stored (CSV).
std::string detail_fields(const ojson& r, bool human) {
  static const std::array<std::string_view, 10> kColumns = {
      "ts", "type", "unit", "rss", "swap", "usage", "working_set", "limit", "processes", "top"};
  static const std::array<std::string_view, 4> kNodeSizes = {"mem_total", "mem_available",
                                                             "swap_total", "swap_free"};
  bool sample = r.value("type", "") == "sample";
  std::string alert =
      r.contains("alert") && r["alert"].is_string() ? r["alert"].get<std::string>() : "";
  std::string out;
  for (const auto& [k, v] : r.items()) {
    if (std::find(kColumns.begin(), kColumns.end(), k) != kColumns.end() &&
        (sample || k == "ts" || k == "type" || k == "unit"))
      continue;
    bool node_size = std::find(kNodeSizes.begin(), kNodeSizes.end(), k) != kNodeSizes.end();
    std::string shown;
    if (human && v.is_number() && !alert.empty() && (k == "value" || k == "threshold"))
      shown = format_alert_value(alert, v.get<double>());
    else if (human && v.is_number_unsigned() && node_size)
      shown = format_bytes(v.get<uint64_t>());
    else if (v.is_object()) {  // restarts {age: 2}, oom_kills {total: 1, ...}
      for (const auto& [ik, iv] : v.items())
        shown += (shown.empty() ? "" : ",") + ik + ":" + text_of(iv);
    } else
      shown = text_of(v);
    out += (out.empty() ? "" : " ") + k + "=" + shown;
  }
  return out;
}

std::string top_text(const ojson& r) {
  auto it = r.find("top");
  if (it == r.end() || !it->is_object()) return "";
  auto pid = number(*it, "pid"), rss = number(*it, "rss");
  return it->value("comm", "?") + "[" + (pid ? std::to_string(*pid) : "?") + "] " +
         (rss ? format_bytes(*rss) : "?");
}

// "2026-12-01T10:00:05.123Z" -> "2026-12-01 10:00:05"
std::string table_time(const std::string& ts) {
  if (ts.size() < 19 || ts[10] != 'T') return ts;
  std::string t = ts.substr(0, 19);
  t[10] = ' ';
  return t;
}

Tone record_tone(const ojson& r) {
  std::string type = r.value("type", "");
  if (type == "oom_kill" || type == "action_failed") return Tone::critical;
  if (type == "alert_firing")
    return parse_enum<Severity>(r.value("severity", "")) == Severity::critical ? Tone::critical
                                                                               : Tone::warning;
  if (type == "restart") return Tone::warning;
  if (type == "agent_start" || type == "agent_stop") return Tone::down;
  return Tone::plain;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string csv_number(const ojson& j, const char* key) {
  auto v = number(j, key);
  return v ? std::to_string(*v) : "";
}

// Streaming table: fixed widths (records are printed as they come, so no width can be measured
// first); a longer cell pushes the rest of its line to the right.
struct TableWriter {
  bool with_unit, color;
  std::ostream& out;
  void line(const std::vector<std::string>& cells, std::string_view code) {
    static const std::array<size_t, 8> kWidth = {19, 14, 10, 10, 10, 10, 5, 0};  // without UNIT
    std::string text;
    for (size_t i = 0; i < cells.size(); ++i) {
      bool last = i + 1 == cells.size();
      size_t w = with_unit && i == 1 ? 22 : kWidth[with_unit && i > 1 ? i - 1 : i];
      std::string cell = printable(cells[i]);  // names and reasons may hold control characters
      text += cell;
      size_t shown = visible_width(cell);
      if (!last) text += std::string(shown < w ? w - shown + 2 : 2, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    if (color && !code.empty())
      out << code << text << ansi::reset << "\n";
    else
      out << text << "\n";
  }
};

// Prints records in one format as they are read; counts what it printed and what it could not
// parse.
struct RecordPrinter {
  OutputFormat format;
  TableWriter table;
  std::ostream& out;
  size_t printed = 0, unparsable = 0;

  void header() {
    if (format == OutputFormat::table) {
      std::vector<std::string> head = {"TIME",  "TYPE",  "RSS",   "SWAP",
                                       "USAGE", "LIMIT", "PROCS", "DETAIL"};
      if (table.with_unit) head.insert(head.begin() + 1, "UNIT");
      table.line(head, ansi::bold);
    } else if (format == OutputFormat::csv) {
      out << "ts,type,unit,rss,swap,usage,working_set,limit,processes,top_pid,top_comm,top_rss,"
             "detail\n";
    } else {
      out << "[";
    }
  }

  bool print(std::string_view line) {
    if (format == OutputFormat::json) {  // the stored line as it is, once it is known to be JSON
      if (!ojson::accept(line)) {
        ++unparsable;
        return true;
      }
      out << (printed++ ? ",\n" : "\n") << line;
      return static_cast<bool>(out);
    }
    ojson r = ojson::parse(line, nullptr, false);
    if (r.is_discarded() || !r.is_object() || !r.contains("ts") || !r["ts"].is_string() ||
        !r.contains("type") || !r["type"].is_string()) {
      ++unparsable;
      return true;
    }
    if (format == OutputFormat::csv)
      csv_row(r);
    else
      table_row(r);
    ++printed;
    return static_cast<bool>(out);
  }

  void footer() {
    if (format == OutputFormat::json) out << (printed ? "\n]\n" : "]\n");
    out.flush();
  }

 private:
  void csv_row(const ojson& r) {
    const ojson top = r.contains("top") && r["top"].is_object() ? r["top"] : ojson::object();
    out << csv_field(r["ts"]) << ',' << csv_field(r["type"]) << ','
        << csv_field(r.value("unit", "")) << ',' << csv_number(r, "rss") << ','
        << csv_number(r, "swap") << ',' << csv_number(r, "usage") << ','
        << csv_number(r, "working_set") << ',' << csv_number(r, "limit") << ','
        << csv_number(r, "processes") << ',' << csv_number(top, "pid") << ','
        << csv_field(top.value("comm", "")) << ',' << csv_number(top, "rss") << ','
        << csv_field(detail_fields(r, false)) << "\n";
  }

  void table_row(const ojson& r) {
    std::string type = r["type"], unit = r.value("unit", "");
    std::string detail = type == "sample" ? top_text(r) : "";
    std::string rest = detail_fields(r, true);
    if (!rest.empty()) detail += (detail.empty() ? "" : " ") + rest;
    auto procs = number(r, "processes");
    std::vector<std::string> cells = {table_time(r["ts"]),
                                      type,
                                      size_cell(r, "rss"),
                                      size_cell(r, "swap"),
                                      size_cell(r, "usage"),
                                      size_cell(r, "limit"),
                                      procs ? std::to_string(*procs) : "-",
                                      detail};
    if (table.with_unit) cells.insert(cells.begin() + 1, unit.empty() ? "-" : unit);
    table.line(cells, tone_code(record_tone(r)));
  }
};

std::string describe_range(const HistoryFilter& f, const std::string& unit) {
  std::string s = unit.empty() ? "" : " of " + unit;
  s += " from " + format_rfc3339(f.since);
  s += f.until == WallTime::max() ? " on" : " to " + format_rfc3339(f.until);
  return s;
}

}  // namespace

HistoryFilter history_filter(const CliOptions& cli, WallTime now) {
  auto when = [&](const std::optional<std::string>& v, const char* flag, WallTime dflt) {
    if (!v) return dflt;
    auto t = parse_when(*v, now);
    if (!t)
      throw CliError(std::string(flag) + ": \"" + *v +
                     "\" is not a time (use a duration ago like 30m, 6h, 2d; "
                     "2026-12-01T10:00:00Z; or now)");
    return *t;
  };
  HistoryFilter f;
  f.since = when(cli.since, "--since", now - std::chrono::hours(1));
  f.until = when(cli.until, "--until", now);
  if (f.since > f.until)
    throw CliError("--since " + format_rfc3339(f.since) + " is after --until " +
                   format_rfc3339(f.until));
  f.unit = cli.unit.value_or("");
  return f;
}

int print_history(const std::filesystem::path& dir, const HistoryFilter& filter,
                  OutputFormat format, std::ostream& out, std::ostream& err, bool color) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    err << "no history in " << dir.string() << "\n";
    return 1;
  }
  RecordPrinter printer{format, TableWriter{filter.unit.empty(), color, out}, out};
  printer.header();
  auto sink = [&](std::string_view line) { return printer.print(line); };

  // archiver@ch1 is archiver@ch1.service; only if that has nothing, a /proc-fallback unit
  // named exactly archiver@ch1. Nothing has been printed when the second pass starts.
  HistoryFilter f = filter;
  if (!f.unit.empty()) f.unit = history_unit_name(filter.unit);
  HistoryReadStats stats = read_history(dir, f, sink);
  if (printer.printed == 0 && printer.unparsable == 0 && f.unit != filter.unit) {
    f.unit = filter.unit;
    HistoryReadStats second = read_history(dir, f, sink);
    if (printer.printed > 0)
      stats = std::move(second);
    else
      f.unit = history_unit_name(filter.unit);
  }
  printer.footer();

  for (const auto& e : stats.errors) err << "history: " << e << "\n";
  if (size_t skipped = stats.bad_lines + printer.unparsable)
    err << "history: " << skipped << " unreadable record" << (skipped == 1 ? "" : "s")
        << " skipped\n";
  if (printer.printed == 0) err << "(no records" << describe_range(f, f.unit) << ")\n";
  return !stats.errors.empty() && stats.files == 0 ? 1 : 0;
}

}  // namespace mobasher
