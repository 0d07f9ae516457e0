#!/usr/bin/env bash
# bench/history_bench.sh BUILD_DIR - the history store over a long range, by hand (not in CI).
#
#   1. mobasher-history-corpus writes DAYS (30) days x UNITS (12) units of history ending now into
#      a temp state dir (the real HistoryWriter, default options, fake clock)
#   2. disk: files, bytes, bytes per unit per day (compressed, and uncompressed for comparison)
#   3. `mobasher-agent history --since 24h` as JSON, for one unit, and as a table: RUNS (5) runs
#      each, median wall time and max RSS (/usr/bin/time)
#   4. GET /api/v1/history?since=24h&step=5m from an agent started on that state dir on a free
#      loopback port: RUNS curls, median
#   4b. GET /api/v1/history?since=DAYSd (the whole corpus; bounded at 10 s) 3 times, and HEAD
#   5. where that time goes: the corpus benchmarks of history_bench (BM_HistoryGunzip, Read,
#      ReadParse, ReadAccept, Print, Api) on the same corpus, RUNS repetitions, medians
# Builds nothing (build BUILD_DIR first: docs/BENCHMARKS.md). Everything it starts it stops by
# PID, the temp dir goes on EXIT. Environment: DAYS, UNITS, RUNS, TMPDIR (where the corpus goes:
# put it on the disk the agent's state dir lives on).
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
DAYS=${DAYS:-30}
UNITS=${UNITS:-12}
RUNS=${RUNS:-5}
AGENT=$BUILD/mobasher-agent
CORPUS=$BUILD/bench/mobasher-history-corpus

