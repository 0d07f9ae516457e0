// Optional parts built as modules (mobasher-webhook-tls.so, mobasher-server-tls.so) so that an
// agent which does not use them maps neither them nor what they link (OpenSSL: 1.7 MiB of RSS).
#pragma once

#include <string>

namespace mobasher {

// The entry point `entry` of `module`, looked for next to the executable (the build tree), one
// up (the tests' binaries in build/tests) and in ../lib/mobasher-agent (installed: /usr/bin and
// /usr/lib/mobasher-agent). nullptr with `error` naming what is missing. A module once loaded
// stays loaded: its code may still be on a stack or in a queue when its last user goes.
void* load_module_entry(const std::string& module, const char* entry, std::string& error);

}  // namespace mobasher
