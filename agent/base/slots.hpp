// Slots of the overlap hand-over: a channel records in "archiver@ch1:a.service" or
// "archiver@ch1:b.service", one at a time except during a hand-over (docs/actions.md).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mobasher {

// The other slot of a slot instance, or nullopt when the unit is not one.
inline std::optional<std::string> other_slot(const std::string& unit) {
  static constexpr std::string_view kA = ":a.service", kB = ":b.service";
  auto at = unit.find('@');
  if (at == std::string::npos || unit.size() < at + 1 + kA.size() + 1) return std::nullopt;
  std::string_view tail = std::string_view(unit).substr(unit.size() - kA.size());
  if (tail != kA && tail != kB) return std::nullopt;
  std::string other = unit;
  other[unit.size() - kA.size() + 1] = tail == kA ? 'b' : 'a';
  return other;
}

// The unit a slot stands for ("archiver@ch1.service"); the unit itself when it is not a slot.
inline std::string logical_unit(const std::string& unit) {
  if (!other_slot(unit)) return unit;
  return unit.substr(0, unit.size() - 10) + ".service";  // drop ":a" before ".service"
}

}  // namespace mobasher
