#include "agent/actions/systemd_client.hpp"

#include <systemd/sd-bus.h>

#include <cstdlib>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "agent/actions/systemd_bus.hpp"
#include "agent/actions/systemd_decode.hpp"
#include "agent/actions/systemd_jobs.hpp"
#include "agent/base/errno_text.hpp"

namespace mobasher::actions {

namespace {

SteadyTime now() {
  return std::chrono::steady_clock::now();
}

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};

BusOptions bus_options(const SystemdClientOptions& o) {
  return BusOptions{o.address, o.call_timeout, o.reconnect_min, o.reconnect_max};
}

}  // namespace

// Requests (systemd_jobs) on a connection (systemd_bus): sends the calls, feeds their replies and
// the job signals to the requests, and posts each end to the owner.
class SystemdClient::Impl {
 public:
  Impl(SystemdClientOptions options, boost::asio::io_context& io);
  ~Impl();

  void submit_unit(Verb verb, const std::string& unit, std::function<void(CallResult)> done);
  void submit_properties(std::vector<std::string> units,
                         std::function<void(PropertiesResult)> done);
  SystemdClientStatus status() const;

 private:
  void send_unit(uint64_t op, Verb verb, const std::string& unit);
  void on_unit_reply(uint64_t op, Verb verb, sd_bus_message* reply);
  // GetAll of the Unit (or Service) interface of unit `index` of a properties request; "" or why
  // it could not be sent.
  std::string send_get_all(uint64_t op, size_t index, bool service);
  void on_properties_reply(uint64_t op, size_t index, bool service, sd_bus_message* reply);
  void on_down(const std::string& why);
  void arm_deadline();
  void complete(UnitEnd end);
  void complete(PropertiesEnd end);
  void note_error(const std::string& error) {
    ++status_.calls_failed;
    status_.last_error = error;
  }
  // Posts done(r); it does not run once the client is destroyed.
  template <class R>
  void deliver(std::function<void(R)> done, R r) {
    boost::asio::post(
        io_, [w = std::weak_ptr<Impl*>(self_), done = std::move(done), r = std::move(r)]() mutable {
          if (w.lock()) done(std::move(r));
        });
  }

  boost::asio::io_context& io_;
  const SystemdClientOptions opts_;
  SystemdRequests requests_;
  SystemdClientStatus status_;                // calls_failed and last_error; the rest is the bus's
  boost::asio::steady_timer deadline_timer_;  // the earliest job_timeout of the requests
  std::optional<SteadyTime> deadline_at_;
  // Completions and the timer's handler hold it weakly: after the destructor they do nothing.
  std::shared_ptr<Impl*> self_;
  SystemdBus bus_;  // last: closed first, so no reply or event reaches the members above
};

SystemdClient::Impl::Impl(SystemdClientOptions options, boost::asio::io_context& io)
    : io_(io),
      opts_(std::move(options)),
      requests_(opts_.max_queue),
      deadline_timer_(io),
      self_(std::make_shared<Impl*>(this)),
      bus_(io, bus_options(opts_),
           SystemdBus::Events{[this](const JobRemoved& j) {
                                for (auto& end : requests_.job_removed(j.job, j.result, now()))
                                  complete(std::move(end));
                              },
                              [this](const std::string& why) { on_down(why); }}) {
  bus_.start();
}

SystemdClient::Impl::~Impl() {
  self_.reset();  // completions already posted are dropped
  // Jobs in flight are left to systemd.
  size_t in_flight = requests_.drop_all();
  spdlog::log(in_flight ? spdlog::level::info : spdlog::level::debug,
              "systemd client stopped address={} dropped_in_flight={}", bus_.address(), in_flight);
}

void SystemdClient::Impl::submit_unit(Verb verb, const std::string& unit,
                                      std::function<void(CallResult)> done) {
  bool allowed = opts_.allowed && opts_.allowed(unit);
  if (auto refusal = requests_.unit_refusal(allowed)) {
    spdlog::warn("systemd {} unit={} refused=\"{}\"", word_of(verb), unit, *refusal);
    CallResult r;
    r.error = unit_error(verb, unit, *refusal);
    note_error(r.error);
    return deliver(std::move(done), std::move(r));
  }
  auto timeout =
      opts_.job_timeout_for ? opts_.job_timeout_for(word_of(verb), unit) : opts_.job_timeout;
  uint64_t op = requests_.add_unit(verb, unit, timeout, std::move(done), now());
  send_unit(op, verb, unit);
  arm_deadline();
}