die() { echo "history_bench.sh: $*" >&2; exit 1; }
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
for b in "$AGENT" "$CORPUS" "$BUILD/bench/history_bench"; do [[ -x $b ]] || die "missing $b (build first)"; done
for t in /usr/bin/time curl python3; do command -v $t >/dev/null || die "$t not installed"; done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/mobasher-history-bench.XXXXXX")
AGENT_PID=""
cleanup() {
  local rc=$?
  set +e
  if [[ -n $AGENT_PID ]] && kill -0 "$AGENT_PID" 2>/dev/null; then
    kill -TERM "$AGENT_PID"
    for ((i = 0; i < 50; i++)); do kill -0 "$AGENT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$AGENT_PID" 2>/dev/null
    wait "$AGENT_PID" 2>/dev/null
  fi
  rm -rf "$TMP"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

median() { python3 -c 'import statistics, sys; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
now_ns() { date +%s%N; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# ---------------------------------------------------------------- corpus
log "corpus: $DAYS days x $UNITS units into $TMP/history (load $(loadavg))"
t0=$(now_ns)
summary=$("$CORPUS" "$TMP/history" "$DAYS" "$UNITS")
t1=$(now_ns)
echo "corpus: $summary ($(( (t1 - t0) / 1000000 )) ms)"
field() { tr ' ' '\n' <<<"$summary" | sed -n "s/^$1=//p"; }
records=$(field records)
bytes_appended=$(field bytes_appended)

files=$(find "$TMP/history" -type f | wc -l)
gz_files=$(find "$TMP/history" -type f -name 'history-*.jsonl.gz' | wc -l)
total=$(find "$TMP/history" -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
gz_total=$(find "$TMP/history" -type f -name 'history-*.jsonl.gz' -printf '%s\n' | awk '{s += $1} END {print s + 0}')
current=$(stat -c %s "$TMP/history/current.jsonl")
allocated=$(du -sB1 "$TMP/history" | cut -f1)
oldest=$(find "$TMP/history" -name 'history-*.jsonl.gz' -printf '%f\n' | sort | head -1)
find "$TMP/history" -type f -printf '  %f %s\n' | sort
# The range the files still cover (retention may have removed the oldest): from the oldest
# file's name to now.
covered_days=$(python3 -c "
import datetime, sys
n = '$oldest'
if not n: print($DAYS); sys.exit()
t = datetime.datetime.strptime(n[8:24], '%Y%m%dT%H%M%SZ').replace(tzinfo=datetime.timezone.utc)
print((datetime.datetime.now(datetime.timezone.utc) - t).total_seconds() / 86400)")
python3 - <<EOF
total, gz, cur, alloc = $total, $gz_total, $current, $allocated
days, units, covered, appended = $DAYS, $UNITS, $covered_days, $bytes_appended
print(f"disk: {$files} files ({$gz_files} rotated .gz + current.jsonl), {total:,} bytes "
      f"({alloc:,} allocated); .gz {gz:,}, current.jsonl {cur:,}")
print(f"covered: {covered:.2f} of {days} days (oldest {'$oldest'})")
print(f"bytes per unit per day: {total / units / days:,.0f} (total / {units} / {days}); "
      f"{total / units / covered:,.0f} over the covered days")
per_day_plain = appended / days
print(f"uncompressed: {per_day_plain:,.0f} bytes per day ({per_day_plain / units:,.0f} per unit), "
      f"{appended / $records:.0f} bytes per record; all files {appended * covered / days / total:.1f}x "
      f"smaller than the records they hold")
budget = 512 << 20
print(f"512 MiB budget: {budget / (total / covered):.0f} days of {units} units "
      f"({budget / (total / covered / units) / 30:.1f} unit-months)")
EOF

# ---------------------------------------------------------------- history CLI
# run_timed LABEL CMD...: RUNS runs with stdout to /dev/null; median wall ms and max RSS kB.
run_timed() {
  local label=$1; shift
  local walls=() rss=() i t0 t1 out
  out=$("$@" 2>/dev/null | wc -c)
  for ((i = 0; i < RUNS; i++)); do
    t0=$(now_ns)
    /usr/bin/time -f '%e %M' -o "$TMP/time" "$@" >/dev/null 2>"$TMP/stderr" || die "$label failed: $(cat "$TMP/stderr")"
    t1=$(now_ns)
    walls+=("$(( (t1 - t0) / 1000 ))")
    rss+=("$(cut -d' ' -f2 "$TMP/time")")
  done
  printf '%-44s median %8.1f ms (runs: %s ms), max RSS median %s kB, %s bytes out\n' "$label" \
    "$(median "${walls[@]}" | awk '{print $1 / 1000}')" \
    "$(printf '%s ' "${walls[@]}" | awk '{for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? "," : ""), $i / 1000}')" \
    "$(median "${rss[@]}" | awk '{printf "%d", $1}')" "$out"
}

log "history CLI, $RUNS runs each (load $(loadavg))"
H=("$AGENT" history --state-dir "$TMP")
run_timed "history --since 24h --format json" "${H[@]}" --since 24h --format json
run_timed "history --unit archiver@ch1 --since 24h (json)" "${H[@]}" --unit archiver@ch1 --since 24h --format json
run_timed "history --since 24h --format table" "${H[@]}" --since 24h --format table
run_timed "history --since 1h --format json" "${H[@]}" --since 1h --format json
echo "load average after the CLI runs: $(loadavg)"

# ---------------------------------------------------------------- HTTP API
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/config.json" <<'EOF'
{
  "scan_interval": "5s",
  "groups": [
    { "name": "archiver", "units": "mobasher-history-bench-none@*.service", "memory_limit": "2G" }
  ],
  "actions": { "enabled": false }
}
EOF
"$AGENT" run --config "$TMP/config.json" --listen "127.0.0.1:$PORT" --state-dir "$TMP" \
  >"$TMP/agent.log" 2>&1 &
AGENT_PID=$!
t0=$(now_ns)
for ((i = 0; i < 300; i++)); do
  curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break
  kill -0 "$AGENT_PID" 2>/dev/null || die "agent exited: $(tail -5 "$TMP/agent.log")"
  sleep 0.1
done
t1=$(now_ns)
echo "agent up in $(( (t1 - t0) / 1000000 )) ms (reads the history at start to seed its counters)"
grep -E 'history read' "$TMP/agent.log" | sed 's/^/  /' || true

URL="http://127.0.0.1:$PORT/api/v1/history?since=24h&step=5m"
log "GET $URL, $RUNS runs (load $(loadavg))"
first=$(curl -sf -o "$TMP/api.json" -w '%{time_total} %{size_download}' "$URL") || die "API failed"
times=()
for ((i = 0; i < RUNS; i++)); do
  times+=("$(curl -sf -o /dev/null -w '%{time_total}' "$URL")")
done
read -r first_s size <<<"$first"
python3 - "$TMP/api.json" <<EOF
import json, sys
d = json.load(open(sys.argv[1]))
pts = sum(len(v) for v in d["units"].values())
print(f"/api/v1/history?since=24h&step=5m: median {$(median "${times[@]}") * 1000:.1f} ms "
      f"(runs: {', '.join('%.0f' % (float(t) * 1000) for t in '${times[*]}'.split())} ms; first {$first_s * 1000:.0f} ms), "
      f"{$size:,} bytes, {len(d['units'])} units, {pts} points, {len(d['events'])} events, "
      f"step {d['step_seconds']} s, truncated {d['truncated']}")
EOF
# The whole retention at once (issue 15): the reading is cut at HistoryApiLimits::max_time (10 s)
# with a 503, so this is either its time or that bound; HEAD checks the query and reads nothing.
URL30="http://127.0.0.1:$PORT/api/v1/history?since=${DAYS}d"
log "GET $URL30, 3 runs (load $(loadavg))"
t30=()
for ((i = 0; i < 3; i++)); do
  t30+=("$(curl -s -o "$TMP/api30.out" -w '%{time_total}/%{http_code}/%{size_download}' "$URL30")")
done
head30=$(curl -s -I -o /dev/null -w '%{time_total}/%{http_code}' "$URL30")
echo "/api/v1/history?since=${DAYS}d (time s/HTTP code/bytes): ${t30[*]}; HEAD: $head30"
AGENT_RSS=$(awk '/^VmHWM:/ {print $2}' "/proc/$AGENT_PID/status")
echo "agent VmHWM after the API runs: $AGENT_RSS kB"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID" 2>/dev/null || true
AGENT_PID=""

# ---------------------------------------------------------------- breakdown
log "breakdown: history_bench corpus benchmarks, $RUNS repetitions (load $(loadavg))"
MOBASHER_BENCH_HISTORY_DIR=$TMP/history "$BUILD/bench/history_bench" \
  --benchmark_filter='BM_HistoryGunzip|BM_HistoryRead|BM_HistoryPrint|BM_HistoryApi' \
  --benchmark_repetitions="$RUNS" --benchmark_report_aggregates_only=true 2>&1 |
  grep -E '^(Benchmark|-+$|BM_.*_median)'
echo "load average at the end: $(loadavg)"
