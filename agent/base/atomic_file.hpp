// Writes a file so that a crash or power loss leaves the old content or the new, never half.
#pragma once

#include <filesystem>
#include <string>

namespace mobasher {

// Writes path.tmp, fsyncs it, renames it over path and fsyncs the directory. Creates the parent
// directory. On failure returns false with err = "PATH: reason".
bool write_file_atomic(const std::filesystem::path& path, const std::string& data,
                       std::string& err);

}  // namespace mobasher
