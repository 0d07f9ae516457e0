#!/usr/bin/env bash
# Integration test with real parts: real cgroup v1 hierarchies shaped like systemd's (memory and
# name=systemd), real ffmpeg children and real leaking processes in them, the agent scraped by a
# real Prometheus, real promtool. Values the agent exports are compared with /proc and the cgroup
# files read at the same moment. Then chaos (processes spawned into the units and SIGKILLed while
# the agent scans every 100 ms), a restart of one unit and the removal of another.
#
# usage: real_cgroups_prometheus_test.sh PATH/TO/mobasher-agent PATH/TO/mobasher-leaker
# Root only. Missing tools are a failure, never a skip. Cleans up every process (by PID) and every
# cgroup it made, also on failure (trap EXIT).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

AGENT=${1:-}
LEAKER=${2:-}
TEST_NAME=real_cgroups_prometheus_test
TOLERANCE_PCT=5

require_root
require_tools ffmpeg:ffmpeg prometheus:prometheus promtool:prometheus curl:curl jq:jq ss:iproute2 \
  awk:mawk
require_executable "$AGENT"
require_executable "$LEAKER"
AGENT=$(readlink -f "$AGENT")
LEAKER=$(readlink -f "$LEAKER")

CG=/sys/fs/cgroup
for h in memory systemd; do
  [[ -w $CG/$h/cgroup.procs ]] || die "$CG/$h is not a writable cgroup v1 hierarchy (need the hybrid/v1 layout)"
done

PREFIX=mobasher-it-$$.slice
WORK=$(mktemp -d /tmp/mobasher-it-cg.XXXXXX)
AGENT_PID=""
PROM_PID=""
CHAOS_PIDS=()
declare -A WRAPPER_PID=()

# Unit names as systemd makes them. If another run left units with these names anywhere in the
# name=systemd hierarchy, the agent would see two units of one name; use unique channels instead.
CH=ch
if find "$CG/systemd" -maxdepth 8 -type d \( -name 'archiver@*.service' -o -name 'recorder@*.service' \) \
  2>/dev/null | grep -q .; then
  CH="it$$ch"
  log "note: other archiver@/recorder@ cgroups exist on this host; using channels ${CH}N"
fi
UNITS=("archiver@${CH}1.service" "archiver@${CH}2.service" "archiver@${CH}3.service" "recorder@${CH}1.service")
declare -A SLICE=([${UNITS[0]}]=system-archiver.slice [${UNITS[1]}]=system-archiver.slice
  [${UNITS[2]}]=system-archiver.slice [${UNITS[3]}]=system-recorder.slice)
declare -A GROUP=([${UNITS[0]}]=archiver [${UNITS[1]}]=archiver [${UNITS[2]}]=archiver
  [${UNITS[3]}]=recorder)
declare -A LEAK_MB=([${UNITS[0]}]=40 [${UNITS[1]}]=80 [${UNITS[2]}]=120 [${UNITS[3]}]=60)
# Real cgroup limits on two units; the others fall back to the group's memory_limit.
declare -A CG_LIMIT=([${UNITS[0]}]=$((512 << 20)) [${UNITS[3]}]=$((256 << 20)))
declare -A CONFIGURED_LIMIT=([archiver]=$((2 << 30)) [recorder]=$((3 << 29)))

cg_dir() { echo "$CG/$1/$PREFIX/system.slice/${SLICE[$2]}/$2"; }
unit_pids() { cat "$(cg_dir systemd "$1")/cgroup.procs" 2>/dev/null; }
unit_pid_count() { unit_pids "$1" | grep -c . ; }

