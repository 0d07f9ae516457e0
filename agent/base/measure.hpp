// The config's `measure`, shared by the snapshot (UnitSample::measured), the config and the state.
#pragma once

#include <array>
#include <optional>
#include <string_view>

#include "agent/base/enum_names.hpp"

namespace mobasher {

// What thresholds, restarts and growth apply to (config `measure`): the sum of the unit's
// processes' RSS, or the cgroup's working set. The names are also the history sample fields.
enum class Measure { rss, working_set };
inline constexpr std::array<EnumName<Measure>, 2> kMeasures = {
    {{Measure::rss, "rss"}, {Measure::working_set, "working_set"}}};
constexpr const auto& enum_table(Measure) {
  return kMeasures;
}

}  // namespace mobasher
