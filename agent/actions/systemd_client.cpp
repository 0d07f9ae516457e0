#include "agent/actions/systemd_client.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include <spdlog/spdlog.h>

#include "agent/base/errno_text.hpp"
#include "agent/base/quantities.hpp"

namespace mobasher::actions {

namespace {

using Clock = std::chrono::steady_clock;  // CLOCK_MONOTONIC, as sd-bus's timeouts

constexpr const char* kService = "org.freedesktop.systemd1";
constexpr const char* kManagerPath = "/org/freedesktop/systemd1";
constexpr const char* kManager = "org.freedesktop.systemd1.Manager";
// JobRemoved signals kept for a method reply that has not arrived yet (systemd may end a job
// before the reply is dispatched here); bounded, older ones are forgotten.
constexpr size_t kRecentJobs = 128;

enum class Verb { kStart, kStop, kRestart };

const char* method_of(Verb v) {
  switch (v) {
    case Verb::kStart:
      return "StartUnit";
    case Verb::kStop:
      return "StopUnit";
    case Verb::kRestart:
      return "RestartUnit";
  }
  return "?";
}

const char* word_of(Verb v) {
  switch (v) {
    case Verb::kStart:
      return "start";
    case Verb::kStop:
      return "stop";
    case Verb::kRestart:
      return "restart";
  }
  return "?";
}

std::string bus_error_text(const sd_bus_error* e) {
  std::string name = e && e->name ? e->name : "unknown error";
  return e && e->message ? name + ": " + e->message : name;
}

uint64_t usec(std::chrono::milliseconds d) {
  return static_cast<uint64_t>(d.count()) * 1000;
}

double seconds_since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

std::string display_address(const std::string& address) {
  if (!address.empty() && address != "system") return address;
  const char* env = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");  // what sd_bus_open_system uses
  return env && *env ? env : "unix:path=/run/dbus/system_bus_socket";
}

// --- GetAll(a{sv}) -> UnitProperties; a property of an unexpected type is skipped ---------------
int read_variant(sd_bus_message* m, const char* contents, std::string& out) {
  if (std::strcmp(contents, "s") != 0) return sd_bus_message_skip(m, "v");
  const char* s = nullptr;
  int r = sd_bus_message_read(m, "v", "s", &s);
  if (r >= 0) out = s;
  return r;
}

int read_variant(sd_bus_message* m, const char* contents, uint32_t& out) {
  if (std::strcmp(contents, "u") != 0) return sd_bus_message_skip(m, "v");
  return sd_bus_message_read(m, "v", "u", &out);
}

int read_variant(sd_bus_message* m, const char* contents, uint64_t& out) {
  if (std::strcmp(contents, "t") != 0) return sd_bus_message_skip(m, "v");
  return sd_bus_message_read(m, "v", "t", &out);
}

int read_variant(sd_bus_message* m, const char* contents, std::optional<uint64_t>& out) {
  uint64_t v = UINT64_MAX;
  int r = read_variant(m, contents, v);
  out = v == UINT64_MAX ? std::nullopt : std::optional<uint64_t>(v);  // infinity / not accounted
  return r;
}

int read_property(sd_bus_message* m, std::string_view name, UnitProperties& p) {
  char type = 0;
  const char* contents = nullptr;
  int r = sd_bus_message_peek_type(m, &type, &contents);
  if (r < 0) return r;
  if (type != SD_BUS_TYPE_VARIANT || !contents) return -EBADMSG;
  if (name == "LoadState") return read_variant(m, contents, p.load_state);
  if (name == "ActiveState") return read_variant(m, contents, p.active_state);
  if (name == "SubState") return read_variant(m, contents, p.sub_state);
  if (name == "Result") return read_variant(m, contents, p.result);
  if (name == "MainPID") return read_variant(m, contents, p.main_pid);
  if (name == "NRestarts") return read_variant(m, contents, p.n_restarts);
  if (name == "ExecMainStartTimestamp") return read_variant(m, contents, p.exec_main_start_usec);
  if (name == "MemoryMax") return read_variant(m, contents, p.memory_max);
  if (name == "MemoryCurrent") return read_variant(m, contents, p.memory_current);
  if (name == "TimeoutStartUSec") return read_variant(m, contents, p.timeout_start_usec);
  if (name == "TimeoutStopUSec") return read_variant(m, contents, p.timeout_stop_usec);
  return sd_bus_message_skip(m, "v");
}

int read_all_properties(sd_bus_message* m, UnitProperties& p) {
  int r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
  if (r < 0) return r;
  while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv")) > 0) {
    const char* name = nullptr;
    if ((r = sd_bus_message_read_basic(m, SD_BUS_TYPE_STRING, &name)) < 0) return r;
    if ((r = read_property(m, name, p)) < 0) return r;
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;
  }
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);
}

}  // namespace

