#!/usr/bin/env bash
# Integration test of the status page (GET /) in a real browser: three real units (leakers in real
# v1 cgroups, one of them growing past its warn threshold), the agent recording history every
# second for ~12 s, then headless Chromium loads the page, runs its script against the agent's
# /api/v1/status and /api/v1/history, and the dumped DOM must show a card per unit, each with a
# chart of >= 2 points and an RSS polyline of >= 2 coordinate pairs, the growing unit as warning
# with its alert_firing event marked, and no error banner. A screenshot is saved as
# BUILD_DIR/status_page.png (> 10 kB).
#
# usage: status_page_test.sh PATH/TO/mobasher-agent PATH/TO/mobasher-leaker BUILD_DIR
# Root only. Cleans up every process (by PID) and cgroup it made, also on failure (trap EXIT).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

AGENT=${1:-}
LEAKER=${2:-}
BUILD_DIR=${3:-}
TEST_NAME=status_page_test
CHROMIUM=/usr/bin/chromium

require_root
require_tools curl:curl jq:jq ss:iproute2 awk:mawk python3:python3
[[ -x $CHROMIUM ]] || die "no $CHROMIUM (install the Debian package chromium); this test needs a real browser"
require_executable "$AGENT"
require_executable "$LEAKER"
[[ -n $BUILD_DIR && -d $BUILD_DIR && -w $BUILD_DIR ]] || die "BUILD_DIR '$BUILD_DIR' is not a writable directory"
AGENT=$(readlink -f "$AGENT")
LEAKER=$(readlink -f "$LEAKER")
SHOT=$(readlink -f "$BUILD_DIR")/status_page.png

CG=/sys/fs/cgroup
for h in memory systemd; do
  [[ -w $CG/$h/cgroup.procs ]] || die "$CG/$h is not a writable cgroup v1 hierarchy (need the hybrid/v1 layout)"
done

WORK=$(mktemp -d /tmp/mobasher-it-page.XXXXXX)
PREFIX=mobasher-it-page-$$.slice
# unit -> its slice, and the leaker arguments of its main process
declare -A UNIT_SLICE=(
  ["archiver@pg1x$$.service"]=system-archiver.slice
  ["archiver@pg2x$$.service"]=system-archiver.slice
  ["recorder@pg3x$$.service"]=system-recorder.slice
)
declare -A UNIT_ARGS=(
  ["archiver@pg1x$$.service"]="--initial-mb 16"
  ["archiver@pg2x$$.service"]="--initial-mb 24 --grow-mb-per-s 4 --max-mb 90"
  ["recorder@pg3x$$.service"]="--initial-mb 32"
)
UNITS=("archiver@pg1x$$.service" "archiver@pg2x$$.service" "recorder@pg3x$$.service")
LEAKER_PIDS=()
AGENT_PID=""
APORT=""

unit_dirs() {  # every cgroup directory this test makes, deepest first
  local u h
  for h in systemd memory; do
    for u in "${UNITS[@]}"; do echo "$CG/$h/$PREFIX/system.slice/${UNIT_SLICE[$u]}/$u"; done
    echo "$CG/$h/$PREFIX/system.slice/system-archiver.slice"
    echo "$CG/$h/$PREFIX/system.slice/system-recorder.slice"
    echo "$CG/$h/$PREFIX/system.slice"
    echo "$CG/$h/$PREFIX"
  done
}

