// agent/actions/systemd_client against a real systemd 252: PID 1 of private namespaces booted by
// tests/integration/sd_harness.sh. Run through systemd_client_test.sh, which writes the units
//   probe@  a copy of mobasher-leaker (4 MiB), Restart=always, MemoryMax=64M
//   fail@   Type=oneshot, ExecStart=/bin/false
//   slow@   ExecStartPre=/bin/sleep 4, then sleep infinity
// boots the harness and exports MOBASHER_TEST_BUS, MOBASHER_TEST_HARNESS_STATE and
// MOBASHER_TEST_HARNESS. Without them every test fails; none skips. Each test uses units of its
// own (the instance name is the test's), so they do not depend on each other's leftovers.
#include "agent/actions/systemd_client.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace mobasher::actions {
namespace {

namespace asio = boost::asio;
using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;
using Steady = std::chrono::steady_clock;
using testing::HasSubstr;
using testing::StartsWith;

constexpr uint64_t kProbeMemoryMax = 64ull << 20;  // MemoryMax=64M in probe@.service

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

double seconds_since(Steady::time_point t) {
  return std::chrono::duration<double>(Steady::now() - t).count();
}

// A completion that may arrive after the waiting helper gave up: shared, never dangling.
template <class R>
struct Outcome {
  std::optional<R> result;
  int calls = 0;
};

class SystemdClientTest : public testing::Test {
 protected:
  void SetUp() override {
    const char* bus = std::getenv("MOBASHER_TEST_BUS");
    const char* state = std::getenv("MOBASHER_TEST_HARNESS_STATE");
    const char* harness = std::getenv("MOBASHER_TEST_HARNESS");
    ASSERT_TRUE(bus && *bus && state && *state && harness && *harness)
        << "MOBASHER_TEST_BUS, MOBASHER_TEST_HARNESS_STATE and MOBASHER_TEST_HARNESS must be set: "
           "run tests/integration/systemd_client_test.sh, which boots the private systemd";
    bus_ = bus;
    state_ = state;
    harness_ = harness;
    cgroot_ = read_text(state_ + "/cgroot");
    ASSERT_THAT(cgroot_, StartsWith("/sdprobe-")) << "no cgroot in " << state_;
  }

  SystemdClientOptions options() const {
    SystemdClientOptions o;
    o.address = bus_;
    o.call_timeout = 5s;
    o.job_timeout = 20s;
    o.reconnect_min = 100ms;
    o.reconnect_max = 500ms;
    o.allowed = [](const std::string&) { return true; };
    return o;
  }

  std::unique_ptr<SystemdClient> client(SystemdClientOptions o) {
    return std::make_unique<SystemdClient>(std::move(o), io_);
  }

  // Runs the test's io_context (this thread) until pred() holds; false on timeout.
  bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds timeout) {
    auto deadline = Steady::now() + timeout;
    while (!pred()) {
      auto now = Steady::now();
      if (now >= deadline) return false;
      io_.run_one_for(std::min<Steady::duration>(deadline - now, 50ms));
    }
    return true;
  }
  void run_for(std::chrono::milliseconds d) {
    run_until([] { return false; }, d);
  }

  using UnitVerb = void (SystemdClient::*)(const std::string&, std::function<void(CallResult)>);
  std::shared_ptr<Outcome<CallResult>> begin(SystemdClient& c, UnitVerb verb,
                                             const std::string& unit) {
    auto out = std::make_shared<Outcome<CallResult>>();
    calling_ = true;
    (c.*verb)(unit, [this, out](CallResult r) {
      on_loop();
      ++out->calls;
      out->result = std::move(r);
    });
    calling_ = false;
    return out;
  }
  CallResult await(const std::shared_ptr<Outcome<CallResult>>& out, const std::string& what,
                   std::chrono::milliseconds timeout = 15s) {
    if (!run_until([&] { return out->result.has_value(); }, timeout)) {
      ADD_FAILURE() << what << ": no completion within " << timeout.count() << " ms";
      return CallResult{};
    }
    return *out->result;
  }
  CallResult call(SystemdClient& c, UnitVerb verb, const std::string& unit) {
    return await(begin(c, verb, unit), unit);
  }
  CallResult start(SystemdClient& c, const std::string& u) {
    return call(c, &SystemdClient::start_unit, u);
  }
  CallResult stop(SystemdClient& c, const std::string& u) {
    return call(c, &SystemdClient::stop_unit, u);
  }
  CallResult restart(SystemdClient& c, const std::string& u) {
    return call(c, &SystemdClient::restart_unit, u);
  }

