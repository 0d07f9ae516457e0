#!/usr/bin/env bash
# dashboards/mobasher.json for real (issue 14, points 4 and 7):
#   1. its static rules (tests/dashboard/queries.py lint) and a type-check against Grafana's
#      published schema (@grafana/schema, pinned in tests/dashboard/package-lock.json, installed
#      with `npm ci` into a cache once); a misspelt key and a wrong enum value must fail it
#   2. scripts/demo.sh (actions on: six leaking units under a private systemd) scraped every second
#      by a real prometheus with deploy/prometheus/mobasher.recording.yml; once the agent has
#      restarted every unit, every panel query, every variable and the annotation run against that
#      prometheus (queries.py run): all accepted, all with data, once with every variable at "All"
#      and once with group=archiver channel=demo1 (then only those series)
#   3. the demo ends with a restart by the agent for every unit and no OOM kill
# usage: dashboard_test.sh BUILD_DIR
# Root only; a missing tool is a failure. The demo, prometheus and the temp dir are removed on exit.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${1:?usage: dashboard_test.sh BUILD_DIR}" && pwd)
DASH=$ROOT/dashboards/mobasher.json
CHECKS_DIR=$ROOT/tests/dashboard
require_root
require_tools prometheus:prometheus promtool:prometheus node:nodejs npm:npm python3:python3 curl:curl \
  ss:iproute2 ffmpeg:ffmpeg unshare:util-linux dbus-daemon:dbus-daemon busctl:systemd
require_executable "$BUILD/mobasher-agent"
require_executable "$BUILD/mobasher-leaker"

WORK=$(mktemp -d /tmp/mobasher-it-dash.XXXXXX)
DEMO_PID=""
PROM_PID=""
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  [[ -n $PROM_PID ]] && stop_pid "$PROM_PID" 10
  if [[ -n $DEMO_PID ]] && alive "$DEMO_PID"; then
    kill -TERM "$DEMO_PID" 2>/dev/null  # its trap stops the agent and the private systemd
    wait_until 20 not_alive "$DEMO_PID" || { fail "demo.sh did not end on SIGTERM"; stop_pid "$DEMO_PID" 1; }
  fi
  if ((rc != 0 || FAILS != 0)); then
    log "demo output (last 15 lines):"; tail -n 15 "$WORK/demo.out" 2>/dev/null | sed 's/^/  demo| /'
    log "prometheus log (last 5 lines):"; tail -n 5 "$WORK/prometheus.log" 2>/dev/null | sed 's/^/  prom| /'
  fi
  rm -rf "$WORK"
  finish integration.dashboard || rc=1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ 1. static rules and schema
out=$(python3 "$CHECKS_DIR/queries.py" lint "$DASH" 2>&1) && pass "$out" || fail "lint: $out"

NPM_DIR=${MOBASHER_NPM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mobasher-agent/dashboard-typecheck}
mkdir -p "$NPM_DIR"
if ! cmp -s "$CHECKS_DIR/package-lock.json" "$NPM_DIR/package-lock.json" || [[ ! -x $NPM_DIR/node_modules/.bin/tsc ]]; then
  cp "$CHECKS_DIR/package.json" "$CHECKS_DIR/package-lock.json" "$NPM_DIR/"
  (cd "$NPM_DIR" && timeout 300 npm ci --no-audit --no-fund --loglevel=error) >"$WORK/npm.log" 2>&1 ||
    die "npm ci of @grafana/schema and typescript failed: $(tail -n 5 "$WORK/npm.log")"
fi
schema_version=$(node -p "require('$NPM_DIR/node_modules/@grafana/schema/package.json').version")
out=$(node "$CHECKS_DIR/typecheck.mjs" "$DASH" "$NPM_DIR" 2>&1)
[[ $? -eq 0 ]] && pass "$out (@grafana/schema $schema_version)" || fail "type-check: $out"
# The check can fail: a misspelt key, and a value outside an enum.
jq '.panels[1].fieldConfig.defaults.unti = "bytes"' "$DASH" >"$WORK/typo.json"
jq '(.panels[] | select(.type == "stat") | .options.colorMode) |= "bright"' "$DASH" >"$WORK/enum.json"
for bad in typo enum; do
  out=$(node "$CHECKS_DIR/typecheck.mjs" "$WORK/$bad.json" "$NPM_DIR" 2>&1)
  if [[ $? -ne 0 && $out == *"error TS"* ]]; then pass "type-check rejects the $bad: $(grep -m1 -o 'error TS[0-9]*: .\{0,90\}' <<<"$out")"
  else fail "type-check accepted the $bad: $out"; fi
done

# ------------------------------------------------------------------ 2. the demo, scraped
APORT=$(free_port) || die "no free port"
bash "$ROOT/scripts/demo.sh" --seconds 60 --listen "127.0.0.1:$APORT" \
  --agent "$BUILD/mobasher-agent" --leaker "$BUILD/mobasher-leaker" >"$WORK/demo.out" 2>&1 &
