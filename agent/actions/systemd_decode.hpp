// systemd's D-Bus answers as plain values, with no connection and no state: a GetAll `a{sv}` as a
// list of typed values, that list as UnitProperties, the job path of a unit verb's reply, the
// JobRemoved signal, and the text of a D-Bus error.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "agent/actions/systemd_types.hpp"

struct sd_bus_message;

namespace mobasher::actions {

// A property's value as far as the agent reads it: a string (D-Bus s, o), a u, a t; monostate
// for any other type (booleans, signed integers, arrays, ...), which no property it reads has.
using PropertyValue = std::variant<std::monostate, std::string, uint32_t, uint64_t>;
using PropertyList = std::vector<std::pair<std::string, PropertyValue>>;  // in the answer's order

// The properties of `values` the agent knows, into `p`. One of another type than systemd's
// (a MainPID as t, a MemoryMax as s) is skipped: its field keeps what it had, an optional one
// becomes nullopt. UINT64_MAX (infinity, not accounted) is nullopt. Unknown names are ignored.
void apply_properties(const PropertyList& values, UnitProperties& p);

// A D-Bus error's name and message as one text: "org.freedesktop.systemd1.NoSuchUnit: Unit
// a.service not found."; the name alone without a message; "unknown error" without a name.
std::string bus_error_text(const char* name, const char* message);
// The error of a method error reply as bus_error_text(); "" for any other message.
std::string method_error_text(sd_bus_message* m);

// Readers of a sealed message from its current position; a negative errno when it is not what
// systemd sends (wrong signature, truncated).
// GetAll's body `a{sv}`, replacing `out`.
int read_property_list(sd_bus_message* m, PropertyList& out);
// StartUnit / StopUnit / RestartUnit's reply body `o`: the job's object path.
int read_job_path(sd_bus_message* m, std::string& job);

// Manager.JobRemoved(u id, o job, s unit, s result).
struct JobRemoved {
  uint32_t id = 0;
  std::string job, unit, result;
};
std::optional<JobRemoved> read_job_removed(sd_bus_message* m);

}  // namespace mobasher::actions
