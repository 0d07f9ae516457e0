// libFuzzer target: the cgroup file parsers, each given the same input: cgroup.procs,
// memory.stat / memory.events / memory.oom_control ("key value" lines, one key and the v1
// memory.stat keys in one pass), and the limit files (memory.max, memory.limit_in_bytes).
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "collectors/cgroup_reader.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  (void)mobasher::parse_cgroup_procs(text);
  (void)mobasher::parse_keyed_value(text, "oom_kill");
  static constexpr std::array<std::string_view, 3> kKeys = {"total_inactive_file", "total_swap",
                                                            "anon"};
  std::array<std::optional<uint64_t>, 3> out;
  mobasher::parse_keyed_values(text, kKeys, out);
  (void)mobasher::parse_limit(text);
  return 0;
}
