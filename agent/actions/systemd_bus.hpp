// The transport of the D-Bus client: one sd-bus connection to systemd's manager, driven from the
// owner's io_context. The bus's fd is an asio stream_descriptor (async_wait for what
// sd_bus_get_events asks), its timeout (sd_bus_get_timeout) a steady_timer, and sd_bus_process
// runs until it has nothing left; nothing blocks. It connects, subscribes to job signals, sends
// method calls with a timeout, and when the connection fails or is lost drops every call in flight
// and reconnects with back-off.
#pragma once

#include <systemd/sd-bus.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "agent/actions/systemd_decode.hpp"

namespace mobasher::actions {

// Owners of sd-bus references: every sd-bus object is held by one of these, never by hand.
struct SdBusClose {
  void operator()(sd_bus* b) const;  // sd_bus_close_unref: no flush, never blocks
};
struct SdSlotUnref {
  void operator()(sd_bus_slot* s) const;  // the slot's callback will not run any more
};
struct SdMessageUnref {
  void operator()(sd_bus_message* m) const;
};
using BusPtr = std::unique_ptr<sd_bus, SdBusClose>;
using SlotPtr = std::unique_ptr<sd_bus_slot, SdSlotUnref>;
using MessagePtr = std::unique_ptr<sd_bus_message, SdMessageUnref>;

struct BusOptions {
  std::string address;  // "" or "system": the system bus (DBUS_SYSTEM_BUS_ADDRESS); else an address
  std::chrono::milliseconds call_timeout{5000};
  std::chrono::milliseconds reconnect_min{500}, reconnect_max{30000};
};

class SystemdBus {
 public:
  struct Events {
    std::function<void(const JobRemoved&)> job_removed;
    // The connection failed or was lost (`why`: "bus connection lost (ADDR): reason"): every
    // call in flight is gone without its reply; the next attempt is scheduled.
    std::function<void(const std::string& why)> down;
  };
  // A method call's answer: a method return or error, or the NoReply sd-bus makes up for a
  // timeout or a connection being closed.
  using Reply = std::function<void(sd_bus_message* reply)>;

  // Connects only in start(), so that events never reach an owner still being built.
  SystemdBus(boost::asio::io_context& io, BusOptions options, Events events);
  // Cancels its waits and closes the connection: no event and no reply runs afterwards.
  ~SystemdBus();
  SystemdBus(const SystemdBus&) = delete;
  SystemdBus& operator=(const SystemdBus&) = delete;

  void start();  // the first connect attempt, now (a failure is an event, never an exception)

  bool open() const { return bus_ != nullptr; }    // connected or connecting
  bool subscribed() const { return subscribed_; }  // and Subscribe() worked
  uint64_t connects() const { return connects_; }
  uint64_t disconnects() const { return disconnects_; }
  const std::string& address() const { return address_; }  // as messages name it
  // Why open() is false: "bus not connected (ADDR): Connection refused".
  const std::string& not_connected() const { return not_connected_; }

  // A method call to systemd1's object `path`, for sd_bus_message_append; null with `err` set.
  MessagePtr method_call(const char* path, const char* interface, const char* member,
                         std::string& err);
  // Sends `m` with call_timeout. on_reply runs once, from sd_bus_process, unless the call is
  // cancelled or the connection dropped first. Its id; 0 with `err` set when it cannot be sent.
  uint64_t call(MessagePtr m, Reply on_reply, std::string& err);
  void cancel(uint64_t call);  // no-op for an unknown id
  // The error of `reply` (method_error_text), naming a lost connection when that was the cause.
  std::string reply_error(sd_bus_message* reply) const;

 private:
  // sd-bus's fd, watched by asio; sd-bus owns it, so it is released, never closed, and before the
  // bus closes it.
  class Watch {
   public:
    Watch(boost::asio::io_context& io, int fd) : sd_(io, fd) {}
    ~Watch();
    boost::asio::posix::stream_descriptor& get() { return sd_; }

   private:
    boost::asio::posix::stream_descriptor sd_;
  };
  struct PendingCall {  // its address is the slot's userdata: a map node, stable
    SystemdBus* self = nullptr;
    uint64_t id = 0;
    SlotPtr slot;
    Reply on_reply;
  };

  void connect();
  std::string open_and_subscribe();  // "" or why the new connection failed
  void drop(const std::string& reason);
  void process();
  void arm();
  void wait_fd(boost::asio::posix::stream_descriptor::wait_type type, bool SystemdBus::*waiting);
  // A handler of this connection's waits: runs f() unless the bus or the connection is gone.
  template <class F>
  auto guarded(F f);

  static int reply_trampoline(sd_bus_message* m, void* userdata, sd_bus_error*);
  static int job_removed_trampoline(sd_bus_message* m, void* userdata, sd_bus_error*);
  static int match_added_trampoline(sd_bus_message* m, void* userdata, sd_bus_error*);

  boost::asio::io_context& io_;
  const BusOptions opts_;
  const Events events_;
  const bool system_bus_;
  const std::string address_;

  BusPtr bus_;
  SlotPtr job_match_;
  std::map<uint64_t, PendingCall> calls_;
  std::unique_ptr<Watch> watch_;     // declared after bus_: released before the bus closes
  boost::asio::steady_timer timer_;  // sd_bus_get_timeout
  std::optional<std::chrono::steady_clock::time_point> timer_at_;
  boost::asio::steady_timer reconnect_timer_;
  bool reading_ = false, writing_ = false;  // an async_wait is outstanding
  bool processing_ = false;                 // inside process(): it arms when done
  uint64_t generation_ = 0;                 // of the connection; older waits' handlers ignore it
  uint64_t next_call_ = 1;

  bool subscribed_ = false;
  std::string lost_;  // set inside sd-bus callbacks; the connection is dropped after processing
  std::string not_connected_;
  std::string last_connect_error_;  // the last failed connect's reason: repeats log at debug
  std::chrono::milliseconds backoff_;
  uint64_t connects_ = 0, disconnects_ = 0;
  // Handlers hold it weakly: after the destructor they find nothing and do nothing.
  std::shared_ptr<SystemdBus*> self_;
};

}  // namespace mobasher::actions
