#include "agent/base/snapshot.hpp"

namespace mobasher {

const char* to_string(RestartCause c) {
  switch (c) {
    case RestartCause::oom:
      return "oom";
    case RestartCause::memory:
      return "memory";
    case RestartCause::age:
      return "age";
    case RestartCause::predicted:
      return "predicted";
    case RestartCause::node_memory:
      return "node_memory";
    case RestartCause::systemd:
      return "systemd";
    case RestartCause::external:
      return "external";
  }
  return "external";
}

const char* to_string(AlertPhase p) {
  switch (p) {
    case AlertPhase::inactive:
      return "inactive";
    case AlertPhase::pending:
      return "pending";
    case AlertPhase::firing:
      return "firing";
  }
  return "inactive";
}

const char* to_string(UnitEvent::Kind k) {
  switch (k) {
    case UnitEvent::Kind::appeared:
      return "appeared";
    case UnitEvent::Kind::vanished:
      return "vanished";
    case UnitEvent::Kind::restart:
      return "restart";
    case UnitEvent::Kind::oom_kill:
      return "oom_kill";
  }
  return "appeared";
}

AlertPhase phase_of(const AlertPhases& phases, std::string_view alert) {
  for (const auto& [name, phase] : phases)
    if (name == alert) return phase;
  return AlertPhase::inactive;
}

uint64_t UnitSample::rss() const {
  uint64_t sum = 0;
  for (const auto& p : processes) sum += p.rss();
  return sum;
}

uint64_t UnitSample::swap() const {
  uint64_t sum = 0;
  for (const auto& p : processes) sum += p.swap;
  return sum;
}

const ProcessSample* UnitSample::main_process() const {
  const ProcessSample* best = nullptr;
  for (const auto& p : processes)
    if (p.main && (!best || p.id.start_time < best->id.start_time)) best = &p;
  return best;
}

}  // namespace mobasher
