// Reads the history store (history_writer.hpp) in time order: rotated gzip files by the time in
// their names, then current.jsonl. Streams line by line (zlib gzread, bounded buffer), never
// loading a file into memory; files outside [since, until] are skipped by their names. The
// time and unit filters work on the fixed start of every record,
//   {"ts":"YYYY-MM-DDTHH:MM:SS.mmmZ","type":"...","unit":"..."...
// so only matching lines reach the sink. Safe while the writer appends and rotates: a file that
// vanishes (rotated, compressed or removed) is skipped or read as its .gz; a read concurrent with
// a rotation may miss the records of the file being rotated, never sees one twice. Assumes ts is
// non-decreasing within and across files (the writer appends in time order), so reading stops
// at the first record after `until` and files are skipped by the times in their names.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/base/snapshot.hpp"

namespace mobasher {

struct HistoryFile {
  std::filesystem::path path;
  WallTime start{};  // its first record (from the name; for current.jsonl from its first line)
  bool compressed = false, current = false;
  uint64_t bytes = 0;
};

// Every history file of dir, oldest first (current.jsonl last). Missing dir: empty.
std::vector<HistoryFile> list_history_files(const std::filesystem::path& dir);

struct HistoryReadStats {
  size_t files = 0;      // files opened
  size_t lines = 0;      // lines looked at
  size_t matched = 0;    // handed to the sink
  size_t bad_lines = 0;  // not a record (no {"ts":" prefix, torn, not newline-terminated)
  std::vector<std::string> errors;  // "FILE: reason" for files that could not be read
};

struct HistoryFilter {
  WallTime since{}, until = WallTime::max();  // inclusive range of ts
  std::string unit;                           // "": every record; else only records with this unit
  bool samples = true;                        // type "sample"
  bool events = true;                         // every other type
};

// Returns false from the sink to stop early.
using HistorySink = std::function<bool(std::string_view line)>;
HistoryReadStats read_history(const std::filesystem::path& dir, const HistoryFilter& filter,
                              const HistorySink& sink);

// The ts of a record line from its fixed prefix, without parsing the JSON; false if malformed.
bool record_time(std::string_view line, WallTime& out);

// The unit member of a record from its fixed place after type, unescaped ("" for node and agent
// records).
std::string record_unit(std::string_view line);

// A top-level number of a sample (rss, swap, usage, working_set, limit, processes) without
// building a JSON document: the writer puts these flat members before "top" (history_record.hpp).
// A day of 12 units is 70 000 lines; parsing each with nlohmann took 0.6 s of a 0.7 s answer.
std::optional<double> sample_number(std::string_view line, std::string_view key);

// "history-20261201T083000Z-2.jsonl.gz" -> its start, seq 2 (0 without "-N"), compressed; false
// for any other name. Files starting within one second are ordered by seq.
bool parse_history_name(std::string_view name, WallTime& start, unsigned& seq, bool& compressed);

}  // namespace mobasher