cleanup() {
  local rc=$? pid d
  set +e
  trap - EXIT INT TERM
  for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid" 3; done
  for pid in "${LEAKER_PIDS[@]}"; do stop_pid "$pid" 3; done
  for d in $(unit_dirs); do
    for pid in $(cat "$d/cgroup.procs" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
  done
  for d in $(unit_dirs); do
    [[ -d $d ]] || continue
    wait_until 5 bash -c "! grep -q . '$d/cgroup.procs'"
    rmdir "$d" || log "cannot rmdir $d"
  done
  if ((rc != 0 || FAILS != 0)); then
    for f in "$WORK"/agent.log "$WORK"/chromium*.err; do
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

# --- three real units -----------------------------------------------------------------------------
for u in "${UNITS[@]}"; do
  rel="$PREFIX/system.slice/${UNIT_SLICE[$u]}/$u"
  for h in memory systemd; do mkdir -p "$CG/$h/$rel" || die "mkdir $CG/$h/$rel"; done
  # The group's memory_limit enforced, as MemoryMax= does (else MobasherUnitNoMemoryLimit warns).
  cg_limit=$((128 << 20))
  [[ $u == recorder@* ]] && cg_limit=$((96 << 20))
  echo "$cg_limit" >"$CG/memory/$rel/memory.limit_in_bytes" || die "memory.limit_in_bytes of $u"
  # shellcheck disable=SC2086  # UNIT_ARGS holds several words on purpose
  (echo "$BASHPID" >"$CG/memory/$rel/cgroup.procs" &&
    echo "$BASHPID" >"$CG/systemd/$rel/cgroup.procs" &&
    exec "$LEAKER" ${UNIT_ARGS[$u]}) >"$WORK/leaker-$u.out" 2>&1 &
  LEAKER_PIDS+=("$!")
  wait_until 10 grep -q '^ready' "$WORK/leaker-$u.out" || die "leaker of $u did not start: $(cat "$WORK/leaker-$u.out")"
  log "unit $u: leaker pid $! (${UNIT_ARGS[$u]})"
done

# --- the agent, recording history every second ----------------------------------------------------
# The globs match this test's units only: units of other tests running at the same time stay out.
cat >"$WORK/config.json" <<EOF
{
  "scan_interval": "500ms",
  "discovery_interval": "1s",
  "state_dir": "$WORK/state",
  "history": { "interval": "1s" },
  "alerts": { "for": "2s" },
  "groups": [
    { "name": "archiver", "units": "archiver@pg?x$$.service", "memory_limit": "128M", "warn": "64M", "critical": "95%" },
    { "name": "recorder", "units": "recorder@pg?x$$.service", "memory_limit": "96M", "warn": "80%" }
  ]
}
EOF
mkdir -p "$WORK/state"
start_agent "$WORK/agent.log" --config "$WORK/config.json" --state-dir "$WORK/state"
URL="http://127.0.0.1:$APORT"
log "agent pid=$AGENT_PID at $URL"

all_units_in_status() {
  curl -fsS --max-time 2 "$URL/api/v1/status" >"$WORK/status.json" 2>/dev/null || return 1
  local u
  for u in "${UNITS[@]}"; do jq -e --arg u "$u" '.units | any(.unit == $u)' "$WORK/status.json" >/dev/null || return 1; done
}
wait_until 15 all_units_in_status && pass "/api/v1/status lists all ${#UNITS[@]} units" ||
  fail "/api/v1/status does not list all of ${UNITS[*]}: $(jq -c '[.units[].unit]' "$WORK/status.json" 2>/dev/null)"

# Real history: every unit needs several samples before the browser looks at it.
history_points() {  # UNIT -> samples of UNIT in the last minute (1 s step)
  jq --arg u "$1" '(.units[$u] // []) | length' "$WORK/history.json" 2>/dev/null || echo 0
}
enough_history() {
  curl -fsS --max-time 3 "$URL/api/v1/history?since=60s&step=1s" >"$WORK/history.json" 2>/dev/null || return 1
  local u
  for u in "${UNITS[@]}"; do (($(history_points "$u") >= 8)) || return 1; done
}
sleep 10  # ~10 history intervals; then poll (bounded) until every unit has 8 samples
if wait_until 20 enough_history; then
  pass "history API: samples per unit in the last minute: $(for u in "${UNITS[@]}"; do printf '%s=%s ' "$u" "$(history_points "$u")"; done)"
else
  code=$(http_code "$URL/api/v1/history?since=60s&step=1s")
  fail "history API: HTTP $code, not 8 samples per unit within 30 s: $(head -c 300 "$WORK/history.json" 2>/dev/null)"
fi
code=$(http_code "$URL/api/v1/history?since=24h&step=5m")
[[ $code == 200 ]] && pass "the page's own history request (since=24h&step=5m): $code" ||
  fail "the page's own history request (since=24h&step=5m): HTTP $code (want 200)"

# --- without JavaScript: the server-rendered table ------------------------------------------------
curl -fsS --max-time 3 "$URL/" >"$WORK/page.html"
for u in "${UNITS[@]}"; do
  grep -qF "<td>$u</td>" "$WORK/page.html" && pass "GET / (no JS) lists $u" || fail "GET / (no JS) does not list $u"
done
ext=$(grep -oiE "https?://[^\"' <>]+|[=(\"']//[a-z0-9.-]+" "$WORK/page.html" | sort -u | tr '\n' ' ')
[[ -z $ext ]] && pass "GET / references nothing external" || fail "GET / references external URLs: $ext"

# The growing unit is above its warn line (64M): wait (bounded) for its MemoryHigh to fire, so the
# page must show it as a warning.
memory_high_firing() {
  curl -fsS --max-time 2 "$URL/api/v1/status" >"$WORK/status.json" 2>/dev/null &&
    jq -e --arg u "${UNITS[1]}" '.units[] | select(.unit == $u) | .alerts.MobasherUnitMemoryHigh == "firing"' "$WORK/status.json" >/dev/null
}
wait_until 20 memory_high_firing && pass "${UNITS[1]}: MobasherUnitMemoryHigh firing" ||
  fail "${UNITS[1]}: MobasherUnitMemoryHigh not firing within 20 s: $(jq -c --arg u "${UNITS[1]}" '.units[] | select(.unit == $u) | {rss_bytes, warning_bytes, alerts}' "$WORK/status.json" 2>/dev/null)"
# Its alert_firing record reaches the history file with the next batch (at most 2 s later): the
# page's chart can only mark it once the history API has it.
firing_in_history() {
  curl -fsS --max-time 3 "$URL/api/v1/history?since=10m&unit=${UNITS[1]}" >"$WORK/firing.json" 2>/dev/null &&
    jq -e '[.events[] | select(.type == "alert_firing")] | length >= 1' "$WORK/firing.json" >/dev/null
}
wait_until 10 firing_in_history && pass "${UNITS[1]}: alert_firing is in the history" ||
  fail "${UNITS[1]}: no alert_firing event in /api/v1/history within 10 s: $(jq -c '.events' "$WORK/firing.json" 2>/dev/null)"

# --- headless Chromium ----------------------------------------------------------------------------
# run_chromium TAG ARGS...: one bounded headless run (its own profile dir), stdout to WORK/TAG.out.
run_chromium() {
  local tag=$1; shift
  local pid rc
  timeout -k 5 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$(mktemp -d "$WORK/profile-$tag.XXXXXX")" --virtual-time-budget=10000 \
    "$@" "$URL/" >"$WORK/$tag.out" 2>"$WORK/chromium-$tag.err" &
  pid=$!
  STARTED_PIDS+=("$pid")
  wait "$pid"; rc=$?
  forget_pid "$pid"
  return "$rc"
}

run_chromium dom --dump-dom; rc=$?
[[ $rc -eq 0 && -s $WORK/dom.out ]] && pass "chromium --dump-dom: rc=$rc, $(wc -c <"$WORK/dom.out") bytes of DOM" ||
  fail "chromium --dump-dom: rc=$rc, $(wc -c <"$WORK/dom.out" 2>/dev/null) bytes: $(tail -n 3 "$WORK/chromium-dom.err" | tr '\n' ' ')"

# The DOM after the script ran, as one JSON line per unit card, plus the banner's state.
python3 - "$WORK/dom.out" >"$WORK/dom.json" <<'PY' || fail "cannot parse the dumped DOM: $(cat "$WORK/dom.json")"
import html.parser, json, sys

class Dom(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.cards, self.charts, self.banner = {}, {}, None
        self.card = None; self.chart = None; self.depth = 0; self.banner_text = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "section" and "card" in cls and "data-unit" in a:
            self.cards[a["data-unit"]] = {"state": a.get("data-state")}
        if tag == "svg" and "chart" in cls:
            self.chart = {"unit": a.get("data-unit"), "points": a.get("data-points"), "rss": []}
            self.charts.setdefault(a.get("data-unit"), []).append(self.chart)
        if tag == "g" and "ev" in cls and self.chart is not None:
            self.chart.setdefault("events", []).append(a.get("data-type"))
        if tag == "polyline" and "rss" in cls and self.chart is not None:
            self.chart["rss"].append(len((a.get("points") or "").split()))
        if a.get("id") == "error":
            self.banner = {"hidden": "hidden" in a}
            self.banner_text = ""
    def handle_endtag(self, tag):
        if tag == "svg": self.chart = None
        if tag == "div" and self.banner_text is not None:
            self.banner["text"] = self.banner_text.strip(); self.banner_text = None
    def handle_data(self, data):
        if self.banner_text is not None: self.banner_text += data

d = Dom()
d.feed(open(sys.argv[1], encoding="utf-8", errors="replace").read())
print(json.dumps({"cards": d.cards, "charts": d.charts, "banner": d.banner}))
PY
log "DOM: $(head -c 600 "$WORK/dom.json")"
for u in "${UNITS[@]}"; do
  if jq -e --arg u "$u" '.cards[$u]' "$WORK/dom.json" >/dev/null 2>&1; then
    pass "DOM: a card for $u (state $(jq -r --arg u "$u" '.cards[$u].state' "$WORK/dom.json"))"
  else
    fail "DOM: no <section class=card data-unit=\"$u\">; cards: $(jq -c '.cards | keys' "$WORK/dom.json" 2>/dev/null)"
  fi
  n=$(jq --arg u "$u" '.charts[$u] // [] | length' "$WORK/dom.json" 2>/dev/null)
  points=$(jq -r --arg u "$u" '.charts[$u][0].points // "none"' "$WORK/dom.json" 2>/dev/null)
  pairs=$(jq -r --arg u "$u" '.charts[$u][0].rss | max // 0' "$WORK/dom.json" 2>/dev/null)
  if [[ $n == 1 ]] && num_ge "${points//none/0}" 2 && num_ge "${pairs:-0}" 2; then
    pass "DOM: chart of $u: data-points=$points, polyline.rss with $pairs coordinate pairs"
  else
    fail "DOM: chart of $u: $n chart(s), data-points=$points, polyline.rss pairs=${pairs:-none} (want 1 chart, >= 2 and >= 2)"
  fi
done
n=$(jq '.cards | length' "$WORK/dom.json" 2>/dev/null)
[[ $n == "${#UNITS[@]}" ]] && pass "DOM: $n cards, one per unit" || fail "DOM: $n cards (want ${#UNITS[@]})"
ticks=$(jq -r --arg u "${UNITS[1]}" '[.charts[$u][0].events // [] | .[] | select(. == "alert_firing")] | length' "$WORK/dom.json" 2>/dev/null)
num_ge "${ticks:-0}" 1 && pass "DOM: chart of ${UNITS[1]} marks its alert_firing event(s): $ticks tick(s)" ||
  fail "DOM: chart of ${UNITS[1]} has no alert_firing tick (events in its chart: $(jq -c --arg u "${UNITS[1]}" '.charts[$u][0].events' "$WORK/dom.json" 2>/dev/null))"
hidden=$(jq -r '.banner.hidden // "absent"' "$WORK/dom.json" 2>/dev/null)
[[ $hidden == true ]] && pass "DOM: the error banner is hidden" ||
  fail "DOM: error banner hidden=$hidden: '$(jq -r '.banner.text // ""' "$WORK/dom.json" 2>/dev/null)'"
state=$(jq -r --arg u "${UNITS[1]}" '.cards[$u].state // "none"' "$WORK/dom.json" 2>/dev/null)
[[ $state == warning ]] && pass "DOM: ${UNITS[1]} (MemoryHigh firing) is shown as warning" ||
  fail "DOM: ${UNITS[1]} (MemoryHigh firing) is shown as '$state' (want warning)"
for u in "${UNITS[0]}" "${UNITS[2]}"; do
  state=$(jq -r --arg u "$u" '.cards[$u].state // "none"' "$WORK/dom.json" 2>/dev/null)
  [[ $state == ok ]] && pass "DOM: $u (below its warn line) is shown as ok" || fail "DOM: $u is shown as '$state' (want ok)"
done

# --- screenshot -----------------------------------------------------------------------------------
rm -f "$SHOT"
run_chromium shot --screenshot="$SHOT" --window-size=1280,1000; rc=$?
size=$(stat -c %s "$SHOT" 2>/dev/null || echo 0)
[[ $rc -eq 0 ]] && num_ge "$size" 10240 && pass "screenshot: $SHOT ($size bytes)" ||
  fail "screenshot: rc=$rc, $SHOT is $size bytes (want > 10 kB): $(tail -n 3 "$WORK/chromium-shot.err" | tr '\n' ' ')"

alive "$AGENT_PID" && pass "agent still running after the browser's requests" || fail "agent died"
stop_agent_checked "$AGENT_PID" "$WORK/agent.log" 10
AGENT_PID=""
