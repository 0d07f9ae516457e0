// The agent's log: spdlog to stderr (journald adds its own timestamp and unit), one line per
// event. Messages are written as `event key=value key="a value"`; --log.format picks how a line
// leaves: logfmt (`2026-12-06T10:00:00.000Z level=info started version=...`) or json
// ({"ts":"...","level":"info","msg":"started","version":"..."}), the two formats of Prometheus'
// exporters.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "agent/app/cli.hpp"

namespace mobasher {

void setup_logging(const std::string& level, LogFormat format);

// `started version=1 config="/etc/x y.json"` -> {"msg":"started","version":"1","config":"/etc/x
// y.json"}. Words before the first key=value make msg; text that is not key=value after that
// is kept in msg too, so nothing a line says is lost.
nlohmann::json logfmt_fields(std::string_view message);

}  // namespace mobasher
