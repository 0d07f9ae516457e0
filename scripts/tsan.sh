#!/usr/bin/env bash
# ThreadSanitizer (issue 15, point 6): builds the unit tests and the systemd client tests with
# -fsanitize=thread in build-tsan/ and runs them; any data race or lock-order report fails.
# Not a phase of scripts/test.sh: a third sanitizer tree would take CI past its 20 minutes on two
# cores (docs/RELIABILITY.md has the last run's figures). Needs root for the systemd client tests
# (a private systemd, tests/integration/sd_harness.sh).
#   scripts/tsan.sh [BUILD_DIR]        default build-tsan
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-tsan}
scripts/install-deps.sh --test
t0=$SECONDS
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" \
  -DMOBASHER_TSAN=ON -DMOBASHER_TESTS=ON -DMOBASHER_BENCH=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)" --target mobasher-unit-tests mobasher-systemd-tests mobasher-leaker
echo "=== ThreadSanitizer build took $((SECONDS - t0))s ==="
# halt_on_error: the first report fails the run; second_deadlock_stack: both stacks of a
# lock-order inversion.
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:history_size=4"
t0=$SECONDS
"$dir/tests/mobasher-unit-tests" --gtest_brief=1
echo "=== ThreadSanitizer unit tests took $((SECONDS - t0))s ==="
t0=$SECONDS
bash tests/integration/systemd_client_test.sh "$dir/tests/integration/mobasher-systemd-tests" "$dir/mobasher-leaker"
echo "=== ThreadSanitizer systemd client tests took $((SECONDS - t0))s ==="
echo "tsan: no ThreadSanitizer report"
