#include "agent/actions/systemd_bus.hpp"

#include <poll.h>
#include <systemd/sd-bus.h>

#include <cerrno>
#include <cstdlib>
#include <utility>

#include <spdlog/spdlog.h>

#include "agent/actions/systemd_types.hpp"
#include "agent/base/errno_text.hpp"
#include "agent/base/quantities.hpp"

namespace mobasher::actions {

namespace {

uint64_t usec(std::chrono::milliseconds d) {
  return static_cast<uint64_t>(d.count()) * 1000;
}

std::string display_address(const std::string& address) {
  if (!address.empty() && address != "system") return address;
  const char* env = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");  // what sd_bus_open_system uses
  return env && *env ? env : "unix:path=/run/dbus/system_bus_socket";
}

}  // namespace

void SdBusClose::operator()(sd_bus* b) const {
  sd_bus_close_unref(b);
}
void SdSlotUnref::operator()(sd_bus_slot* s) const {
  sd_bus_slot_unref(s);
}
void SdMessageUnref::operator()(sd_bus_message* m) const {
  sd_bus_message_unref(m);
}

SystemdBus::Watch::~Watch() {
  boost::system::error_code ec;
  sd_.cancel(ec);
  sd_.release();  // the fd stays sd-bus's, open
}

SystemdBus::SystemdBus(boost::asio::io_context& io, BusOptions options, Events events)
    : io_(io),
      opts_(std::move(options)),
      events_(std::move(events)),
      system_bus_(opts_.address.empty() || opts_.address == "system"),
      address_(display_address(opts_.address)),
      timer_(io),
      reconnect_timer_(io),
      not_connected_("bus not connected (" + address_ + "): not connected yet"),
      backoff_(opts_.reconnect_min),
      self_(std::make_shared<SystemdBus*>(this)) {}

SystemdBus::~SystemdBus() {
  self_.reset();  // handlers already queued find nothing
  reconnect_timer_.cancel();
  timer_.cancel();
  watch_.reset();  // before the bus closes the fd
  calls_.clear();
  job_match_.reset();
  bus_.reset();
}

void SystemdBus::start() {
  connect();
}

template <class F>
auto SystemdBus::guarded(F f) {
  return [w = std::weak_ptr<SystemdBus*>(self_), generation = generation_,
          f = std::move(f)](const boost::system::error_code& ec) mutable {
    auto self = w.lock();
    if (!self || ec == boost::asio::error::operation_aborted) return;
    SystemdBus& me = **self;
    if (me.generation_ != generation || !me.bus_) return;
    f(me);
  };
}

// --- connecting ----------------------------------------------------------------------------------

void SystemdBus::connect() {
  ++generation_;
  reading_ = writing_ = false;
  timer_at_.reset();
  std::string err = open_and_subscribe();
  if (!err.empty()) return drop(err);
  arm();
}

// sd_bus_open_system / sd_bus_start only start a non-blocking connect(); authentication and
// Hello() run later in sd_bus_process, driven by the waits armed afterwards.
std::string SystemdBus::open_and_subscribe() {
  sd_bus* raw = nullptr;
  int r;
  if (system_bus_) {
    r = sd_bus_open_system(&raw);
    bus_.reset(raw);
  } else {
    r = sd_bus_new(&raw);
    bus_.reset(raw);
    if (r >= 0) r = sd_bus_set_address(raw, opts_.address.c_str());
    if (r >= 0) r = sd_bus_set_bus_client(raw, 1);  // Hello() to the bus daemon
    if (r >= 0) r = sd_bus_set_method_call_timeout(raw, usec(opts_.call_timeout));  // Hello()
    if (r >= 0) r = sd_bus_start(raw);
  }
  if (r < 0) return errno_text(-r);
  int fd = sd_bus_get_fd(bus_.get());
  if (fd < 0) return "sd_bus_get_fd: " + errno_text(-fd);
  try {
    watch_ = std::make_unique<Watch>(io_, fd);
  } catch (const boost::system::system_error& e) {  // epoll_ctl refused it (ENOMEM, ENOSPC)
    return std::string("watching the bus: ") + e.what();
  }
  // systemd sends job signals on the system bus only while someone is subscribed.
  sd_bus_slot* slot = nullptr;
  r = sd_bus_match_signal_async(bus_.get(), &slot, kSystemdService, kSystemdManagerPath,
                                kSystemdManager, "JobRemoved", &SystemdBus::job_removed_trampoline,
                                &SystemdBus::match_added_trampoline, this);
  job_match_.reset(slot);
  if (r < 0) return "AddMatch JobRemoved: " + errno_text(-r);
  std::string err;
  MessagePtr m = method_call(kSystemdManagerPath, kSystemdManager, "Subscribe", err);
  if (!m) return err;
  call(
      std::move(m),
      [this](sd_bus_message* reply) {
        if (std::string e = method_error_text(reply); !e.empty()) {
          lost_ = "Subscribe: " + e;
          return;
        }
        subscribed_ = true;
        backoff_ = opts_.reconnect_min;
        ++connects_;
        spdlog::info("systemd connected address={} connects={}", address_, connects_);
      },
      err);
  return err;
}

// The connection failed or was lost: calls in flight are dropped, the next attempt scheduled.
void SystemdBus::drop(const std::string& reason) {
  bool was_up = subscribed_;
  ++generation_;  // handlers of this connection's waits find it gone
  not_connected_ = "bus not connected (" + address_ + "): " + reason;
  calls_.clear();  // their callbacks will not run
  job_match_.reset();
  watch_.reset();  // before the bus closes its fd
  timer_.cancel();
  timer_at_.reset();
  bus_.reset();
  subscribed_ = false;
  lost_.clear();
  auto delay = backoff_;
  if (was_up) {
    ++disconnects_;
    delay = opts_.reconnect_min;
  } else {
    backoff_ = std::min(backoff_ * 2, opts_.reconnect_max);
  }
  reconnect_timer_.expires_after(delay);
  reconnect_timer_.async_wait(
      [w = std::weak_ptr<SystemdBus*>(self_)](const boost::system::error_code& ec) {
        auto self = w.lock();
        if (!ec && self && !(*self)->bus_) (*self)->connect();
      });
  if (was_up)
    spdlog::warn("systemd connection lost address={} error=\"{}\" retry_in={}", address_, reason,
                 format_duration(delay));
  else  // a host without systemd: said once, then only at debug level until the reason changes
    spdlog::log(reason == last_connect_error_ ? spdlog::level::debug : spdlog::level::warn,
                "systemd connect failed address={} error=\"{}\" retry_in={}", address_, reason,
                format_duration(delay));
  last_connect_error_ = was_up ? "" : reason;
  events_.down("bus connection lost (" + address_ + "): " + reason);
}

// --- driving sd-bus from the io_context ----------------------------------------------------------

// Until sd_bus_process returns 0: then it has read the socket up to EAGAIN and written what it
// could, so the edge-triggered waits armed next cannot miss data that came before them.
void SystemdBus::process() {
  if (!bus_) return;
  processing_ = true;
  int r;
  while ((r = sd_bus_process(bus_.get(), nullptr)) > 0 && lost_.empty()) {
  }
  processing_ = false;
  if (r < 0 && lost_.empty()) lost_ = errno_text(-r);
  if (!lost_.empty()) return drop(std::string(lost_));  // a copy: drop clears lost_
  if (int e = sd_bus_get_events(bus_.get()); e < 0) return drop(errno_text(-e));
  arm();
}

void SystemdBus::arm() {
  if (!bus_ || processing_) return;
  int events = sd_bus_get_events(bus_.get());
  uint64_t until = UINT64_MAX;
  // On an error (a closed bus), process at once: sd_bus_process fails the same way and drops it.
  if (events < 0 || sd_bus_get_timeout(bus_.get(), &until) < 0) {
    events = 0;
    until = 0;
  }
  if (events & POLLIN)
    wait_fd(boost::asio::posix::stream_descriptor::wait_read, &SystemdBus::reading_);
  if (events & POLLOUT)
    wait_fd(boost::asio::posix::stream_descriptor::wait_write, &SystemdBus::writing_);
  if (until == UINT64_MAX) {
    if (timer_at_) timer_.cancel();
    timer_at_.reset();
    return;
  }
  // sd-bus's deadline is absolute CLOCK_MONOTONIC µs, steady_clock's epoch on Linux; 0: now.
  auto at = std::chrono::steady_clock::time_point(std::chrono::microseconds(until));
  if (timer_at_ == at) return;
  timer_at_ = at;
  timer_.expires_at(at);
  timer_.async_wait(guarded([](SystemdBus& me) {
    me.timer_at_.reset();
    me.process();
  }));
}

void SystemdBus::wait_fd(boost::asio::posix::stream_descriptor::wait_type type,
                         bool SystemdBus::*waiting) {
  if (this->*waiting) return;
  this->*waiting = true;
  watch_->get().async_wait(type, guarded([waiting](SystemdBus& me) {
                             me.*waiting = false;
                             me.process();
                           }));
}

// --- calls ---------------------------------------------------------------------------------------

MessagePtr SystemdBus::method_call(const char* path, const char* interface, const char* member,
                                   std::string& err) {
  sd_bus_message* raw = nullptr;
  int r = bus_ ? sd_bus_message_new_method_call(bus_.get(), &raw, kSystemdService, path, interface,
                                                member)
               : -ENOTCONN;
  MessagePtr m(raw);
  if (r < 0) err = std::string(member) + ": " + errno_text(-r);
  return r < 0 ? nullptr : std::move(m);
}

uint64_t SystemdBus::call(MessagePtr m, Reply on_reply, std::string& err) {
  if (!bus_ || !m) {
    err = not_connected_;
    return 0;
  }
  uint64_t id = next_call_++;
  PendingCall& c = calls_[id];
  c.self = this;
  c.id = id;
  c.on_reply = std::move(on_reply);
  sd_bus_slot* slot = nullptr;
  int r = sd_bus_call_async(bus_.get(), &slot, m.get(), &SystemdBus::reply_trampoline, &c,
                            usec(opts_.call_timeout));
  c.slot.reset(slot);
  if (r >= 0) {
    arm();  // what could not be written at once waits for POLLOUT; the reply's deadline is new
    return id;
  }
  calls_.erase(id);
  const char* member = sd_bus_message_get_member(m.get());
  err = std::string(member ? member : "call") + ": " + errno_text(-r);
  if (!sd_bus_is_open(bus_.get())) err = "bus connection lost (" + address_ + "): " + err;
  return 0;
}

void SystemdBus::cancel(uint64_t call) {
  calls_.erase(call);  // unrefs the slot: its callback will not run
}

std::string SystemdBus::reply_error(sd_bus_message* reply) const {
  std::string err = method_error_text(reply);
  // sd-bus answers every pending call with NoReply "Connection terminated" when the bus goes
  if (!err.empty() && (!bus_ || sd_bus_is_open(bus_.get()) <= 0))
    err = "bus connection lost (" + address_ + "): " + err;
  return err;
}

int SystemdBus::reply_trampoline(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* c = static_cast<PendingCall*>(userdata);
  SystemdBus* self = c->self;
  auto node = self->calls_.extract(c->id);  // keeps *c alive through on_reply; sd-bus holds its
  if (node.empty()) return 0;               // own reference to the slot during the callback
  node.mapped().on_reply(m);
  return 0;
}

int SystemdBus::job_removed_trampoline(sd_bus_message* m, void* userdata, sd_bus_error*) {
  if (auto j = read_job_removed(m)) static_cast<SystemdBus*>(userdata)->events_.job_removed(*j);
  return 0;
}

int SystemdBus::match_added_trampoline(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* self = static_cast<SystemdBus*>(userdata);
  if (std::string e = method_error_text(m); !e.empty() && self->lost_.empty())
    self->lost_ = "AddMatch JobRemoved: " + e;
  return 0;
}

}  // namespace mobasher::actions