void SystemdClient::Impl::send_unit(uint64_t op, Verb verb, const std::string& unit) {
  std::string err = bus_.open() ? "" : bus_.not_connected();
  MessagePtr m;
  if (err.empty()) m = bus_.method_call(kSystemdManagerPath, kSystemdManager, method_of(verb), err);
  if (m) {
    if (int r = sd_bus_message_append(m.get(), "ss", unit.c_str(), "replace"); r < 0)
      err = std::string(method_of(verb)) + ": " + errno_text(-r);
  }
  if (err.empty()) {
    auto on_reply = [this, op, verb](sd_bus_message* reply) { on_unit_reply(op, verb, reply); };
    if (uint64_t call = bus_.call(std::move(m), std::move(on_reply), err))
      return requests_.call_sent(op, call);
  }
  if (auto end = requests_.fail_unit(op, err, now())) complete(std::move(*end));
}

void SystemdClient::Impl::on_unit_reply(uint64_t op, Verb verb, sd_bus_message* reply) {
  std::string err = bus_.reply_error(reply), job;
  if (err.empty()) {
    if (int r = read_job_path(reply, job); r < 0)
      err = std::string("bad reply to ") + method_of(verb) + ": " + errno_text(-r);
  }
  auto end = err.empty() ? requests_.replied(op, std::move(job), now())
                         : requests_.reply_failed(op, err, now());
  if (end) complete(std::move(*end));
}

void SystemdClient::Impl::submit_properties(std::vector<std::string> units,
                                            std::function<void(PropertiesResult)> done) {
  if (auto refusal = requests_.properties_refusal()) {
    PropertiesResult r;
    r.error = "properties: " + *refusal;
    spdlog::warn("systemd properties refused=\"{}\"", r.error);
    note_error(r.error);
    return deliver(std::move(done), std::move(r));
  }
  uint64_t op = requests_.add_properties(std::move(units), std::move(done), now());
  if (!bus_.open()) return complete(*requests_.fail_properties(op, bus_.not_connected(), now()));
  // No reply runs inside send_get_all (sd-bus dispatches only in sd_bus_process): `names` stays.
  const std::vector<std::string>& names = requests_.units_asked(op);
  for (size_t i = 0; i < names.size(); ++i) {
    std::string err = send_get_all(op, i, false);
    if (err.empty() && names[i].ends_with(".service")) err = send_get_all(op, i, true);
    // calls already sent for this request answer into nothing (their request is gone)
    if (!err.empty()) return complete(*requests_.fail_properties(op, names[i] + ": " + err, now()));
  }
  if (auto end = requests_.properties_sent(op, now())) complete(std::move(*end));
}

std::string SystemdClient::Impl::send_get_all(uint64_t op, size_t index, bool service) {
  char* raw = nullptr;
  int r = sd_bus_path_encode("/org/freedesktop/systemd1/unit",
                             requests_.units_asked(op)[index].c_str(), &raw);
  if (r < 0) return "bad unit name: " + errno_text(-r);
  std::unique_ptr<char, FreeDeleter> path(raw);
  std::string err;
  MessagePtr m = bus_.method_call(path.get(), "org.freedesktop.DBus.Properties", "GetAll", err);
  if (!m) return err;
  r = sd_bus_message_append(
      m.get(), "s", service ? "org.freedesktop.systemd1.Service" : "org.freedesktop.systemd1.Unit");
  if (r < 0) return "GetAll: " + errno_text(-r);
  auto on_reply = [this, op, index, service](sd_bus_message* reply) {
    on_properties_reply(op, index, service, reply);
  };
  if (bus_.call(std::move(m), std::move(on_reply), err)) requests_.properties_call_sent(op);
  return err;
}

