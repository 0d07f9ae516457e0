#!/usr/bin/env bash
# bench/run.sh - the mobasher-agent benchmark scenario, end to end (run as root, ~5 minutes).
#
#   6 unit cgroups archiver@b1..b6.service under a private prefix of the v1 memory and
#   name=systemd hierarchies, 3 processes each (an "archiver-bench" parent + 2 mobasher-leaker
#   --initial-mb 8 children), among N unrelated `sleep 3600` processes (N=1000, then 5000).
#
#   1. scan_bench (Google Benchmark, 5 repetitions, medians) at N=1000 and N=5000, then the
#      cgroup-first scans at N=1000 again (a control for load drift on a shared machine); at
#      N=1000 also BM_ScanPaced: the scan after 10 ms and 250 ms asleep, against the hot loop
#   2. cycle_bench (5 repetitions, medians) at N=1000: each stage of a scan cycle and the whole
#      cycle with one scrape per scan (Pipeline::step, policy, history, render, the scrape's body);
#      the whole cycle again after process-exporter (step 3), against the machine's drift
#   3. prometheus-process-exporter matching exactly the 18 bench processes: CPU per scrape from
#      /proc/PID/stat utime+stime over K=50 scrapes, minus its idle rate (default flags and
#      -gather-smaps=false -threads=false at N=1000, default flags at N=5000)
#   4. the agent's /metrics under wrk -t2 -c50 -d10s --latency (median = the 50% line)
#   5. the agent at scan_interval 10ms for 10,000 scans: VmRSS at 1,000 and 10,000 scans
#   6. the real daemon against process-exporter, side by side at the same pace: the agent at
#      scan_interval PACE and process-exporter (default flags), each scraped once every PACE
#      seconds over a keep-alive connection, PACED times (bench/paced_scrape.py): the daemon's
#      whole CPU per scan (scan, tracking, history, render, HTTP, its idle threads) against
#      process-exporter's whole CPU per scrape; and the floor under it (bench/read_floor): the
#      same files the agent reads each scan (its 58 kept descriptors and 6 re-opened cgroup.procs),
#      read at the same pace and nothing else done: no parsing, tracking, rendering or HTTP
#   then a summary table with each target and PASS/FAIL (also in $OUT/summary.txt).
#
# WITH_SCENARIO="CMD": set the scenario up (N1 unrelated), run CMD under bash -c, clean up, exit
# (e.g. WITH_SCENARIO='perf record -g -o /tmp/p.data build-bench/bench/scan_bench --benchmark_filter=BM_Scan$').
# Environment: BUILD (default: <repo>/build-bench), OUT (results dir, default /tmp/mobasher-bench-PID),
# N1/N2 (unrelated processes, 1000/5000), K (scrapes, 50), SCANS (10000), WRK_SECONDS (10),
# PACE (seconds between scans and scrapes in step 6, 1), PACED (paced scrapes, 60).
# Everything it starts it kills, every cgroup it makes it removes (trap on EXIT).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${BUILD:-$here/../build-bench}
BUILD=$(cd "$BUILD" && pwd)
OUT=${OUT:-/tmp/mobasher-bench-$$}
N1=${N1:-1000}
N2=${N2:-5000}
K=${K:-50}
SCANS=${SCANS:-10000}
WRK_SECONDS=${WRK_SECONDS:-10}
PACE=${PACE:-1}
PACED=${PACED:-60}

AGENT=$BUILD/mobasher-agent
LEAKER=$BUILD/mobasher-leaker
SCAN_BENCH=$BUILD/bench/scan_bench
READ_FLOOR=$BUILD/bench/read_floor
CYCLE_BENCH=$BUILD/bench/cycle_bench
PPE=$(command -v prometheus-process-exporter || true)

die() { echo "run.sh: $*" >&2; exit 1; }
log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
[[ $EUID -eq 0 ]] || die "must run as root (cgroups)"
for b in "$AGENT" "$LEAKER" "$SCAN_BENCH" "$READ_FLOOR"; do [[ -x $b ]] || die "missing $b (build first)"; done
[[ -n $PPE ]] || die "prometheus-process-exporter not installed (apt-get install prometheus-process-exporter)"
for t in wrk curl python3; do command -v $t >/dev/null || die "$t not installed"; done
CG=/sys/fs/cgroup
[[ -d $CG/memory && -d $CG/systemd ]] || die "needs the v1 memory and name=systemd hierarchies"

mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/mobasher-bench-work.XXXXXX)
PREFIX=mobasher-bench-$$.slice
SLICE=$PREFIX/system.slice/system-archiver.slice
UNITS=(b1 b2 b3 b4 b5 b6)
CLK_TCK=$(getconf CLK_TCK)

UNIT_MAIN=()   # the 6 unit parents (their leaker children are found through cgroup.procs)
UNRELATED=()   # the sleeps
SERVERS=()     # agent / exporter instances
HOLDERS=()     # the python processes that spawned (and reap) the sleeps

kill_wait() {  # kill_wait SIG PID... : signal, then wait up to 5 s for them to be gone
  local sig=$1; shift
  (($#)) || return 0
  kill "-$sig" "$@" 2>/dev/null || true
  local i p alive
  for ((i = 0; i < 50; i++)); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && { alive=1; break; }; done
    ((alive)) || return 0
    sleep 0.1
  done
  kill -KILL "$@" 2>/dev/null || true
}

cleanup() {
  local rc=$?
  set +e
  log "cleanup"
  kill_wait TERM "${SERVERS[@]}"
  # Unit members: everything in our private cgroups was started by this script.
  local members=() ctl u f
  for u in "${UNITS[@]}"; do
    f=$CG/systemd/$SLICE/archiver@$u.service/cgroup.procs
    [[ -r $f ]] && members+=($(cat "$f"))
  done
  kill_wait TERM "${members[@]}" "${UNIT_MAIN[@]}"
  # the sleeps, in chunks (argument lists stay small)
  local i
  for ((i = 0; i < ${#UNRELATED[@]}; i += 1000)); do
    kill -TERM "${UNRELATED[@]:i:1000}" 2>/dev/null
  done
  kill_wait TERM "${HOLDERS[@]}"   # they exit by themselves once their sleeps are reaped
  wait 2>/dev/null
  # cgroups, deepest first; retry while the last exited tasks leave them
  for ctl in memory systemd; do
    for ((i = 0; i < 50; i++)); do
      for u in "${UNITS[@]}"; do rmdir "$CG/$ctl/$SLICE/archiver@$u.service" 2>/dev/null; done
      rmdir "$CG/$ctl/$SLICE" "$CG/$ctl/$PREFIX/system.slice" "$CG/$ctl/$PREFIX" 2>/dev/null
      [[ -d $CG/$ctl/$PREFIX ]] || break
      sleep 0.1
    done
    [[ -d $CG/$ctl/$PREFIX ]] && echo "run.sh: could not remove $CG/$ctl/$PREFIX" >&2
  done
  rm -rf "$WORK"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime+stime, all threads
vmrss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
proc_count() { local n=0 d; for d in /proc/[0-9]*; do n=$((n + 1)); done; echo $n; }
wait_http() {  # wait_http URL: up to 10 s
  local i
  for ((i = 0; i < 100; i++)); do
    curl -sf -o /dev/null "$1" && return 0
    sleep 0.1
  done
  die "$1 did not answer"
}
now_s() { date +%s.%N; }

# ---------------------------------------------------------------- scenario
log "scenario: prefix $PREFIX, ${#UNITS[@]} units x 3 processes"
# comm of a process is the basename of what it exec'd: a symlink gives the parents a unique name.
ln -s "$(command -v sleep)" "$WORK/archiver-bench"
cat >"$WORK/unit-main" <<EOF
#!/bin/bash
# \$1 memory cgroup, \$2 name=systemd cgroup: join both, start two leaking children, become the parent
echo \$\$ >"\$1/cgroup.procs"
echo \$\$ >"\$2/cgroup.procs"
"$LEAKER" --initial-mb 8 &
"$LEAKER" --initial-mb 8 &
exec "$WORK/archiver-bench" 3600
EOF
chmod +x "$WORK/unit-main"
for u in "${UNITS[@]}"; do
  for ctl in memory systemd; do mkdir -p "$CG/$ctl/$SLICE/archiver@$u.service"; done
  "$WORK/unit-main" "$CG/memory/$SLICE/archiver@$u.service" "$CG/systemd/$SLICE/archiver@$u.service" \
    </dev/null >/dev/null 2>&1 &
  UNIT_MAIN+=($!)
done
for ((i = 0; i < 50; i++)); do
  n=0
  for u in "${UNITS[@]}"; do
    n=$((n + $(wc -l <"$CG/systemd/$SLICE/archiver@$u.service/cgroup.procs")))
  done
  ((n == 18)) && break
  sleep 0.1
done
((n == 18)) || die "expected 18 unit processes, found $n"
sleep 0.5  # leakers touch their 8 MiB

# Unrelated processes: a small python holder posix_spawn()s the sleeps (bash forks are slow and its
# job table makes 5,000 background jobs quadratic), writes their PIDs, and reaps them when killed.
spawn_unrelated() {  # spawn_unrelated TOTAL: start sleeps until TOTAL are running
  local want=$(($1 - ${#UNRELATED[@]})) f=$WORK/unrelated.${#HOLDERS[@]}
  ((want > 0)) || return 0
  python3 - "$want" "$f" "$(command -v sleep)" </dev/null >/dev/null 2>&1 <<'PY' &
import os, signal, sys
n, out, sleep = int(sys.argv[1]), sys.argv[2], sys.argv[3]
pids, stopping = [], []
def stop(*_):  # killed (e.g. the script is interrupted while spawning): take the sleeps along
    stopping.append(1)
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except ProcessLookupError:
            pass
signal.signal(signal.SIGTERM, stop)
for _ in range(n):
    if stopping:
        break
    pids.append(os.posix_spawn(sleep, ["sleep", "3600"], os.environ))
with open(out + ".tmp", "w") as f:
    f.write("\n".join(map(str, pids)) + "\n")
os.rename(out + ".tmp", out)
while True:
    try:
        os.wait()
    except ChildProcessError:
        break
PY
  HOLDERS+=($!)
  local i
  for ((i = 0; i < 600; i++)); do [[ -e $f ]] && break; sleep 0.1; done
  [[ -e $f ]] || die "could not start $want unrelated processes"
  UNRELATED+=($(cat "$f"))
  sleep 3  # let the spawn storm settle (reaping, page reclaim) before anything is timed
}
drop_unrelated() {  # drop_unrelated TOTAL: kill the newest sleeps until TOTAL are left
  local extra=("${UNRELATED[@]:$1}") i p
  UNRELATED=("${UNRELATED[@]:0:$1}")
  for ((i = 0; i < ${#extra[@]}; i += 1000)); do kill -TERM "${extra[@]:i:1000}" 2>/dev/null || true; done
  for p in "${extra[@]}"; do while kill -0 "$p" 2>/dev/null; do sleep 0.05; done; done
}

export MOBASHER_BENCH_UNITS='archiver@b[1-6].service' MOBASHER_BENCH_COMM='^archiver-bench$'

# run_gbench PROGRAM LABEL [flags]: a Google Benchmark program, 5 repetitions, medians, into
# OUT/NAME_LABEL.{json,txt} (NAME: the program's file name), with the machine's state at its end.
run_gbench() {
  local bin=$1 label=$2 name; shift 2
  name=$(basename "$bin")
  log "$name $label: ${#UNRELATED[@]} unrelated processes ($(proc_count) in /proc)"
  "$bin" --benchmark_repetitions=5 --benchmark_report_aggregates_only=true \
    --benchmark_out="$OUT/${name}_$label.json" --benchmark_out_format=json "$@" \
    >"$OUT/${name}_$label.txt" 2>&1 || die "$name failed: $(tail -5 "$OUT/${name}_$label.txt")"
  echo "procs_in_proc=$(proc_count) loadavg=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/${name}_$label.txt"
  cat "$OUT/${name}_$label.txt" >&2
}
run_scan_bench() { run_gbench "$SCAN_BENCH" "$@"; }    # run_scan_bench LABEL [flags]
run_cycle_bench() { run_gbench "$CYCLE_BENCH" "$@"; }  # run_cycle_bench LABEL [flags]

# ---------------------------------------------------------------- process-exporter
cat >"$WORK/ppe.yml" <<'EOF'
# exactly the 18 bench processes: the 6 parents by comm, their leaker children with them
process_names:
  - name: "{{.Comm}}"
    comm:
      - archiver-bench
EOF

run_ppe() {  # run_ppe LABEL [flags] -> PPE_R="cpu_ms_per_scrape procs idle_ticks_per_s raw_ms"
  local label=$1; shift
  local port pid w0 w1 c0 c1 idle procs i
  port=$(free_port)
  "$PPE" -config.path "$WORK/ppe.yml" -web.listen-address "127.0.0.1:$port" "$@" \
    >"$OUT/ppe_$label.log" 2>&1 &
  pid=$!
  SERVERS+=($pid)
  wait_http "http://127.0.0.1:$port/metrics"
  for ((i = 0; i < 3; i++)); do curl -sf -o /dev/null "http://127.0.0.1:$port/metrics"; done
  curl -sf "http://127.0.0.1:$port/metrics" >"$OUT/ppe_$label.metrics"
  procs=$(awk '/^namedprocess_namegroup_num_procs/ {s += $2} END {print s + 0}' "$OUT/ppe_$label.metrics")
  sleep 1
  # idle rate (it has no background collection, but Go has timers and GC)
  c0=$(cpu_ticks $pid); w0=$(now_s)
  sleep 5
  c1=$(cpu_ticks $pid); w1=$(now_s)
  idle=$(python3 -c "print(($c1 - $c0) / ($w1 - $w0))")
  c0=$(cpu_ticks $pid); w0=$(now_s)
  for ((i = 0; i < K; i++)); do curl -sf -o /dev/null "http://127.0.0.1:$port/metrics"; done
  c1=$(cpu_ticks $pid); w1=$(now_s)
  kill_wait TERM $pid
  PPE_R=$(python3 -c "
idle, dt, ticks = $idle, $w1 - $w0, $c1 - $c0
print('%.3f %d %.3f %.3f' % ((ticks - idle * dt) / $CLK_TCK / $K * 1000, $procs, idle, ticks / $CLK_TCK / $K * 1000))")
}

# ---------------------------------------------------------------- agent
agent_config() {  # agent_config SCAN_INTERVAL FILE
  cat >"$2" <<EOF
{
  "scan_interval": "$1",
  "discovery_interval": "30s",
  "groups": [
    { "name": "archiver", "units": "archiver@b[1-6].service", "memory_limit": "2G",
      "warn": "1.5G", "critical": "95%" }
  ],
  "actions": { "enabled": false }
}
EOF
}

start_agent() {  # start_agent NAME INTERVAL -> sets AGENT_PID AGENT_PORT
  agent_config "$2" "$WORK/$1.json"
  mkdir -p "$WORK/$1-state"
  AGENT_PORT=$(free_port)
  "$AGENT" run --config "$WORK/$1.json" --listen "127.0.0.1:$AGENT_PORT" \
    --state-dir "$WORK/$1-state" >"$OUT/agent_$1.log" 2>&1 &
  AGENT_PID=$!
  SERVERS+=($AGENT_PID)
  wait_http "http://127.0.0.1:$AGENT_PORT/healthz"
}

scans_total() {
  local body
  body=$(curl -sf "http://127.0.0.1:$1/metrics") || return 0
  awk '/^mobasher_scans_total/ {n = int($2)} END {print n + 0}' <<<"$body"
}

# ================================================================ run
spawn_unrelated "$N1"
log "$N1 unrelated processes started ($(proc_count) in /proc)"
if [[ -n ${WITH_SCENARIO:-} ]]; then
  bash -c "$WITH_SCENARIO"
  exit
fi
run_scan_bench "$N1"
# The cycle is measured before and after process-exporter (this shared machine drifts by tens of
# percent within minutes); the ratio uses the mean of the two medians.
run_cycle_bench before

log "prometheus-process-exporter (default flags), $K scrapes"
run_ppe default
read -r PPE_MS PPE_PROCS PPE_IDLE PPE_RAW <<<"$PPE_R"
log "  ${PPE_MS} ms CPU/scrape (raw ${PPE_RAW}), ${PPE_PROCS} processes matched, idle ${PPE_IDLE} ticks/s"
log "prometheus-process-exporter (-gather-smaps=false -threads=false), $K scrapes"
run_ppe lean -gather-smaps=false -threads=false
read -r PPE_LEAN_MS PPE_LEAN_PROCS PPE_LEAN_IDLE PPE_LEAN_RAW <<<"$PPE_R"
log "  ${PPE_LEAN_MS} ms CPU/scrape (raw ${PPE_LEAN_RAW}), ${PPE_LEAN_PROCS} processes matched"
run_cycle_bench after --benchmark_filter='BM_Cycle$'

log "agent /metrics under wrk -t2 -c50 -d${WRK_SECONDS}s"
start_agent http 1s
curl -sf "http://127.0.0.1:$AGENT_PORT/metrics" >"$OUT/agent_metrics.txt"
METRICS_BYTES=$(wc -c <"$OUT/agent_metrics.txt")
AGENT_UNITS=$(grep -c '^mobasher_unit_processes{' "$OUT/agent_metrics.txt" || true)
AGENT_PROCS=$(awk '/^mobasher_unit_processes\{/ {s += $2} END {print s + 0}' "$OUT/agent_metrics.txt")
wrk -t2 -c50 -d"${WRK_SECONDS}s" --latency "http://127.0.0.1:$AGENT_PORT/metrics" >"$OUT/wrk.txt" 2>&1
cat "$OUT/wrk.txt" >&2
WRK_P50=$(awk '$1 == "50%" {print $2}' "$OUT/wrk.txt")
WRK_P99=$(awk '$1 == "99%" {print $2}' "$OUT/wrk.txt")
WRK_RPS=$(awk '/^Requests\/sec/ {print $2}' "$OUT/wrk.txt")
WRK_ERR=$(grep -E 'Non-2xx|Socket errors' "$OUT/wrk.txt" || true)
kill_wait TERM "$AGENT_PID"

log "agent at scan_interval 10ms for $SCANS scans"
start_agent rss 10ms
# Touch every civetweb worker (128, HttpServer's default) before the first sample: a worker's first
# request touches its stack and buffers once (~13 kB), which the polls below (a new connection
# each, so a worker each) would otherwise spread over the first few thousand scans, looking like
# growth (+620 kB from 1,000 to 10,000 scans with only wrk's 64 connections). wrk's 64 at once,
# then 300 one after another, as the soak does (docs/RELIABILITY.md, "Soak").
warm0=$(vmrss_kb "$AGENT_PID")
wrk -t1 -c64 -d1s "http://127.0.0.1:$AGENT_PORT/metrics" >/dev/null 2>&1
python3 - "$AGENT_PORT" <<'PY' || die "the warm-up scrapes failed"
import http.client, sys
for _ in range(300):
    c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
    c.request("GET", "/metrics")
    r = c.getresponse()
    r.read()
    c.close()
    if r.status != 200:
        sys.exit(f"HTTP {r.status}")
PY
log "  HTTP workers warmed (wrk -c64, then 300 connections): VmRSS $warm0 -> $(vmrss_kb "$AGENT_PID") kB"
RSS_1K="" RSS_END="" CPU_1K="" CPU_END="" SCANS_1K="" SCANS_END="" RSS_TRACE=""
next_trace=100
t_start=$(now_s)
while :; do
  s=$(scans_total "$AGENT_PORT")
  s=${s:-0}
  if [[ -z $RSS_1K ]] && ((s >= 1000)); then
    RSS_1K=$(vmrss_kb "$AGENT_PID"); CPU_1K=$(cpu_ticks "$AGENT_PID"); SCANS_1K=$s
  fi
  if ((s >= next_trace)); then
    RSS_TRACE+="$s:$(vmrss_kb "$AGENT_PID") "
    next_trace=$((next_trace < 1000 ? next_trace + 300 : next_trace + 1000))
  fi
  if ((s >= SCANS)); then
    RSS_END=$(vmrss_kb "$AGENT_PID"); CPU_END=$(cpu_ticks "$AGENT_PID"); SCANS_END=$s
    break
  fi
  python3 -c "import sys; sys.exit(0 if $(now_s) - $t_start < 300 else 1)" || die "agent too slow: $s scans in 300 s"
  sleep 0.2
done
RSS_HWM=$(awk '/^VmHWM:/ {print $2}' "/proc/$AGENT_PID/status")
RSS_SECONDS=$(python3 -c "print('%.1f' % ($(now_s) - $t_start))")
AGENT_CPU_MS=$(python3 -c "print('%.3f' % (($CPU_END - $CPU_1K) / $CLK_TCK / ($SCANS_END - $SCANS_1K) * 1000))")
log "  VmRSS ${RSS_1K} kB at $SCANS_1K scans, ${RSS_END} kB at $SCANS_END scans; trace: $RSS_TRACE"
kill_wait TERM "$AGENT_PID"

# paced PORT PID NAME: step 6's measurement of one server, its JSON in OUT/paced_NAME.json
paced() {
  python3 "$here/paced_scrape.py" "$1" "$2" "$PACE" "$PACED" >"$OUT/paced_$3.json" ||
    die "paced scrapes of $3 failed"
  log "  $3: $(cat "$OUT/paced_$3.json")"
}
log "side by side, one scrape every ${PACE}s, $PACED scrapes: the agent at scan_interval ${PACE}s"
start_agent paced "${PACE}s"
paced "$AGENT_PORT" "$AGENT_PID" agent
kill_wait TERM "$AGENT_PID"
# The floor: the files of that scan (v1 layout: 6 memory.* files per unit, each unit process's
# status, the node's and the agent's own; cgroup.procs re-opened as the agent does under 2 s),
# read at the same pace with nothing else done.
floor_kept=() floor_reopened=()
for u in "${UNITS[@]}"; do
  for f in usage_in_bytes limit_in_bytes memsw.usage_in_bytes stat oom_control failcnt; do
    floor_kept+=("$CG/memory/$SLICE/archiver@$u.service/memory.$f")
  done
  floor_reopened+=("$CG/systemd/$SLICE/archiver@$u.service/cgroup.procs")
  for p in $(cat "$CG/systemd/$SLICE/archiver@$u.service/cgroup.procs"); do floor_kept+=("/proc/$p/status"); done
done
floor_kept+=(/proc/self/stat /proc/meminfo /proc/vmstat /proc/pressure/memory)
log "  the floor: ${#floor_kept[@]} files kept open and ${#floor_reopened[@]} re-opened, read every ${PACE}s, $PACED times"
"$READ_FLOOR" "$(python3 -c "print(round($PACE * 1000))")" "$PACED" "${floor_kept[@]}" -- "${floor_reopened[@]}" \
  >"$OUT/read_floor.json" || die "read_floor failed"
log "  floor: $(cat "$OUT/read_floor.json")"
log "  and prometheus-process-exporter (default flags)"
port=$(free_port)
"$PPE" -config.path "$WORK/ppe.yml" -web.listen-address "127.0.0.1:$port" >"$OUT/ppe_paced.log" 2>&1 &
ppe_pid=$!
SERVERS+=($ppe_pid)
wait_http "http://127.0.0.1:$port/metrics"
paced "$port" "$ppe_pid" ppe
kill_wait TERM "$ppe_pid"

spawn_unrelated "$N2"
log "$N2 unrelated processes started ($(proc_count) in /proc)"
run_scan_bench "$N2" --benchmark_filter=-BM_ScanPaced
log "prometheus-process-exporter (default flags) at $N2, $K scrapes"
run_ppe "default_$N2"
read -r PPE2_MS PPE2_PROCS _ PPE2_RAW <<<"$PPE_R"
# Control for load drift on this shared machine: back to N1 and the cgroup-first scans again.
drop_unrelated "$N1"
run_scan_bench "${N1}_again" --benchmark_filter='BM_Scan$|BM_ScanWithDiscovery'

# ---------------------------------------------------------------- summary
export OUT N1 N2 K SCANS PACE PACED PPE_MS PPE_PROCS PPE_LEAN_MS PPE2_MS PPE2_PROCS WRK_P50 WRK_P99 WRK_RPS \
  RSS_1K RSS_END RSS_HWM SCANS_1K SCANS_END AGENT_CPU_MS METRICS_BYTES AGENT_UNITS AGENT_PROCS \
  RSS_TRACE RSS_SECONDS
python3 - <<'EOF' | tee "$OUT/summary.txt"
import json, os
e = os.environ
def medians(label):
    d = json.load(open(f"{e['OUT']}/scan_bench_{label}.json"))
    out = {}
    for b in d["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        scale = {"ns": 1e-3, "us": 1, "ms": 1e3}[b["time_unit"]]
        out[b["run_name"]] = dict(cpu_us=b["cpu_time"] * scale, real_us=b["real_time"] * scale,
                                  units=b.get("units"), procs=b.get("processes"), seen=b.get("seen"))
    return out
N1, N2 = e["N1"], e["N2"]
a, b, c = medians(N1), medians(N2), medians(N1 + "_again")
def cycle_medians(label):
    out = {}
    for x in json.load(open(f"{e['OUT']}/cycle_bench_{label}.json"))["benchmarks"]:
        if x.get("aggregate_name") == "median":
            out[x["run_name"]] = x["cpu_time"] * {"ns": 1e-3, "us": 1, "ms": 1e3}[x["time_unit"]]
    return out
cyc, cyc_after = cycle_medians("before"), cycle_medians("after")
def ms(s):  # wrk prints 1.23ms / 456.78us / 1.20s
    for suf, f in (("us", 1e-3), ("ms", 1), ("s", 1e3)):
        if s.endswith(suf):
            return float(s[: -len(suf)]) * f
    return float("nan")
scan1, scan2, scan1b = a["BM_Scan"]["cpu_us"], b["BM_Scan"]["cpu_us"], c["BM_Scan"]["cpu_us"]
ref = (scan1 + scan1b) / 2
ppe = float(e["PPE_MS"]) * 1000
ppe_lean = float(e["PPE_LEAN_MS"]) * 1000
fb1 = a["BM_ScanFallbackMode"]["cpu_us"]; ps1 = a["BM_ProcScanFallback"]["cpu_us"]; c1 = a["BM_MinimalCLoop"]["cpu_us"]
fb2 = b["BM_ScanFallbackMode"]["cpu_us"]; ps2 = b["BM_ProcScanFallback"]["cpu_us"]; c2 = b["BM_MinimalCLoop"]["cpu_us"]
p50 = ms(e["WRK_P50"])
rss1, rss2 = int(e["RSS_1K"]), int(e["RSS_END"])
ok = lambda c: "PASS" if c else "FAIL"
print(f"scan_bench medians of 5, CPU us/iteration   N={N1:>5}  N={N2:>5}  N={N1:>5} again")
for k in ["BM_Scan", "BM_ScanWithDiscovery", "BM_ScanFallbackMode", "BM_ProcScanFallback", "BM_MinimalCLoop"]:
    x, y = a[k], b[k]
    z = f"{c[k]['cpu_us']:>12.1f}" if k in c else " " * 12
    extra = f"units={x['units']:.0f} procs={x['procs']:.0f}" if x.get("units") is not None else ""
    if x.get("seen") is not None:
        extra += f" /proc entries={x['seen']:.0f}/{y['seen']:.0f}"
    print(f"  {k:<24} {x['cpu_us']:>12.1f} {y['cpu_us']:>12.1f} {z}   {extra}")
paced = {k.split("/")[1]: v["real_us"] for k, v in a.items() if k.startswith("BM_ScanPaced/")}
print(f"  scan at a 1 s clock: in a hot loop {a['BM_ScanFastInterval']['cpu_us']:.1f} us; the thread "
      "asleep before each scan: " + ", ".join(f"{ms} ms -> {us:.1f} us" for ms, us in paced.items()))
print("cycle_bench medians of 5, CPU us: " + ", ".join(
    f"{k[len('BM_Stage'):] if k.startswith('BM_Stage') else k[3:]} {v:.1f}" for k, v in cyc.items()))
print(f"process-exporter CPU/scrape, us: default {ppe:.0f} ({e['PPE_PROCS']} procs), "
      f"lean {ppe_lean:.0f}; default at N={N2}: {float(e['PPE2_MS'])*1000:.0f} ({e['PPE2_PROCS']} procs)")
print(f"agent: /metrics {e['METRICS_BYTES']} bytes, {e['AGENT_UNITS']} units, {e['AGENT_PROCS']} procs; "
      f"wrk p50 {e['WRK_P50']} p99 {e['WRK_P99']} {e['WRK_RPS']} req/s")
print(f"agent at 10ms: VmRSS {rss1} kB @{e['SCANS_1K']} scans, {rss2} kB @{e['SCANS_END']} scans, "
      f"VmHWM {e['RSS_HWM']} kB, {e['AGENT_CPU_MS']} ms CPU/scan cycle, {e['RSS_SECONDS']} s")
print(f"  VmRSS trace (scans:kB): {e['RSS_TRACE']}")
for label in (N1, N2, N1 + "_again"):
    tail = [l for l in open(f"{e['OUT']}/scan_bench_{label}.txt") if l.startswith("procs_in_proc")]
    print(f"  after scan_bench {label}: {tail[-1].strip() if tail else '?'}")
print()
print(f"{'target':<58} {'measured':<36} result")
def row(t, m, c): print(f"{t:<58} {m:<36} {ok(c)}")
row(f"scan CPU <= 1 ms (N={N1})", f"{scan1:.1f} us", scan1 <= 1000)
row("scan CPU <= 1/50 process-exporter CPU/scrape (default)", f"{scan1:.1f} vs {ppe/50:.1f} us (1/{ppe/scan1:.0f})", scan1 <= ppe / 50)
row("  same vs process-exporter lean flags", f"{scan1:.1f} vs {ppe_lean/50:.1f} us (1/{ppe_lean/scan1:.0f})", scan1 <= ppe_lean / 50)
cycle = (cyc["BM_Cycle"] + cyc_after["BM_Cycle"]) / 2
row("in-process cycle (cycle_bench) <= 1/100 process-exporter", f"{cycle:.1f} vs {ppe/100:.1f} us (1/{ppe/cycle:.0f})", cycle <= ppe / 100)
print(f"  (the cycle before process-exporter {cyc['BM_Cycle']:.1f} us, after {cyc_after['BM_Cycle']:.1f} us)")
paced_agent = json.load(open(f"{e['OUT']}/paced_agent.json"))
paced_ppe = json.load(open(f"{e['OUT']}/paced_ppe.json"))
daemon, ppe_paced = paced_agent["cpu_us_per_scan"], paced_ppe["cpu_us_per_scrape"]
row(f"daemon per scan + scrape (every {e['PACE']}s) <= 1/100 process-exporter",
    f"{daemon:.0f} vs {ppe_paced/100:.0f} us (1/{ppe_paced/daemon:.0f})", daemon <= ppe_paced / 100)
print(f"  ({paced_agent['scans']} scans, {paced_agent['scrapes']} scrapes on {paced_agent['connects']} "
      f"connections; process-exporter {ppe_paced:.0f} us over {paced_ppe['scrapes']} scrapes)")
floor = json.load(open(f"{e['OUT']}/read_floor.json"))
row(f"  the floor: its files alone, read every {e['PACE']}s, <= 1/100", f"{floor['cpu_us_median']:.0f} vs {ppe_paced/100:.0f} us (1/{ppe_paced/floor['cpu_us_median']:.0f})",
    floor["cpu_us_median"] <= ppe_paced / 100)
print(f"  ({floor['files_kept']} files kept open + {floor['files_reopened']} re-opened, {floor['bytes_per_round']} bytes "
      f"a round, median of {floor['rounds']} rounds; mean {floor['cpu_us_mean']:.0f} us)")
row(f"scan flat within 20% from N={N1} to N={N2}", f"{ref:.1f} -> {scan2:.1f} us ({(scan2/ref-1)*100:+.1f}%)", scan2 <= ref * 1.2)
row("/metrics median latency <= 2 ms (wrk -c50)", f"{p50:.3f} ms", p50 <= 2)
row("agent VmRSS <= 10 MiB after 10,000 scans", f"{rss2/1024:.2f} MiB", rss2 <= 10240)
row("agent VmRSS no growth 1,000 -> 10,000 scans (<= 64 kB)", f"{rss1} -> {rss2} kB ({rss2-rss1:+d})", rss2 - rss1 <= 64)
row(f"/proc fallback (Scanner) <= 1.5x minimal C loop, N={N1}", f"{fb1:.0f} / {c1:.0f} us = {fb1/c1:.2f}x", fb1 <= 1.5 * c1)
row(f"/proc fallback (Scanner) <= 1.5x minimal C loop, N={N2}", f"{fb2:.0f} / {c2:.0f} us = {fb2/c2:.2f}x", fb2 <= 1.5 * c2)
row(f"  ProcScan alone vs C loop, N={N1} / N={N2}", f"{ps1/c1:.2f}x / {ps2/c2:.2f}x", max(ps1/c1, ps2/c2) <= 1.5)
EOF
log "results in $OUT"
