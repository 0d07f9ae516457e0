#!/usr/bin/env bash
# libFuzzer (issue 15, point 3): builds the fuzz targets of tests/fuzz/ with clang, the whole tree
# instrumented (coverage, ASan, UBSan), and runs each for SECONDS (default 120) from its seed
# corpus (tests/fuzz/corpus/NAME, read only; what the fuzzer finds goes to OUT/corpus/NAME). A
# crash leaves OUT/crash-NAME-* and fails the run. Prints executions, coverage and crashes per
# target (the figures in docs/RELIABILITY.md). CI only replays the corpora (ctest fuzz.replay.*).
#   scripts/fuzz.sh [SECONDS] [TARGET...]      env: BUILD (default build-fuzz), OUT (default
#                                              /tmp/mobasher-fuzz)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-120}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(config proc_files cgroup_files text_values records web_config)
BUILD=${BUILD:-build-fuzz}
OUT=${OUT:-/tmp/mobasher-fuzz}
scripts/install-deps.sh --fuzz
t0=$SECONDS
CC=clang CXX=clang++ cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_CXX_FLAGS_DEBUG="-O1 -g1" -DMOBASHER_FUZZ=ON -DMOBASHER_TESTS=ON -DMOBASHER_BENCH=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]/#/mobasher-fuzz-}"
echo "=== fuzz build took $((SECONDS - t0))s ==="
mkdir -p "$OUT"
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$OUT/corpus/$t"
  log=$OUT/$t.log
  rc=0
  (cd "$OUT" && UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$OLDPWD/$BUILD/tests/fuzz/mobasher-fuzz-$t" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -max_len=65536 -artifact_prefix="$OUT/crash-$t-" -print_final_stats=1 \
    "$OUT/corpus/$t" "$OLDPWD/tests/fuzz/corpus/$t") >"$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  crashes=$(find "$OUT" -maxdepth 1 -name "crash-$t-*" | wc -l)
  printf 'fuzz %-13s %ss: %s executions, %s, corpus %s files, crashes %s, exit %s\n' "$t" "$seconds" \
    "${execs:-?}" "${cov:-cov: ?}" "$(find "$OUT/corpus/$t" -type f | wc -l)" "$crashes" "$rc"
  if ((rc != 0 || crashes != 0)); then
    failed=1
    grep -m 5 -E 'ERROR|SUMMARY|runtime error' "$log" || true
  fi
done
exit "$failed"