  std::shared_ptr<Outcome<PropertiesResult>> begin_properties(SystemdClient& c,
                                                              std::vector<std::string> units) {
    auto out = std::make_shared<Outcome<PropertiesResult>>();
    calling_ = true;
    c.get_properties(std::move(units), [this, out](PropertiesResult r) {
      on_loop();
      ++out->calls;
      out->result = std::move(r);
    });
    calling_ = false;
    return out;
  }
  PropertiesResult properties(SystemdClient& c, std::vector<std::string> units) {
    auto out = begin_properties(c, std::move(units));
    if (!run_until([&] { return out->result.has_value(); }, 10s)) {
      ADD_FAILURE() << "get_properties: no completion within 10 s";
      return PropertiesResult{};
    }
    return *out->result;
  }
  UnitProperties props(SystemdClient& c, const std::string& unit) {
    auto r = properties(c, {unit});
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.units.size(), 1u);
    return r.units.empty() ? UnitProperties{} : r.units[0];
  }

  // A completion runs on the io_context's thread, never inside the method that was called.
  void on_loop() {
    EXPECT_EQ(std::this_thread::get_id(), test_thread_) << "completion not run through post";
    EXPECT_FALSE(calling_) << "completion ran inside the calling method";
  }

  // Host PIDs in the unit's memory cgroup, as the agent sees them.
  std::vector<pid_t> host_procs(const std::string& unit) const {
    std::string slice = "system-" + unit.substr(0, unit.find('@')) + ".slice";
    std::ifstream in("/sys/fs/cgroup/memory" + cgroot_ + "/system.slice/" + slice + "/" + unit +
                     "/cgroup.procs");
    std::vector<pid_t> pids;
    for (pid_t p; in >> p;) pids.push_back(p);
    return pids;
  }
  // The unit's host PIDs once it has `n` of them (within 2 s): a Type=simple start job is done
  // right after the fork, and on cgroup v1 systemd 252 puts the process into name=systemd itself
  // but the child joins the memory hierarchy on its own, a moment later.
  std::vector<pid_t> settled_procs(const std::string& unit, size_t n) {
    std::vector<pid_t> pids;
    run_until(
        [&] {
          pids = host_procs(unit);
          return pids.size() == n;
        },
        2s);
    return pids;
  }
  // The PID of a host process inside its innermost PID namespace (last NSpid field).
  static pid_t namespace_pid(pid_t host_pid) {
    std::ifstream in("/proc/" + std::to_string(host_pid) + "/status");
    for (std::string line; std::getline(in, line);) {
      if (!line.starts_with("NSpid:")) continue;
      std::istringstream fields(line.substr(6));
      pid_t p = 0, last = 0;
      while (fields >> p) last = p;
      return last;
    }
    return 0;
  }
  // `sd_harness.sh exec STATE ARGS` (systemctl inside the namespace); its exit status.
  int harness_exec(const std::string& args) const {
    std::string cmd = "bash '" + harness_ + "' exec '" + state_ + "' " + args;
    int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }

  std::string bus_, state_, harness_, cgroot_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread::id test_thread_ = std::this_thread::get_id();
  bool calling_ = false;  // inside a call of the client's
};

TEST_F(SystemdClientTest, RestartChangesMainPidAndTheProcessInTheCgroup) {
  auto c = client(options());
  const std::string unit = "probe@restart.service";
  auto s = start(*c, unit);
  ASSERT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.job_result, "done");
  auto before = props(*c, unit);
  EXPECT_EQ(before.active_state, "active");
  ASSERT_GT(before.main_pid, 0u);
  auto procs_before = settled_procs(unit, 1);
  ASSERT_EQ(procs_before.size(), 1u);
  EXPECT_EQ(namespace_pid(procs_before[0]), static_cast<pid_t>(before.main_pid));

  auto r = restart(*c, unit);
  EXPECT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.job_result, "done");
  EXPECT_EQ(r.error, "");
  EXPECT_GT(r.seconds, 0);
  EXPECT_LT(r.seconds, 5);

  auto after = props(*c, unit);
  EXPECT_EQ(after.active_state, "active");
  EXPECT_EQ(after.sub_state, "running");
  EXPECT_NE(after.main_pid, before.main_pid);
  EXPECT_GT(after.exec_main_start_usec, before.exec_main_start_usec);
  EXPECT_EQ(after.n_restarts, 0u) << "a manual restart is not counted in NRestarts";
  auto procs_after = settled_procs(unit, 1);
  ASSERT_EQ(procs_after.size(), 1u);
  EXPECT_NE(procs_after[0], procs_before[0]);
  EXPECT_EQ(namespace_pid(procs_after[0]), static_cast<pid_t>(after.main_pid));
  EXPECT_EQ(::kill(procs_before[0], 0), -1) << "the old main process is still alive";

  EXPECT_TRUE(stop(*c, unit).ok);
}

