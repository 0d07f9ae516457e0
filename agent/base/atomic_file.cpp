#include "agent/base/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mobasher {

bool write_file_atomic(const std::filesystem::path& path, const std::string& data,
                       std::string& err) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  std::string tmp = path.string() + ".tmp";
  errno = 0;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    err = tmp + ": " + std::strerror(errno);
    return false;
  }
  // A short write (a nearly full disk) leaves errno untouched: retry the rest, which reports it.
  size_t done = 0;
  bool ok = true;
  while (ok && done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n > 0)
      done += static_cast<size_t>(n);
    else if (n == 0 || errno != EINTR)
      ok = false;
  }
  if (ok && ::fsync(fd) != 0) ok = false;
  if (!ok) err = tmp + ": " + (errno ? std::strerror(errno) : "short write");
  ::close(fd);
  if (!ok) ::unlink(tmp.c_str());  // nothing half-written stays behind
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    err = path.string() + ": " + std::strerror(errno);
    ok = false;
  }
  if (ok) {  // the rename itself must survive a power loss, or the old counters come back
    int dir = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }
  return ok;
}

}  // namespace mobasher
