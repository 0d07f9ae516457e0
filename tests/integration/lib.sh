# shellcheck shell=bash
# Shared helpers of the integration tests (sourced, not executed).
# Conventions: every wait is bounded by a deadline; every process a test starts is recorded by PID
# in STARTED_PIDS and ended by PID in cleanup (never by name); checks print PASS/FAIL lines with
# the values compared and failures are counted, so one run reports every broken thing at once.

FAILS=0
CHECKS=0
STARTED_PIDS=()

log() { printf '[%s] %s\n' "$(date +%H:%M:%S.%3N)" "$*"; }
pass() { CHECKS=$((CHECKS + 1)); printf 'PASS: %s\n' "$*"; }
fail() { CHECKS=$((CHECKS + 1)); FAILS=$((FAILS + 1)); printf 'FAIL: %s\n' "$*"; }
# A broken precondition: nothing after it can be meaningful.
die() { printf 'FAIL (fatal): %s\n' "$*"; FAILS=$((FAILS + 1)); exit 1; }

require_root() {
  [[ $(id -u) -eq 0 ]] || die "must run as root (uid is $(id -u)); this test needs real cgroups"
}

# Fails (never skips) when a tool is missing, naming the Debian package that provides it.
require_tools() {
  local t missing=()
  for t in "$@"; do command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("$t"); done
  ((${#missing[@]} == 0)) || die "missing tools (command:debian-package): ${missing[*]}"
}

require_executable() {
  [[ -x $1 ]] || die "not an executable: '$1' (build the project first)"
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s until it succeeds; 1 on timeout.
wait_until() {
  local secs=$1; shift
  local now
  local start_ns; start_ns=$(date +%s%N)
  while true; do
    "$@" && return 0
    now=$(date +%s%N)
    ((now - start_ns >= secs * 1000000000)) && return 1
    sleep 0.1
  done
}

# A TCP port on 127.0.0.1 nobody listens on now (the caller retries if it loses a race).
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then echo "$p"; return 0; fi
  done
  return 1
}

port_listening() { ss -Htln "sport = :$1" 2>/dev/null | grep -q .; }

# http_code URL [curl args...]: prints the status code (000 when nothing answered).
http_code() {
  local url=$1; shift
  curl -s -o /dev/null -w '%{http_code}' --max-time 3 "$@" "$url" || true
}

# metric_value EXPOSITION_FILE 'name{labels}' -> value of the exact series line, or empty.
# Label order in the selector must match the exposition (the agent's order: unit, group, channel, ...).
metric_value() {
  awk -v key="$2" 'index($0, key " ") == 1 { print $2; exit }' "$1"
}

# within_pct A B PCT: |A-B| <= PCT% of max(|B|, 1).
within_pct() {
  awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN {
    d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b; if (m < 1) m = 1;
    exit !(d <= m * p / 100) }'
}

# num_ge A B: A >= B as numbers (floats, exponents).
num_ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }
num_eq() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 == b + 0) }'; }

# stop_pid PID [TIMEOUT_S]: SIGTERM, wait (bounded), then SIGKILL. Only for our own PIDs.
stop_pid() {
  local pid=$1 t=${2:-5}
  [[ -n $pid ]] || return 0
  alive "$pid" || { wait "$pid" 2>/dev/null; return 0; }
  kill -TERM "$pid" 2>/dev/null
  wait_until "$t" not_alive "$pid" || kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# stop_started_and_remove DIR: for a test's EXIT trap when it made only processes and one work
# directory: stops every PID it started (bounded), then removes DIR.
stop_started_and_remove() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid" 5; done
  rm -rf "$1"
}

# What a sanitizer (ASan, LSan, UBSan, TSan) writes into the agent's log.
SANITIZER_REPORT='ERROR: AddressSanitizer|ERROR: LeakSanitizer|WARNING: ThreadSanitizer|runtime error: |UndefinedBehaviorSanitizer'

