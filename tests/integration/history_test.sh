#!/usr/bin/env bash
# End-to-end test of the history store (STATE_DIR/history, exporters/history/history_writer.hpp) with the
# real binary: real v1 cgroup units (bash main processes with real mobasher-leaker children), the
# agent killed with SIGKILL, its disk filled, its directory made read-only, and restarted.
#
# Parts (each self-contained: own units, own agent, own state dir):
#   crash     5 rounds of: the agent runs a random 1.5-4 s, then SIGKILL. After each, `history
#             --format json` parses, every record has ts and type, ts never decreases, no record
#             twice, every record seen after an earlier round is still there (per-round counts
#             unchanged), and every record older than the 2 s sync bound (+ slack) at the kill is
#             on disk. Then a torn line appended by hand while the agent is down: the reader skips
#             it, the next start cuts it (log line, mobasher_history_torn_lines_total 1), the
#             earlier records stay and new ones follow.
#   diskfull  STATE_DIR on a 2 MiB tmpfs, filled by a filler file: /healthz 200 with the warning
#             naming ENOSPC, mobasher_history_writable 0, write errors counted, the agent keeps
#             scanning, serving (/metrics, /api/v1/status) and alerting (MemoryHigh becomes 2
#             while writes fail); filler removed: writable 1, warning gone, pending back to one batch (≤ 6), and the
#             history holds the samples from before, during (kept pending) and after, in order,
#             without a gap. Then the same with the tmpfs remounted read-only: the agent is
#             started on it (the kernel refuses `remount,ro` with EBUSY while the agent holds
#             current.jsonl open for writing, so read-only can only happen across a start), the
#             warning names current.jsonl and "Read-only file system"; `remount,rw` resumes it.
#   reseed    a unit whose main process is replaced once (restarts_total{cause="external"} 1) and
#             whose leaker grows 1 MiB/s; the agent records ~20 s of history, stops (SIGTERM),
#             STATE/units.json is deleted, and the restarted agent's first scan already exports
#             restarts_total 1 and a growth gauge (seeded from the history alone); `history
#             --format csv` shows the restart event and the samples, `--format table` a header
#             and rows.
#
# What Prometheus sees across an agent restart (reseed): mobasher_unit_restarts_total and
# mobasher_unit_oom_kills_total continue from their values before the restart (no drop, so no
# counter reset: increase() and rate() show no spurious restart); mobasher_unit_memory_growth_-
# bytes_per_second and _seconds_to_limit are present from the first scrape (no 15 s gap while the
# estimator refills). The agent's own counters (mobasher_scans_total, mobasher_history_records_-
# total, _write_errors_total, _torn_lines_total) are per process and start again at 0: an
# ordinary counter reset, which rate()/increase() handle.
#
# usage: history_test.sh PATH/TO/mobasher-agent PATH/TO/mobasher-leaker [PART...]  (default: all)
# Root only (real cgroups, tmpfs mounts). Missing tools are a failure, never a skip. Every process
# is ended by PID; cgroups, mounts and temp dirs are removed in a trap EXIT, also on failure.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

