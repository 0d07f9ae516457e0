#!/usr/bin/env bash
# Installs what is needed, builds, and runs the whole test suite: first the cheap checks (the
# layers of the source folders, the format); then unit and integration tests in a normal build;
# then, in an AddressSanitizer + UndefinedBehaviorSanitizer build, the unit tests and the
# integration tests labelled "asan" (tests/integration/CMakeLists.txt). Each phase prints its time.
# Must run as root: the integration tests make real cgroups and processes.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $EUID -ne 0 ]]; then
  echo "test.sh: must run as root (integration tests create real cgroups): sudo $0" >&2
  exit 1
fi
jobs=$(nproc)
start=$SECONDS

run_suite() {  # BUILD_DIR LABEL_REGEX CMAKE_ARGS...
  local dir=$1 labels=$2; shift 2
  cmake -S . -B "$dir" "$@" >/dev/null
  cmake --build "$dir" -j"$jobs"
  # Unit tests run in parallel; integration tests are RUN_SERIAL (real cgroups, real systemd).
  ctest --test-dir "$dir" -j"$jobs" -L "$labels" --output-on-failure --timeout 600 --no-tests=error
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
phase "normal build"
run_suite build 'unit|integration' -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOBASHER_TESTS=ON -DMOBASHER_BENCH=ON
phase "ASan + UBSan build"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan 'unit|asan' -DCMAKE_BUILD_TYPE=Debug -DMOBASHER_SANITIZE=ON -DMOBASHER_TESTS=ON -DMOBASHER_BENCH=OFF
phase ""
echo "all suites passed in $((SECONDS - start))s"
