#include "agent/actions/executor.hpp"

#include <sys/stat.h>

namespace mobasher::actions {

namespace {

using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

void replace_all(std::string& s, std::string_view what, std::string_view with) {
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size()))
    s.replace(at, what.size(), with);
}

std::optional<uint64_t> stat_size(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace

UnitOps unit_ops(SystemdClient& c) {
  return {[&c](const std::string& u, auto done) { c.restart_unit(u, std::move(done)); },
          [&c](const std::string& u, auto done) { c.start_unit(u, std::move(done)); },
          [&c](const std::string& u, auto done) { c.stop_unit(u, std::move(done)); },
          [&c](std::vector<std::string> units, auto done) {
            c.get_properties(std::move(units), std::move(done));
          }};
}

std::string output_path(const std::string& pattern, const std::string& unit) {
  std::string instance = unit;
  if (auto at = unit.find('@'), dot = unit.rfind('.');
      at != std::string::npos && dot != std::string::npos && dot > at)
    instance = unit.substr(at + 1, dot - at - 1);
  std::string out = pattern;
  replace_all(out, "{unit}", unit);
  replace_all(out, "{instance}", instance);
  return out;
}

struct Executor::Action {
  Action(boost::asio::io_context& io, Decision dec) : d(std::move(dec)), timer(io) {}
  Decision d;
  Clock::time_point started = Clock::now(), overlap_from{};
  boost::asio::steady_timer timer;
  std::optional<uint64_t> output_at_overlap;
  std::string output;  // the new slot's output file, resolved
};

Executor::Executor(boost::asio::io_context& io, UnitOps ops, ExecutorSettings s, Report report,
                   FileSize file_size)
    : io_(io),
      ops_(std::move(ops)),
      s_(std::move(s)),
      report_(std::move(report)),
      file_size_(file_size ? std::move(file_size) : FileSize(stat_size)),
      self_(std::make_shared<Executor*>(this)) {}

Executor::~Executor() {
  self_.reset();  // completions still queued find no executor
  for (auto& [id, a] : actions_) a->timer.cancel();
}

Executor::Action* Executor::find(uint64_t id) {
  auto it = actions_.find(id);
  return it == actions_.end() ? nullptr : it->second.get();
}

// A completion that runs only while the executor lives and the action is still open:
// f(executor, action, result).
template <typename F>
auto Executor::on(uint64_t id, F f) {
  return [w = std::weak_ptr<Executor*>(self_), id, f = std::move(f)](const auto& result) {
    auto self = w.lock();
    if (!self) return;
    if (Action* a = (*self)->find(id)) f(**self, *a, result);
  };
}

void Executor::execute(const Decision& d) {
  uint64_t id = next_id_++;
  auto& a = actions_[id] = std::make_unique<Action>(io_, d);
  if (d.action == ActionKind::restart || d.target.empty()) {
    ops_.restart(d.unit, on(id, [id](Executor& ex, Action&, const CallResult& r) {
                   ex.finish(id, r.ok,
                             r.ok                   ? "done"
                             : r.job_result.empty() ? "failed"
                                                    : r.job_result,
                             r.error);
                 }));
    return;
  }
  if (!s_.output.empty()) a->output = output_path(s_.output, d.target);
  ops_.start(d.target, on(id, [id](Executor& ex, Action&, const CallResult& r) {
               if (!r.ok)
                 ex.finish(id, false, r.job_result.empty() ? "failed" : r.job_result, r.error);
               else
                 ex.poll_active(id);
             }));
}

// Until the new slot is active (a start job can be "done" while a Type=simple unit is already
// on its way down), within start_timeout of the action's start.
void Executor::poll_active(uint64_t id) {
  Action& a = *find(id);
  ops_.properties(
      {a.d.target}, on(id, [id](Executor& ex, Action& act, const PropertiesResult& r) {
        std::string state = r.units.empty() ? "" : r.units[0].active_state;
        if (state == "active") {
          act.overlap_from = Clock::now();
          if (!act.output.empty()) act.output_at_overlap = ex.file_size_(act.output);
          act.timer.expires_after(ex.s_.overlap);
          act.timer.async_wait(
              ex.on(id, [id](Executor& e, Action&, const boost::system::error_code& ec) {
                if (!ec) e.overlap_done(id);
              }));
          return;
        }
        bool dead = state == "failed" || state == "inactive";
        if (dead || since(act.started) * 1000 >= static_cast<double>(ex.s_.start_timeout.count())) {
          ex.finish(id, false, dead ? "not_active" : "timeout",
                    act.d.target + " is " + (state.empty() ? "unknown" : state) +
                        (r.error.empty() ? "" : " (" + r.error + ")") + " " +
                        std::to_string(static_cast<int>(since(act.started))) +
                        " s after its start, not active");
          return;
        }
        act.timer.expires_after(ex.s_.poll);
        act.timer.async_wait(
            ex.on(id, [id](Executor& e, Action&, const boost::system::error_code& ec) {
              if (!ec) e.poll_active(id);
            }));
      }));
}

// The new slot must still run, and write, before the old one goes.
void Executor::overlap_done(uint64_t id) {
  Action& a = *find(id);
  ops_.properties(
      {a.d.target}, on(id, [id](Executor& ex, Action& act, const PropertiesResult& r) {
        std::string state = r.units.empty() ? "" : r.units[0].active_state;
        if (state != "active") {
          ex.finish(id, false, "not_active",
                    act.d.target + " stopped during the overlap (" +
                        (state.empty() ? r.error : state) + ")");
          return;
        }
        if (!act.output.empty()) {
          auto now = ex.file_size_(act.output);
          if (!now || *now <= act.output_at_overlap.value_or(0)) {  // missing then: from 0
            ex.finish(id, false, "no_output",
                      act.d.target + "'s output " + act.output +
                          (now ? " did not grow in the overlap (" + std::to_string(*now) + " bytes)"
                               : " does not exist"));
            return;
          }
        }
        ex.ops_.stop(act.d.unit, ex.on(id, [id](Executor& e, Action&, const CallResult& s) {
          e.finish(id, s.ok, s.ok ? "done" : "stop_failed",
                   s.ok ? "" : s.error + "; both slots run");
        }));
      }));
}

void Executor::finish(uint64_t id, bool ok, std::string result, std::string error) {
  auto it = actions_.find(id);
  if (it == actions_.end()) return;
  std::unique_ptr<Action> a = std::move(it->second);
  actions_.erase(it);
  a->timer.cancel();
  ActionReport rep;
  rep.decision = a->d;
  rep.ok = ok;
  rep.result = std::move(result);
  rep.seconds = since(a->started);
  if (a->d.action == ActionKind::handover && a->overlap_from != Clock::time_point{} && ok)
    rep.overlap_seconds = std::chrono::duration<double>(Clock::now() - a->overlap_from).count();
  if (!ok && a->d.action == ActionKind::handover && rep.result != "stop_failed") {
    // The new slot failed: the old one keeps recording; the half-started slot is stopped.
    rep.error = "hand-over " + a->d.unit + " -> " + a->d.target + ": " + error + "; " + a->d.unit +
                " keeps running";
    ops_.stop(a->d.target, [](const CallResult&) {});
  } else {
    rep.error = std::move(error);
  }
  report_(rep);
}

}  // namespace mobasher::actions
