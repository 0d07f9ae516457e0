// What the D-Bus client (systemd_client.hpp) hands out: plain data, no behaviour.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mobasher::actions {

// systemd's bus name, its manager's object path and interface.
inline constexpr const char* kSystemdService = "org.freedesktop.systemd1";
inline constexpr const char* kSystemdManagerPath = "/org/freedesktop/systemd1";
inline constexpr const char* kSystemdManager = "org.freedesktop.systemd1.Manager";

// One unit, from a bulk GetAll of org.freedesktop.systemd1.Unit (+ .Service for *.service).
struct UnitProperties {
  std::string unit;          // the name as requested
  std::string load_state;    // "loaded", "not-found", "masked", ...: a unit nobody installed
                             // reads as "not-found" (inactive, everything else 0), not an error
  std::string active_state;  // "active", "inactive", "activating", "failed", ...
  std::string sub_state;     // "running", "dead", "start-pre", ...
  std::string result;        // Service.Result: "success", "exit-code", "signal", ...
  uint32_t main_pid = 0;     // in systemd's PID namespace: never read /proc with it
  // Automatic restarts only (Restart=); a manual RestartUnit and reset-failed set it back to 0.
  uint32_t n_restarts = 0;
  uint64_t exec_main_start_usec = 0;  // CLOCK_REALTIME µs; 0 = never started
  // UINT64_MAX (infinity / not accounted) -> nullopt. MemoryCurrent needs memory accounting.
  std::optional<uint64_t> memory_max, memory_current;
  // Service.TimeoutStartUSec / TimeoutStopUSec; nullopt: infinity or not a service.
  std::optional<uint64_t> timeout_start_usec, timeout_stop_usec;
};

struct CallResult {
  bool ok = false;         // the job ended with "done"
  std::string job_result;  // JobRemoved's result: done, failed, canceled, timeout, dependency,
                           // skipped; "" when there was no job (refused, no reply, bus lost)
  // Empty when ok; otherwise complete and naming the unit, e.g.
  // "start fail@x.service: job /org/freedesktop/systemd1/job/42 ended with result \"failed\"",
  // "restart a.service: org.freedesktop.systemd1.NoSuchUnit: Unit a.service not found.",
  // "start slow@x.service: timed out after 1s waiting for job /org/freedesktop/systemd1/job/42",
  // "restart a.service: bus not connected (unix:path=/x): Connection refused",
  // "restart a.service: bus connection lost (unix:path=/x): Connection reset by peer while
  //  waiting for job /org/freedesktop/systemd1/job/42",
  // "restart a.service: refused: not an allowed unit",
  // "restart a.service: queue full (64 requests pending)".
  std::string error;
  double seconds = 0;  // from the method call to the job's end (or the failure)
};

struct PropertiesResult {
  std::vector<UnitProperties> units;  // in the order asked; a unit whose read failed is left out
  std::string error;  // "" when every unit was read; else each failure, "; "-separated
};

}  // namespace mobasher::actions
