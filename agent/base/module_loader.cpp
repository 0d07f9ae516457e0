#include "agent/base/module_loader.hpp"

#include <dlfcn.h>
#include <unistd.h>

namespace mobasher {
namespace {

// The executable's directory (/proc/self/exe).
std::string exe_dir() {
  char path[4096];
  ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return ".";
  std::string p(path, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

}  // namespace

void* load_module_entry(const std::string& module, const char* entry, std::string& error) {
  std::string dir = exe_dir(), tried;
  for (const std::string& candidate :
       {dir + "/" + module, dir + "/../" + module, dir + "/../lib/mobasher-agent/" + module}) {
    if (::access(candidate.c_str(), R_OK) != 0) {
      tried += (tried.empty() ? "" : ", ") + candidate;
      continue;
    }
    void* handle = ::dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    void* symbol = handle ? ::dlsym(handle, entry) : nullptr;
    if (!symbol) {
      const char* why = ::dlerror();
      error = candidate + ": " + (why ? why : "no entry point");
      return nullptr;
    }
    return symbol;
  }
  error = module + " (the package installs it in /usr/lib/mobasher-agent); not found at " + tried;
  return nullptr;
}

}  // namespace mobasher