void SystemdClient::Impl::on_properties_reply(uint64_t op, size_t index, bool service,
                                              sd_bus_message* reply) {
  std::string err = bus_.reply_error(reply);
  PropertyList values;
  if (err.empty()) {
    if (int r = read_property_list(reply, values); r < 0)
      err = "bad GetAll reply: " + errno_text(-r);
  }
  auto end = err.empty() ? requests_.properties_answer(op, index, values, now())
                         : requests_.properties_error(op, index, service, err, now());
  if (end) complete(std::move(*end));
}

// The connection failed or was lost (the bus has dropped its calls): everything in flight fails.
void SystemdClient::Impl::on_down(const std::string& why) {
  auto [units, properties] = requests_.fail_all(why, now());
  for (auto& end : units) complete(std::move(end));
  for (auto& end : properties) complete(std::move(end));
  status_.last_error = bus_.not_connected();
}

void SystemdClient::Impl::arm_deadline() {
  auto next = requests_.next_deadline();
  if (next == deadline_at_) return;
  deadline_at_ = next;
  if (!next) {
    deadline_timer_.cancel();
    return;
  }
  deadline_timer_.expires_at(*next);
  deadline_timer_.async_wait(
      [w = std::weak_ptr<Impl*>(self_)](const boost::system::error_code& ec) {
        auto self = w.lock();
        if (ec || !self) return;
        Impl& me = **self;
        me.deadline_at_.reset();
        for (auto& end : me.requests_.expire(now())) me.complete(std::move(end));
        me.arm_deadline();
      });
}

void SystemdClient::Impl::complete(UnitEnd end) {
  if (end.call) bus_.cancel(end.call);  // a reply still awaited will not run
  const CallResult& r = end.result;
  if (r.ok) {
    spdlog::info("systemd {} unit={} job={} result={} seconds={:.3f}", word_of(end.verb), end.unit,
                 end.job, r.job_result, r.seconds);
  } else {
    spdlog::warn("systemd {} unit={} job={} result={} error=\"{}\" seconds={:.3f}",
                 word_of(end.verb), end.unit, end.job.empty() ? "-" : end.job,
                 r.job_result.empty() ? "-" : r.job_result, r.error, r.seconds);
    note_error(r.error);
  }
  deliver(std::move(end.done), std::move(end.result));
  arm_deadline();
}

void SystemdClient::Impl::complete(PropertiesEnd end) {
  const PropertiesResult& r = end.result;
  if (r.error.empty()) {
    spdlog::debug("systemd properties units={} seconds={:.3f}", end.asked, end.seconds);
  } else {  // asked every scan: without a bus that is said by the connect log, not here again
    spdlog::log(bus_.open() ? spdlog::level::warn : spdlog::level::debug,
                "systemd properties units={} read={} error=\"{}\" seconds={:.3f}", end.asked,
                r.units.size(), r.error, end.seconds);
    note_error(r.error);
  }
  deliver(std::move(end.done), std::move(end.result));
}

SystemdClientStatus SystemdClient::Impl::status() const {
  SystemdClientStatus s = status_;
  s.connected = bus_.subscribed();
  s.connects = bus_.connects();
  s.disconnects = bus_.disconnects();
  return s;
}

// --- the public face -----------------------------------------------------------------------------

SystemdClient::SystemdClient(SystemdClientOptions options, boost::asio::io_context& io)
    : impl_(std::make_unique<Impl>(std::move(options), io)) {}

SystemdClient::~SystemdClient() = default;

void SystemdClient::restart_unit(const std::string& unit, std::function<void(CallResult)> done) {
  impl_->submit_unit(Verb::kRestart, unit, std::move(done));
}

void SystemdClient::start_unit(const std::string& unit, std::function<void(CallResult)> done) {
  impl_->submit_unit(Verb::kStart, unit, std::move(done));
}

void SystemdClient::stop_unit(const std::string& unit, std::function<void(CallResult)> done) {
  impl_->submit_unit(Verb::kStop, unit, std::move(done));
}

void SystemdClient::get_properties(std::vector<std::string> units,
                                   std::function<void(PropertiesResult)> done) {
  impl_->submit_properties(std::move(units), std::move(done));
}

SystemdClientStatus SystemdClient::status() const {
  return impl_->status();
}

}  // namespace mobasher::actions
