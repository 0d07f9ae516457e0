// The agent's hands on systemd: StartUnit / StopUnit / RestartUnit and unit properties over D-Bus
// (sd-bus), on a thread of its own that owns the connection. No call ever blocks its caller.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mobasher::actions {

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

struct SystemdClientOptions {
  // "" or "system": the system bus (sd_bus_open_system, honours DBUS_SYSTEM_BUS_ADDRESS); else an
  // sd-bus address such as unix:path=/proc/123/root/run/dbus/system_bus_socket.
  std::string address;
  std::chrono::milliseconds call_timeout{5000};  // each D-Bus method call, to its reply
  // A start/stop/restart, from its call to its job's end (JobRemoved).
  std::chrono::milliseconds job_timeout{120000};
  // When set, the limit of one job instead: asked on the calling thread with the verb ("start",
  // "stop", "restart") and the unit.
  std::function<std::chrono::milliseconds(const std::string& verb, const std::string& unit)>
      job_timeout_for;
  // After a failed connect the wait doubles from reconnect_min up to reconnect_max; it is back at
  // reconnect_min once a connection works again.
  std::chrono::milliseconds reconnect_min{500}, reconnect_max{30000};
  // Requests accepted and not yet completed (queued or in flight); beyond it a request completes
  // at once with error "queue full".
  size_t max_queue = 64;
  // Defence in depth: the units start/stop/restart may touch; others are refused without a call.
  // Called on the calling thread. Unset refuses every unit. get_properties is not restricted.
  std::function<bool(const std::string&)> allowed;
};

struct SystemdClientStatus {
  bool connected = false;     // connected and subscribed to systemd's job signals
  uint64_t connects = 0;      // connections that got as far as a working Subscribe()
  uint64_t disconnects = 0;   // working connections lost
  uint64_t calls_failed = 0;  // requests completed with an error (refused and queue full too)
  std::string last_error;     // the last connection or call error, "" before any
};

// Runs a completion on the owner's thread (e.g. boost::asio::post to the daemon's io_context).
using Post = std::function<void(std::function<void()>)>;

// Every `done` runs exactly once, always through `post` (never inside the calling method
// itself), unless the client is destroyed first: then it never runs (see the destructor).
// A unit verb waits for its job's JobRemoved (a job that ends with anything but "done" is an
// error); a job that outlives job_timeout is reported as timed out and left to systemd (not
// cancelled). A lost bus fails what is in flight and reconnects by itself.
class SystemdClient {
 public:
  SystemdClient(SystemdClientOptions options, Post post);
  // Stops the thread at once (well within 1 s). Outstanding completions are DROPPED: those queued
  // or in flight, and those already posted that have not run yet, so no `done` is called after
  // it returns (the owner is going away with its callbacks' captures, as with WebhookClient).
  // Jobs in flight are left to systemd. Destroy it on the thread that runs the completions.
  ~SystemdClient();
  SystemdClient(const SystemdClient&) = delete;
  SystemdClient& operator=(const SystemdClient&) = delete;

  // RestartUnit / StartUnit / StopUnit(unit, "replace"). Thread-safe.
  void restart_unit(const std::string& unit, std::function<void(CallResult)> done);
  void start_unit(const std::string& unit, std::function<void(CallResult)> done);
  void stop_unit(const std::string& unit, std::function<void(CallResult)> done);
  // Properties of several units in one request (their GetAll calls run concurrently).
  void get_properties(std::vector<std::string> units, std::function<void(PropertiesResult)> done);

  SystemdClientStatus status() const;  // thread-safe

  class Impl;  // the connection's thread and its state (systemd_client.cpp)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mobasher::actions