// All members below the mutex's group are the bus thread's alone.
class SystemdClient::Impl {
 public:
  Impl(SystemdClientOptions options, Post post);
  ~Impl();

  void submit_unit(Verb verb, const std::string& unit, std::function<void(CallResult)> done);
  void submit_properties(std::vector<std::string> units,
                         std::function<void(PropertiesResult)> done);
  SystemdClientStatus status() const;

 private:
  struct Request {
    bool properties = false;
    Verb verb = Verb::kStart;
    std::chrono::milliseconds timeout{0};  // the job's, for a unit verb
    std::vector<std::string> units;        // one for a unit verb
    std::function<void(CallResult)> on_call;
    std::function<void(PropertiesResult)> on_properties;
  };
  struct PendingCall {  // a method call awaiting its reply; its address is the slot's userdata
    Impl* impl = nullptr;
    uint64_t id = 0;
    sd_bus_slot* slot = nullptr;
    std::function<void(sd_bus_message*)> on_reply;
  };
  struct UnitOp {  // start/stop/restart: method call, then its job until JobRemoved
    Verb verb;
    std::string unit;
    std::function<void(CallResult)> done;
    Clock::time_point started, deadline;
    std::chrono::milliseconds timeout;  // deadline - started, for the message
    uint64_t call = 0;                  // the PendingCall until the reply came, then 0
    std::string job;                    // the job's object path, from the reply
  };
  struct PropertiesOp {
    std::vector<std::string> units;
    std::vector<UnitProperties> got;
    std::vector<std::string> unit_errors, service_errors;  // per unit, "" when fine
    size_t outstanding = 0;
    std::function<void(PropertiesResult)> done;
    Clock::time_point started;
  };

  void run();
  void connect();
  void drop_connection(const std::string& reason);
  void close_bus();
  void fail_everything(const std::string& reason);
  void begin(Request r);
  void begin_unit(Verb verb, const std::string& unit, std::chrono::milliseconds timeout,
                  std::function<void(CallResult)> done);
  void begin_properties(std::vector<std::string> units, std::function<void(PropertiesResult)> done);
  // Sends an async method call with call_timeout; its id, or 0 with `err` set.
  uint64_t call(sd_bus_message* m, std::function<void(sd_bus_message*)> on_reply, std::string& err);
  void cancel_call(uint64_t id);
  void on_unit_reply(uint64_t op_id, sd_bus_message* m);
  // GetAll of the Unit (or Service) interface of unit `index` of a properties request; "" or why
  // it could not be sent.
  std::string get_all(uint64_t op_id, size_t index, bool service);
  void on_properties_reply(uint64_t op_id, size_t index, bool service, sd_bus_message* m);
  void on_job_removed(const std::string& job, const std::string& result);
  void expire_jobs();
  int poll_timeout_ms() const;
  void finish_unit(uint64_t op_id, std::string job_result, std::string error);
  void finish_properties(uint64_t op_id, const std::string& failure);
  void complete(std::function<void(CallResult)> done, CallResult r);
  void complete(std::function<void(PropertiesResult)> done, PropertiesResult r);
  void note_error(const std::string& error);
  // Posts done(r); it does not run once the client is being destroyed.
  template <class R>
  void deliver(std::function<void(R)> done, R r) {
    post_([alive = alive_, done = std::move(done), r = std::move(r)]() mutable {
      if (alive->load()) done(std::move(r));
    });
  }
  std::string unit_error_prefix(Verb verb, const std::string& unit) const {
    return std::string(word_of(verb)) + " " + unit + ": ";
  }