TEST_F(SystemdClientTest, StartThenStop) {
  auto c = client(options());
  const std::string unit = "probe@startstop.service";
  auto s = start(*c, unit);
  EXPECT_TRUE(s.ok) << s.error;
  EXPECT_EQ(s.job_result, "done");
  auto running = props(*c, unit);
  EXPECT_EQ(running.active_state, "active");
  EXPECT_EQ(running.sub_state, "running");
  EXPECT_GT(running.exec_main_start_usec, 0u);
  EXPECT_EQ(settled_procs(unit, 1).size(), 1u);

  auto t = stop(*c, unit);
  EXPECT_TRUE(t.ok) << t.error;
  EXPECT_EQ(t.job_result, "done");
  auto stopped = props(*c, unit);
  EXPECT_EQ(stopped.active_state, "inactive");
  EXPECT_EQ(stopped.sub_state, "dead");
  EXPECT_EQ(stopped.main_pid, 0u);
  EXPECT_EQ(host_procs(unit).size(), 0u);
}

TEST_F(SystemdClientTest, PropertiesOfSeveralUnitsInOneCall) {
  auto c = client(options());
  ASSERT_TRUE(start(*c, "probe@props-a.service").ok);
  auto r = properties(*c, {"probe@props-a.service", "does-not-exist.service",
                           "probe@props-b.service", "fail@props.service"});
  EXPECT_EQ(r.error, "");
  ASSERT_EQ(r.units.size(), 4u);

  const auto& a = r.units[0];
  EXPECT_EQ(a.unit, "probe@props-a.service");
  EXPECT_EQ(a.load_state, "loaded");
  EXPECT_EQ(a.active_state, "active");
  EXPECT_EQ(a.result, "success");
  EXPECT_GT(a.main_pid, 0u);
  EXPECT_EQ(a.memory_max, kProbeMemoryMax);
  EXPECT_TRUE(a.memory_current.has_value());
  // MemoryCurrent is the cgroup's usage: it reaches the leaker's 4 MiB once they are touched.
  std::optional<uint64_t> usage;
  EXPECT_TRUE(run_until(
      [&] {
        usage = props(*c, "probe@props-a.service").memory_current;
        return usage && *usage >= 4u << 20;
      },
      3s))
      << "MemoryCurrent " << usage.value_or(0);
  EXPECT_LT(usage.value_or(0), kProbeMemoryMax);

  const auto& missing = r.units[1];
  EXPECT_EQ(missing.unit, "does-not-exist.service");
  EXPECT_EQ(missing.load_state, "not-found");
  EXPECT_EQ(missing.active_state, "inactive");
  EXPECT_EQ(missing.main_pid, 0u);
  EXPECT_EQ(missing.exec_main_start_usec, 0u);
  EXPECT_EQ(missing.memory_current, std::nullopt);

  const auto& b = r.units[2];  // loaded, never started
  EXPECT_EQ(b.load_state, "loaded");
  EXPECT_EQ(b.active_state, "inactive");
  EXPECT_EQ(b.main_pid, 0u);
  EXPECT_EQ(b.exec_main_start_usec, 0u);
  EXPECT_EQ(b.memory_max, kProbeMemoryMax);
  EXPECT_EQ(b.memory_current, std::nullopt);

  const auto& f = r.units[3];
  EXPECT_EQ(f.load_state, "loaded");
  EXPECT_EQ(f.memory_max, std::nullopt) << "MemoryMax=infinity";

  // A name systemd rejects fails alone, named; the other units are still read.
  auto bad = properties(*c, {"no-suffix", "probe@props-b.service"});
  EXPECT_THAT(bad.error, StartsWith("no-suffix: org.freedesktop.DBus.Error."));
  EXPECT_THAT(bad.error,
              HasSubstr("Unit name no-suffix is neither a valid invocation ID nor unit"));
  ASSERT_EQ(bad.units.size(), 1u);
  EXPECT_EQ(bad.units[0].unit, "probe@props-b.service");

  EXPECT_TRUE(stop(*c, "probe@props-a.service").ok);
}

