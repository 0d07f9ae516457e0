// The state files under STATE_DIR that carry the tracker's, the alerts' and the policy's state
// across agent restarts (units.json, alerts.json, actions.json). A file is written only when its
// state changed, atomically; an unreadable one is kept aside as FILE.corrupt, never overwritten.
#pragma once

#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

namespace mobasher {

class StateFile {
 public:
  explicit StateFile(std::string name) : name_(std::move(name)) {}

  // Reads DIR/NAME into state (State::load_json). Returns false when it was unreadable (it is
  // then moved to NAME.corrupt and logged); a missing file is a first start and true.
  template <typename State>
  bool load(State& state, const std::filesystem::path& dir) {
    return load_json(dir, [&](const nlohmann::json& j) { state.load_json(j); });
  }
  // Writes state if dirty(); false when the write failed (logged once per cause).
  template <typename State>
  bool save(State& state, const std::filesystem::path& dir) {
    if (!state.dirty()) return true;
    if (!write(dir, state.to_json())) return false;
    state.mark_saved();
    return true;
  }

 private:
  bool load_json(const std::filesystem::path& dir,
                 const std::function<void(const nlohmann::json&)>& apply);
  bool write(const std::filesystem::path& dir, const nlohmann::json& j);

  std::string name_, last_error_;
};

}  // namespace mobasher
