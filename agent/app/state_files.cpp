#include "agent/app/state_files.hpp"

#include <spdlog/spdlog.h>

#include <fstream>

#include "agent/base/atomic_file.hpp"

namespace mobasher {

bool StateFile::load_json(const std::filesystem::path& dir,
                          const std::function<void(const nlohmann::json&)>& apply) {
  auto path = dir / name_;
  std::ifstream in(path);
  if (!in) return true;  // first start
  try {
    apply(nlohmann::json::parse(in));
    spdlog::info("state loaded file={}", path.string());
    return true;
  } catch (const std::exception& e) {
    auto aside = path.string() + ".corrupt";
    std::error_code ec;
    std::filesystem::rename(path, aside, ec);
    spdlog::error("state file unreadable file={} error=\"{}\" kept_as={}", path.string(), e.what(),
                  aside);
    return false;
  }
}

bool StateFile::write(const std::filesystem::path& dir, const nlohmann::json& j) {
  std::string err;
  if (write_file_atomic(dir / name_,
                        j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n",
                        err)) {
    last_error_.clear();
    return true;
  }
  if (err != last_error_) spdlog::warn("state not saved error=\"{}\"", err);  // once per cause
  last_error_ = err;
  return false;
}

}  // namespace mobasher
