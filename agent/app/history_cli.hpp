// `mobasher-agent history`: the records of STATE_DIR/history as a table, one JSON array or CSV,
// streamed from read_history (exporters/history/history_reader.hpp) one record at a time.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "agent/app/cli.hpp"
#include "agent/base/snapshot.hpp"
#include "exporters/history/history_reader.hpp"

namespace mobasher {

// The filter of the flags at `now`: since 1 h ago and until now unless given; unit as typed
// (print_history resolves it). Throws CliError for a bad WHEN or since after until.
HistoryFilter history_filter(const CliOptions& cli, WallTime now);

// Prints the records of dir (a history directory) that match filter, oldest first, as format,
// to out; notes and problems to err. filter.unit "archiver@ch1" means
// archiver@ch1.service, or, if that has no records, a /proc-fallback unit of that exact name.
// Returns the exit code: 1 when dir does not exist or no file could be read, else 0.
int print_history(const std::filesystem::path& dir, const HistoryFilter& filter,
                  OutputFormat format, std::ostream& out, std::ostream& err, bool color = false);

}  // namespace mobasher