DEMO_PID=$!
STARTED_PIDS+=("$DEMO_PID")
wait_until 30 http_ok_or_dead "http://127.0.0.1:$APORT/healthz" "$DEMO_PID" && alive "$DEMO_PID" ||
  die "the demo's agent did not come up on $APORT: $(tail -n 5 "$WORK/demo.out")"

mkdir -p "$WORK/prom"
cp "$ROOT/deploy/prometheus/mobasher.recording.yml" "$WORK/prom/"
cat >"$WORK/prom/prometheus.yml" <<EOF
global: { scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s }
rule_files: [mobasher.recording.yml]
scrape_configs:
  - job_name: mobasher-demo
    static_configs: [ { targets: ['127.0.0.1:$APORT'] } ]
EOF
# The recording rules run every 15 s as shipped; every 2 s here so the minute has enough points.
sed -i 's/interval: 15s/interval: 2s/' "$WORK/prom/mobasher.recording.yml"
promtool check config "$WORK/prom/prometheus.yml" >"$WORK/promtool.out" 2>&1 || die "promtool: $(cat "$WORK/promtool.out")"
for attempt in 1 2 3; do
  PPORT=$(free_port) || die "no free port"
  prometheus --config.file="$WORK/prom/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
    --web.listen-address="127.0.0.1:$PPORT" >"$WORK/prometheus.log" 2>&1 &
  PROM_PID=$!
  STARTED_PIDS+=("$PROM_PID")
  wait_until 20 http_ok_or_dead "http://127.0.0.1:$PPORT/-/ready" "$PROM_PID" && alive "$PROM_PID" && break
  log "prometheus attempt $attempt on $PPORT failed: $(tail -n 2 "$WORK/prometheus.log")"
  stop_pid "$PROM_PID" 5; forget_pid "$PROM_PID"; PROM_PID=""
done
[[ -n $PROM_PID ]] || die "prometheus did not start"
PURL=http://127.0.0.1:$PPORT
promq() { curl -fsS -m 5 "$PURL/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1] // empty'; }
six_restarted() {
  local n; n=$(promq 'count(sum by (unit) (mobasher_unit_restarts_total{cause=~"memory|predicted"}) > 0)')
  [[ ${n:-0} -ge 6 ]]
}
wait_until 60 six_restarted && pass "prometheus saw the agent restart all six units" ||
  fail "restarted units in prometheus: $(promq 'count(sum by (unit) (mobasher_unit_restarts_total{cause=~"memory|predicted"}) > 0)')"
has_ratio() { [[ -n $(promq 'count(mobasher:unit_memory_limit:ratio)') ]]; }
wait_until 10 has_ratio || fail "the recording rule mobasher:unit_memory_limit:ratio has no data"

inst="127.0.0.1:$APORT"
out=$(python3 "$CHECKS_DIR/queries.py" run "$DASH" "$PURL" job=mobasher-demo "instance=$inst" 'group=.*' 'channel=.*' 2>&1)
[[ $? -eq 0 ]] && pass "every variable at All: $(tail -n 1 <<<"$out")" || fail "every variable at All:"$'\n'"$out"
log "queries and their series:"; grep -v '^run:' <<<"$out" | head -60
out=$(python3 "$CHECKS_DIR/queries.py" run "$DASH" "$PURL" job=mobasher-demo "instance=$inst" group=archiver channel=demo1 2>&1)
[[ $? -eq 0 ]] && pass "group=archiver channel=demo1: $(tail -n 1 <<<"$out")" || fail "group=archiver channel=demo1:"$'\n'"$out"

# ------------------------------------------------------------------ 3. the demo's verdict
wait_until 60 not_alive "$DEMO_PID" || fail "demo.sh did not end after its 60 s"
wait "$DEMO_PID"; demo_rc=$?
forget_pid "$DEMO_PID"; DEMO_PID=""
[[ $demo_rc -eq 0 ]] && pass "demo.sh exited 0" || fail "demo.sh exited $demo_rc"
grep '^demo: unit\|^demo: result' "$WORK/demo.out" | sed 's/^/  /'
units_ok=$(grep -c '^demo: unit .* restarted by the agent [1-9][0-9]*, killed by the kernel 0$' "$WORK/demo.out")
[[ $units_ok -eq 6 ]] && pass "demo: all six units restarted by the agent before their limit, none killed by the kernel" ||
  fail "demo: $units_ok of 6 units restarted by the agent with no OOM kill"
grep -q '^demo: result: [0-9]* restarts by the agent, 0 OOM kills by the kernel$' "$WORK/demo.out" &&
  pass "demo: $(grep '^demo: result' "$WORK/demo.out")" || fail "demo result: $(grep '^demo: result' "$WORK/demo.out")"
grep -q '^demo: cleaned up' "$WORK/demo.out" && pass "demo: cleaned up" || fail "demo did not clean up"