  static int reply_trampoline(sd_bus_message* m, void* userdata, sd_bus_error*);
  static int job_removed_trampoline(sd_bus_message* m, void* userdata, sd_bus_error*);
  static int match_added_trampoline(sd_bus_message* m, void* userdata, sd_bus_error*);

  const SystemdClientOptions opts_;
  const Post post_;
  const bool system_bus_;
  const std::string address_;  // for messages
  int wake_fd_ = -1;           // eventfd: a request is queued, or stop
  // false from the start of the destructor: posted completions that have not run are dropped
  const std::shared_ptr<std::atomic<bool>> alive_ = std::make_shared<std::atomic<bool>>(true);

  mutable std::mutex mu_;  // guards queue_, accepted_, stop_, status_
  std::deque<Request> queue_;
  size_t accepted_ = 0;  // accepted and not yet completed: what max_queue bounds
  bool stop_ = false;
  SystemdClientStatus status_;

  sd_bus* bus_ = nullptr;
  sd_bus_slot* job_match_ = nullptr;
  bool subscribed_ = false;
  std::string lost_;           // set inside sd-bus callbacks; the bus is dropped after process()
  std::string not_connected_;  // why bus_ is null
  std::string last_connect_error_;  // the last failed connect's reason: repeats log at debug
  Clock::time_point next_connect_{};
  std::chrono::milliseconds backoff_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, PendingCall> calls_;  // node addresses are stable: they are userdata
  std::map<uint64_t, UnitOp> unit_ops_;
  std::map<uint64_t, PropertiesOp> properties_ops_;
  std::deque<std::pair<std::string, std::string>> recent_jobs_;  // path, result
  std::thread thread_;
};

SystemdClient::Impl::Impl(SystemdClientOptions options, Post post)
    : opts_(std::move(options)),
      post_(std::move(post)),
      system_bus_(opts_.address.empty() || opts_.address == "system"),
      address_(display_address(opts_.address)),
      backoff_(opts_.reconnect_min) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0)
    throw std::system_error(errno, std::generic_category(), "systemd client eventfd");
  not_connected_ = "bus not connected (" + address_ + "): not connected yet";
  thread_ = std::thread([this] { run(); });
}

SystemdClient::Impl::~Impl() {
  alive_->store(false);
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
  if (thread_.joinable()) thread_.join();
  ::close(wake_fd_);
}

void SystemdClient::Impl::submit_unit(Verb verb, const std::string& unit,
                                      std::function<void(CallResult)> done) {
  std::string refusal;
  if (!opts_.allowed || !opts_.allowed(unit)) refusal = "refused: not an allowed unit";
  std::unique_lock lk(mu_);
  if (refusal.empty() && accepted_ >= opts_.max_queue)
    refusal = "queue full (" + std::to_string(opts_.max_queue) + " requests pending)";
  if (!refusal.empty()) {
    lk.unlock();
    spdlog::warn("systemd {} unit={} refused=\"{}\"", word_of(verb), unit, refusal);
    CallResult r;
    r.error = unit_error_prefix(verb, unit) + refusal;
    note_error(r.error);
    deliver(std::move(done), std::move(r));
    return;
  }
  ++accepted_;
  auto timeout =
      opts_.job_timeout_for ? opts_.job_timeout_for(word_of(verb), unit) : opts_.job_timeout;
  queue_.push_back(Request{false, verb, timeout, {unit}, std::move(done), {}});
  lk.unlock();
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

void SystemdClient::Impl::submit_properties(std::vector<std::string> units,
                                            std::function<void(PropertiesResult)> done) {
  std::unique_lock lk(mu_);
  if (accepted_ >= opts_.max_queue) {
    lk.unlock();
    PropertiesResult r;
    r.error = "properties: queue full (" + std::to_string(opts_.max_queue) + " requests pending)";
    spdlog::warn("systemd properties refused=\"{}\"", r.error);
    note_error(r.error);
    deliver(std::move(done), std::move(r));
    return;
  }
  ++accepted_;
  queue_.push_back(Request{
      true, Verb::kStart, std::chrono::milliseconds(0), std::move(units), {}, std::move(done)});
  lk.unlock();
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof one);
}