# stop_agent_checked PID LOG [TIMEOUT_S]: SIGTERM the agent, wait (bounded, then SIGKILL), and one
# check: it exited 0 within TIMEOUT_S (default 10) and LOG holds no sanitizer report. Every test
# that stops the agent stops it through this (issue 15). Returns the check's status.
stop_agent_checked() {
  local pid=$1 logf=$2 t=${3:-10} rc report t0=$EPOCHREALTIME
  [[ -n $pid ]] || return 0
  kill -TERM "$pid" 2>/dev/null
  if ! wait_until "$t" not_alive "$pid"; then
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    forget_pid "$pid"
    fail "agent (pid $pid) still running ${t} s after SIGTERM: killed"
    return 1
  fi
  wait "$pid" 2>/dev/null
  rc=$?
  forget_pid "$pid"
  report=$(grep -m 2 -E "$SANITIZER_REPORT" "$logf" 2>/dev/null | cut -c1-200 | tr '\n' ' ')
  local took; took=$(awk -v a="$EPOCHREALTIME" -v b="$t0" 'BEGIN { printf "%.2f", a - b }')
  if [[ $rc -eq 0 && -z $report ]]; then
    pass "agent (pid $pid) stopped on SIGTERM in $took s: exit 0, no sanitizer report in $(basename "$logf")"
    return 0
  fi
  fail "agent (pid $pid) on SIGTERM: exit status $rc after $took s${report:+; sanitizer report: $report}"
  return 1
}

# A process is alive and not a zombie.
alive() {
  [[ -r /proc/$1/stat ]] || return 1
  local st; st=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null)
  [[ -n $st && $st != Z && $st != X ]]
}

not_alive() { ! alive "$1"; }

# For wait_until: URL answers 200, or PID died (so the caller stops waiting early).
http_ok_or_dead() { [[ $(http_code "$1") == 200 ]] || not_alive "$2"; }

# start_agent LOG ARGS...: `$AGENT run ARGS` on a free loopback port (retried when the port is lost
# to a race), appending to LOG; sets AGENT_PID and APORT; waits (bounded) for /healthz 200.
start_agent() {
  local logf=$1; shift
  local attempt
  for attempt in 1 2 3 4 5; do
    APORT=$(free_port) || die "no free port"
    "$AGENT" run "$@" --listen "127.0.0.1:$APORT" >>"$logf" 2>&1 &
    AGENT_PID=$!
    STARTED_PIDS+=("$AGENT_PID")
    if wait_until 20 http_ok_or_dead "http://127.0.0.1:$APORT/healthz" "$AGENT_PID" &&
      alive "$AGENT_PID"; then
      return 0
    fi
    log "agent attempt $attempt on port $APORT: not healthy: $(tail -n 3 "$logf" | tr '\n' ' ')"
    stop_pid "$AGENT_PID" 2
    forget_pid "$AGENT_PID"
    AGENT_PID=""
  done
  die "agent did not become healthy: $*"
}

# Drops PID from STARTED_PIDS once it has been reaped, so cleanup never signals a reused PID.
forget_pid() {
  local p keep=()
  for p in "${STARTED_PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
  STARTED_PIDS=("${keep[@]}")
}

# Sum of VmRSS (bytes) of the given PIDs; vanished PIDs count 0.
vmrss_sum() {
  local pid kb total=0
  for pid in "$@"; do
    kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
    total=$((total + ${kb:-0} * 1024))
  done
  echo "$total"
}

finish() {
  if ((FAILS == 0)); then
    printf '\n== %s: all %d checks passed ==\n' "$1" "$CHECKS"
    return 0
  fi
  printf '\n== %s: %d of %d checks FAILED ==\n' "$1" "$FAILS" "$CHECKS"
  return 1
}

# stop_on_agent_death PATTERN: from now on a failed check also asks whether the agent under test
# ($AGENT_PID, its log $AGENT_LOG) has died; if it has (a crash, a sanitizer report), nothing after
# it can be meaningful, so the test stops at once with the agent's exit status and the first lines
# of its log matching PATTERN (extended regex), instead of timing out every later wait.
stop_on_agent_death() {
  AGENT_DEATH_PATTERN=$1
  eval "lib_$(declare -f fail)"
  fail() {
    lib_fail "$@"
    if [[ -n ${AGENT_PID:-} ]] && not_alive "$AGENT_PID"; then
      wait "$AGENT_PID" 2>/dev/null
      die "the agent (pid $AGENT_PID) died, exit status $?: $(grep -m 3 -E "$AGENT_DEATH_PATTERN" "$AGENT_LOG" | cut -c1-200 | tr '\n' ' ')"
    fi
  }
}
