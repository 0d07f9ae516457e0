#!/usr/bin/env bash
# Integration test of the HTTP server under abuse (issue 15, point 2), against the real binary:
# - 100 connections that send half a request and stall: /healthz and /metrics on fresh
#   connections still answer within 1 s (civetweb holds a worker per connection: bounded at 128);
# - malformed requests, each on its own connection: a garbage request line, no HTTP version, an
#   unknown method, a 100 kB URI, 5,000 headers, a 100 kB header, a negative Content-Length: each
#   gets a 4xx (or the connection closed), never a 2xx or 5xx;
# - path traversal (../, %2e%2e, %2f) under every endpoint: 404, nothing served;
# - after all of it the agent is alive, answers the next client, and stops cleanly (exit 0, no
#   sanitizer report).
#
# usage: http_abuse_test.sh PATH/TO/mobasher-agent
# No cgroups needed; cleans up every process (by PID) and file it made, also on failure.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

AGENT=${1:-}
TEST_NAME=http_abuse_test
require_tools python3:python3 curl:curl ss:iproute2
require_executable "$AGENT"
AGENT=$(readlink -f "$AGENT")
WORK=$(mktemp -d /tmp/mobasher-it-abuse.XXXXXX)
AGENT_PID=""
AGENT_LOG=$WORK/agent.log
trap 'stop_started_and_remove "$WORK"' EXIT

start_agent "$AGENT_LOG" --state-dir "$WORK/state"
stop_on_agent_death 'level=error|ERROR|runtime error'
log "agent pid=$AGENT_PID on 127.0.0.1:$APORT"
ABUSE=(timeout 60 python3 "$HERE/http_abuse.py" "$APORT")

# --- 1. stalled connections -----------------------------------------------------------------------
line=$("${ABUSE[@]}" stalled 100)
read -r hs ms hc mc held <<<"$(sed 's/[a-z_]*=//g' <<<"$line")"
if [[ $hc == 200 && $mc == 200 && $held == 100 ]] && awk -v a="$hs" -v b="$ms" 'BEGIN { exit !(a < 1 && b < 1) }'; then
  pass "100 stalled connections open: /healthz in ${hs} s, /metrics in ${ms} s (both 200)"
else
  fail "with 100 stalled connections: $line"
fi

# --- 2. malformed requests and traversal ----------------------------------------------------------
"${ABUSE[@]}" garbage >"$WORK/garbage.txt"
cases=$(wc -l <"$WORK/garbage.txt")
bad=$(grep -v -E 'answer=(HTTP/1\.[01] 4[0-9][0-9] |closed)' "$WORK/garbage.txt")
[[ $cases -ge 27 && -z $bad ]] &&
  pass "$cases malformed or traversing requests: each a 4xx or closed ($(grep -c ' 400 ' "$WORK/garbage.txt") x 400, $(grep -c ' 404 ' "$WORK/garbage.txt") x 404, $(grep -c ' 411 ' "$WORK/garbage.txt") x 411)" ||
  fail "malformed requests: $cases cases; not refused: ${bad:-none}"
for c in huge_uri many_headers huge_header; do
  grep -q "^$c answer=HTTP/1.[01] 4" "$WORK/garbage.txt" &&
    pass "$c: refused with $(sed -n "s/^$c answer=//p" "$WORK/garbage.txt")" ||
    fail "$c: $(grep "^$c " "$WORK/garbage.txt")"
done
trav=$(grep -c '^traversal.* 404 ' "$WORK/garbage.txt")
[[ $trav -eq 20 ]] && pass "path traversal under each of the 5 endpoints (4 forms): 20 x 404" ||
  fail "path traversal: $trav of 20 got 404: $(grep '^traversal' "$WORK/garbage.txt" | grep -v ' 404 ' | head -n 3)"

# --- 3. still serving -----------------------------------------------------------------------------
code=$(http_code "http://127.0.0.1:$APORT/metrics")
if alive "$AGENT_PID" && [[ $code == 200 ]]; then
  pass "after the abuse the agent is alive and the next client gets /metrics (200)"
else
  fail "after the abuse: alive=$(alive "$AGENT_PID" && echo yes || echo no) /metrics=$code"
fi
stop_agent_checked "$AGENT_PID" "$AGENT_LOG"
AGENT_PID=""
finish "$TEST_NAME"
