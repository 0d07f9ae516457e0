#!/usr/bin/env bash
# bench/http_load.sh BUILD_DIR - the HTTP server under load and with stalled clients (issue 15,
# point 2), by hand (not in CI: a minute of wrk).
#
#   1. an agent (built-in config, this host) on a free loopback port
#   2. wrk -t2 -c200 -d${DURATION}s --latency on /metrics: requests/s, p50, p99, errors (non-2xx,
#      socket errors), the agent's RSS and threads before and after
#   3. 100 connections that stall half-way through a request, held open: how long /healthz and
#      /metrics take on fresh connections (tests/integration/http_abuse.py)
# Environment: DURATION (60). Everything it starts it stops by PID.
set -euo pipefail

[[ $# -eq 1 ]] || { echo "usage: $0 BUILD_DIR" >&2; exit 2; }
BUILD=$(cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
DURATION=${DURATION:-60}
AGENT=$BUILD/mobasher-agent
die() { echo "http_load.sh: $*" >&2; exit 1; }
[[ -x $AGENT ]] || die "missing $AGENT (build first)"
for t in wrk curl python3 ss; do command -v $t >/dev/null || die "$t not installed (scripts/install-deps.sh --test)"; done

TMP=$(mktemp -d /tmp/mobasher-http-load.XXXXXX)
AGENT_PID=""
cleanup() {
  [[ -n $AGENT_PID ]] && kill -TERM "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

for _ in 1 2 3 4 5; do
  PORT=$((20000 + RANDOM % 40000))
  ss -Htln "sport = :$PORT" | grep -q . && continue
  "$AGENT" run --listen "127.0.0.1:$PORT" --state-dir "$TMP/state" >"$TMP/agent.log" 2>&1 &
  AGENT_PID=$!
  for _ in $(seq 1 50); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break 2
    sleep 0.1
  done
  kill -TERM "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=""
done
[[ -n $AGENT_PID ]] || die "the agent did not start: $(tail -n 3 "$TMP/agent.log")"
status() { awk '/^VmRSS:|^Threads:/ {printf "%s %s ", $1, $2}' "/proc/$AGENT_PID/status"; }
echo "machine: $(nproc) CPUs, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "agent pid $AGENT_PID on 127.0.0.1:$PORT, before: $(status)"

wrk -t2 -c200 -d"${DURATION}s" --latency "http://127.0.0.1:$PORT/metrics" >"$TMP/wrk.txt" 2>&1
rps=$(awk '/^Requests\/sec/ {print $2}' "$TMP/wrk.txt")
p50=$(awk '$1 == "50%" {print $2}' "$TMP/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$TMP/wrk.txt")
total=$(awk '/requests in/ {print $1}' "$TMP/wrk.txt")
errors=$(grep -E 'Non-2xx|Socket errors' "$TMP/wrk.txt" | tr -s ' ' | tr '\n' ';' || true)
echo "wrk -t2 -c200 -d${DURATION}s /metrics: $total requests, $rps req/s, p50 $p50, p99 $p99, errors: ${errors:-none}"
echo "agent after wrk: $(status)"

echo "100 stalled connections: $(python3 "$HERE/../tests/integration/http_abuse.py" "$PORT" stalled 100)"
echo "agent after the stalled clients: $(status)"
