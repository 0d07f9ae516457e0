#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite: first the cheap checks (the
# layers of the source folders, functions over 60 lines without a reason, the format); then the
# integration tests in a normal (optimised) build, while an AddressSanitizer +
# UndefinedBehaviorSanitizer tree and the benchmarks compile at idle priority; then, in the
# sanitizer tree, the unit tests and the integration tests labelled "asan"
# (tests/integration/CMakeLists.txt). The benchmarks are compiled so that they cannot rot
# (bench/run.sh runs them). Each phase prints its time.
# Must run as root: the integration tests make real cgroups and processes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $EUID -ne 0 ]]; then
  echo "test.sh: must run as root (integration tests create real cgroups): sudo $0" >&2
  exit 1
fi
jobs=$(nproc)
start=$SECONDS

configure() {  # BUILD_DIR CMAKE_ARGS...: with Ninja; a tree made by another generator is made anew
  local dir=$1; shift
  if [[ -f $dir/CMakeCache.txt ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' "$dir/CMakeCache.txt"; then
    echo "test.sh: $dir was configured with another generator; configuring it anew with Ninja"
    rm -rf "$dir"
  fi
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
}

phase_start=$SECONDS
phase() {  # NAME: ends the previous phase (its time printed), starts the next
  if [[ -n ${phase_name:-} ]]; then echo "=== $phase_name took $((SECONDS - phase_start))s ==="; fi
  phase_name=$1 phase_start=$SECONDS
  [[ -n $phase_name ]] && echo "=== $phase_name ==="
  return 0
}

phase "install"
scripts/install-deps.sh --test
phase "layer and function-length checks"
scripts/check-layers.sh
scripts/check-function-length.sh
phase "format check"
sources() { find agent collectors exporters tests bench \( -name '*.cpp' -o -name '*.hpp' \) -print0; }
unformatted=$(sources | xargs -0 clang-format --dry-run 2>&1 | grep -c 'warning:' || true)
if [[ $unformatted -ne 0 ]]; then
  sources | xargs -0 clang-format --dry-run 2>&1 | grep 'warning:' | cut -d: -f1 | sort | uniq -c
  echo "format check: $unformatted clang-format warnings (fix: clang-format -i on the files above)"
  exit 1
fi
# -g1: line tables only, enough for a sanitizer's stack trace; full debug info doubles the time
# of every compile. Each tree builds only what its tests run (docs/TESTING.md "CI time").
# What each tree's tests run: the systemd client tests run in the sanitizer tree only (label
# asan), the churn test's forker in the normal tree only.
agents="mobasher-agent mobasher-leaker mobasher-forker"
asan_agents="mobasher-agent mobasher-leaker mobasher-systemd-tests"
# ccache: the Debian package's tree compiles the normal tree's objects again with the same flags
# (only its prefix differs); with paths taken relative to the checkout they are cache hits.
# The cache lives in the checkout (build-ccache/): a clean clone, as CI's, starts cold; a second
# run in the same checkout starts warm.
export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1 CCACHE_DIR=${CCACHE_DIR:-$PWD/build-ccache}
launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
asan_env=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
phase "normal build"
configure build -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DMOBASHER_TESTS=ON -DMOBASHER_BENCH=ON
# shellcheck disable=SC2086 # the target list is split on purpose
cmake --build build -j"$jobs" --target $agents

# The integration tests mostly wait (leakers grow, units restart, timers fire), so the sanitizer
# tree and the benchmarks compile meanwhile, at idle CPU priority and the lowest best-effort I/O
# priority: a test's processes always come first. (Under the idle I/O class the sanitizer tree
# took 787-834 s while a quarter of the CPU stayed idle: its writes waited behind the tests'
# fsyncs.) The build is its own session so that a failing test can stop all of it.
bg_log=build/background-build.log
bg_build() {
  local t0=$SECONDS
  configure build-asan -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g1" \
    -DMOBASHER_SANITIZE=ON -DMOBASHER_TESTS=ON -DMOBASHER_BENCH=OFF
  # shellcheck disable=SC2086
  cmake --build build-asan -j"$jobs" --target mobasher-unit-tests mobasher-fuzz-replays $asan_agents
  echo "=== ASan + UBSan build took $((SECONDS - t0))s (in the background) ==="
  t0=$SECONDS
  cmake --build build -j"$jobs" --target mobasher-benchmarks
  echo "=== benchmarks build (compiled, not run: bench/run.sh runs them) took $((SECONDS - t0))s (in the background) ==="
  t0=$SECONDS
  local deb
  deb=$(scripts/package.sh build-deb | tail -n 1)
  echo "$deb" >build-deb/package-path
  echo "=== Debian package (scripts/package.sh) took $((SECONDS - t0))s (in the background) ==="
}
export -f bg_build configure
export agents asan_agents jobs
setsid chrt --idle 0 ionice -c 2 -n 7 nice -n 19 bash -c 'set -euo pipefail; bg_build' >"$bg_log" 2>&1 &
bg_pid=$!
stop_bg() { kill -- -"$bg_pid" 2>/dev/null || true; }
trap stop_bg EXIT

phase "integration tests (normal build; the ASan tree and the benchmarks compile meanwhile)"
# Tests labelled asan run in the sanitizer tree only: the same script, under stricter checks.
ctest --test-dir build -L integration -LE asan --output-on-failure --timeout 600 --no-tests=error
phase "waiting for the background build"
if ! wait "$bg_pid"; then
  tail -n 60 "$bg_log"
  echo "test.sh: the background build failed (whole log: $bg_log)"
  exit 1
fi
trap - EXIT
grep '^===' "$bg_log"
phase "the Debian package, unpacked and run (tests/integration/deploy_package_test.sh)"
bash tests/integration/deploy_package_test.sh "$(cat build-deb/package-path)"
phase "ASan + UBSan unit tests + asan integration tests"
# The GoogleTest binary runs once, as one process: through ctest it would start once per test
# (under ASan about a second each). Its tests are the ones named with a capital letter
# (Suite.Name); ctest runs the rest: integration tests RUN_SERIAL (real cgroups, real systemd).
env "${asan_env[@]}" build-asan/tests/mobasher-unit-tests --gtest_brief=1
env "${asan_env[@]}" ctest --test-dir build-asan -j"$jobs" -L 'unit|asan' -E '^[A-Z]' \
  --output-on-failure --timeout 600 --no-tests=error
phase ""
echo "all suites passed in $((SECONDS - start))s"