TEST_F(SystemdClientTest, FailingUnitGivesFailedJobNamingTheUnit) {
  auto c = client(options());
  auto r = start(*c, "fail@f1.service");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.job_result, "failed");
  EXPECT_THAT(r.error, StartsWith("start fail@f1.service: job /org/freedesktop/systemd1/job/"));
  EXPECT_THAT(r.error, HasSubstr("ended with result \"failed\""));
  auto p = props(*c, "fail@f1.service");
  EXPECT_EQ(p.active_state, "failed");
  EXPECT_EQ(p.result, "exit-code");
  EXPECT_GE(c->status().calls_failed, 1u);

  auto missing = restart(*c, "does-not-exist.service");
  EXPECT_FALSE(missing.ok);
  EXPECT_EQ(missing.job_result, "");
  EXPECT_EQ(missing.error,
            "restart does-not-exist.service: org.freedesktop.systemd1.NoSuchUnit: Unit "
            "does-not-exist.service not found.");
}

TEST_F(SystemdClientTest, JobTimeoutThenTheClientStaysUsable) {
  auto o = options();
  o.job_timeout = 1s;
  auto c = client(o);
  auto pending = begin(*c, &SystemdClient::start_unit, "slow@timeout.service");
  auto r = await(pending, "slow@timeout.service");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.job_result, "");
  EXPECT_THAT(r.error, StartsWith("start slow@timeout.service: timed out after 1s waiting for job "
                                  "/org/freedesktop/systemd1/job/"));
  EXPECT_GE(r.seconds, 0.95);
  EXPECT_LT(r.seconds, 2.0);

  auto p = props(*c, "slow@timeout.service");
  EXPECT_EQ(p.active_state, "activating") << "the job is left to systemd";
  EXPECT_EQ(p.sub_state, "start-pre");
  auto ok = restart(*c, "probe@timeout.service");
  EXPECT_TRUE(ok.ok) << ok.error;
  // Stopping cancels the timed-out start job: its JobRemoved must not complete anything again.
  auto s = stop(*c, "slow@timeout.service");
  EXPECT_TRUE(s.ok) << s.error;
  EXPECT_TRUE(stop(*c, "probe@timeout.service").ok);
  run_for(200ms);
  EXPECT_EQ(pending->calls, 1);
}

TEST_F(SystemdClientTest, DisallowedUnitIsRefusedWithoutTouchingSystemd) {
  auto o = options();
  o.allowed = [](const std::string& u) { return u != "probe@refused.service"; };
  auto c = client(o);
  auto before = props(*c, "probe@refused.service");
  EXPECT_EQ(before.active_state, "inactive");
  EXPECT_EQ(before.exec_main_start_usec, 0u);

  auto s = start(*c, "probe@refused.service");
  EXPECT_FALSE(s.ok);
  EXPECT_EQ(s.error, "start probe@refused.service: refused: not an allowed unit");
  EXPECT_EQ(s.job_result, "");
  auto r = restart(*c, "probe@refused.service");
  EXPECT_EQ(r.error, "restart probe@refused.service: refused: not an allowed unit");
  EXPECT_EQ(c->status().calls_failed, 2u);

  auto after = props(*c, "probe@refused.service");
  EXPECT_EQ(after.active_state, "inactive");
  EXPECT_EQ(after.exec_main_start_usec, 0u) << "it was started after all";
  EXPECT_EQ(host_procs("probe@refused.service").size(), 0u);

  auto unset = options();
  unset.allowed = nullptr;  // refuses everything
  auto d = client(unset);
  EXPECT_EQ(start(*d, "probe@refused2.service").error,
            "start probe@refused2.service: refused: not an allowed unit");
  EXPECT_EQ(props(*d, "probe@refused2.service").exec_main_start_usec, 0u);
}

