// The `status` command's table, rendered from the /api/v1/status JSON (local scan or running
// agent), plain or with ANSI colours for a terminal; the colour rules shared with `history`.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace mobasher {

// The ALERTS column: "ok", or the unit's firing alerts without the "MobasherUnit" prefix
// ("MemoryHigh,OOMKilled"), pending ones marked "?" ("MemoryHigh?").
std::string alert_column(const nlohmann::json& unit);

// The LIMIT column: "2.00GiB", or "2.00GiB*" when the unit's cgroup has no limit and the
// agent falls back to the group's configured memory_limit (limit_enforced false); kNoLimitLegend
// explains the mark under the table.
std::string limit_column(const nlohmann::json& unit);
bool limit_enforced(const nlohmann::json& unit);  // true when the JSON does not say (older agent)
bool any_limit_not_enforced(const nlohmann::json& units);  // then kNoLimitLegend goes below
inline constexpr std::string_view kNoLimitLegend =
    "* no memory limit on the unit's cgroup: LIMIT is the group's configured memory_limit, "
    "not enforced (MobasherUnitNoMemoryLimit)";

// How a row is coloured: red for a firing critical alert (alert_severity), yellow for a firing
// warning or RSS at/above the unit's warning_bytes, dim for a unit that is down.
enum class Tone { plain, critical, warning, down };
Tone unit_tone(const nlohmann::json& unit);

namespace ansi {
inline constexpr std::string_view red = "\033[31m", yellow = "\033[33m", dim = "\033[2m",
                                  bold = "\033[1m", reset = "\033[0m";
}  // namespace ansi
std::string_view tone_code(Tone t);  // "" for plain
// Columns of the text as a terminal shows it: escape sequences take no room.
size_t visible_width(std::string_view text);
// A table cell as a terminal may print it: control characters (below 0x20, and 0x7f) become
// "\xNN", so a process or unit name cannot move the cursor, retitle the window or hide a row
// (ESC sequences). Bytes of UTF-8 text (0x80 and above) are kept.
std::string printable(std::string_view text);

// `--color auto|always|never`: auto means stdout is a terminal, NO_COLOR is unset or empty and
// TERM is not "dumb" (https://no-color.org). no_color/term: getenv's results (may be null).
bool color_enabled(std::string_view mode, bool stdout_is_tty, const char* no_color,
                   const char* term);

std::string status_table(const nlohmann::json& status);  // plain, as scripts and logs want
std::string status_table(const nlohmann::json& status, bool color);

}  // namespace mobasher
