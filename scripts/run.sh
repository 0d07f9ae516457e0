#!/usr/bin/env bash
# Installs what is needed, builds, and runs the agent in the foreground with its built-in default
# config (the Mobasher plan). Extra arguments go to the agent, e.g. --listen 127.0.0.1:9842.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOBASHER_TESTS=OFF -DMOBASHER_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target mobasher-agent
exec build/mobasher-agent run "$@"