cleanup() {
  local rc=$? u h pid d
  set +e
  trap - EXIT INT TERM
  log "cleanup"
  for pid in "${CHAOS_PIDS[@]}"; do stop_pid "$pid" 3; done
  [[ -n $PROM_PID ]] && stop_pid "$PROM_PID" 10
  [[ -n $AGENT_PID ]] && stop_agent_checked "$AGENT_PID" "$WORK/agent.log" 10
  # Children first, so each wrapper reaps them (PID 1 here does not reap orphans), then wrappers.
  for u in "${UNITS[@]}"; do
    for pid in $(unit_pids "$u"); do
      [[ $pid == "${WRAPPER_PID[$u]:-}" ]] || kill -KILL "$pid" 2>/dev/null
    done
  done
  for u in "${!WRAPPER_PID[@]}"; do stop_pid "${WRAPPER_PID[$u]}" 3; done
  for u in "${UNITS[@]}"; do  # anything left (should be nothing)
    for h in systemd memory; do
      for pid in $(cat "$(cg_dir $h "$u")/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    done
  done
  for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid" 2; done
  for h in systemd memory; do
    [[ -d $CG/$h/$PREFIX ]] || continue
    for u in "${UNITS[@]}"; do
      d=$(cg_dir $h "$u")
      [[ -d $d ]] && { wait_until 5 bash -c "! grep -q . '$d/cgroup.procs'"; rmdir "$d" || log "cannot rmdir $d"; }
    done
    for d in "$CG/$h/$PREFIX/system.slice/system-archiver.slice" "$CG/$h/$PREFIX/system.slice/system-recorder.slice" \
      "$CG/$h/$PREFIX/system.slice" "$CG/$h/$PREFIX"; do
      [[ -d $d ]] && { rmdir "$d" || log "cannot rmdir $d"; }
    done
  done
  if ((rc != 0 || FAILS != 0)); then
    log "agent log (last 40 lines of $WORK/agent.log):"
    tail -n 40 "$WORK/agent.log" 2>/dev/null | sed 's/^/  agent| /'
    log "prometheus log (last 10 lines):"
    tail -n 10 "$WORK/prometheus.log" 2>/dev/null | sed 's/^/  prom| /'
  fi
  rm -rf "$WORK"
  finish "$TEST_NAME" || rc=1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. cgroups and units -------------------------------------------------------------------------
cat >"$WORK/wrapper.sh" <<'EOF'
#!/bin/bash
# A unit's main process: joins the unit's cgroups, then runs an ffmpeg and a leaker and waits.
# args: MEMORY_CGROUP SYSTEMD_CGROUP LEAK_MB OUTDIR LEAKER
echo $$ >"$1/cgroup.procs" || exit 11
echo $$ >"$2/cgroup.procs" || exit 12
ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=160x120:rate=5 -t 900 -y "$4/out.mkv" \
  </dev/null >"$4/ffmpeg.log" 2>&1 &
ff=$!
"$5" --initial-mb "$3" >"$4/leaker.out" 2>&1 &
lk=$!
echo "$ff $lk" >"$4/children.tmp" && mv "$4/children.tmp" "$4/children"
trap 'kill -TERM $ff $lk 2>/dev/null; wait; exit 0' TERM
wait
EOF

start_unit() {  # UNIT: starts its wrapper and waits (bounded) until all three processes run
  local u=$1 out="$WORK/units/$1"
  rm -rf "$out"
  mkdir -p "$out"
  bash "$WORK/wrapper.sh" "$(cg_dir memory "$u")" "$(cg_dir systemd "$u")" "${LEAK_MB[$u]}" "$out" "$LEAKER" \
    2>>"$out/wrapper.err" &
  WRAPPER_PID[$u]=$!
  wait_until 20 bash -c "grep -q '^ready' '$out/leaker.out' 2>/dev/null && [[ -s '$out/children' ]] && \
    [[ \$(grep -c . '$(cg_dir systemd "$u")/cgroup.procs') -eq 3 ]]" ||
    die "unit $u did not start: procs=[$(unit_pids "$u" | tr '\n' ' ')] leaker=$(cat "$out/leaker.out" 2>/dev/null) ffmpeg=$(cat "$out/ffmpeg.log" 2>/dev/null)"
}
children_of() { cat "$WORK/units/$1/children"; }  # "FFMPEG_PID LEAKER_PID"

log "creating cgroups under $CG/{memory,systemd}/$PREFIX"
for u in "${UNITS[@]}"; do
  for h in memory systemd; do mkdir -p "$(cg_dir $h "$u")" || die "mkdir $(cg_dir $h "$u")"; done
  if [[ -n ${CG_LIMIT[$u]:-} ]]; then
    echo "${CG_LIMIT[$u]}" >"$(cg_dir memory "$u")/memory.limit_in_bytes" || die "cannot set memory.limit_in_bytes of $u"
  fi
done
for u in "${UNITS[@]}"; do start_unit "$u"; done
for u in "${UNITS[@]}"; do
  log "unit $u: wrapper=${WRAPPER_PID[$u]} ffmpeg+leaker=$(children_of "$u") leak=${LEAK_MB[$u]}MiB procs=[$(unit_pids "$u" | tr '\n' ' ')]"
done

# --- 2. agent and prometheus ----------------------------------------------------------------------
write_config() {  # SCAN_INTERVAL
  cat >"$WORK/agent.json" <<EOF
// integration test: $TEST_NAME
{
  "scan_interval": "$1",
  "discovery_interval": "2s",
  "state_dir": "$WORK/state",
  "groups": [
    { "name": "archiver", "units": "archiver@*.service", "memory_limit": "2G",
      "warn": "1.5G", "critical": "95%" },
    { "name": "recorder", "units": "recorder@*.service", "memory_limit": "1.5G",
      "warn": "80%", "critical": "95%" }
  ]
}
EOF
}
write_config 1s
mkdir -p "$WORK/state"

APORT=""
for attempt in 1 2 3 4 5; do
  APORT=$(free_port) || die "no free port"
  "$AGENT" run --config "$WORK/agent.json" --listen "127.0.0.1:$APORT" --state-dir "$WORK/state" \
    --log-level debug >"$WORK/agent.log" 2>&1 &
  AGENT_PID=$!
  if wait_until 15 http_ok_or_dead "http://127.0.0.1:$APORT/healthz" "$AGENT_PID" &&
    alive "$AGENT_PID"; then
    break
  fi
  log "agent attempt $attempt on port $APORT failed: $(tail -n 3 "$WORK/agent.log")"
  stop_pid "$AGENT_PID" 2
  AGENT_PID=""
done
[[ -n $AGENT_PID ]] || die "agent did not become healthy (see log above)"
AURL="http://127.0.0.1:$APORT"
log "agent pid=$AGENT_PID listening on $AURL"

cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: mobasher
    static_configs:
      - targets: ['127.0.0.1:$APORT']
EOF
promtool check config "$WORK/prometheus.yml" >/dev/null 2>&1 || die "promtool rejects the test's prometheus.yml"
PPORT=""
for attempt in 1 2 3 4 5; do
  PPORT=$(free_port) || die "no free port"
  prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
    --web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
  PROM_PID=$!
  if wait_until 30 http_ok_or_dead "http://127.0.0.1:$PPORT/-/ready" "$PROM_PID" &&
    alive "$PROM_PID"; then
    break
  fi
  log "prometheus attempt $attempt on port $PPORT failed: $(tail -n 3 "$WORK/prometheus.log")"
  stop_pid "$PROM_PID" 5
  PROM_PID=""
done
[[ -n $PROM_PID ]] || die "prometheus did not become ready"
PURL="http://127.0.0.1:$PPORT"
log "prometheus pid=$PROM_PID on $PURL"

# promval 'QUERY' -> the single sample's value, "none" if no result, "many" if more than one
promval() {
  curl -fsS --max-time 5 --data-urlencode "query=$1" "$PURL/api/v1/query" 2>/dev/null |
    jq -r 'if .status != "success" then "error"
           elif (.data.result | length) == 0 then "none"
           elif (.data.result | length) > 1 then "many"
           else .data.result[0].value[1] end' 2>/dev/null || echo error
}
SEL='job="mobasher"'
# Only our units: other tests on this host may run units of their own that the agent also sees.
OURS="$SEL,unit=~\"$(IFS='|'; echo "${UNITS[*]}")\""
prom_ready() {
  [[ $(promval "count(mobasher_unit_processes{$OURS} == 3)") == 4 ]] &&
    [[ $(promval "count(mobasher_process_rss_bytes{$OURS,comm=\"mobasher-leaker\"})") == 4 ]]
}
wait_until 40 prom_ready ||
  die "prometheus has no complete data from the agent after 40 s: up=$(promval "up{$SEL}") ours=$(promval "count(mobasher_unit_processes{$OURS})") ours_with_3=$(promval "count(mobasher_unit_processes{$OURS} == 3)")"
pass "prometheus scrapes the agent: up=$(promval "up{$SEL}"), 4 units with 3 processes each"
sleep 2  # let a couple more scans land so every series holds settled values

# --- 3. values in prometheus vs /proc and the cgroup files ------------------------------------------
declare -A RESULT_ROWS=()
layout=$(curl -fsS --max-time 5 --data-urlencode "query=mobasher_build_info{$SEL}" "$PURL/api/v1/query" |
  jq -r '.data.result[0].metric.cgroup_layout // "none"')
[[ $layout == hybrid ]] && pass "mobasher_build_info cgroup_layout=$layout (expected hybrid)" ||
  fail "mobasher_build_info cgroup_layout=$layout, expected hybrid"

for u in "${UNITS[@]}"; do
  us="$SEL,unit=\"$u\""
  a_rss=$(promval "mobasher_unit_rss_bytes{$us}")
  a_usage=$(promval "mobasher_unit_memory_usage_bytes{$us}")
  a_ws=$(promval "mobasher_unit_memory_working_set_bytes{$us}")
  a_leak=$(promval "mobasher_process_rss_bytes{$us,comm=\"mobasher-leaker\"}")
  a_ff=$(promval "mobasher_process_instances{$us,comm=\"ffmpeg\"}")
  a_procs=$(promval "mobasher_unit_processes{$us}")
  a_limit=$(promval "mobasher_unit_memory_limit_bytes{$us}")
  a_up=$(promval "mobasher_unit_up{$us}")
  a_group=$(curl -fsS --max-time 5 --data-urlencode "query=mobasher_unit_rss_bytes{$us}" "$PURL/api/v1/query" |
    jq -r '.data.result[0].metric | "\(.group)/\(.channel)"')
  # Ground truth, read right now.
  mapfile -t pids < <(unit_pids "$u")
  t_rss=$(vmrss_sum "${pids[@]}")
  read -r ffpid lkpid < <(children_of "$u")
  t_leak=$(vmrss_sum "$lkpid")
  t_usage=$(cat "$(cg_dir memory "$u")/memory.usage_in_bytes")
  raw_limit=$(cat "$(cg_dir memory "$u")/memory.limit_in_bytes")
  if [[ -n ${CG_LIMIT[$u]:-} ]]; then t_limit=$raw_limit; else t_limit=${CONFIGURED_LIMIT[${GROUP[$u]}]}; fi
  k_bytes=$((LEAK_MB[$u] << 20))
  RESULT_ROWS[$u]="agent_rss=$a_rss proc_rss=$t_rss agent_usage=$a_usage cgroup_usage=$t_usage leaker_agent=$a_leak leaker_proc=$t_leak"

  within_pct "$a_rss" "$t_rss" $TOLERANCE_PCT &&
    pass "$u rss: agent=$a_rss /proc sum VmRSS of ${#pids[@]} pids=$t_rss (within $TOLERANCE_PCT%)" ||
    fail "$u rss: agent=$a_rss /proc sum VmRSS of pids [${pids[*]}]=$t_rss (not within $TOLERANCE_PCT%)"
  within_pct "$a_leak" "$t_leak" $TOLERANCE_PCT && num_ge "$a_leak" "$k_bytes" &&
    pass "$u leaker rss: agent=$a_leak /proc VmRSS(pid $lkpid)=$t_leak >= ${LEAK_MB[$u]} MiB ($k_bytes)" ||
    fail "$u leaker rss: agent=$a_leak /proc VmRSS(pid $lkpid)=$t_leak, want within $TOLERANCE_PCT% and >= $k_bytes"
  # usage includes the page cache of ffmpeg's output file, which grows between the scrape and
  # this read: on a miss compare afresh (bounded), both values read again.
  for attempt in 1 2 3 4 5; do
    within_pct "$a_usage" "$t_usage" $TOLERANCE_PCT && break
    ((attempt == 5)) && break
    sleep 1
    a_usage=$(promval "mobasher_unit_memory_usage_bytes{$us}")
    t_usage=$(cat "$(cg_dir memory "$u")/memory.usage_in_bytes")
  done
  within_pct "$a_usage" "$t_usage" $TOLERANCE_PCT &&
    pass "$u memory usage: agent=$a_usage memory.usage_in_bytes=$t_usage (within $TOLERANCE_PCT%, attempt $attempt)" ||
    fail "$u memory usage: agent=$a_usage memory.usage_in_bytes=$t_usage (not within $TOLERANCE_PCT% in $attempt attempts)"
  num_ge "$a_ws" 1 && awk -v w="$a_ws" -v u="$t_usage" 'BEGIN { exit !(w <= u * 1.05) }' &&
    pass "$u working set: agent=$a_ws (0 < ws <= usage $t_usage)" ||
    fail "$u working set: agent=$a_ws, want 0 < ws <= usage $t_usage"
  [[ $a_ff == 1 ]] && pass "$u ffmpeg instances: agent=$a_ff expected 1 (pid $ffpid)" ||
    fail "$u ffmpeg instances: agent=$a_ff expected 1"
  [[ $a_procs == 3 && ${#pids[@]} == 3 ]] && pass "$u processes: agent=$a_procs cgroup.procs=${#pids[@]} expected 3" ||
    fail "$u processes: agent=$a_procs cgroup.procs=${#pids[@]} expected 3"
  num_eq "$a_limit" "$t_limit" &&
    pass "$u limit: agent=$a_limit expected $t_limit ($([[ -n ${CG_LIMIT[$u]:-} ]] && echo "memory.limit_in_bytes" || echo "configured memory_limit; cgroup says $raw_limit"))" ||
    fail "$u limit: agent=$a_limit expected $t_limit (memory.limit_in_bytes=$raw_limit)"
  [[ $a_up == 1 ]] && pass "$u up: agent=$a_up" || fail "$u up: agent=$a_up expected 1"
  [[ $a_group == "${GROUP[$u]}/$(sed 's/^[^@]*@//; s/\.service$//' <<<"$u")" ]] &&
    pass "$u labels group/channel=$a_group" || fail "$u labels group/channel=$a_group"
done

# --- 4. promtool check metrics on the live exposition ---------------------------------------------
curl -fsS --max-time 5 "$AURL/metrics" >"$WORK/metrics.txt" || fail "GET /metrics failed"
lint=$(promtool check metrics <"$WORK/metrics.txt" 2>&1)
lint_rc=$?
[[ $lint_rc -eq 0 && -z $lint ]] && pass "promtool check metrics: clean ($(grep -vc '^#' "$WORK/metrics.txt") series)" ||
  fail "promtool check metrics: rc=$lint_rc: $lint"

# --- 5. chaos: short-lived processes spawned into the units and SIGKILLed, 100 ms scans ----------
proc_errors() { local v; v=$(metric_value "$1" 'mobasher_scan_errors_total{source="proc"}'); echo "${v:-0}"; }
cgroup_errors() { local v; v=$(metric_value "$1" 'mobasher_scan_errors_total{source="cgroup"}'); echo "${v:-0}"; }
scans() { local v; v=$(metric_value "$1" 'mobasher_scans_total'); echo "${v:-0}"; }
# Our units' series only (other agents' tests on this host may have units of their own).
OUR_UNITS_RE="unit=\"($(IFS='|'; echo "${UNITS[*]}" | sed 's/\./\\./g'))\""
our_restarts() {  # FILE [unit to leave out] -> sum of mobasher_unit_restarts_total over our units
  grep '^mobasher_unit_restarts_total{' "$1" | grep -E "$OUR_UNITS_RE" |
    { if [[ -n ${2:-} ]]; then grep -vF "unit=\"$2\""; else cat; fi; } | awk '{ s += $2 } END { print s + 0 }'
}

# Chaos. Runs in a subshell; spawns only processes it reaps itself (PID 1 on this host does not
# reap orphans, so nothing may be orphaned): leaves are `sleep`s, parents exit when their leaves die.
kill_extra_sleeps() {  # INDEX [all]: SIGKILLs chaos leaves (comm sleep) in unit INDEX, half of them unless "all"
  local pid comm
  while read -r pid; do
    [[ $KNOWN == *" $pid "* ]] && continue
    read -r comm <"/proc/$pid/comm" 2>/dev/null || continue
    [[ $comm == sleep ]] || continue
    if [[ ${2:-} == all ]] || ((RANDOM % 2)); then kill -KILL "$pid" 2>/dev/null; fi
  done <"${SD_PROCS[$1]}"
}
chaos_loop() {
  local end=$((${EPOCHREALTIME/./} + 10000000)) i md sd spawned=0 n=0 left deadline
  while ((${EPOCHREALTIME/./} < end)); do
    i=$((RANDOM % ${#UNITS[@]}))
    md=${MEM_PROCS[$i]}
    sd=${SD_PROCS[$i]}
    case $((RANDOM % 3)) in
      0) (echo "$BASHPID" >"$md" && echo "$BASHPID" >"$sd" && exec sleep 30) & ;;
      1) (echo "$BASHPID" >"$md" && echo "$BASHPID" >"$sd" && exec true) & ;;  # gone at once
      2) (echo "$BASHPID" >"$md" && echo "$BASHPID" >"$sd" && exec bash -c 'sleep 30 & sleep 30 & wait') & ;;
    esac
    spawned=$((spawned + 1))
    n=$((n + 1))
    if ((n >= 3)); then
      n=0
      kill_extra_sleeps $((RANDOM % ${#UNITS[@]}))
    fi
    ((RANDOM % 4 == 0)) && sleep 0.01
  done
  deadline=$((${EPOCHREALTIME/./} + 5000000))
  while ((${EPOCHREALTIME/./} < deadline)); do
    for i in "${!UNITS[@]}"; do kill_extra_sleeps "$i" all; done
    [[ -z $(jobs -pr) ]] && break
    sleep 0.05
  done
  left=$(jobs -pr)
  # shellcheck disable=SC2086  # a list of PIDs
  [[ -n $left ]] && kill -KILL $left 2>/dev/null  # last resort, bounded: never wait 30 s for a sleep
  wait
  echo "$spawned" >>"$WORK/chaos.spawned"
}
KNOWN=" "
MEM_PROCS=()
SD_PROCS=()
for i in "${!UNITS[@]}"; do
  u=${UNITS[$i]}
  KNOWN+="${WRAPPER_PID[$u]} $(children_of "$u") "
  MEM_PROCS[$i]=$(cg_dir memory "$u")/cgroup.procs
  SD_PROCS[$i]=$(cg_dir systemd "$u")/cgroup.procs
done

curl -fsS --max-time 5 "$AURL/metrics" >"$WORK/m0.txt"
errs0=$(proc_errors "$WORK/m0.txt")
cgerrs0=$(cgroup_errors "$WORK/m0.txt")
scans0=$(scans "$WORK/m0.txt")
write_config 100ms
kill -HUP "$AGENT_PID"
log "chaos: SIGHUP with scan_interval 100ms, spawning/killing processes in the units for 10 s"
t_chaos=${EPOCHREALTIME/./}
CHAOS_WORKERS=3  # parallel spawners: more processes appearing and vanishing per scan
for _ in $(seq 1 $CHAOS_WORKERS); do
  chaos_loop 2>/dev/null &
  CHAOS_PIDS+=($!)
done
all_chaos_done() { local p; for p in "${CHAOS_PIDS[@]}"; do alive "$p" && return 1; done; return 0; }
wait_until 25 all_chaos_done || fail "chaos workers did not finish in 25 s"
for pid in "${CHAOS_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
CHAOS_PIDS=()
chaos_s=$(awk -v a="$t_chaos" -v b="${EPOCHREALTIME/./}" 'BEGIN { printf "%.1f", (b - a) / 1e6 }')
sleep 0.5
alive "$AGENT_PID" && pass "agent alive after chaos ($(awk '{ s += $1 } END { print s + 0 }' "$WORK/chaos.spawned" 2>/dev/null) processes spawned by $CHAOS_WORKERS workers in ${chaos_s} s)" ||
  die "agent died during chaos: $(tail -n 5 "$WORK/agent.log")"
hc=$(http_code "$AURL/healthz")
[[ $hc == 200 ]] && pass "healthz after chaos: $hc" || fail "healthz after chaos: $hc, expected 200 ($(curl -s --max-time 2 "$AURL/healthz"))"
curl -fsS --max-time 5 "$AURL/metrics" >"$WORK/m1.txt"
errs1=$(proc_errors "$WORK/m1.txt")
cgerrs1=$(cgroup_errors "$WORK/m1.txt")
scans1=$(scans "$WORK/m1.txt")
num_eq "$errs0" "$errs1" && pass "scan_errors_total{source=proc} unchanged by chaos: before=$errs0 after=$errs1" ||
  fail "scan_errors_total{source=proc} grew during chaos: before=$errs0 after=$errs1"
num_eq "$cgerrs0" "$cgerrs1" && pass "scan_errors_total{source=cgroup} unchanged by chaos: before=$cgerrs0 after=$cgerrs1" ||
  fail "scan_errors_total{source=cgroup} grew during chaos: before=$cgerrs0 after=$cgerrs1"
dscans=$(awk -v a="$scans0" -v b="$scans1" 'BEGIN { printf "%d", b - a }')
# 100 ms for ~10 s is ~100 scans (fewer under ASan with the chaos workers on 2 cores: 39 seen);
# at the old 1 s it would be ~11, so 25 proves the reload took effect.
((dscans >= 25)) && pass "SIGHUP reload applied scan_interval=100ms: $dscans scans in ${chaos_s} s" ||
  fail "SIGHUP reload did not apply scan_interval=100ms: only $dscans scans in ${chaos_s} s"
restarts_after_chaos=$(our_restarts "$WORK/m1.txt")
[[ $restarts_after_chaos == 0 ]] && pass "chaos counted no restarts (sum of mobasher_unit_restarts_total=$restarts_after_chaos)" ||
  fail "chaos was counted as restarts: sum of mobasher_unit_restarts_total=$restarts_after_chaos: $(grep '^mobasher_unit_restarts_total' "$WORK/m1.txt" | grep -E "$OUR_UNITS_RE" | grep -v ' 0$' | tr '\n' ';')"
settled() {
  curl -fsS --max-time 3 "$AURL/metrics" >"$WORK/m2.txt" || return 1
  local u
  for u in "${UNITS[@]}"; do
    [[ $(grep "^mobasher_unit_processes{" "$WORK/m2.txt" | grep -F "unit=\"$u\"" | awk '{ print $2 }') == 3 ]] || return 1
  done
}
wait_until 5 settled && pass "every unit back to 3 processes after chaos" ||
  fail "units not back to 3 processes after chaos: $(grep '^mobasher_unit_processes' "$WORK/m2.txt" | tr '\n' ';')"

# --- 6. restart: the unit's main process is replaced in the same cgroup ---------------------------
RU=${UNITS[1]}
unit_metric() {  # NAME UNIT [extra label filter] -> value from a fresh /metrics, empty if absent
  curl -fsS --max-time 3 "$AURL/metrics" 2>/dev/null | grep "^$1{" | grep -F "unit=\"$2\"" |
    { if [[ -n ${3:-} ]]; then grep -F "$3"; else cat; fi; } | awk '{ print $2; exit }'
}
old_main=${WRAPPER_PID[$RU]}
read -r ffpid lkpid < <(children_of "$RU")
# Stop the unit as systemd would: SIGTERM to the main process, which ends its ffmpeg and leaker,
# reaps them and exits last. Then a new main process starts in the same cgroup.
kill -TERM "$old_main"
if ! wait_until 10 not_alive "$old_main"; then
  fail "$RU wrapper ignored SIGTERM; killing the unit's processes"
  kill -KILL "$ffpid" "$lkpid"
  wait_until 3 not_alive "$old_main" || kill -KILL "$old_main"
fi
wait "$old_main" 2>/dev/null
wait_until 5 bash -c "! grep -q . '$(cg_dir systemd "$RU")/cgroup.procs'" || fail "$RU cgroup not empty after stop"
start_unit "$RU"
log "restarted $RU: main pid $old_main -> ${WRAPPER_PID[$RU]}"
restart_seen() { [[ $(unit_metric mobasher_unit_restarts_total "$RU" 'cause="external"') == 1 ]]; }
wait_until 10 restart_seen &&
  pass "$RU restarts_total{cause=external}=1 after its main process was replaced" ||
  fail "$RU restarts_total{cause=external}=$(unit_metric mobasher_unit_restarts_total "$RU" 'cause="external"') expected 1 ($(curl -s "$AURL/metrics" | grep "^mobasher_unit_restarts_total" | grep -F "$RU" | tr '\n' ';'))"
sleep 1
curl -fsS --max-time 3 "$AURL/metrics" >"$WORK/m3.txt"
others=$(our_restarts "$WORK/m3.txt" "$RU")
[[ $others == 0 ]] && pass "other units: restarts_total sum=$others" || fail "other units: restarts_total sum=$others expected 0"

# --- 7. removal: a unit's cgroups disappear, so must its series -----------------------------------
GU=${UNITS[2]}
read -r ffpid lkpid < <(children_of "$GU")
gone_main=${WRAPPER_PID[$GU]}
kill -KILL "$ffpid" "$lkpid"
wait_until 5 not_alive "$gone_main" || kill -KILL "$gone_main"
wait "$gone_main" 2>/dev/null
unset "WRAPPER_PID[$GU]"
wait_until 5 bash -c "! grep -q . '$(cg_dir systemd "$GU")/cgroup.procs' && ! grep -q . '$(cg_dir memory "$GU")/cgroup.procs'" ||
  fail "$GU cgroups not empty after stop"
rmdir "$(cg_dir systemd "$GU")" "$(cg_dir memory "$GU")" || fail "cannot rmdir the cgroups of $GU"
series_of() { curl -fsS --max-time 3 "$AURL/metrics" 2>/dev/null | grep -v '^#' | grep -cF "unit=\"$GU\""; }
wait_until 10 bash -c "[[ \$(curl -fsS --max-time 3 '$AURL/metrics' | grep -v '^#' | grep -cF 'unit=\"$GU\"') == 0 ]]" &&
  pass "$GU removed: its series left /metrics" ||
  fail "$GU removed but $(series_of) series remain in /metrics"
left=$(curl -fsS --max-time 3 "$AURL/metrics" | grep '^mobasher_unit_up{' | grep -cE "$OUR_UNITS_RE")
[[ $left == 3 ]] && pass "our remaining units in /metrics: $left" || fail "our remaining units in /metrics: $left expected 3"
alive "$AGENT_PID" && pass "agent still running at the end" || fail "agent exited"

echo
echo "Measured (agent via prometheus vs ground truth from /proc and cgroup files):"
for u in "${UNITS[@]}"; do echo "  $u: ${RESULT_ROWS[$u]:-}"; done