TEST_F(SystemdClientTest, NothingListeningGivesBusNotConnectedQuickly) {
  // A socket file nobody listens on: bound, then closed.
  char dir_template[] = "/tmp/mobasher-sdc-XXXXXX";
  ASSERT_NE(::mkdtemp(dir_template), nullptr);
  std::string dir = dir_template, path = dir + "/bus.sock";
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
  ::close(fd);

  auto o = options();
  o.address = "unix:path=" + path;
  auto t0 = Steady::now();
  auto c = client(o);
  auto r = restart(*c, "probe@nolisten.service");
  EXPECT_EQ(r.error, "restart probe@nolisten.service: bus not connected (unix:path=" + path +
                         "): Connection refused");
  EXPECT_FALSE(r.ok);
  auto p = properties(*c, {"probe@nolisten.service"});
  EXPECT_EQ(p.error, "properties: bus not connected (unix:path=" + path + "): Connection refused");
  EXPECT_TRUE(p.units.empty());
  EXPECT_LT(seconds_since(t0), 1.0);
  run_for(300ms);  // a few reconnect attempts (100 ms, 200 ms, ...)
  auto st = c->status();
  EXPECT_FALSE(st.connected);
  EXPECT_EQ(st.connects, 0u);
  EXPECT_EQ(st.disconnects, 0u);
  EXPECT_EQ(st.calls_failed, 2u);
  EXPECT_THAT(st.last_error, HasSubstr("Connection refused"));

  auto nofile = options();
  nofile.address = "unix:path=" + dir + "/none.sock";
  auto d = client(nofile);
  EXPECT_THAT(start(*d, "probe@nolisten.service").error,
              HasSubstr("bus not connected (unix:path=" + dir + "/none.sock): No such file"));
  std::filesystem::remove_all(dir);
}

// sd-bus is driven from the io_context this test runs: the client starts no thread, connected,
// calling, waiting for a job or reconnecting.
TEST_F(SystemdClientTest, NoThreadOfItsOwn) {
  auto threads = [] {
    size_t n = 0;
    for ([[maybe_unused]] const auto& t : std::filesystem::directory_iterator("/proc/self/task"))
      ++n;
    return n;
  };
  size_t before = threads();
  auto c = client(options());
  ASSERT_TRUE(run_until([&] { return c->status().connected; }, 5s));
  auto pending = begin(*c, &SystemdClient::start_unit, "slow@nothread.service");
  run_for(200ms);
  EXPECT_EQ(threads(), before) << "while a job is awaited";
  EXPECT_TRUE(stop(*c, "slow@nothread.service").ok);
  EXPECT_EQ(await(pending, "slow@nothread.service").job_result, "canceled");
  EXPECT_EQ(threads(), before);
}

TEST_F(SystemdClientTest, SystemBusIsTheOneDbusSystemBusAddressNames) {
  ASSERT_EQ(::setenv("DBUS_SYSTEM_BUS_ADDRESS", bus_.c_str(), 1), 0);  // no other thread runs
  auto o = options();
  o.address = "";
  auto c = client(o);
  EXPECT_TRUE(run_until([&] { return c->status().connected; }, 5s)) << c->status().last_error;
  EXPECT_EQ(props(*c, "probe@sysbus.service").load_state, "loaded");
  c.reset();
  ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
}

TEST_F(SystemdClientTest, QueueFullCompletesAtOnce) {
  auto o = options();
  o.max_queue = 2;
  auto c = client(o);
  ASSERT_TRUE(run_until([&] { return c->status().connected; }, 5s));
  auto first = begin(*c, &SystemdClient::start_unit, "slow@queue1.service");
  auto second = begin(*c, &SystemdClient::start_unit, "slow@queue2.service");
  auto t0 = Steady::now();
  auto third = await(begin(*c, &SystemdClient::restart_unit, "probe@queue3.service"), "queue3", 1s);
  EXPECT_LT(seconds_since(t0), 0.5);
  EXPECT_FALSE(third.ok);
  EXPECT_EQ(third.error, "restart probe@queue3.service: queue full (2 requests pending)");
  auto p = properties(*c, {"probe@queue3.service"});
  EXPECT_EQ(p.error, "properties: queue full (2 requests pending)");
  EXPECT_FALSE(first->result.has_value());
  EXPECT_FALSE(second->result.has_value());

  // Another client stops them: the pending start jobs end "canceled".
  auto other = client(options());
  EXPECT_TRUE(stop(*other, "slow@queue1.service").ok);
  EXPECT_TRUE(stop(*other, "slow@queue2.service").ok);
  for (const auto& pending : {first, second}) {
    auto r = await(pending, "slow@queueN", 5s);
    EXPECT_FALSE(r.ok);
    EXPECT_EQ(r.job_result, "canceled");
    EXPECT_THAT(r.error, HasSubstr("ended with result \"canceled\""));
  }
  auto never = props(*c, "probe@queue3.service");  // accepted again
  EXPECT_EQ(never.exec_main_start_usec, 0u) << "a refused restart reached systemd";
}

