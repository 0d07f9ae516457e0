// Names for enums, from one table per enum: an enum E is named by rows of {value, name} and a
// function next to it that argument-dependent lookup finds,
//   inline constexpr std::array<EnumName<Measure>, 2> kMeasures = {{...}};
//   constexpr const auto& enum_table(Measure) { return kMeasures; }
// and then to_string(e), parse_enum<E>(text) and enum_choices<E>() are its one to_string/parse
// pair and the list an error message offers ("rss, working_set").
#pragma once

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

namespace mobasher {

template <typename E>
struct EnumName {
  E value;
  const char* name;
};

// A row may carry more than the name (the alerts' table does): only `value` and `name` count.
template <typename E>
concept NamedEnum = std::is_enum_v<E> && requires(E e) {
  enum_table(e).front().value;
  enum_table(e).front().name;
};

// A value missing from its table is a bug; it reads "?".
template <NamedEnum E>
constexpr const char* to_string(E e) {
  for (const auto& row : enum_table(e))
    if (row.value == e) return row.name;
  return "?";
}

template <NamedEnum E>
constexpr std::optional<E> parse_enum(std::string_view name) {
  for (const auto& row : enum_table(E{}))
    if (name == row.name) return row.value;
  return std::nullopt;
}

// "table, json, csv": every name in table order, for "is not one of …" messages.
template <NamedEnum E>
std::string enum_choices() {
  std::string out;
  for (const auto& row : enum_table(E{})) out += (out.empty() ? "" : ", ") + std::string(row.name);
  return out;
}

}  // namespace mobasher
