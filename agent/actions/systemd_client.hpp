// The agent's hands on systemd: StartUnit / StopUnit / RestartUnit and unit properties over D-Bus
// (sd-bus), driven from the owner's io_context; nothing blocks it. In three parts:
// systemd_decode (answers -> values), systemd_jobs (requests, jobs, deadlines; plain logic) and
// systemd_bus (the connection); this file puts them together.
#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/actions/systemd_types.hpp"

namespace mobasher::actions {

struct SystemdClientOptions {
  // "" or "system": the system bus (sd_bus_open_system, honours DBUS_SYSTEM_BUS_ADDRESS); else an
  // sd-bus address such as unix:path=/proc/123/root/run/dbus/system_bus_socket.
  std::string address;
  std::chrono::milliseconds call_timeout{5000};  // each D-Bus method call, to its reply
  // A start/stop/restart, from its call to its job's end (JobRemoved).
  std::chrono::milliseconds job_timeout{120000};
  // When set, the limit of one job instead: asked inside the calling method with the verb
  // ("start", "stop", "restart") and the unit.
  std::function<std::chrono::milliseconds(const std::string& verb, const std::string& unit)>
      job_timeout_for;
  // After a failed connect the wait doubles from reconnect_min up to reconnect_max; it is back at
  // reconnect_min once a connection works again.
  std::chrono::milliseconds reconnect_min{500}, reconnect_max{30000};
  // Requests accepted and not yet completed (in flight); beyond it a request completes
  // at once with error "queue full".
  size_t max_queue = 64;
  // Defence in depth: the units start/stop/restart may touch; others are refused without a call.
  // Asked inside the calling method. Unset refuses every unit. get_properties is not restricted.
  std::function<bool(const std::string&)> allowed;
};

struct SystemdClientStatus {
  bool connected = false;     // connected and subscribed to systemd's job signals
  uint64_t connects = 0;      // connections that got as far as a working Subscribe()
  uint64_t disconnects = 0;   // working connections lost
  uint64_t calls_failed = 0;  // requests completed with an error (refused and queue full too)
  std::string last_error;     // the last connection or call error, "" before any
};

// Not thread-safe: make, use and destroy it on the thread that runs `io` (the daemon's loop); its
// completions, waits and timers run there too, and no method blocks.
// Every `done` runs exactly once, always posted to `io` (never inside the calling method itself),
// unless the client is destroyed first: then it never runs (see the destructor).
// A unit verb waits for its job's JobRemoved (a job that ends with anything but "done" is an
// error); a job that outlives job_timeout is reported as timed out and left to systemd (not
// cancelled). A lost bus fails what is in flight and reconnects by itself.
class SystemdClient {
 public:
  SystemdClient(SystemdClientOptions options, boost::asio::io_context& io);
  // Returns at once: cancels its waits and closes the connection (no flush). Outstanding
  // completions are DROPPED: those in flight and those already posted that have not run yet, so no
  // `done` is called after it returns (the owner is going away with its callbacks' captures, as
  // with WebhookClient). Jobs in flight are left to systemd.
  ~SystemdClient();
  SystemdClient(const SystemdClient&) = delete;
  SystemdClient& operator=(const SystemdClient&) = delete;

  // RestartUnit / StartUnit / StopUnit(unit, "replace").
  void restart_unit(const std::string& unit, std::function<void(CallResult)> done);
  void start_unit(const std::string& unit, std::function<void(CallResult)> done);
  void stop_unit(const std::string& unit, std::function<void(CallResult)> done);
  // Properties of several units in one request (their GetAll calls run concurrently).
  void get_properties(std::vector<std::string> units, std::function<void(PropertiesResult)> done);

  SystemdClientStatus status() const;

  class Impl;  // the parts put together (systemd_client.cpp)

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace mobasher::actions
