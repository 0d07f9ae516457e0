// The immutable result of one scan: plain data, no behaviour. Collectors fill the raw fields,
// the unit tracker adds what needs history (restarts, monotonic OOM kills, growth).
#pragma once

#include <sys/types.h>
#include <time.h>

#include <array>
#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/base/enum_names.hpp"
#include "agent/base/measure.hpp"
#include "agent/base/quantities.hpp"  // WallClock, WallTime

namespace mobasher {

// Seconds since boot (CLOCK_BOOTTIME): never steps with the wall clock, counts suspend, and is the
// clock /proc/PID/stat's starttime is on. Process ages and every timer of the policy run on it.
inline double boot_clock_seconds() {
  timespec ts{};
  if (::clock_gettime(CLOCK_BOOTTIME, &ts) != 0) return 0;
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A process is (pid, start time in clock ticks since boot): PID reuse never mixes two processes.
struct ProcessId {
  pid_t pid = 0;
  uint64_t start_time = 0;
  auto operator<=>(const ProcessId&) const = default;
};

struct ProcessSample {
  ProcessId id;
  pid_t ppid = 0;
  std::string comm;
  bool main = false;  // the unit's main process: its parent is outside the unit
  uint64_t rss_anon = 0, rss_file = 0, rss_shmem = 0, swap = 0;
  std::optional<uint64_t> pss;
  double start_time_seconds = 0;  // Unix time (btime + starttime): for display only
  double start_boot_seconds = 0;  // starttime on the boot clock: what ages are measured with
  uint64_t rss() const { return rss_anon + rss_file + rss_shmem; }
};

// What the unit's memory cgroup says; every field is optional because v1/v2 and kernel
// configuration decide which files exist.
struct CgroupMemory {
  bool present = false;
  uint64_t generation = 0;  // inode of the cgroup directory: changes when systemd recreates it
  std::optional<uint64_t> usage, limit, swap, anon, file, inactive_file, oom_kills, failcnt;
  std::optional<uint64_t> working_set() const {
    if (!usage) return std::nullopt;
    uint64_t inactive = inactive_file.value_or(0);
    return *usage > inactive ? *usage - inactive : 0;
  }
};

enum class RestartCause { oom, memory, age, predicted, node_memory, systemd, external };
inline constexpr std::array<EnumName<RestartCause>, 7> kRestartCauses = {
    {{RestartCause::oom, "oom"},
     {RestartCause::memory, "memory"},
     {RestartCause::age, "age"},
     {RestartCause::predicted, "predicted"},
     {RestartCause::node_memory, "node_memory"},
     {RestartCause::systemd, "systemd"},
     {RestartCause::external, "external"}}};
constexpr const auto& enum_table(RestartCause) {
  return kRestartCauses;
}

// Where an alert instance stands, as mobasher_*_alert_state reports it (0, 1, 2).
enum class AlertPhase { inactive = 0, pending = 1, firing = 2 };
inline constexpr std::array<EnumName<AlertPhase>, 3> kAlertPhases = {
    {{AlertPhase::inactive, "inactive"},
     {AlertPhase::pending, "pending"},
     {AlertPhase::firing, "firing"}}};
constexpr const auto& enum_table(AlertPhase) {
  return kAlertPhases;
}
using AlertPhases = std::vector<std::pair<std::string_view, AlertPhase>>;  // by alert name
AlertPhase phase_of(const AlertPhases& phases, std::string_view alert);    // inactive if absent

struct UnitSample {
  // From collectors.
  std::string unit, group, channel;
  std::string cgroup;  // path relative to the hierarchy root, e.g. /system.slice/.../x.service
  std::vector<ProcessSample> processes;
  CgroupMemory memory;
  uint64_t configured_limit = 0;  // the group's memory_limit
  uint64_t warn_bytes = 0, critical_bytes = 0;
  double predict_seconds = 600;  // the group's restart.predict: the exhaustion alert's horizon
  double predict_window = 300;   // the group's restart.predict_window: no prediction before

  // From the unit tracker (need earlier snapshots).
  uint64_t oom_kills_total = 0;
  std::map<RestartCause, uint64_t> restarts;
  std::optional<double> growth_bytes_per_second;
  std::optional<double> seconds_to_limit;

  // From the alert evaluator: every unit alert (names of static storage, kUnitAlerts).
  AlertPhases alerts;

  // From systemd over D-Bus (when actions are enabled and the bus answers): the last bulk
  // GetAll, which may be a scan old.
  struct Systemd {
    std::string active_state, sub_state, result;
    uint32_t n_restarts = 0;  // automatic (Restart=) restarts; a manual restart resets it to 0
  };
  std::optional<Systemd> systemd;
  // From the action executor: consecutive failed actions on this unit and the last error.
  int action_failures = 0;
  std::string action_error;

  bool up() const { return !processes.empty(); }
  uint64_t rss() const;
  // The value of `measure`; nullopt when the cgroup file for the working set is missing.
  std::optional<uint64_t> measured(Measure measure) const {
    if (measure == Measure::working_set) return memory.working_set();
    return rss();
  }
  uint64_t swap() const;
  // The limit percentages refer to: the real cgroup limit when set, else the configured one.
  uint64_t effective_limit() const { return memory.limit.value_or(configured_limit); }
  const ProcessSample* main_process() const;
};

struct NodeSample {
  std::optional<uint64_t> mem_total, mem_available, swap_total, swap_free, oom_kills;
  std::optional<double> pressure_some_seconds, pressure_full_seconds;
  // From the alert evaluator: thresholds resolved against MemTotal / SwapTotal, and states.
  std::optional<uint64_t> memory_available_min, swap_used_max;
  AlertPhases alerts;
};

// What changed for a unit in this scan, decided once by the unit tracker (agent/state) and read
// by every consumer: alerts, the history store and the log.
struct UnitEvent {
  enum class Kind { appeared, vanished, restart, oom_kill };
  Kind kind = Kind::appeared;
  std::string unit;
  RestartCause cause = RestartCause::external;  // restart only
  uint64_t increase = 0, total = 0;             // restart (of that cause) and oom_kill
};
inline constexpr std::array<EnumName<UnitEvent::Kind>, 4> kUnitEventKinds = {
    {{UnitEvent::Kind::appeared, "appeared"},
     {UnitEvent::Kind::vanished, "vanished"},
     {UnitEvent::Kind::restart, "restart"},
     {UnitEvent::Kind::oom_kill, "oom_kill"}}};
constexpr const auto& enum_table(UnitEvent::Kind) {
  return kUnitEventKinds;
}

struct Snapshot {
  WallTime taken_at{};
  double boot_seconds = 0;    // boot_clock_seconds() when taken
  std::string cgroup_layout;  // "v1", "v2", "hybrid" or "none"
  std::vector<UnitSample> units;
  NodeSample node;
  std::map<std::string, uint64_t> errors;  // read errors in this scan, by source
  double scan_seconds = 0;
  std::vector<UnitEvent> events;  // filled by UnitTracker::apply()
};

using SnapshotPtr = std::shared_ptr<const Snapshot>;

}  // namespace mobasher
