#!/usr/bin/env bash
# Integration test of the CLI and the HTTP surface of the real binary: check-config exit codes and
# messages, `once` (promtool-clean exposition), `version`, `status`, the endpoints (/healthz,
# /api/v1/status with per-PID detail, /api/v1/history and its 400s, /, 404, 405), SIGHUP with a broken config (keeps running on
# the old one), SIGTERM (exit 0 within 1 s), and an empty machine (no units: node metrics only).
#
# usage: cli_http_test.sh PATH/TO/mobasher-agent PATH/TO/mobasher-leaker
# Root only (it makes one real cgroup v1 unit). Cleans up every process (by PID) and cgroup it
# made, also on failure (trap EXIT).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

AGENT=${1:-}
LEAKER=${2:-}
TEST_NAME=cli_http_test

require_root
require_tools prometheus:prometheus promtool:prometheus curl:curl jq:jq ss:iproute2 awk:mawk
require_executable "$AGENT"
require_executable "$LEAKER"
AGENT=$(readlink -f "$AGENT")
LEAKER=$(readlink -f "$LEAKER")

CG=/sys/fs/cgroup
for h in memory systemd; do
  [[ -w $CG/$h/cgroup.procs ]] || die "$CG/$h is not a writable cgroup v1 hierarchy (need the hybrid/v1 layout)"
done

WORK=$(mktemp -d /tmp/mobasher-it-cli.XXXXXX)
PREFIX=mobasher-it-cli-$$.slice
UNIT="archiver@cli$$.service"
SLICE_REL="$PREFIX/system.slice/system-archiver.slice"
LEAKER_PID=""
AGENT_PID=""
APORT=""