SystemdClientStatus SystemdClient::Impl::status() const {
  std::lock_guard lk(mu_);
  return status_;
}

void SystemdClient::Impl::note_error(const std::string& error) {
  std::lock_guard lk(mu_);
  ++status_.calls_failed;
  status_.last_error = error;
}

// --- the bus thread ------------------------------------------------------------------------------

void SystemdClient::Impl::run() {
  while (true) {
    std::deque<Request> requests;
    {
      std::lock_guard lk(mu_);
      if (stop_) break;
      requests.swap(queue_);
    }
    if (!bus_ && Clock::now() >= next_connect_) connect();
    for (auto& r : requests) begin(std::move(r));
    if (bus_) {
      int r;
      while ((r = sd_bus_process(bus_, nullptr)) > 0 && lost_.empty()) {
      }
      if (r < 0 && lost_.empty()) lost_ = errno_text(-r);
      if (!lost_.empty()) drop_connection(std::string(lost_));  // a copy: it clears lost_
    }
    expire_jobs();

    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {-1, 0, 0}};
    if (bus_) {
      int events = sd_bus_get_events(bus_);
      fds[1] = {sd_bus_get_fd(bus_), static_cast<short>(events < 0 ? 0 : events), 0};
    }
    int n = ::poll(fds, bus_ ? 2 : 1, poll_timeout_ms());
    if (n > 0 && (fds[0].revents & POLLIN)) {
      uint64_t count;
      (void)!::read(wake_fd_, &count, sizeof count);
    }
  }
  // Shutting down: every completion not yet run is dropped (the owner is going away with the
  // captures of its callbacks); jobs in flight are left to systemd.
  size_t queued;
  {
    std::lock_guard lk(mu_);
    queued = queue_.size();
    queue_.clear();
  }
  size_t in_flight = unit_ops_.size() + properties_ops_.size();
  spdlog::log(queued + in_flight ? spdlog::level::info : spdlog::level::debug,
              "systemd client stopped address={} dropped_queued={} dropped_in_flight={}", address_,
              queued, in_flight);
  for (auto& [id, c] : calls_) sd_bus_slot_unref(c.slot);
  calls_.clear();
  unit_ops_.clear();
  properties_ops_.clear();
  close_bus();
}