TEST_F(SystemdClientTest, DestructorWithCallsInFlightReturnsPromptlyAndDropsTheirCompletions) {
  auto o = options();
  o.allowed = [](const std::string& u) { return u != "probe@dtor-refused.service"; };
  auto c = client(o);
  ASSERT_TRUE(run_until([&] { return c->status().connected; }, 5s));
  auto one = begin(*c, &SystemdClient::start_unit, "slow@dtor1.service");
  auto two = begin(*c, &SystemdClient::restart_unit, "slow@dtor2.service");
  run_for(300ms);  // sent, replied, the jobs are running
  auto props_pending = begin_properties(*c, {"slow@dtor1.service"});
  auto refused = begin(*c, &SystemdClient::start_unit, "probe@dtor-refused.service");  // posted
  auto t0 = Steady::now();
  c.reset();
  EXPECT_LT(seconds_since(t0), 1.0);
  run_for(500ms);
  EXPECT_EQ(one->calls, 0);
  EXPECT_EQ(two->calls, 0);
  EXPECT_EQ(props_pending->calls, 0);
  EXPECT_EQ(refused->calls, 0) << "a completion posted before the destructor ran after it";

  auto other = client(options());
  auto p = props(*other, "slow@dtor1.service");
  EXPECT_EQ(p.active_state, "activating") << "its job is left to systemd";
  EXPECT_TRUE(stop(*other, "slow@dtor1.service").ok);
  EXPECT_TRUE(stop(*other, "slow@dtor2.service").ok);
}

// Last: it restarts the private bus under the other tests' feet.
TEST_F(SystemdClientTest, BusLossFailsInFlightCallsThenReconnects) {
  auto c = client(options());
  ASSERT_TRUE(run_until([&] { return c->status().connected; }, 5s));
  EXPECT_EQ(c->status().connects, 1u);
  auto inflight = begin(*c, &SystemdClient::start_unit, "slow@busloss.service");
  run_for(300ms);  // the job is running

  ASSERT_EQ(harness_exec("systemctl stop dbus.socket dbus.service"), 0);
  auto lost = await(inflight, "slow@busloss.service", 5s);
  EXPECT_FALSE(lost.ok);
  EXPECT_EQ(lost.job_result, "");
  EXPECT_THAT(lost.error, StartsWith("start slow@busloss.service: bus connection lost (" + bus_));
  EXPECT_THAT(lost.error, HasSubstr("while waiting for job /org/freedesktop/systemd1/job/"));
  EXPECT_TRUE(run_until([&] { return !c->status().connected; }, 2s));
  EXPECT_EQ(c->status().disconnects, 1u);
  run_for(400ms);  // reconnect attempts at +100 ms, +200 ms: refused, nobody listens now
  auto down = restart(*c, "probe@busloss.service");
  EXPECT_FALSE(down.ok);
  EXPECT_EQ(down.error,
            "restart probe@busloss.service: bus not connected (" + bus_ + "): Connection refused");
  EXPECT_EQ(c->status().connects, 1u);

  ASSERT_EQ(harness_exec("systemctl start dbus.socket dbus.service"), 0);
  EXPECT_TRUE(run_until([&] { return c->status().connects >= 2; }, 15s))
      << "no reconnect; last error: " << c->status().last_error;
  EXPECT_TRUE(c->status().connected);
  auto up = restart(*c, "probe@busloss.service");
  EXPECT_TRUE(up.ok) << up.error;
  EXPECT_EQ(up.job_result, "done");
  EXPECT_EQ(props(*c, "probe@busloss.service").active_state, "active");
  EXPECT_TRUE(stop(*c, "slow@busloss.service").ok);
  EXPECT_TRUE(stop(*c, "probe@busloss.service").ok);
}

}  // namespace
}  // namespace mobasher::actions