cleanup() {
  local rc=$? h pid d
  set +e
  trap - EXIT INT TERM
  for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid" 3; done
  [[ -n $LEAKER_PID ]] && stop_pid "$LEAKER_PID" 3
  for h in systemd memory; do
    for pid in $(cat "$CG/$h/$SLICE_REL/$UNIT/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  done
  for h in systemd memory; do
    for d in "$CG/$h/$SLICE_REL/$UNIT" "$CG/$h/$SLICE_REL" "$CG/$h/$PREFIX/system.slice" "$CG/$h/$PREFIX"; do
      [[ -d $d ]] || continue
      wait_until 5 bash -c "! grep -q . '$d/cgroup.procs'"
      rmdir "$d" || log "cannot rmdir $d"
    done
  done
  if ((rc != 0 || FAILS != 0)); then
    for f in "$WORK"/agent*.log; do
      [[ -f $f ]] || continue
      log "last 20 lines of $(basename "$f"):"
      tail -n 20 "$f" | sed 's/^/  | /'
    done
  fi
  rm -rf "$WORK"
  finish "$TEST_NAME" || rc=1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- good and broken configs ----------------------------------------------------------------------
cat >"$WORK/good.json" <<EOF
// a good config, with comments
{
  "scan_interval": "1s",
  "discovery_interval": "2s",
  "state_dir": "$WORK/state",
  "groups": [
    { "name": "archiver", "units": "archiver@*.service", "memory_limit": "2G",
      "warn": "1.5G", "critical": "95%" }
  ]
}
EOF
# line 4 holds the unknown key
cat >"$WORK/unknown_key.json" <<'EOF'
{
  // comment
  "scan_interval": "1s",
  "scan_intervall": "2s"
}
EOF
# line 6 holds the bad size, at groups[0].memory_limit
cat >"$WORK/bad_size.json" <<'EOF'
{
  "scan_interval": "1s",
  "groups": [
    { "name": "archiver",
      "units": "archiver@*.service",
      "memory_limit": "2X",
      "warn": "1.5G", "critical": "95%" }
  ]
}
EOF
mkdir -p "$WORK/state" "$WORK/a_directory.json" "$WORK/empty-cgroup-root"

# --- version --------------------------------------------------------------------------------------
out=$("$AGENT" version 2>&1); rc=$?
[[ $rc -eq 0 && $out =~ [0-9]+\.[0-9]+\.[0-9]+ ]] && pass "version: rc=$rc output='$out'" ||
  fail "version: rc=$rc output='$out' (want rc 0 and a x.y.z version)"

# --- check-config ---------------------------------------------------------------------------------
check_config_case() {  # LABEL WANT_RC FILE [required substrings...]
  local label=$1 want=$2 file=$3; shift 3
  local form out rc s missing
  for form in flag positional; do
    if [[ $form == flag ]]; then out=$("$AGENT" check-config --config "$file" 2>&1); rc=$?
    else out=$("$AGENT" check-config "$file" 2>&1); rc=$?; fi
    missing=""
    for s in "$@"; do [[ $out == *"$s"* ]] || missing+="'$s' "; done
    if [[ $rc -eq $want && -z $missing ]]; then
      pass "check-config ($form) $label: rc=$rc$([[ $# -gt 0 ]] && echo " message: $(head -n 1 <<<"$out")")"
    else
      fail "check-config ($form) $label: rc=$rc (want $want)${missing:+, message lacks $missing}: $(head -n 3 <<<"$out" | tr '\n' ' ')"
    fi
  done
}
check_config_case "good config" 0 "$WORK/good.json"
check_config_case "unknown key" 2 "$WORK/unknown_key.json" "$WORK/unknown_key.json" ":4" "scan_intervall"
check_config_case "bad size" 2 "$WORK/bad_size.json" "$WORK/bad_size.json" ":6" "groups[0].memory_limit"
check_config_case "missing file" 2 "$WORK/does-not-exist.json" "$WORK/does-not-exist.json"
check_config_case "directory as file" 2 "$WORK/a_directory.json" "$WORK/a_directory.json"
out=$("$AGENT" --no-such-flag 2>&1); rc=$?
[[ $rc -eq 2 ]] && pass "unknown flag: rc=$rc" || fail "unknown flag: rc=$rc (want 2): $(head -n 2 <<<"$out" | tr '\n' ' ')"
out=$("$AGENT" run --config "$WORK/bad_size.json" --listen 127.0.0.1:1 --state-dir "$WORK/state" 2>&1); rc=$?
[[ $rc -eq 2 ]] && pass "run with a bad config: rc=$rc" || fail "run with a bad config: rc=$rc (want 2): $(head -n 2 <<<"$out" | tr '\n' ' ')"

# --- one real unit: a leaker in a systemd-shaped v1 cgroup ----------------------------------------
for h in memory systemd; do mkdir -p "$CG/$h/$SLICE_REL/$UNIT" || die "mkdir $CG/$h/$SLICE_REL/$UNIT"; done
(echo "$BASHPID" >"$CG/memory/$SLICE_REL/$UNIT/cgroup.procs" &&
  echo "$BASHPID" >"$CG/systemd/$SLICE_REL/$UNIT/cgroup.procs" &&
  exec "$LEAKER" --initial-mb 16) >"$WORK/leaker.out" 2>&1 &
LEAKER_PID=$!
wait_until 10 grep -q '^ready' "$WORK/leaker.out" || die "leaker did not start: $(cat "$WORK/leaker.out")"
log "unit $UNIT: leaker pid $LEAKER_PID"

# --- once -----------------------------------------------------------------------------------------
"$AGENT" once --config "$WORK/good.json" --state-dir "$WORK/state" >"$WORK/once.txt" 2>"$WORK/once.err"; rc=$?
lint=$(promtool check metrics <"$WORK/once.txt" 2>&1); lrc=$?
[[ $rc -eq 0 && $lrc -eq 0 && -z $lint ]] && pass "once: rc=$rc, promtool check metrics clean ($(grep -vc '^#' "$WORK/once.txt") series)" ||
  fail "once: rc=$rc promtool rc=$lrc: $lint $(head -n 3 "$WORK/once.err" | tr '\n' ' ')"
grep -F "unit=\"$UNIT\"" "$WORK/once.txt" | grep -q '^mobasher_unit_rss_bytes' &&
  pass "once: exposes $UNIT" || fail "once: no mobasher_unit_rss_bytes for $UNIT"
v=$(grep '^mobasher_unit_processes{' "$WORK/once.txt" | grep -F "unit=\"$UNIT\"" | awk '{ print $2 }')
[[ $v == 1 ]] && pass "once: $UNIT processes=$v" || fail "once: $UNIT processes=$v (want 1)"

# --- HTTP endpoints -------------------------------------------------------------------------------
start_agent "$WORK/agent.log" --config "$WORK/good.json" --state-dir "$WORK/state"
URL="http://127.0.0.1:$APORT"
log "agent pid=$AGENT_PID at $URL"
# wait for a scan that sees the unit
wait_until 10 bash -c "curl -fsS --max-time 2 '$URL/metrics' | grep '^mobasher_unit_up{' | grep -qF 'unit=\"$UNIT\"'" ||
  fail "agent never exported $UNIT"

# No https receiver: OpenSSL (in the mobasher-webhook-tls module) is not loaded.
ssl_maps=$(grep -cE 'libssl|libcrypto|mobasher-webhook-tls' "/proc/$AGENT_PID/maps")
[[ $ssl_maps == 0 ]] && pass "no https receiver: neither libssl, libcrypto nor the TLS module mapped" ||
  fail "no https receiver, yet $ssl_maps mappings of libssl/libcrypto/mobasher-webhook-tls"

body=$(curl -s --max-time 3 "$URL/healthz"); code=$(http_code "$URL/healthz")
[[ $code == 200 && $body == ok* ]] && pass "GET /healthz: $code '$body'" || fail "GET /healthz: $code '$body' (want 200 ok)"

curl -fsS --max-time 3 "$URL/api/v1/status" >"$WORK/status.json"; code=$(http_code "$URL/api/v1/status")
ctype=$(curl -s -o /dev/null -w '%{content_type}' --max-time 3 "$URL/api/v1/status")
if jq -e . "$WORK/status.json" >/dev/null 2>&1; then
  pass "GET /api/v1/status: $code, valid JSON ($(wc -c <"$WORK/status.json") bytes, content-type '$ctype')"
else
  fail "GET /api/v1/status: $code, not valid JSON: $(head -c 200 "$WORK/status.json")"
fi
[[ $ctype == application/json* ]] && pass "/api/v1/status content-type: $ctype" || fail "/api/v1/status content-type: '$ctype' (want application/json)"
n=$(jq --argjson p "$LEAKER_PID" '[.. | objects | select(.pid? == $p)] | length' "$WORK/status.json" 2>/dev/null)
[[ ${n:-0} -ge 1 ]] && pass "/api/v1/status has per-PID detail: $n object(s) with pid=$LEAKER_PID ($(jq -c --argjson p "$LEAKER_PID" '[.. | objects | select(.pid? == $p)][0]' "$WORK/status.json" | head -c 300))" ||
  fail "/api/v1/status lacks an object with pid=$LEAKER_PID"
grep -q hybrid "$WORK/status.json" && pass "/api/v1/status reports the cgroup layout (hybrid)" ||
  fail "/api/v1/status does not report the cgroup layout 'hybrid'"
grep -qF "$UNIT" "$WORK/status.json" && pass "/api/v1/status names $UNIT" || fail "/api/v1/status does not name $UNIT"

code=$(http_code "$URL/"); ctype=$(curl -s -o /dev/null -w '%{content_type}' --max-time 3 "$URL/")
[[ $code == 200 && $ctype == text/html* ]] && pass "GET /: $code $ctype" || fail "GET /: $code '$ctype' (want 200 text/html)"
# /api/v1/history: the first scan's sample reaches the file within the 2 s batch.
hist_has_unit() {
  curl -fsS --max-time 3 "$URL/api/v1/history?since=10m&unit=${UNIT%.service}" >"$WORK/history.json" &&
    jq -e --arg u "$UNIT" '.units[$u] | length >= 1' "$WORK/history.json" >/dev/null
}
if wait_until 10 hist_has_unit; then
  pass "GET /api/v1/history?unit=${UNIT%.service}: $(jq -c --arg u "$UNIT" '{step_seconds, columns, first: .units[$u][0], events: (.events | map(.type))}' "$WORK/history.json")"
else
  fail "GET /api/v1/history never showed $UNIT: $(head -c 300 "$WORK/history.json")"
fi
jq -e '.events | map(.type) | index("agent_start") != null' "$WORK/history.json" >/dev/null 2>&1 &&
  fail "history for one unit includes agent events (it must not)" ||
  pass "history for one unit has no agent events"
body=$(curl -s --max-time 3 "$URL/api/v1/history?since=yesterday"); code=$(http_code "$URL/api/v1/history?since=yesterday")
[[ $code == 400 && $body == *"since=yesterday"* ]] && pass "GET /api/v1/history?since=yesterday: $code '$body'" ||
  fail "GET /api/v1/history?since=yesterday: $code '$body' (want 400 naming since=yesterday)"
body=$(curl -s --max-time 3 "$URL/api/v1/history?units=x"); code=$(http_code "$URL/api/v1/history?units=x")
[[ $code == 400 && $body == *"units: unknown parameter"* ]] && pass "GET /api/v1/history?units=x: $code '$body'" ||
  fail "GET /api/v1/history?units=x: $code '$body' (want 400 naming units)"
code=$(http_code "$URL/nope")
[[ $code == 404 ]] && pass "GET /nope: $code" || fail "GET /nope: $code (want 404)"
code=$(http_code "$URL/metrics" -X POST -d x=1)
[[ $code == 405 ]] && pass "POST /metrics: $code" || fail "POST /metrics: $code (want 405)"
code=$(http_code "$URL/healthz" -X DELETE)
[[ $code == 405 ]] && pass "DELETE /healthz: $code" || fail "DELETE /healthz: $code (want 405)"
ctype=$(curl -s -o "$WORK/metrics.txt" -w '%{content_type}' --max-time 3 "$URL/metrics")
lint=$(promtool check metrics <"$WORK/metrics.txt" 2>&1); lrc=$?
[[ $lrc -eq 0 && -z $lint ]] && pass "GET /metrics: promtool clean, content-type '$ctype'" || fail "GET /metrics: promtool rc=$lrc: $lint"
[[ $ctype == text/plain*version=0.0.4* ]] && pass "/metrics content-type is text format 0.0.4" ||
  fail "/metrics content-type '$ctype' (want text/plain; version=0.0.4)"

# --- status (table from the running agent, and --local) -------------------------------------------
out=$(timeout 10 "$AGENT" status --listen "127.0.0.1:$APORT" 2>&1); rc=$?
[[ $rc -eq 0 && $out == *"$UNIT"* ]] && pass "status (from the agent): rc=$rc, lists $UNIT" ||
  fail "status (from the agent): rc=$rc: $(head -n 5 <<<"$out" | tr '\n' '|')"
out=$(timeout 10 "$AGENT" status --local --config "$WORK/good.json" --state-dir "$WORK/state" 2>&1); rc=$?
[[ $rc -eq 0 && $out == *"$UNIT"* ]] && pass "status --local: rc=$rc, lists $UNIT" ||
  fail "status --local: rc=$rc: $(head -n 5 <<<"$out" | tr '\n' '|')"

# --- SIGHUP with a broken config: refused, keeps running on the old one --------------------------
cp "$WORK/good.json" "$WORK/good.json.bak"
cp "$WORK/bad_size.json" "$WORK/good.json"  # the agent's --config file is now broken
kill -HUP "$AGENT_PID"
wait_until 5 grep -qi refused "$WORK/agent.log" && pass "SIGHUP with a broken config: log says refused: $(grep -i refused "$WORK/agent.log" | head -n 1)" ||
  fail "SIGHUP with a broken config: no 'refused' in the log"
sleep 1.5
alive "$AGENT_PID" && pass "agent still running after the refused reload" || fail "agent exited after SIGHUP with a broken config"
code=$(http_code "$URL/healthz")
[[ $code == 200 ]] && pass "healthz after the refused reload: $code" || fail "healthz after the refused reload: $code"
s0=$(curl -fsS --max-time 3 "$URL/metrics" | awk '/^mobasher_scans_total/ { print $2 }')
sleep 2.2
s1=$(curl -fsS --max-time 3 "$URL/metrics" | tee "$WORK/metrics2.txt" | awk '/^mobasher_scans_total/ { print $2 }')
grep '^mobasher_unit_up{' "$WORK/metrics2.txt" | grep -qF "unit=\"$UNIT\"" && num_ge "${s1:-0}" "$((${s0:-0} + 1))" &&
  pass "old config still in use: $UNIT still exported, scans $s0 -> $s1" ||
  fail "after the refused reload: scans $s0 -> $s1, $UNIT exported: $(grep -c "$UNIT" "$WORK/metrics2.txt")"
cp "$WORK/good.json.bak" "$WORK/good.json"

# --- SIGTERM: exit 0 within 1 s -------------------------------------------------------------------
# sigterm_within_1s LABEL LOG: SIGTERM the agent; it must exit 0 within 1 s, with no sanitizer
# report in LOG.
sigterm_within_1s() {
  local t0 t1 rc ms report
  t0=$(date +%s%N)
  kill -TERM "$AGENT_PID"
  wait_until 3 not_alive "$AGENT_PID"
  t1=$(date +%s%N)
  wait "$AGENT_PID"; rc=$?
  forget_pid "$AGENT_PID"
  ms=$(((t1 - t0) / 1000000))
  report=$(grep -m 2 -E "$SANITIZER_REPORT" "$2" | cut -c1-200 | tr '\n' ' ')
  [[ $rc -eq 0 && $ms -le 1000 && -z $report ]] && pass "$1: exit code $rc after ${ms} ms (limit 1000 ms), no sanitizer report" ||
    fail "$1: exit code $rc after ${ms} ms (want 0 within 1000 ms)${report:+; sanitizer report: $report}"
}
sigterm_within_1s SIGTERM "$WORK/agent.log"

# --- a machine with no matching units: node metrics only ------------------------------------------
start_agent "$WORK/agent-empty.log" --config "$WORK/good.json" --state-dir "$WORK/state" \
  --cgroup-root "$WORK/empty-cgroup-root"
URL="http://127.0.0.1:$APORT"
sleep 1.2
curl -fsS --max-time 3 "$URL/metrics" >"$WORK/metrics-empty.txt"
total=$(awk '/^mobasher_node_memory_total_bytes/ { print $2 }' "$WORK/metrics-empty.txt")
avail=$(awk '/^mobasher_node_memory_available_bytes/ { print $2 }' "$WORK/metrics-empty.txt")
memtotal=$(awk '/^MemTotal:/ { printf "%.0f\n", $2 * 1024 }' /proc/meminfo)
num_eq "${total:-0}" "$memtotal" && num_ge "${avail:-0}" 1 &&
  pass "no units: node metrics served: memory_total=$total (/proc/meminfo $memtotal) available=$avail" ||
  fail "no units: memory_total=${total:-absent} (/proc/meminfo $memtotal) available=${avail:-absent}"
nunits=$(grep -c '^mobasher_unit_' "$WORK/metrics-empty.txt")
[[ $nunits == 0 ]] && pass "no units: no mobasher_unit_* series" || fail "no units: $nunits mobasher_unit_* series"
layout=$(grep '^mobasher_build_info' "$WORK/metrics-empty.txt" | sed -n 's/.*cgroup_layout="\([^"]*\)".*/\1/p')
[[ $layout == none ]] && pass "no units: build_info cgroup_layout=$layout" || fail "no units: build_info cgroup_layout='$layout' (want none)"
code=$(http_code "$URL/healthz")
[[ $code == 200 ]] && pass "no units: healthz $code" || fail "no units: healthz $code (want 200)"
lint=$(promtool check metrics <"$WORK/metrics-empty.txt" 2>&1); lrc=$?
[[ $lrc -eq 0 && -z $lint ]] && pass "no units: promtool clean" || fail "no units: promtool rc=$lrc: $lint"
sigterm_within_1s "SIGTERM (no units)" "$WORK/agent-empty.log"

# --- an https receiver loads the TLS module (and OpenSSL) at start ---------------------------------
cat >"$WORK/https.json" <<EOF
{
  "scan_interval": "1s",
  "alerts": { "webhooks": [ { "name": "tls", "url": "https://127.0.0.1:1/alerts",
                              "insecure_skip_verify": true } ] }
}
EOF
start_agent "$WORK/agent-https.log" --config "$WORK/https.json" --state-dir "$WORK/state-https"
module=$(grep -m1 -o '/[^ ]*mobasher-webhook-tls.so' "/proc/$AGENT_PID/maps")
ssl_maps=$(grep -c 'libssl' "/proc/$AGENT_PID/maps")
[[ -n $module && $ssl_maps -gt 0 ]] && pass "https receiver: $module and libssl mapped" ||
  fail "https receiver: module '${module:-not mapped}', $ssl_maps libssl mappings (want both)"
sigterm_within_1s "SIGTERM (https receiver)" "$WORK/agent-https.log"
