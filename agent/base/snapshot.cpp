#include "agent/base/snapshot.hpp"

namespace mobasher {

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