int SystemdClient::Impl::poll_timeout_ms() const {
  auto now = Clock::now();
  auto wait = std::chrono::milliseconds(60'000);
  auto until = [&](Clock::time_point t) {
    auto d = std::chrono::ceil<std::chrono::milliseconds>(t - now);
    wait = std::min(wait, std::max(d, std::chrono::milliseconds(0)));
  };
  if (!bus_) until(next_connect_);
  for (const auto& [id, op] : unit_ops_) until(op.deadline);
  uint64_t deadline = 0;
  if (bus_ && sd_bus_get_timeout(bus_, &deadline) >= 0 && deadline != UINT64_MAX) {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t now_us = static_cast<uint64_t>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
    auto d = std::chrono::milliseconds(deadline > now_us ? (deadline - now_us + 999) / 1000 : 0);
    wait = std::min(wait, d);
  }
  return static_cast<int>(wait.count());
}

void SystemdClient::Impl::connect() {
  sd_bus* b = nullptr;
  int r;
  if (system_bus_) {
    r = sd_bus_open_system(&b);
  } else {
    r = sd_bus_new(&b);
    if (r >= 0) r = sd_bus_set_address(b, opts_.address.c_str());
    if (r >= 0) r = sd_bus_set_bus_client(b, 1);  // Hello() to the bus daemon
    if (r >= 0) r = sd_bus_set_method_call_timeout(b, usec(opts_.call_timeout));  // for Hello()
    if (r >= 0) r = sd_bus_start(b);
  }
  std::string err;
  if (r >= 0) {
    bus_ = b;
    // systemd sends job signals on the system bus only while someone is subscribed.
    r = sd_bus_match_signal_async(bus_, &job_match_, kService, kManagerPath, kManager, "JobRemoved",
                                  &Impl::job_removed_trampoline, &Impl::match_added_trampoline,
                                  this);
    if (r < 0) err = "AddMatch JobRemoved: " + errno_text(-r);
  } else {
    err = errno_text(-r);
    sd_bus_unref(b);
  }
  if (bus_ && err.empty()) {
    sd_bus_message* m = nullptr;
    r = sd_bus_message_new_method_call(bus_, &m, kService, kManagerPath, kManager, "Subscribe");
    if (r >= 0) {
      call(
          m,
          [this](sd_bus_message* reply) {
            if (sd_bus_message_is_method_error(reply, nullptr)) {
              lost_ = "Subscribe: " + bus_error_text(sd_bus_message_get_error(reply));
              return;
            }
            subscribed_ = true;
            backoff_ = opts_.reconnect_min;
            uint64_t connects;
            {
              std::lock_guard lk(mu_);
              status_.connected = true;
              connects = ++status_.connects;
            }
            spdlog::info("systemd connected address={} connects={}", address_, connects);
          },
          err);
      sd_bus_message_unref(m);
    } else {
      err = "Subscribe: " + errno_text(-r);
    }
  }
  if (!err.empty()) drop_connection(err);
}

// The connection failed or was lost: everything in flight fails, the next attempt is scheduled.
void SystemdClient::Impl::drop_connection(const std::string& reason) {
  bool was_up = subscribed_;
  not_connected_ = "bus not connected (" + address_ + "): " + reason;
  fail_everything("bus connection lost (" + address_ + "): " + reason);
  close_bus();
  subscribed_ = false;
  lost_.clear();
  recent_jobs_.clear();  // job numbers are per systemd instance
  auto delay = backoff_;
  if (was_up) {
    delay = opts_.reconnect_min;
  } else {
    backoff_ = std::min(backoff_ * 2, opts_.reconnect_max);
  }
  next_connect_ = Clock::now() + delay;
  {
    std::lock_guard lk(mu_);
    status_.connected = false;
    if (was_up) ++status_.disconnects;
    status_.last_error = not_connected_;
  }
  if (was_up)
    spdlog::warn("systemd connection lost address={} error=\"{}\" retry_in={}", address_, reason,
                 format_duration(delay));
  else  // a host without systemd: said once, then only at debug level until the reason changes
    spdlog::log(reason == last_connect_error_ ? spdlog::level::debug : spdlog::level::warn,
                "systemd connect failed address={} error=\"{}\" retry_in={}", address_, reason,
                format_duration(delay));
  last_connect_error_ = was_up ? "" : reason;
}

// After fail_everything(): no slot may be left, each holds a reference to the bus.
void SystemdClient::Impl::close_bus() {
  if (job_match_) job_match_ = sd_bus_slot_unref(job_match_);
  if (bus_) bus_ = sd_bus_close_unref(bus_);
}

void SystemdClient::Impl::fail_everything(const std::string& reason) {
  for (auto& [id, c] : calls_) sd_bus_slot_unref(c.slot);
  calls_.clear();
  auto unit_ops = std::move(unit_ops_);
  unit_ops_.clear();
  for (auto& [id, op] : unit_ops) {
    CallResult r;
    r.error = unit_error_prefix(op.verb, op.unit) + reason;
    if (!op.job.empty()) r.error += " while waiting for job " + op.job;
    r.seconds = seconds_since(op.started);
    spdlog::warn("systemd {} unit={} job={} error=\"{}\" seconds={:.3f}", word_of(op.verb), op.unit,
                 op.job.empty() ? "-" : op.job, r.error, r.seconds);
    complete(std::move(op.done), std::move(r));
  }
  auto properties_ops = std::move(properties_ops_);
  properties_ops_.clear();
  for (auto& [id, op] : properties_ops) {
    PropertiesResult r;
    r.error = "properties: " + reason;
    spdlog::warn("systemd properties units={} error=\"{}\"", op.units.size(), r.error);
    complete(std::move(op.done), std::move(r));
  }
}

void SystemdClient::Impl::begin(Request r) {
  if (r.properties)
    begin_properties(std::move(r.units), std::move(r.on_properties));
  else
    begin_unit(r.verb, r.units.front(), r.timeout, std::move(r.on_call));
}

void SystemdClient::Impl::begin_unit(Verb verb, const std::string& unit,
                                     std::chrono::milliseconds timeout,
                                     std::function<void(CallResult)> done) {
  uint64_t id = next_id_++;
  auto now = Clock::now();
  unit_ops_.emplace(id, UnitOp{verb, unit, std::move(done), now, now + timeout, timeout, 0, ""});
  if (!bus_) return finish_unit(id, "", not_connected_);
  sd_bus_message* m = nullptr;
  int r =
      sd_bus_message_new_method_call(bus_, &m, kService, kManagerPath, kManager, method_of(verb));
  if (r >= 0) r = sd_bus_message_append(m, "ss", unit.c_str(), "replace");
  std::string err;
  if (r < 0) {
    err = std::string(method_of(verb)) + ": " + errno_text(-r);
  } else {
    unit_ops_.at(id).call = call(
        m, [this, id](sd_bus_message* reply) { on_unit_reply(id, reply); }, err);
  }
  sd_bus_message_unref(m);
  if (!err.empty()) finish_unit(id, "", err);
}

void SystemdClient::Impl::on_unit_reply(uint64_t op_id, sd_bus_message* m) {
  auto it = unit_ops_.find(op_id);
  if (it == unit_ops_.end()) return;
  UnitOp& op = it->second;
  op.call = 0;
  if (sd_bus_message_is_method_error(m, nullptr)) {
    std::string err = bus_error_text(sd_bus_message_get_error(m));
    // sd-bus answers every pending call with NoReply "Connection terminated" when the bus goes
    if (!sd_bus_is_open(bus_)) err = "bus connection lost (" + address_ + "): " + err;
    return finish_unit(op_id, "", err);
  }
  const char* job = nullptr;
  int r = sd_bus_message_read(m, "o", &job);
  if (r < 0)
    return finish_unit(op_id, "",
                       std::string("bad reply to ") + method_of(op.verb) + ": " + errno_text(-r));
  op.job = job;
  for (auto j = recent_jobs_.begin(); j != recent_jobs_.end(); ++j) {
    if (j->first == op.job) {
      std::string result = std::move(j->second);
      recent_jobs_.erase(j);
      return finish_unit(op_id, result, "");
    }
  }
}

void SystemdClient::Impl::on_job_removed(const std::string& job, const std::string& result) {
  std::vector<uint64_t> ended;
  for (const auto& [id, op] : unit_ops_)
    if (op.job == job) ended.push_back(id);
  for (uint64_t id : ended) finish_unit(id, result, "");
  if (!ended.empty()) return;
  // Perhaps the reply to our call is still on its way; mostly other clients' jobs.
  recent_jobs_.emplace_back(job, result);
  if (recent_jobs_.size() > kRecentJobs) recent_jobs_.pop_front();
}

void SystemdClient::Impl::expire_jobs() {
  auto now = Clock::now();
  std::vector<uint64_t> expired;
  for (const auto& [id, op] : unit_ops_)
    if (op.deadline <= now) expired.push_back(id);
  for (uint64_t id : expired) {
    UnitOp& op = unit_ops_.at(id);
    std::string what =
        op.call ? std::string("the reply to ") + method_of(op.verb) : "job " + op.job;
    finish_unit(id, "", "timed out after " + format_duration(op.timeout) + " waiting for " + what);
  }
}

void SystemdClient::Impl::finish_unit(uint64_t op_id, std::string job_result, std::string error) {
  auto node = unit_ops_.extract(op_id);
  if (node.empty()) return;
  UnitOp& op = node.mapped();
  if (op.call) cancel_call(op.call);
  CallResult r;
  r.job_result = std::move(job_result);
  r.ok = error.empty() && r.job_result == "done";
  if (error.empty() && !r.ok)
    error = "job " + op.job + " ended with result \"" + r.job_result + "\"";
  if (!r.ok) r.error = unit_error_prefix(op.verb, op.unit) + error;
  r.seconds = seconds_since(op.started);
  if (r.ok)
    spdlog::info("systemd {} unit={} job={} result={} seconds={:.3f}", word_of(op.verb), op.unit,
                 op.job, r.job_result, r.seconds);
  else
    spdlog::warn("systemd {} unit={} job={} result={} error=\"{}\" seconds={:.3f}",
                 word_of(op.verb), op.unit, op.job.empty() ? "-" : op.job,
                 r.job_result.empty() ? "-" : r.job_result, r.error, r.seconds);
  complete(std::move(op.done), std::move(r));
}

void SystemdClient::Impl::begin_properties(std::vector<std::string> units,
                                           std::function<void(PropertiesResult)> done) {
  uint64_t id = next_id_++;
  PropertiesOp& op = properties_ops_[id];
  op.units = std::move(units);
  op.got.resize(op.units.size());
  op.unit_errors.resize(op.units.size());
  op.service_errors.resize(op.units.size());
  op.done = std::move(done);
  op.started = Clock::now();
  if (!bus_) return finish_properties(id, not_connected_);
  for (size_t i = 0; i < op.units.size(); ++i) {
    op.got[i].unit = op.units[i];
    std::string err = get_all(id, i, false);
    if (err.empty() && op.units[i].ends_with(".service")) err = get_all(id, i, true);
    if (!err.empty()) return finish_properties(id, op.units[i] + ": " + err);
  }
  if (op.outstanding == 0) finish_properties(id, "");
}

std::string SystemdClient::Impl::get_all(uint64_t op_id, size_t index, bool service) {
  PropertiesOp& op = properties_ops_.at(op_id);
  char* path = nullptr;
  int r = sd_bus_path_encode("/org/freedesktop/systemd1/unit", op.units[index].c_str(), &path);
  if (r < 0) return "bad unit name: " + errno_text(-r);
  sd_bus_message* m = nullptr;
  r = sd_bus_message_new_method_call(bus_, &m, kService, path, "org.freedesktop.DBus.Properties",
                                     "GetAll");
  std::free(path);
  if (r >= 0)
    r = sd_bus_message_append(
        m, "s", service ? "org.freedesktop.systemd1.Service" : "org.freedesktop.systemd1.Unit");
  std::string err;
  if (r < 0) {
    err = "GetAll: " + errno_text(-r);
  } else {
    auto on_reply = [this, op_id, index, service](sd_bus_message* reply) {
      on_properties_reply(op_id, index, service, reply);
    };
    if (call(m, std::move(on_reply), err)) ++op.outstanding;
  }
  sd_bus_message_unref(m);
  return err;
}

void SystemdClient::Impl::on_properties_reply(uint64_t op_id, size_t index, bool service,
                                              sd_bus_message* m) {
  auto it = properties_ops_.find(op_id);
  if (it == properties_ops_.end()) return;
  PropertiesOp& op = it->second;
  std::string& err = service ? op.service_errors[index] : op.unit_errors[index];
  if (sd_bus_message_is_method_error(m, nullptr)) {
    err = bus_error_text(sd_bus_message_get_error(m));
    if (!sd_bus_is_open(bus_)) err = "bus connection lost (" + address_ + "): " + err;
  } else if (int r = read_all_properties(m, op.got[index]); r < 0) {
    err = "bad GetAll reply: " + errno_text(-r);
  }
  if (--op.outstanding == 0) finish_properties(op_id, "");
}

void SystemdClient::Impl::finish_properties(uint64_t op_id, const std::string& failure) {
  auto node = properties_ops_.extract(op_id);
  if (node.empty()) return;
  PropertiesOp& op = node.mapped();
  PropertiesResult r;
  if (!failure.empty()) {
    // calls already sent for this request answer into nothing (their op is gone)
    r.error = "properties: " + failure;
  } else {
    for (size_t i = 0; i < op.units.size(); ++i) {
      std::string err = op.unit_errors[i];
      // a unit nobody installed has no Service properties to give; that is not a failure
      if (err.empty() && op.got[i].load_state != "not-found") err = op.service_errors[i];
      if (!err.empty()) {
        r.error += (r.error.empty() ? "" : "; ") + op.units[i] + ": " + err;
        continue;
      }
      r.units.push_back(std::move(op.got[i]));
    }
  }
  double seconds = seconds_since(op.started);
  if (r.error.empty())
    spdlog::debug("systemd properties units={} seconds={:.3f}", op.units.size(), seconds);
  else  // asked every scan: without a bus that is said by the connect log, not here again
    spdlog::log(bus_ ? spdlog::level::warn : spdlog::level::debug,
                "systemd properties units={} read={} error=\"{}\" seconds={:.3f}", op.units.size(),
                r.units.size(), r.error, seconds);
  complete(std::move(op.done), std::move(r));
}

uint64_t SystemdClient::Impl::call(sd_bus_message* m, std::function<void(sd_bus_message*)> on_reply,
                                   std::string& err) {
  uint64_t id = next_id_++;
  PendingCall& c = calls_[id];
  c.impl = this;
  c.id = id;
  c.on_reply = std::move(on_reply);
  int r =
      sd_bus_call_async(bus_, &c.slot, m, &Impl::reply_trampoline, &c, usec(opts_.call_timeout));
  if (r >= 0) return id;
  calls_.erase(id);
  const char* member = sd_bus_message_get_member(m);
  err = std::string(member ? member : "call") + ": " + errno_text(-r);
  if (!sd_bus_is_open(bus_)) err = "bus connection lost (" + address_ + "): " + err;
  return 0;
}

void SystemdClient::Impl::cancel_call(uint64_t id) {
  auto node = calls_.extract(id);
  if (!node.empty()) sd_bus_slot_unref(node.mapped().slot);  // its callback will not run
}

void SystemdClient::Impl::complete(std::function<void(CallResult)> done, CallResult r) {
  {
    std::lock_guard lk(mu_);
    --accepted_;
    if (!r.ok) {
      ++status_.calls_failed;
      status_.last_error = r.error;
    }
  }
  deliver(std::move(done), std::move(r));
}

void SystemdClient::Impl::complete(std::function<void(PropertiesResult)> done, PropertiesResult r) {
  {
    std::lock_guard lk(mu_);
    --accepted_;
    if (!r.error.empty()) {
      ++status_.calls_failed;
      status_.last_error = r.error;
    }
  }
  deliver(std::move(done), std::move(r));
}

int SystemdClient::Impl::reply_trampoline(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* c = static_cast<PendingCall*>(userdata);
  Impl* self = c->impl;
  auto node = self->calls_.extract(c->id);  // keeps *c alive through on_reply
  if (node.empty()) return 0;
  sd_bus_slot_unref(node.mapped().slot);  // sd-bus holds its own reference during the callback
  node.mapped().on_reply(m);
  return 0;
}

int SystemdClient::Impl::job_removed_trampoline(sd_bus_message* m, void* userdata, sd_bus_error*) {
  uint32_t id = 0;
  const char *job = nullptr, *unit = nullptr, *result = nullptr;
  if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0) return 0;
  static_cast<Impl*>(userdata)->on_job_removed(job, result);
  return 0;
}

int SystemdClient::Impl::match_added_trampoline(sd_bus_message* m, void* userdata, sd_bus_error*) {
  auto* self = static_cast<Impl*>(userdata);
  if (sd_bus_message_is_method_error(m, nullptr) && self->lost_.empty())
    self->lost_ = "AddMatch JobRemoved: " + bus_error_text(sd_bus_message_get_error(m));
  return 0;
}

// --- the public face -----------------------------------------------------------------------------

SystemdClient::SystemdClient(SystemdClientOptions options, Post post)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(post))) {}

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
