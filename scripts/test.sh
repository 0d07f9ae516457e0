#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite: first the cheap checks (the
# layers of the source folders, the format); then the integration tests in a normal (optimised)
# build; then, in an AddressSanitizer + UndefinedBehaviorSanitizer build, the unit tests and the
# integration tests labelled "asan" (tests/integration/CMakeLists.txt); last, the benchmarks are
# compiled so that they cannot rot. Each phase prints its time.
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

run_suite() {  # BUILD_DIR LABEL_REGEX "TARGETS" CMAKE_ARGS...
  local dir=$1 labels=$2 targets=$3; shift 3
  configure "$dir" "$@"
  # shellcheck disable=SC2086 # the target list is split on purpose
  cmake --build "$dir" -j"$jobs" --target $targets
  # The GoogleTest binary runs once, as one process: through ctest it would start once per test
  # (under ASan about a second each). Its tests are the ones named with a capital letter
  # (Suite.Name); ctest runs the rest: integration tests RUN_SERIAL (real cgroups, real systemd).
  if [[ $targets == *mobasher-unit-tests* ]]; then
    "$dir/tests/mobasher-unit-tests" --gtest_brief=1
  fi
  ctest --test-dir "$dir" -j"$jobs" -L "$labels" -E '^[A-Z]' --output-on-failure --timeout 600 \
    --no-tests=error
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
phase "layer check"
scripts/check-layers.sh
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
agents="mobasher-agent mobasher-leaker mobasher-systemd-tests"
phase "normal build + integration tests"
run_suite build 'integration' "$agents" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DMOBASHER_TESTS=ON -DMOBASHER_BENCH=OFF
phase "ASan + UBSan build + unit tests + asan integration tests"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan 'unit|asan' "mobasher-unit-tests $agents" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-g1" -DMOBASHER_SANITIZE=ON -DMOBASHER_TESTS=ON -DMOBASHER_BENCH=OFF
phase "benchmarks build (compiled, not run: bench/run.sh runs them)"
configure build -DMOBASHER_BENCH=ON
cmake --build build -j"$jobs" --target mobasher-benchmarks
phase ""
echo "all suites passed in $((SECONDS - start))s"
