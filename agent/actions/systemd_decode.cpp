#include "agent/actions/systemd_decode.hpp"

#include <systemd/sd-bus.h>

#include <cerrno>
#include <string_view>

namespace mobasher::actions {

namespace {

template <class T>
void take(const PropertyValue& v, T& out) {
  if (const T* x = std::get_if<T>(&v)) out = *x;
}

void take(const PropertyValue& v, std::optional<uint64_t>& out) {
  const uint64_t* x = std::get_if<uint64_t>(&v);
  out = x && *x != UINT64_MAX ? std::optional<uint64_t>(*x) : std::nullopt;
}

// One variant's value; a type the agent does not read is skipped as monostate.
int read_value(sd_bus_message* m, PropertyValue& out) {
  char type = 0;
  const char* contents = nullptr;
  int r = sd_bus_message_peek_type(m, &type, &contents);
  if (r < 0) return r;
  if (r == 0 || type != SD_BUS_TYPE_VARIANT || !contents) return -EBADMSG;
  std::string_view sig = contents;
  if (sig == "s" || sig == "o") {
    const char* s = nullptr;
    r = sd_bus_message_read(m, "v", contents, &s);
    if (r >= 0) out = std::string(s);
  } else if (sig == "u") {
    uint32_t u = 0;
    r = sd_bus_message_read(m, "v", "u", &u);
    if (r >= 0) out = u;
  } else if (sig == "t") {
    uint64_t t = 0;
    r = sd_bus_message_read(m, "v", "t", &t);
    if (r >= 0) out = t;
  } else {
    r = sd_bus_message_skip(m, "v");
    out = std::monostate{};
  }
  return r;
}

}  // namespace

void apply_properties(const PropertyList& values, UnitProperties& p) {
  for (const auto& property : values) {
    const auto& name = property.first;  // not a structured binding: clang 14 (the fuzz build)
    const auto& v = property.second;    // cannot capture one in the lambda below
    auto field = [&](std::string_view known, auto& out) {
      if (name == known) take(v, out);
    };
    field("LoadState", p.load_state);
    field("ActiveState", p.active_state);
    field("SubState", p.sub_state);
    field("Result", p.result);
    field("MainPID", p.main_pid);
    field("NRestarts", p.n_restarts);
    field("ExecMainStartTimestamp", p.exec_main_start_usec);
    field("MemoryMax", p.memory_max);
    field("MemoryCurrent", p.memory_current);
    field("TimeoutStartUSec", p.timeout_start_usec);
    field("TimeoutStopUSec", p.timeout_stop_usec);
  }
}

std::string bus_error_text(const char* name, const char* message) {
  std::string text = name ? name : "unknown error";
  return message ? text + ": " + message : text;
}

std::string method_error_text(sd_bus_message* m) {
  if (!m || !sd_bus_message_is_method_error(m, nullptr)) return "";
  const sd_bus_error* e = sd_bus_message_get_error(m);
  return bus_error_text(e ? e->name : nullptr, e ? e->message : nullptr);
}

int read_property_list(sd_bus_message* m, PropertyList& out) {
  out.clear();
  int r = sd_bus_message_enter_container(m, SD_BUS_TYPE_ARRAY, "{sv}");
  if (r < 0) return r;
  if (r == 0) return -EBADMSG;
  while ((r = sd_bus_message_enter_container(m, SD_BUS_TYPE_DICT_ENTRY, "sv")) > 0) {
    const char* name = nullptr;
    if ((r = sd_bus_message_read_basic(m, SD_BUS_TYPE_STRING, &name)) < 0) return r;
    PropertyValue v;
    if ((r = read_value(m, v)) < 0) return r;
    out.emplace_back(name, std::move(v));
    if ((r = sd_bus_message_exit_container(m)) < 0) return r;
  }
  if (r < 0) return r;
  return sd_bus_message_exit_container(m);
}

int read_job_path(sd_bus_message* m, std::string& job) {
  const char* path = nullptr;
  int r = sd_bus_message_read(m, "o", &path);
  if (r < 0) return r;
  if (r == 0 || !path) return -EBADMSG;
  job = path;
  return 0;
}

std::optional<JobRemoved> read_job_removed(sd_bus_message* m) {
  JobRemoved j;
  const char *job = nullptr, *unit = nullptr, *result = nullptr;
  if (sd_bus_message_read(m, "uoss", &j.id, &job, &unit, &result) <= 0) return std::nullopt;
  j.job = job;
  j.unit = unit;
  j.result = result;
  return j;
}

}  // namespace mobasher::actions
