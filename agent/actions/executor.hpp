// Carries the policy's decisions out on the daemon's io_context: RestartUnit, or the overlap
// hand-over (start the idle slot, wait until it is active and its output grows, keep both for
// `overlap`, stop the old one). Waits are asio timers and D-Bus completions, never sleeps.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/actions/systemd_client.hpp"
#include "agent/state/policy.hpp"

namespace mobasher::actions {

// What the executor needs of systemd; SystemdClient in the daemon, a script in unit tests.
struct UnitOps {
  std::function<void(const std::string&, std::function<void(CallResult)>)> restart, start, stop;
  std::function<void(std::vector<std::string>, std::function<void(PropertiesResult)>)> properties;
};
UnitOps unit_ops(SystemdClient& client);

struct ExecutorSettings {
  std::chrono::milliseconds overlap{30'000}, start_timeout{60'000}, poll{1'000};
  // The new slot's output file ("{unit}", "{instance}" replaced); empty: not checked.
  std::string output;
};

// The end of one action, reported once.
struct ActionReport {
  Decision decision;
  bool ok = false;
  std::string result;  // "done", or what failed: "failed", "timeout", "not_active", "no_output"
  std::string error;   // empty when ok; complete, naming the unit
  double seconds = 0;  // from the start of the action to its end
  // hand-over: how long both slots ran; -1 when the old one was never stopped
  double overlap_seconds = -1;
};

// "/srv/rec/{instance}.ts" for archiver@ch1:b.service -> "/srv/rec/ch1:b.ts".
std::string output_path(const std::string& pattern, const std::string& unit);

class Executor {
 public:
  using Report = std::function<void(const ActionReport&)>;
  using FileSize = std::function<std::optional<uint64_t>(const std::string&)>;
  Executor(boost::asio::io_context& io, UnitOps ops, ExecutorSettings s, Report report,
           FileSize file_size = nullptr);
  ~Executor();  // outstanding actions are abandoned: nothing is reported after it
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  void set_settings(ExecutorSettings s) { s_ = std::move(s); }
  void execute(const Decision& d);  // not for dry-run decisions
  size_t active() const { return actions_.size(); }

 private:
  struct Action;
  void finish(uint64_t id, bool ok, std::string result, std::string error);
  void poll_active(uint64_t id);
  void overlap_done(uint64_t id);
  Action* find(uint64_t id);
  template <typename F>
  auto on(uint64_t id, F f);

  boost::asio::io_context& io_;
  UnitOps ops_;
  ExecutorSettings s_;
  Report report_;
  FileSize file_size_;
  std::map<uint64_t, std::unique_ptr<Action>> actions_;
  uint64_t next_id_ = 1;
  // Completions hold a weak reference: after the destructor they find nothing and do nothing.
  std::shared_ptr<Executor*> self_;
};

}  // namespace mobasher::actions