AGENT=${1:-}
LEAKER=${2:-}
if (($# >= 2)); then shift 2; else set --; fi
ALL_PARTS=(crash diskfull reseed)
PARTS=("$@")
((${#PARTS[@]})) || PARTS=("${ALL_PARTS[@]}")
TEST_NAME="history_test($(IFS=,; echo "${PARTS[*]}"))"
for p in "${PARTS[@]}"; do
  [[ " ${ALL_PARTS[*]} " == *" $p "* ]] || die "unknown part '$p' (parts: ${ALL_PARTS[*]})"
done

require_root
require_tools python3:python3 curl:curl jq:jq ss:iproute2 awk:mawk mount:mount umount:mount \
  mountpoint:util-linux dd:coreutils df:coreutils
require_executable "$AGENT"
require_executable "$LEAKER"
AGENT=$(readlink -f "$AGENT")
LEAKER=$(readlink -f "$LEAKER")

CG=/sys/fs/cgroup
for h in memory systemd; do
  [[ -w $CG/$h/cgroup.procs ]] || die "$CG/$h is not a writable cgroup v1 hierarchy (need the hybrid/v1 layout)"
done

WORK=$(mktemp -d /tmp/mobasher-it-hist.XXXXXX)
PREFIX=mobasher-it-hist-$$.slice
SLICE_REL="$PREFIX/system.slice/system-archiver.slice"
UNITS=()                 # every unit this run made (cgroups to remove)
declare -A WRAPPER_PID=() # unit -> its main process
EXTRA_PIDS=()            # leakers that joined a unit
MOUNTS=()                # tmpfs mounts to unmount
AGENT_PID=""
AGENT_LOG=""
APORT=""
AURL=""

cleanup() {
  local rc=$? pid u h d m
  set +e
  trap - EXIT INT TERM
  log "cleanup"
  for pid in "${EXTRA_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid" 5; done
  for u in "${!WRAPPER_PID[@]}"; do stop_pid "${WRAPPER_PID[$u]}" 5; done  # each ends its leaker
  for u in "${UNITS[@]}"; do  # anything left (should be nothing)
    for h in systemd memory; do
      for pid in $(cat "$CG/$h/$SLICE_REL/$u/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    done
  done
  for h in systemd memory; do
    for u in "${UNITS[@]}"; do
      d="$CG/$h/$SLICE_REL/$u"
      [[ -d $d ]] || continue
      wait_until 5 bash -c "! grep -q . '$d/cgroup.procs'"
      rmdir "$d" || log "cannot rmdir $d"
    done
    for d in "$CG/$h/$SLICE_REL" "$CG/$h/$PREFIX/system.slice" "$CG/$h/$PREFIX"; do
      [[ -d $d ]] && { rmdir "$d" || log "cannot rmdir $d"; }
    done
  done
  for m in "${MOUNTS[@]}"; do  # after every process that could hold a file open there
    mountpoint -q "$m" || continue
    umount "$m" || { log "umount $m failed; detaching it lazily"; umount -l "$m"; }
  done
  if ((rc != 0 || FAILS != 0)); then
    for f in "$WORK"/agent-*.log; do
      [[ -f $f ]] || continue
      log "last 30 lines of $(basename "$f"):"
      tail -n 30 "$f" | cut -c1-300 | sed 's/^/  agent| /'
    done
  fi
  for m in "${MOUNTS[@]}"; do mountpoint -q "$m" && { log "still mounted: $m; leaving $WORK"; finish "$TEST_NAME"; exit 1; }; done
  rm -rf "$WORK"
  finish "$TEST_NAME" || rc=1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- helpers --------------------------------------------------------------------------------------
stop_on_agent_death 'ERROR|error|runtime error|terminate'
now() { echo "$EPOCHREALTIME"; }
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
num_gt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 > b + 0) }'; }

ulab() { echo "unit=\"$1\",group=\"archiver\",channel=\"$(sed 's/^archiver@//; s/\.service$//' <<<"$1")\""; }

# make_unit NAME LEAKER_ARGS...: systemd-shaped v1 cgroups and a bash main process running one
# leaker child (so the main process can be replaced like systemd restarts a unit).
make_unit() {
  local u=$1; shift
  local h
  [[ " ${UNITS[*]} " == *" $u "* ]] || UNITS+=("$u")
  for h in memory systemd; do mkdir -p "$CG/$h/$SLICE_REL/$u" || die "mkdir $CG/$h/$SLICE_REL/$u"; done
  start_main "$u" "$@"
}
start_main() {  # NAME LEAKER_ARGS...: starts the unit's main process, waits until both run
  local u=$1; shift
  local out="$WORK/units/$u"
  rm -rf "$out"
  mkdir -p "$out"
  bash "$WORK/wrapper.sh" "$CG/memory/$SLICE_REL/$u" "$CG/systemd/$SLICE_REL/$u" "$out" "$LEAKER" "$@" \
    2>>"$out/wrapper.err" &
  WRAPPER_PID[$u]=$!
  wait_until 10 bash -c "grep -q '^ready' '$out/leaker.out' 2>/dev/null && [[ -s '$out/child' ]] && \
    [[ \$(grep -c . '$CG/systemd/$SLICE_REL/$u/cgroup.procs') -eq 2 ]]" ||
    die "unit $u did not start: procs=[$(tr '\n' ' ' <"$CG/systemd/$SLICE_REL/$u/cgroup.procs")] leaker=$(cat "$out/leaker.out" 2>/dev/null) $(cat "$out/wrapper.err" 2>/dev/null)"
  log "unit $u: main pid ${WRAPPER_PID[$u]}, leaker pid $(cat "$out/child") ($*)"
}
stop_main() {  # NAME: SIGTERM to the main process (it ends and reaps its leaker), cgroup empties
  local u=$1 pid=${WRAPPER_PID[$1]}
  stop_pid "$pid" 5
  unset "WRAPPER_PID[$u]"
  wait_until 5 bash -c "! grep -q . '$CG/systemd/$SLICE_REL/$u/cgroup.procs'" ||
    fail "$u: cgroup not empty after its main process $pid stopped: $(tr '\n' ' ' <"$CG/systemd/$SLICE_REL/$u/cgroup.procs")"
}
# join_leaker NAME MB: one more process joining a running unit (as an ExecStartPost helper would).
join_leaker() {
  local u=$1 mb=$2 out="$WORK/extra-$1.out"
  : >"$out"
  (echo "$BASHPID" >"$CG/memory/$SLICE_REL/$u/cgroup.procs" && echo "$BASHPID" >"$CG/systemd/$SLICE_REL/$u/cgroup.procs" &&
    exec "$LEAKER" --initial-mb "$mb") >"$out" 2>&1 &
  EXTRA_PIDS+=("$!")
  wait_until 10 grep -q '^ready' "$out" || die "extra leaker in $u did not start: $(cat "$out")"
  log "extra leaker pid $! ($mb MiB) joined $u"
}
kill_extra() {
  local pid
  for pid in "${EXTRA_PIDS[@]}"; do kill -KILL "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  EXTRA_PIDS=()
}

# write_config FILE SCAN_INTERVAL
write_config() {
  cat >"$1" <<EOF
// integration test: $TEST_NAME
{
  "scan_interval": "$2",
  "discovery_interval": "1s",
  "groups": [
    { "name": "archiver", "units": "archiver@*.service", "memory_limit": "1G",
      "warn": "48M", "critical": "95%", "restart": { "predict_window": "5s" } }
  ],
  "alerts": { "for": "1s", "node_memory_available_min": "1M", "node_swap_used_max": "100%" },
  "history": { "interval": "1s" }
}
EOF
}

# start_unit_agent NAME CONFIG STATE UNIT: lib.sh's start_agent (log in AGENT_LOG, URL in AURL);
# waits (bounded) for a scan that sees UNIT up.
start_unit_agent() {
  local name=$1 conf=$2 state=$3 u=$4
  AGENT_LOG="$WORK/agent-$name.log"
  start_agent "$AGENT_LOG" --config "$conf" --state-dir "$state" --cgroup-root "$CG" --log-level debug
  AURL="http://127.0.0.1:$APORT"
  wait_until 10 unit_up "$u" || die "agent ($name) never exported $u up: $(tail -n 5 "$AGENT_LOG" | tr '\n' ' ')"
  log "agent ($name) pid=$AGENT_PID at $AURL"
}
stop_agent() { [[ -n $AGENT_PID ]] && { stop_agent_checked "$AGENT_PID" "$AGENT_LOG" 10; AGENT_PID=""; }; }
kill9_agent() {
  kill -KILL "$AGENT_PID"
  wait "$AGENT_PID" 2>/dev/null
  forget_pid "$AGENT_PID"
  AGENT_PID=""
}

# metric 'name{labels}': the value from a fresh /metrics, empty when the series is absent.
metric() {
  curl -fsS --max-time 3 "$AURL/metrics" >"$WORK/metrics.txt" 2>/dev/null || { : >"$WORK/metrics.txt"; return 0; }
  metric_value "$WORK/metrics.txt" "$1"
}
metric_is() { local v; v=$(metric "$1"); [[ -n $v ]] && num_eq "$v" "$2"; }
metric_ge() { local v; v=$(metric "$1"); [[ -n $v ]] && num_ge "$v" "$2"; }
metric_le() { local v; v=$(metric "$1"); [[ -n $v ]] && num_ge "$2" "$v"; }
unit_up() { metric_is "mobasher_unit_up{$(ulab "$1")}" 1; }
scans_above() { metric_ge mobasher_scans_total "$(($1 + 1))"; }
healthz_body() { curl -sS --max-time 3 "$AURL/healthz" 2>/dev/null; }
log_has() { grep -qF -- "$2" "$1" 2>/dev/null; }
log_line() { grep -m 1 -F -- "$2" "$1" 2>/dev/null | cut -c1-300; }
hstat() {  # the history gauges in one line, for messages
  metric mobasher_scans_total >/dev/null
  local m=$WORK/metrics.txt
  echo "writable=$(metric_value "$m" mobasher_history_writable) pending=$(metric_value "$m" mobasher_history_pending_records)" \
    "write_errors=$(metric_value "$m" mobasher_history_write_errors_total)" \
    "written=$(metric_value "$m" 'mobasher_history_records_total{result="written"}')" \
    "dropped=$(metric_value "$m" 'mobasher_history_records_total{result="dropped"}')"
}
# agent_serving SCANS_BEFORE LABEL UNIT: alive, scanning, /healthz 200, /metrics and
# /api/v1/status served, UNIT still visible in both.
agent_serving() {
  local s0=$1 what=$2 u=$3 hc mc sc s1 up st
  wait_until 10 scans_above "$s0"
  s1=$(metric mobasher_scans_total)
  up=$(metric_value "$WORK/metrics.txt" "mobasher_unit_up{$(ulab "$u")}")
  hc=$(http_code "$AURL/healthz")
  mc=$(http_code "$AURL/metrics")
  sc=$(curl -sS --max-time 3 -o "$WORK/status.json" -w '%{http_code}' "$AURL/api/v1/status" 2>/dev/null)
  st=$(jq -r --arg u "$u" '[.. | objects | select(.unit? == $u)] | length' "$WORK/status.json" 2>/dev/null)
  if alive "$AGENT_PID" && [[ $hc == 200 && $mc == 200 && $sc == 200 && $up == 1 ]] && [[ -n $s1 ]] &&
    num_ge "$s1" "$((s0 + 1))" && ((${st:-0} >= 1)); then
    pass "$what: the agent keeps scanning and serving: mobasher_scans_total $s0 -> $s1, /healthz $hc, /metrics $mc, /api/v1/status $sc ($u in it: $st), unit_up=$up"
  else
    fail "$what: alive=$(alive "$AGENT_PID" && echo yes || echo no) mobasher_scans_total $s0 -> ${s1:-absent}, /healthz $hc, /metrics $mc, /api/v1/status $sc ($u objects: ${st:-none}), unit_up=${up:-absent}"
  fi
}

# history_json STATE OUT: `history --format json` of the last 10 minutes into OUT (stderr in
# OUT.err), and OUT.tsv: one "unix-ts<TAB>type<TAB>unit<TAB>alert" line per record, for the counts
# below.
history_json() {
  local rc
  "$AGENT" history --state-dir "$1" --since 10m --format json >"$2" 2>"$2.err"; rc=$?
  jq -r '.[] | [((.ts[0:19] + "Z" | fromdateiso8601) + (.ts[20:23] | tonumber) / 1000), .type, (.unit // ""), (.alert // "")] | @tsv' \
    "$2" >"$2.tsv" 2>/dev/null || : >"$2.tsv"
  return "$rc"
}
# report LABEL: turns "ok|bad<TAB>message" lines into PASS/FAIL lines (in this shell: no pipe).
report() {
  local label=$1 kind msg any=0
  while IFS=$'\t' read -r kind msg; do
    any=1
    case $kind in
      ok) pass "$label: $msg" ;;
      *) fail "$label: $msg" ;;
    esac
  done
  ((any)) || fail "$label: the checker printed nothing"
}
# history_ok STATE OUT LABEL [PREV_LINES]: reads the history and makes the checks every part makes
# on all of it (hist.py); OUT.lines holds its records, for a later PREV_LINES.
history_ok() {
  local state=$1 out=$2 label=$3 prev=${4:-} rc
  history_json "$state" "$out"; rc=$?
  [[ $rc == 0 ]] && pass "$label: history --format json exit status 0" ||
    fail "$label: history --format json exit status $rc: $(head -c 300 "$out.err")"
  report "$label" < <(python3 "$WORK/hist.py" "$out" "$prev")
}
# count FILE FROM TO [TYPE] [UNIT]: records of FILE (read by history_json) with FROM <= ts < TO.
count() {
  awk -F'\t' -v lo="$2" -v hi="$3" -v ty="${4:-}" -v un="${5:-}" -v al="${6:-}" \
    '$1 + 0 >= lo + 0 && $1 + 0 < hi + 0 && (ty == "" || $2 == ty) && (un == "" || $3 == un) &&
     (al == "" || $4 == al) { n++ }
     END { print n + 0 }' "$1.tsv"
}
newest() {  # FILE FROM TO: Unix ts of the newest record in the range, or empty
  awk -F'\t' -v lo="$2" -v hi="$3" '$1 + 0 >= lo + 0 && $1 + 0 < hi + 0 { t = $1 } END { if (t != "") print t }' "$1.tsv"
}
max_gap() {  # FILE UNIT FROM TO: "GAP N": the largest gap between the unit's samples in the range, and N of them
  awk -F'\t' -v u="$2" -v lo="$3" -v hi="$4" '$2 == "sample" && $3 == u && $1 + 0 >= lo + 0 && $1 + 0 < hi + 0 {
      if (n++ && $1 - p > g) g = $1 - p; p = $1 }
    END { printf "%.3f %d\n", g, n }' "$1.tsv"
}
types_of() {  # FILE UNIT: the types of the unit's records, in order
  awk -F'\t' -v u="$2" '$3 == u { printf "%s%s", s, $2; s = "," }' "$1.tsv"
}
# synced_ge N STATE FROM TO [TYPE] [UNIT]: a fresh read of the history has >= N such records.
synced_ge() {
  local n=$1 state=$2 c
  shift 2
  history_json "$state" "$WORK/poll.json"
  c=$(count "$WORK/poll.json" "$@") && ((c >= n))
}

cat >"$WORK/hist.py" <<'EOF'
# hist.py FILE [PREV_LINES]: checks on the output of `mobasher-agent history --format json`: it
# parses, every record has a ts and a type, ts never decreases, no record twice, every record of
# PREV_LINES (an earlier FILE.lines) is still there. Writes FILE.lines (canonical records).
import datetime, json, sys

def ts_of(r):
    return datetime.datetime.strptime(r["ts"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()

def canon(r):
    return json.dumps(r, sort_keys=True, separators=(",", ":"))

path, prev = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "")
try:
    recs = json.load(open(path))
except Exception as e:
    print("bad\tthe history output is not JSON: %s" % e)
    sys.exit(0)
if not isinstance(recs, list):
    print("bad\tthe history output is a %s, not an array" % type(recs).__name__)
    sys.exit(0)
bad = [r for r in recs if not (isinstance(r, dict) and isinstance(r.get("ts"), str) and isinstance(r.get("type"), str))]
print(("bad\t%d of %d records lack a string ts or type: %s" % (len(bad), len(recs), str(bad[:2])[:200]))
      if bad else "ok\tall %d records have a ts and a type" % len(recs))
if bad:
    sys.exit(0)
try:
    ts = [ts_of(r) for r in recs]
except ValueError as e:
    print("bad\ta ts is not YYYY-MM-DDTHH:MM:SS.mmmZ: %s" % e)
    sys.exit(0)
back = [(recs[i - 1]["ts"], recs[i]["ts"]) for i in range(1, len(recs)) if ts[i] < ts[i - 1]]
print(("bad\tts decreases %d times, first %s -> %s" % (len(back), back[0][0], back[0][1])) if back
      else "ok\tts never decreases (%s .. %s)" % (recs[0]["ts"] if recs else "-", recs[-1]["ts"] if recs else "-"))
lines = [canon(r) for r in recs]
dups = len(lines) - len(set(lines))
keys = [(r["ts"], r["type"], r.get("unit", "")) for r in recs if r["type"] == "sample"]
kdups = len(keys) - len(set(keys))
print(("bad\t%d records twice, %d samples twice by (ts, unit)" % (dups, kdups)) if dups or kdups
      else "ok\tno record twice (%d records, %d samples unique by ts and unit)" % (len(lines), len(keys)))
with open(path + ".lines", "w") as f:
    f.write("".join(l + "\n" for l in lines))
if prev:
    old = [l for l in open(prev).read().split("\n") if l]
    have = set(lines)
    lost = [l for l in old if l not in have]
    print(("bad\t%d of the %d earlier records are gone, first: %s" % (len(lost), len(old), lost[0][:200]))
          if lost else "ok\tall %d earlier records still readable" % len(old))
EOF

cat >"$WORK/wrapper.sh" <<'EOF'
#!/bin/bash
# A unit's main process: joins the unit's cgroups, runs a leaker and waits for it; on SIGTERM it
# ends the leaker and reaps it (PID 1 of this host does not reap orphans).
# args: MEMORY_CGROUP SYSTEMD_CGROUP OUTDIR LEAKER [LEAKER_ARGS...]
echo $$ >"$1/cgroup.procs" || exit 11
echo $$ >"$2/cgroup.procs" || exit 12
out=$3 leaker=$4
shift 4
"$leaker" "$@" >"$out/leaker.out" 2>&1 &
lk=$!
echo "$lk" >"$out/child.tmp" && mv "$out/child.tmp" "$out/child"
trap 'kill -TERM $lk 2>/dev/null; wait; exit 0' TERM
wait
EOF

# ==================================================================================================
# crash: SIGKILL at random moments; a torn line made by hand
# ==================================================================================================
part_crash() {
  log "=== part crash ==="
  local state="$WORK/state-crash" conf="$WORK/conf-crash.json" u1="archiver@hc1x$$.service" u2="archiver@hc2x$$.service"
  local rounds=5 r k u v prev="" t_ok t_kill ran newest bound c n lo hi bad
  local -a t0 cnt durs
  write_config "$conf" 200ms
  make_unit "$u1" --initial-mb 8 --grow-mb-per-s 0.25 --max-mb 40
  make_unit "$u2" --initial-mb 12
  # Random run times 1.5-4 s (measured from /healthz 200); at least one long enough for the bound.
  for ((r = 1; r <= rounds; r++)); do durs[r]=$(awk -v x=$((RANDOM % 2501)) 'BEGIN { printf "%.3f", 1.5 + x / 1000 }'); done
  awk -v d="${durs[*]}" 'BEGIN { n = split(d, a, " "); for (i = 1; i <= n; i++) if (a[i] >= 3.2) exit 0; exit 1 }' ||
    durs[rounds]=4.000
  log "run times after /healthz 200: ${durs[*]} s"
  for ((r = 1; r <= rounds; r++)); do
    t0[r]=$(now)
    AGENT_LOG="$WORK/agent-crash-$r.log"
    start_agent "$AGENT_LOG" --config "$conf" --state-dir "$state" --cgroup-root "$CG"
    AURL="http://127.0.0.1:$APORT"
    t_ok=$(now)
    sleep "${durs[r]}"
    t_kill=$(now)
    kill9_agent
    ran=$(fsub "$t_kill" "$t_ok")
    log "round $r: agent SIGKILLed $ran s after /healthz 200"
    history_ok "$state" "$WORK/hist-crash-$r.json" "(crash round $r)" "$prev"
    prev="$WORK/hist-crash-$r.json.lines"
    # Records of earlier rounds: exactly as many as right after their own kill.
    for ((k = 1; k < r; k++)); do
      c=$(count "$WORK/hist-crash-$r.json" "${t0[k]}" "${t0[k + 1]}")
      [[ $c == "${cnt[k]}" ]] && pass "(crash round $r) round $k still has its ${cnt[k]} records" ||
        fail "(crash round $r) round $k has $c records, had ${cnt[k]} after its kill"
    done
    cnt[r]=$(count "$WORK/hist-crash-$r.json" "${t0[r]}" "$t_kill")
    log "round $r: $(cnt_of "$WORK/hist-crash-$r.json" "${t0[r]}" "$t_kill" "$u1" "$u2")"
    # The sync bound: records are fsynced at least every 2 s, so any record older than 2.5 s at
    # the kill is on disk; the newest such sample is at most one interval (1 s) + one scan older.
    # 0.8 s more for a loaded 2-core CI machine running the sanitizer build.
    if num_ge "$ran" 2.5; then
      newest=$(newest "$WORK/hist-crash-$r.json" "${t0[r]}" "$t_kill")
      bound=$(fsub "$t_kill" 4.5)
      [[ -n $newest ]] && num_ge "$newest" "$bound" &&
        pass "(crash round $r) synced before the kill: newest record $(fsub "$t_kill" "$newest") s before the kill (<= 2.5 s sync + 1 s interval + 0.2 s scan + 0.8 s load margin)" ||
        fail "(crash round $r) newest record on disk is $( [[ -n $newest ]] && echo "$(fsub "$t_kill" "$newest") s" || echo "none") before the kill after a $ran s run (want <= 4.5 s: fsync at least every 2 s)"
      for u in "$u1" "$u2"; do
        n=$(count "$WORK/hist-crash-$r.json" "${t0[r]}" "$t_kill" sample "$u")
        ((n >= 1)) && pass "(crash round $r) $u: $n samples on disk" || fail "(crash round $r) $u: no sample on disk after a $ran s run"
      done
      n=$(count "$WORK/hist-crash-$r.json" "${t0[r]}" "$t_kill" agent_start)
      [[ $n == 1 ]] && pass "(crash round $r) its agent_start is on disk" || fail "(crash round $r) $n agent_start records of this round (want 1)"
    else
      log "round $r ran $ran s (< 2.5 s): nothing of it has to be on disk yet"
    fi
  done

  # --- a torn last line, made while the agent is down -----------------------------------------------
  local cur="$state/history/current.jsonl" frag bytes ends t_torn
  [[ -f $cur ]] || die "no $cur after $rounds rounds"
  ends=$(tail -c 1 "$cur" | od -An -c | tr -d ' ')
  log "current.jsonl: $(wc -c <"$cur") bytes, last byte '${ends}'"
  frag="{\"ts\":\"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)\",\"type\":\"sample\",\"unit\":\"$u1\",\"rss\":123"
  printf '%s' "$frag" >>"$cur"
  bytes=${#frag}
  # The reader takes a last line without '\n' in current.jsonl for a write in progress: skipped.
  history_ok "$state" "$WORK/hist-torn-down.json" "(torn, agent down)" "$prev"
  n=$(count "$WORK/hist-torn-down.json" 0 1e12)
  [[ $n == "$(grep -c . "$prev")" ]] && ! grep -q '"rss":123[,}]' "$WORK/hist-torn-down.json" &&
    pass "(torn, agent down) the reader skips the torn line: $n records, as before" ||
    fail "(torn, agent down) $n records (had $(grep -c . "$prev")) or the fragment shown ($(grep -c '"rss":123' "$WORK/hist-torn-down.json") times)"
  t_torn=$(now)
  start_unit_agent torn "$conf" "$state" "$u1"
  v=$(log_line "$AGENT_LOG" "history torn line cut")
  if [[ $v == *"file=$cur"* && ($ends != '\n' || $v == *" bytes=$bytes"*) ]]; then
    pass "(torn) log: $v"  # bytes= is the fragment's length when the file ended with a whole line
  elif [[ $v == *"file=$cur"* ]]; then
    fail "(torn) log: '$v' (want bytes=$bytes, the fragment appended)"
  else
    fail "(torn) no 'history torn line cut file=$cur' in the log: $(grep -F history "$AGENT_LOG" | head -n 3 | cut -c1-200 | tr '\n' ' ')"
  fi
  v=$(metric mobasher_history_torn_lines_total)
  [[ -n $v ]] && num_eq "$v" 1 && pass "(torn) mobasher_history_torn_lines_total=$v" ||
    fail "(torn) mobasher_history_torn_lines_total=${v:-absent} (want 1)"
  wait_until 10 synced_ge 2 "$state" "$t_torn" 1e12 sample "$u1" ||
    fail "(torn) no new samples of $u1 synced within 10 s of the start after the torn line ($(hstat))"
  history_ok "$state" "$WORK/hist-torn.json" "(torn, after start)" "$prev"
  n=$(count "$WORK/hist-torn.json" "$t_torn" 1e12 sample "$u1")
  ((n >= 2)) && pass "(torn) new records follow: $n samples of $u1 since the start" ||
    fail "(torn) $n samples of $u1 since the start (want >= 2)"
  ! grep -qF "$frag" "$cur" && tail -c 1 "$cur" | od -An -c | grep -q '\\n' &&
    pass "(torn) the fragment is cut from current.jsonl, which ends with a whole line" ||
    fail "(torn) current.jsonl still holds the fragment or ends mid-line: ...$(tail -c 120 "$cur" | tr '\n' '|')"
  bad=""
  for ((k = 1; k <= rounds; k++)); do
    lo=${t0[k]}
    hi=${t0[k + 1]:-$t_torn}
    c=$(count "$WORK/hist-torn.json" "$lo" "$hi")
    [[ $c == "${cnt[k]}" ]] || bad+=" round $k: $c (had ${cnt[k]})"
  done
  [[ -z $bad ]] && pass "(torn) per-round record counts unchanged: ${cnt[*]}" || fail "(torn) per-round record counts changed:$bad"
  stop_agent
  history_json "$state" "$WORK/hist-final.json"
  v=$(jq -c '.[-1] | {type, reason}' "$WORK/hist-final.json" 2>/dev/null)
  [[ $v == '{"type":"agent_stop","reason":"SIGTERM"}' ]] && pass "(crash) after SIGTERM the last record is $v" ||
    fail "(crash) after SIGTERM the last record is ${v:-unreadable} (want agent_stop reason SIGTERM)"
  stop_main "$u1"
  stop_main "$u2"
}
cnt_of() {  # FILE FROM TO UNITS...: "N records (U: n samples, ...)"
  local f=$1 lo=$2 hi=$3 s u
  shift 3
  s="$(count "$f" "$lo" "$hi") records on disk"
  for u in "$@"; do s+=", $u: $(count "$f" "$lo" "$hi" sample "$u") samples"; done
  echo "$s"
}

# ==================================================================================================
# diskfull: a full tmpfs, then a read-only one
# ==================================================================================================
part_diskfull() {
  log "=== part diskfull ==="
  local state="$WORK/state-full" conf="$WORK/conf-full.json" u="archiver@hf1x$$.service"
  local t_full t_seen t_free t_back s0 v body n gap lab span name lo hi alert=MobasherUnitMemoryHigh
  mkdir -p "$state"
  mount -t tmpfs -o size=2m,mode=0755 tmpfs "$state" || die "mount -t tmpfs -o size=2m tmpfs $state"
  MOUNTS+=("$state")
  lab=$(ulab "$u")
  write_config "$conf" 200ms
  make_unit "$u" --initial-mb 8 --grow-mb-per-s 0.1 --max-mb 20
  start_unit_agent full "$conf" "$state" "$u"
  wait_until 10 metric_ge 'mobasher_history_records_total{result="written"}' 2 ||
    fail "(diskfull) nothing written to the history within 10 s ($(hstat))"

  # Fill the tmpfs. tmpfs allocates whole pages: the agent's next appends (~600 B/s) first fill
  # the free rest of current.jsonl's last page (up to 4 KiB), then fail: that takes seconds.
  t_full=$(now)
  dd if=/dev/zero of="$state/filler" bs=64k 2>"$WORK/dd.err"
  v=$(df -B1 --output=avail "$state" | tail -n 1 | tr -d ' ')
  [[ $v == 0 ]] && pass "(diskfull) tmpfs full: $(wc -c <"$state/filler") bytes of filler, 0 bytes available ($(tail -n 1 "$WORK/dd.err"))" ||
    fail "(diskfull) tmpfs not full after dd: $v bytes available ($(tail -n 1 "$WORK/dd.err"))"
  not_writable() { metric_is mobasher_history_writable 0; }
  wait_until 30 not_writable && pass "(diskfull) mobasher_history_writable 0 within 30 s ($(hstat))" ||
    fail "(diskfull) mobasher_history_writable still 1 30 s after the disk filled ($(hstat))"
  t_seen=$(now)
  body=$(healthz_body)
  v=$(sed -n 2p <<<"$body")
  [[ $(http_code "$AURL/healthz") == 200 && $(head -n 1 <<<"$body") == ok && $v == "warning: history not written since "*"No space left on device"* &&
    $v == *"$state/history/current.jsonl"* ]] &&
    pass "(diskfull) /healthz 200: $v" ||
    fail "(diskfull) /healthz $(http_code "$AURL/healthz") body '$(tr '\n' '|' <<<"$body")' (want 'ok' and 'warning: history not written since ...: $state/history/current.jsonl: No space left on device ...')"
  v=$(metric mobasher_history_write_errors_total)
  [[ -n $v ]] && num_gt "$v" 0 && pass "(diskfull) mobasher_history_write_errors_total=$v" ||
    fail "(diskfull) mobasher_history_write_errors_total=${v:-absent} (want > 0)"
  # A failed write is undone: the file still ends with a whole line.
  v=$(tail -c 1 "$state/history/current.jsonl" | od -An -c | tr -d ' ')
  [[ $v == '\n' ]] && pass "(diskfull) current.jsonl ($(wc -c <"$state/history/current.jsonl") bytes) ends with a whole line while writes fail" ||
    fail "(diskfull) current.jsonl ends mid-line while writes fail: ...$(tail -c 80 "$state/history/current.jsonl" | tr '\n' '|')"
  wait_until 5 log_has "$AGENT_LOG" "history write failed" &&
    pass "(diskfull) log: $(log_line "$AGENT_LOG" "history write failed")" || fail "(diskfull) no 'history write failed' in the log"
  s0=$(metric mobasher_scans_total)
  agent_serving "$s0" "(diskfull) disk full" "$u"

  # Alerting while the disk is full (alerts.json and units.json go to the same disk).
  join_leaker "$u" 64
  firing() { metric_is "mobasher_unit_alert_state{$lab,alert=\"$alert\"}" 2; }
  if wait_until 15 firing; then
    v=$(metric_value "$WORK/metrics.txt" mobasher_history_writable)
    [[ $v == 0 ]] && pass "(diskfull) alerting works while writes fail: alert_state{alert=\"$alert\"}=2, history_writable=$v" ||
      fail "(diskfull) $alert fired, but history_writable=$v by then (the disk was meant to be still full)"
  else
    fail "(diskfull) mobasher_unit_alert_state{...,alert=\"$alert\"}=$(metric "mobasher_unit_alert_state{$lab,alert=\"$alert\"}") (want 2) with rss $(metric "mobasher_unit_rss_bytes{$lab}")"
  fi
  log_has "$AGENT_LOG" "alert firing alert=$alert unit=$u" && pass "(diskfull) log: $(log_line "$AGENT_LOG" "alert firing alert=$alert")" ||
    fail "(diskfull) no 'alert firing alert=$alert unit=$u' in the log"
  kill_extra
  resolved() { metric_is "mobasher_unit_alert_state{$lab,alert=\"$alert\"}" 0; }
  wait_until 10 resolved || fail "(diskfull) $alert not inactive 10 s after the extra leaker died"
  pending_ge() { metric_ge mobasher_history_pending_records "$1"; }
  wait_until 5 pending_ge 6
  v=$(metric mobasher_history_pending_records)
  [[ -n $v ]] && num_ge "$v" 6 && pass "(diskfull) records kept pending while the disk is full: $(hstat)" ||
    fail "(diskfull) pending=${v:-absent} (want >= 6: a sample of the unit and one of the node each second)"
  v=$(metric mobasher_history_writable)
  [[ $v == 0 ]] || fail "(diskfull) history_writable=$v before the filler was removed (want 0: still full)"

  # Space returns.
  t_free=$(now)
  rm -f "$state/filler"
  # Pending back to normal: what one 2 s batch holds (a sample of the unit and of the node each
  # second, plus the scan's own). Exactly 0 is not a stable state: the batch and sample clocks
  # can stay in a phase where every scan sees the records of the coming batch.
  resumed() { metric_is mobasher_history_writable 1 && metric_le mobasher_history_pending_records 6 && [[ $(healthz_body) == ok ]]; }
  wait_until 10 resumed && pass "(diskfull) resumed within 10 s of the filler's removal: $(hstat), /healthz '$(healthz_body)'" ||
    fail "(diskfull) not resumed 10 s after the filler's removal: $(hstat), /healthz '$(healthz_body | tr '\n' '|')'"
  t_back=$(now)
  wait_until 5 log_has "$AGENT_LOG" "history write resumed" && pass "(diskfull) log: $(log_line "$AGENT_LOG" "history write resumed")" ||
    fail "(diskfull) no 'history write resumed' in the log"
  v=$(metric 'mobasher_history_records_total{result="dropped"}')
  [[ $v == 0 ]] && pass "(diskfull) no record dropped: $(hstat)" || fail "(diskfull) records dropped: $(hstat) (want dropped 0: the pending bound is 4 MiB)"
  wait_until 10 synced_ge 2 "$state" "$t_back" 1e12 sample "$u" || fail "(diskfull) no samples after the resume synced within 10 s"
  history_ok "$state" "$WORK/hist-full.json" "(diskfull)"
  for span in "before:0:$t_full" "during:$t_seen:$t_free" "after:$t_back:1e12"; do
    IFS=: read -r name lo hi <<<"$span"
    n=$(count "$WORK/hist-full.json" "$lo" "$hi" sample "$u")
    ((n >= 1)) && pass "(diskfull) $n samples of $u from $name the full disk" ||
      fail "(diskfull) no sample of $u from $name the full disk ($(fsub "$hi" "$lo") s span)"
  done
  read -r gap n < <(max_gap "$WORK/hist-full.json" "$u" 0 1e12)
  num_ge 3 "$gap" && pass "(diskfull) no gap: the $n samples of $u are at most $gap s apart (interval 1 s)" ||
    fail "(diskfull) a gap of $gap s between samples of $u (want <= 3 s: the samples taken while the disk was full must be kept)"
  # Only $alert's: the extra leaker's jump can also make a short MobasherUnitMemoryExhaustionPredicted
  # when a busy machine spreads it over two scans.
  n=$(count "$WORK/hist-full.json" "$t_seen" "$t_free" alert_firing "$u" "$alert")
  v=$(count "$WORK/hist-full.json" "$t_seen" "$t_free" alert_resolved "$u" "$alert")
  [[ $n == 1 && $v == 1 ]] && pass "(diskfull) the $alert alert_firing and alert_resolved events of the full-disk time are in the history" ||
    fail "(diskfull) $alert: alert_firing=$n alert_resolved=$v events of $u in the full-disk time (want 1 and 1; all alert events: $(awk -F'\t' '$2 ~ /^alert/ { printf "%s %s %s; ", $1, $2, $4 }' "$WORK/hist-full.json.tsv"))"

  # --- read-only --------------------------------------------------------------------------------
  local prev="$WORK/hist-full.json.lines" t_ro t_rw
  stop_agent
  mount -o remount,ro "$state" || die "mount -o remount,ro $state failed"
  touch "$state/probe" 2>"$WORK/touch.err" && fail "(read-only) touch succeeded on the read-only tmpfs" ||
    log "read-only: $(cat "$WORK/touch.err")"
  t_ro=$(now)
  start_unit_agent ro "$conf" "$state" "$u"
  body=$(healthz_body)
  v=$(sed -n 2p <<<"$body")
  [[ $(http_code "$AURL/healthz") == 200 && $v == "warning: history not written since "*"$state/history/current.jsonl: Read-only file system"* ]] &&
    pass "(read-only) /healthz 200: $v" ||
    fail "(read-only) /healthz $(http_code "$AURL/healthz") body '$(tr '\n' '|' <<<"$body")' (want 'warning: history not written since ...: $state/history/current.jsonl: Read-only file system ...')"
  v=$(metric mobasher_history_writable)
  [[ $v == 0 ]] && pass "(read-only) mobasher_history_writable=$v" || fail "(read-only) mobasher_history_writable=${v:-absent} (want 0)"
  wait_until 5 metric_ge mobasher_history_write_errors_total 1
  v=$(metric mobasher_history_write_errors_total)
  [[ -n $v ]] && num_gt "$v" 0 && pass "(read-only) mobasher_history_write_errors_total=$v" ||
    fail "(read-only) mobasher_history_write_errors_total=${v:-absent} (want > 0)"
  log_has "$AGENT_LOG" "Read-only file system" && pass "(read-only) log: $(log_line "$AGENT_LOG" "Read-only file system")" ||
    fail "(read-only) no log line naming 'Read-only file system'"
  s0=$(metric mobasher_scans_total)
  agent_serving "$s0" "(read-only)" "$u"
  wait_until 6 pending_ge 6 || fail "(read-only) pending records: $(hstat) (want >= 6)"
  t_rw=$(now)
  mount -o remount,rw "$state" || die "mount -o remount,rw $state failed"
  wait_until 10 resumed && pass "(read-only) resumed within 10 s of remount,rw: $(hstat), /healthz '$(healthz_body)'" ||
    fail "(read-only) not resumed 10 s after remount,rw: $(hstat), /healthz '$(healthz_body | tr '\n' '|')'"
  t_back=$(now)
  wait_until 10 synced_ge 2 "$state" "$t_back" 1e12 sample "$u" || fail "(read-only) no samples after the resume synced within 10 s"
  history_ok "$state" "$WORK/hist-ro.json" "(read-only)" "$prev"
  n=$(count "$WORK/hist-ro.json" "$t_ro" "$t_rw" sample "$u")
  ((n >= 2)) && pass "(read-only) $n samples of $u taken while read-only are in the history" ||
    fail "(read-only) $n samples of $u from the read-only time (want >= 2)"
  read -r gap n < <(max_gap "$WORK/hist-ro.json" "$u" "$t_ro" 1e12)
  num_ge 3 "$gap" && pass "(read-only) no gap since the start on the read-only disk: $n samples at most $gap s apart" ||
    fail "(read-only) a gap of $gap s between samples of $u since the start (want <= 3 s)"
  stop_agent
  stop_main "$u"
}

# ==================================================================================================
# reseed: restart counter and growth estimate from the history alone
# ==================================================================================================
part_reseed() {
  log "=== part reseed ==="
  local state="$WORK/state-reseed" conf="$WORK/conf-reseed.json" conf2="$WORK/conf-reseed-slow.json"
  local u="archiver@hr1x$$.service" short="archiver@hr1x$$" lab rlab t_start t_restart t_growth v g s n csv
  lab=$(ulab "$u")
  rlab="$lab,cause=\"external\""
  write_config "$conf" 200ms
  write_config "$conf2" 5s  # the second run: its first scan stays the published one for 5 s
  make_unit "$u" --initial-mb 16 --grow-mb-per-s 1 --max-mb 400
  t_start=$(now)
  start_unit_agent reseed-1 "$conf" "$state" "$u"
  wait_until 10 synced_ge 1 "$state" "$t_start" 1e12 sample "$u" ||
    fail "(reseed) no sample of the first main process synced within 10 s"

  # Restart: the main process stops (ending its leaker), a new one starts in the same cgroup.
  local old=${WRAPPER_PID[$u]}
  stop_main "$u"
  t_restart=$(now)
  start_main "$u" --initial-mb 16 --grow-mb-per-s 1 --max-mb 400
  log "restarted $u: main pid $old -> ${WRAPPER_PID[$u]}"
  wait_until 10 metric_is "mobasher_unit_restarts_total{$rlab}" 1 &&
    pass "(reseed) run 1: mobasher_unit_restarts_total{cause=\"external\"}=1 after the main process was replaced" ||
    fail "(reseed) run 1: restarts_total: $(grep '^mobasher_unit_restarts_total' "$WORK/metrics.txt" | grep -F "$u" | tr '\n' ';')"
  log_has "$AGENT_LOG" "restart observed unit=$u cause=external total=1" &&
    pass "(reseed) log: $(log_line "$AGENT_LOG" "restart observed unit=$u")" || fail "(reseed) no 'restart observed unit=$u cause=external total=1' in the log"
  # The estimator needs 4 samples over 15 s of the new process (agent/state/unit_tracker.cpp slope()).
  growth() { [[ -n $(metric "mobasher_unit_memory_growth_bytes_per_second{$lab}") ]]; }
  wait_until 30 growth && pass "(reseed) run 1: growth gauge present $(fsub "$(now)" "$t_restart") s after the restart: $(metric_value "$WORK/metrics.txt" "mobasher_unit_memory_growth_bytes_per_second{$lab}") B/s" ||
    fail "(reseed) run 1: no mobasher_unit_memory_growth_bytes_per_second for $u 30 s after the restart"
  t_growth=$(now)
  wait_until 10 synced_ge 2 "$state" "$t_growth" 1e12 sample "$u" ||
    fail "(reseed) fewer than 2 samples synced after the growth gauge appeared"
  stop_agent
  history_ok "$state" "$WORK/hist-reseed-1.json" "(reseed) run 1"
  v=$(jq -c '.[-1] | {type, reason}' "$WORK/hist-reseed-1.json" 2>/dev/null)
  [[ $v == '{"type":"agent_stop","reason":"SIGTERM"}' ]] && pass "(reseed) run 1 ended with $v" || fail "(reseed) run 1's last record: ${v:-none} (want agent_stop SIGTERM)"
  n=$(count "$WORK/hist-reseed-1.json" "$t_restart" 1e12 sample "$u")
  log "run 1: $n samples of $u after the restart, types of $u: $(types_of "$WORK/hist-reseed-1.json" "$u" | cut -c1-200)"

  rm -f "$state/units.json"
  [[ ! -e $state/units.json ]] && pass "(reseed) units.json deleted: only the history can re-seed ($(ls "$state" | tr '\n' ' '))" ||
    fail "(reseed) units.json still there"
  AGENT_LOG="$WORK/agent-reseed-2.log"
  start_agent "$AGENT_LOG" --config "$conf2" --state-dir "$state" --cgroup-root "$CG" --log-level debug
  AURL="http://127.0.0.1:$APORT"
  curl -fsS --max-time 3 "$AURL/metrics" >"$WORK/first.txt"
  s=$(metric_value "$WORK/first.txt" mobasher_scans_total)
  v=$(metric_value "$WORK/first.txt" "mobasher_unit_restarts_total{$rlab}")
  g=$(metric_value "$WORK/first.txt" "mobasher_unit_memory_growth_bytes_per_second{$lab}")
  [[ $s == 1 ]] && pass "(reseed) run 2: the metrics read right after /healthz 200 are the first scan's (mobasher_scans_total=$s)" ||
    fail "(reseed) run 2: mobasher_scans_total=${s:-absent} right after /healthz 200 (want 1: scan_interval 5s)"
  [[ $v == 1 ]] && pass "(reseed) run 2, first scan: mobasher_unit_restarts_total{cause=\"external\"}=$v (seeded from the history)" ||
    fail "(reseed) run 2, first scan: mobasher_unit_restarts_total{cause=\"external\"}=${v:-absent} (want 1, not 0): $(grep '^mobasher_unit_restarts_total' "$WORK/first.txt" | grep -F "$u" | tr '\n' ';')"
  if [[ -n $g ]]; then
    # The leaker grows 1 MiB/s; its rss is the unit's measure.
    within_pct "$g" 1048576 50 && pass "(reseed) run 2, first scan: growth gauge present from the seeded samples: $g B/s (leaker: 1048576 B/s, within 50 %)" ||
      fail "(reseed) run 2, first scan: growth gauge $g B/s, the leaker grows 1048576 B/s (want within 50 %)"
  else
    fail "(reseed) run 2, first scan: no mobasher_unit_memory_growth_bytes_per_second for $u (the seeded samples should supply 4 over 15 s)"
  fi
  v=$(metric_value "$WORK/first.txt" "mobasher_unit_seconds_to_limit{$lab}")
  [[ -n $v ]] && num_gt "$v" 0 && pass "(reseed) run 2, first scan: mobasher_unit_seconds_to_limit=$v" ||
    fail "(reseed) run 2, first scan: mobasher_unit_seconds_to_limit=${v:-absent} (want > 0)"
  v=$(log_line "$AGENT_LOG" "history read units=")
  [[ $v =~ history\ read\ units=([0-9]+) ]] && ((BASH_REMATCH[1] >= 1)) && pass "(reseed) log: $v" ||
    fail "(reseed) log: want 'history read units=N' with N >= 1, got '${v:-nothing}'"
  log_has "$AGENT_LOG" "state loaded file=$state/units.json" && fail "(reseed) run 2 loaded units.json, which was deleted" ||
    pass "(reseed) run 2 loaded no units.json"
  # The next scan: the restart is not counted again and the estimate stays.
  wait_until 12 scans_above 1
  v=$(metric_value "$WORK/metrics.txt" "mobasher_unit_restarts_total{$rlab}")
  g=$(metric_value "$WORK/metrics.txt" "mobasher_unit_memory_growth_bytes_per_second{$lab}")
  [[ $v == 1 && -n $g ]] && pass "(reseed) run 2, scan $(metric_value "$WORK/metrics.txt" mobasher_scans_total): restarts_total still $v, growth $g B/s" ||
    fail "(reseed) run 2, second scan: restarts_total=${v:-absent} (want 1), growth=${g:-absent} (want present)"
  stop_agent

  # The CLI: the unit's records as CSV and as a table.
  "$AGENT" history --unit "$short" --since 10m --format csv --state-dir "$state" >"$WORK/h.csv" 2>"$WORK/h.csv.err"
  v=$(head -n 1 "$WORK/h.csv")
  [[ $v == ts,type,unit,rss,swap,usage,working_set,limit,processes,* ]] && pass "(reseed) csv header: $v" ||
    fail "(reseed) csv header: '$v'"
  csv=$(python3 - "$WORK/h.csv" "$u" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
u = sys.argv[2]
restart = [r for r in rows if r["type"] == "restart" and r["unit"] == u]
samples = [r for r in rows if r["type"] == "sample" and r["unit"] == u and r["rss"].isdigit()]
other = [r for r in rows if r["unit"] != u]
print(len(restart), len(samples), len(other), restart[0]["detail"] if restart else "-")
EOF
)
  read -r n s v g <<<"$csv"
  [[ $n == 1 && $g == *cause=external* && $g == *total=1* ]] && pass "(reseed) csv: the restart event: detail '$g'" ||
    fail "(reseed) csv: $n restart rows of $u (want 1, detail with cause=external total=1): '$g'"
  ((s >= 15 && v == 0)) && pass "(reseed) csv: $s sample rows of $u with rss, no other unit's rows" ||
    fail "(reseed) csv: $s sample rows of $u (want >= 15), $v rows of other units or the node (want 0)"
  "$AGENT" history --unit "$u" --since 10m --format table --state-dir "$state" >"$WORK/h.txt" 2>"$WORK/h.txt.err"
  v=$(head -n 1 "$WORK/h.txt")
  n=$(grep -c ' sample ' "$WORK/h.txt")
  [[ $v =~ ^TIME\ +TYPE\ +RSS\ +SWAP\ +USAGE\ +LIMIT\ +PROCS\ +DETAIL$ ]] && pass "(reseed) table header: '$v'" ||
    fail "(reseed) table header: '$v' (want TIME TYPE RSS SWAP USAGE LIMIT PROCS DETAIL)"
  ((n >= 15)) && grep -q ' restart .*cause=external' "$WORK/h.txt" &&
    pass "(reseed) table: $n sample rows and the restart row: $(grep -m 1 ' restart ' "$WORK/h.txt" | tr -s ' ')" ||
    fail "(reseed) table: $n sample rows (want >= 15), restart row: '$(grep -m 1 ' restart ' "$WORK/h.txt")'; first rows: $(sed -n 2,3p "$WORK/h.txt" | tr '\n' '|')"
  stop_main "$u"
}

for p in "${PARTS[@]}"; do "part_$p"; done
