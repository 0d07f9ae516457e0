// JSON-with-comments parsing that remembers the line of every value, so config errors can say
// "file:line: key.path: ...". nlohmann_json (3.11) has no positions, so a counting input
// iterator and a SAX handler record them while nlohmann does the parsing.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace mobasher {

struct LocatedJson {
  nlohmann::json value;
  std::map<std::string, int> lines;            // "groups[1].warn" -> 1-based line
  int line_of(const std::string& path) const;  // nearest known ancestor's line, else 0
};

struct JsonSyntaxError {
  int line = 0;
  std::string message;
};

inline constexpr size_t kMaxJsonDepth = 32;  // objects and arrays nested in each other

// Throws JsonSyntaxError on malformed input, on a key repeated within one object and on nesting
// deeper than kMaxJsonDepth; "//" and "/* */" comments are allowed.
LocatedJson parse_json_with_lines(std::string_view text);

}  // namespace mobasher
