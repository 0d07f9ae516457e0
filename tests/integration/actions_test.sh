#!/usr/bin/env bash
# End-to-end test of the action module (docs/actions.md): a REAL systemd 252 booted by
# sd_harness.sh with generated units running real mobasher-leakers, and the real agent restarting
# them through that systemd's D-Bus API (actions.bus = the private bus seen from the host).
#
# Parts (each boots its own systemd and agent, ~25-70 s; one ctest per part):
#   memory   archiver@ch1.service leaks toward its MemoryMax=256M; on_memory 60% for 2s: the agent
#            restarts it before any OOM kill (restarts_total{cause="memory"}, oom_kills_total 0,
#            history `action` done with the measured value in its reason, actions_total, the log
#            line). Bystanders other@x.service (leaking too) and archiverx@ch1.service match no
#            group: their host PIDs (cgroup.procs) and NRestarts never change.
#   six      archiver@ch1..6 leak at the same rate, started 0.5 s apart: all six restarted with
#            cause memory, no OOM kill, never two at once (every cgroup.procs polled every 0.1 s:
#            at most one empty per poll; the history's action intervals never overlap).
#   continuity archiver@ch1..6 (256M) cross on_memory 90% in pairs ~3 s apart, leaking 0.4 MiB/s (the
#            10% margin lasts 64 s); cooldown and min_gap NOT set (built-in 2m / 10m), scans 0.5 s,
#            for 1 s, emergency_gap default 5 s: all six restarted with cause memory, no OOM kill
#            (oom_kills_total, history, agent and systemd logs), never two down at once (polled), each
#            restart 4.9..8 s after the one before ended (printed with the RSS at each restart).
#            recorder@ramp (group with predict 10m, predict_window 10s) ramps +100 MiB in 2.5 s
#            then stays flat: never predicted nor restarted; bystander other@x (leaking): untouched.
#   age      three flat archivers, max_age 30s, min_gap 5s, until each was restarted 3 times: every
#            restart has cause age, at an age in [max_age/2, max_age + 3 s], group restarts
#            >= min_gap apart, and from the third restarts on the three take turns ~max_age/3 apart
#            (booted together, a unit reaches its turn within two restarts).
#   overlap  slots archiver@ch1:a/:b (one template; each writes SHAREDIR/{instance}.out); strategy
#            overlap 3s; a memory hand-over a -> b with both slots' cgroup.procs polled every 50 ms
#            (never zero running), a inactive, b active, overlap_seconds >= 3, restarts_total of b
#            1, no MobasherUnitDown for a. Then b -> a with a's ExecStartPre failing (flag file):
#            b runs throughout, action_failed, mobasher_unit_action_failures >= 1,
#            MobasherUnitActionFailed firing in /api/v1/status, no retry within emergency_gap (a
#            memory emergency is not held by retry_backoff);
#            the flag removed, the retry hands over and the alert resolves.
#   sigterm  SIGTERM during a hand-over (issue 15): slots archiver@ch1:a/:b, overlap 6 s; while
#            both slots run (the overlap) the agent gets SIGTERM: it exits 0 within 3 s (it never
#            waits out the overlap) and leaves both slots running; started again, it finishes the
#            interrupted hand-over (a hand-over that stops one slot, for the interruption or, when the
#            leaking old slot is over on_memory by then, for memory); at no poll (every 50 ms) is no
#            slot running.
#   soak     by hand, not in CI (issue 15, point 7; SOAK_MINUTES, default 60; the curve goes to
#            SOAK_OUT, default /tmp/mobasher-soak.csv): six archivers restarted by age every minute
#            (max_age 60s), scans every 100 ms, two webhook receivers flapping (ok, 500, hang, a
#            cycle of 2 minutes, out of step), history rotating (max_file_size 64k). Every 30 s the
#            agent's RSS, open descriptors and threads. Flat: from minute 10 to the end RSS grows
#            by at most 1 MiB, descriptors and threads by at most 2; restarts, deliveries and
#            rotations all happened; the agent stops cleanly (an ASan build: no leak report).
#   faults   D-Bus stopped inside (systemctl stop dbus.socket dbus.service) while a unit needs a
#            restart: action_failed naming the bus, bus_connected 0, /healthz 200; dbus.socket
#            started again: the agent reconnects by itself and the retried restart is done. Then a
#            restart whose start job fails (ExecStartPre flag): action_failed with job result
#            "failed", retried only after emergency_gap, done once the flag is removed, the
#            failure gauge back at 0.
#
# The agent reads the host's /proc and the private systemd's cgroups through --cgroup-root, a
# directory of symlinks to this instance's /sys/fs/cgroup/<hierarchy>/sdprobe-<id> trees: other
# harness instances on the same host (parallel test runs) have units of the same names, which the
# agent would otherwise see too (and "restart" through our bus).
#
# usage: actions_test.sh PATH/TO/mobasher-agent PATH/TO/mobasher-leaker PART
# Root only; a missing tool is a failure, never a skip. Every process is ended by PID, the private
# systemd is stopped and the temp dir removed in a trap EXIT, also on failure.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
HARNESS=$HERE/sd_harness.sh

AGENT=${1:-}
LEAKER=${2:-}
PART=${3:-}
ALL_PARTS=(memory six continuity node age overlap sigterm faults soak)
[[ " ${ALL_PARTS[*]} " == *" $PART "* ]] || die "usage: $0 AGENT LEAKER PART (parts: ${ALL_PARTS[*]})"
TEST_NAME="actions_test($PART)"

require_root
require_tools busctl:systemd unshare:util-linux nsenter:util-linux setpriv:util-linux \
  dbus-daemon:dbus curl:curl jq:jq ss:iproute2 awk:mawk timeout:coreutils
require_executable "$AGENT"
require_executable "$LEAKER"
AGENT=$(readlink -f "$AGENT")
LEAKER=$(readlink -f "$LEAKER")

CG=/sys/fs/cgroup
WORK=$(mktemp -d /tmp/mobasher-it-act.XXXXXX)
UNITDIR=$WORK/units    # the private systemd's unit dir
SHARE=$WORK/share      # /run/sdprobe/share inside: the leaker copy, env files, flags, outputs
STATE=$WORK/sd         # the harness's STATEDIR
ASTATE=$WORK/agent     # the agent's --state-dir
CGVIEW=$WORK/cgroot    # the agent's --cgroup-root
IN=/run/sdprobe/share
mkdir -p "$UNITDIR" "$SHARE" "$STATE" "$ASTATE" "$CGVIEW"
CONFIG=$WORK/config.json
AGENT_LOG=$WORK/agent.log
AGENT_PID=""
APORT=""
BUS=""
CGROOT=""
T0=$EPOCHREALTIME

cleanup() {
  local rc=$? pid
  set +e
  trap - EXIT INT TERM
  trap '' PIPE  # a reader that went away (| head) must not stop the cleanup halfway
  log "cleanup"
  : >"$WORK/stop-pollers"  # pollers end at their next round; stop_pid only if one hangs
  for pid in "${STARTED_PIDS[@]}"; do stop_pid "$pid" 5; done
  if [[ -f $STATE/cgname ]]; then
    bash "$HARNESS" stop "$STATE" || fail "sd_harness.sh stop $STATE failed"
  fi
  if ((rc != 0 || FAILS != 0)); then
    if [[ -f $AGENT_LOG ]]; then
      log "last 40 lines of the agent's log:"
      tail -n 40 "$AGENT_LOG" | cut -c1-400 | sed 's/^/  agent| /'
    fi
    if [[ -f $STATE/kmsg.log ]]; then
      log "last 25 lines of the private systemd's log:"
      grep -v 'Scheduled restart job\|Failed with result\|Failed to start\|Starting \|Started ' \
        "$STATE/kmsg.log" | tail -n 25 | cut -c1-300 | sed 's/^/  kmsg| /'
    fi
  fi
  if grep -qF " $WORK" /proc/self/mountinfo; then  # never rm -rf through a mount point
    fail "something is mounted under $WORK on the host; leaving it"
  else
    rm -rf "$WORK"
  fi
  log "part $PART took $(fsub "$EPOCHREALTIME" "$T0") s"
  finish "$TEST_NAME" || rc=1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
trap 'exit 141' PIPE

# --- helpers --------------------------------------------------------------------------------------
stop_on_agent_death 'ERROR|runtime error|terminate|AddressSanitizer'
check() {  # check DESCRIPTION COMMAND...: PASS/FAIL on the command's status
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
fsub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
num_le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 <= b + 0) }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

sdx() { bash "$HARNESS" exec "$STATE" "$@"; }  # a command inside the private systemd's namespaces

# Unit properties over the private bus, from the host (as the agent talks to it).
unit_path() {
  busctl --address="$BUS" call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
    org.freedesktop.systemd1.Manager LoadUnit s "$1" 2>/dev/null | awk '{ gsub(/"/, "", $2); print $2 }'
}
uprop() {  # UNIT INTERFACE PROPERTY -> value
  local p; p=$(unit_path "$1")
  [[ -n $p ]] || return 1
  busctl --address="$BUS" get-property org.freedesktop.systemd1 "$p" "org.freedesktop.systemd1.$2" "$3" |
    awk '{ $1 = ""; sub(/^ /, ""); gsub(/"/, ""); print }'
}
nrestarts() { uprop "$1" Service NRestarts; }
active_state() { uprop "$1" Unit ActiveState; }

# Host-side name=systemd cgroup of a unit of this instance (system-PREFIX.slice/UNIT).
cgdir() { echo "$CG/systemd$CGROOT/system.slice/system-${1%%@*}.slice/$1"; }
procs() { tr -s '\n' ' ' <"$(cgdir "$1")/cgroup.procs" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }
# The unit's main process as the agent defines it: the one whose parent is outside the unit (the
# lowest PID would do for a lone leaker, but host PIDs wrap around).
main_pid() {
  local p ps; ps=" $(procs "$1") "
  for p in $ps; do
    [[ $ps == *" $(awk '/^PPid:/ { print $2 }' "/proc/$p/status" 2>/dev/null) "* ]] || { echo "$p"; return; }
  done
}
unit_running() { [[ -n $(procs "$1") && $(active_state "$1") == active ]]; }

scrape() { curl -fsS --max-time 3 "http://127.0.0.1:$APORT/metrics" >"$1"; }
# msum FILE NAME [LABEL=\"VALUE\"...]: sum of the series of NAME carrying every given label
# (empty when there is none).
msum() {
  local f=$1 name=$2; shift 2
  awk -v name="$name" -v sel="$*" '
    BEGIN { n = split(sel, want, " ") }
    /^#/ { next }
    { key = $1
      if (key != name && index(key, name "{") != 1) next
      for (i = 1; i <= n; i++) if (index(key, want[i]) == 0) next
      s += $2; found = 1 }
    END { if (found) print s + 0 }' "$f"
}
metric_now() {  # NAME LABELS... -> value from a fresh scrape
  scrape "$WORK/m.now" || return 1
  msum "$WORK/m.now" "$@"
}
metric_is() {  # VALUE NAME LABELS...: for wait_until
  local want=$1; shift
  local v; v=$(metric_now "$@")
  [[ -n $v ]] && num_eq "$v" "$want"
}
metric_ge() {
  local want=$1; shift
  local v; v=$(metric_now "$@")
  [[ -n $v ]] && num_ge "$v" "$want"
}
status_alert() {  # UNIT ALERT -> its phase in /api/v1/status ("" when absent)
  curl -fsS --max-time 3 "http://127.0.0.1:$APORT/api/v1/status" |
    jq -r --arg u "$1" --arg a "$2" '.units[] | select(.unit == $u) | .alerts[$a] // empty'
}
alert_is() { [[ $(status_alert "$1" "$2") == "$3" ]]; }

# The agent's history through its own CLI (one array), one JSON record per line, with "t" = ts as
# Unix seconds.
history_json() {
  "$AGENT" history --state-dir "$ASTATE" --since 1h --format json 2>"$WORK/history.err" |
    jq -c '.[] | . + {t: ((.ts[0:19] + "Z" | fromdateiso8601) + (.ts[20:23] | tonumber) / 1000)}'
}
hist() { history_json | jq -c "$@"; }
hist_count() { hist "$@" | grep -c .; }
hist_has() { [[ $(hist_count "$@") -ge 1 ]]; }
log_has() { grep -qF -- "$1" "$AGENT_LOG"; }
log_count() { grep -cF -- "$1" "$AGENT_LOG"; }

# A poller samples units every INTERVAL seconds until WORK/stop-pollers exists, without forking
# (an orphaned `sleep` would never be reaped on the CI host): one line per round,
#   TIME UNIT1_PIDS UNIT1_RSS_KB UNIT2_PIDS UNIT2_RSS_KB ...
# PIDS comma-separated ("-" when the cgroup is empty or gone), RSS the VmRSS of its processes.
poller() {
  local interval=$1 out=$2; shift 2
  local fifo=$WORK/poller.$BASHPID.fifo sfd u d line pids rss k v _
  mkfifo "$fifo"
  exec {sfd}<>"$fifo"
  while [[ ! -e $WORK/stop-pollers ]]; do
    line=$EPOCHREALTIME
    for u in "$@"; do
      d=$CG/systemd$CGROOT/system.slice/system-${u%%@*}.slice/$u
      pids="" rss=0
      if [[ -r $d/cgroup.procs ]]; then
        while read -r v; do
          pids+=${pids:+,}$v
          while read -r k kb _; do
            if [[ $k == VmRSS: ]]; then rss=$((rss + kb)); break; fi
          done <"/proc/$v/status" 2>/dev/null
        done <"$d/cgroup.procs" 2>/dev/null
      fi
      line+=" ${pids:--} $rss"
    done
    echo "$line" >>"$out"
    read -r -t "$interval" -u "$sfd" _
  done
  exec {sfd}<&-
  rm -f "$fifo"
}
start_poller() {  # INTERVAL OUT UNITS...: in the background, recorded by PID
  : >"$2"
  poller "$@" &
  STARTED_PIDS+=("$!")
}

# --- units and the private systemd ------------------------------------------------------------------
# One template per unit prefix, a leaker whose sizes come from SHAREDIR/env-PREFIX-INSTANCE (read at
# every start, so a test changes what the next start of a unit runs); its start fails while
# SHAREDIR/fail-PREFIX-INSTANCE exists.
leaker_template() {
  cat >"$UNITDIR/$1@.service" <<EOF
[Unit]
Description=actions_test $1 %i
StartLimitIntervalSec=0
[Service]
Environment=INITIAL_MB=8 GROW_MB=0 MAX_MB=1000000
EnvironmentFile=-$IN/env-%p-%i
ExecStartPre=/bin/sh -c '! test -e $IN/fail-%p-%i'
ExecStart=$IN/mobasher-leaker --initial-mb \${INITIAL_MB} --grow-mb-per-s \${GROW_MB} --max-mb \${MAX_MB}
Restart=always
RestartSec=500ms
MemoryAccounting=yes
MemoryMax=256M
StandardOutput=append:$IN/%p-%i.log
StandardError=inherit
EOF
}
unit_env() {  # PREFIX INSTANCE INITIAL_MB GROW_MB [MAX_MB]
  printf 'INITIAL_MB=%s\nGROW_MB=%s\nMAX_MB=%s\n' "$3" "$4" "${5:-1000000}" >"$SHARE/env-$1-$2"
}

boot_systemd() {
  cp "$LEAKER" "$SHARE/mobasher-leaker"
  local t=$EPOCHREALTIME
  bash "$HARNESS" start "$UNITDIR" "$STATE" "$SHARE" >/dev/null || die "sd_harness.sh start failed"
  BUS=$(cat "$STATE/bus")
  CGROOT=$(cat "$STATE/cgroot")
  local h
  for h in systemd memory unified; do
    [[ -d $CG/$h$CGROOT ]] && ln -s "$CG/$h$CGROOT" "$CGVIEW/$h"
  done
  log "private systemd up in $(fsub "$EPOCHREALTIME" "$t") s: pid $(cat "$STATE/pid"), bus $BUS, cgroups $CGROOT"
}

start_units() {  # UNIT...: started and each running a process within 10 s
  local u
  sdx systemctl start "$@" || die "systemctl start $* failed"
  for u in "$@"; do
    wait_until 10 unit_running "$u" || die "$u is not running: $(active_state "$u") procs=[$(procs "$u")]"
  done
}

# write_config RESTART_JSON ACTIONS_JSON_EXTRA [MORE_GROUPS_JSON [SCAN_INTERVAL]]: the group
# archiver@*.service (256M), then MORE_GROUPS_JSON (", {...}" entries); scan_interval 1s unless given.
# ACTIONS_JSON_EXTRA may set max_per_unit_per_hour itself (a key twice is a config error).
write_config() {
  local per_unit='"max_per_unit_per_hour": 10,'
  [[ $2 == *'"max_per_unit_per_hour"'* ]] && per_unit=''
  cat >"$CONFIG" <<EOF
// integration test: $TEST_NAME
{
  "scan_interval": "${4:-1s}",
  "discovery_interval": "1s",
  "groups": [
    { "name": "archiver", "units": "archiver@*.service", "memory_limit": "256M",
      "warn": "90%", "critical": "95%", "restart": $1 }${3:-}
  ],
  "alerts": { "for": "1s", "node_memory_available_min": "1M", "node_swap_used_max": "100%" },
  "actions": { "bus": "$BUS", "job_timeout": "20s", $per_unit
               "max_per_hour": 100, "max_concurrent": 1 $2 },
  "history": { "interval": "1s" }
}
EOF
  "$AGENT" check-config --config "$CONFIG" >"$WORK/check-config.out" 2>&1 ||
    die "check-config: $(cat "$WORK/check-config.out")"
}

run_agent() {
  start_agent "$AGENT_LOG" --config "$CONFIG" --state-dir "$ASTATE" --cgroup-root "$CGVIEW"
  wait_until 10 metric_is 1 mobasher_systemd_bus_connected ||
    fail "agent not connected to the private bus within 10 s: $(grep -m2 -i 'bus\|systemd' "$AGENT_LOG" | tr '\n' ' ')"
  log "agent pid $AGENT_PID on port $APORT, connected to $BUS"
}

# Per unit of a poller file: "PID FIRST_SEEN LAST_SEEN LAST_RSS_KB MAX_RSS_KB" per main process,
# in order (the first PID of the cgroup.procs list; runs of "-" between them are gaps). A run counts
# when it lasted 0.15 s and its unit held 4 MiB at some poll: every leaker here starts at 8 MiB or
# more, while ExecStartPre's shell (~1 MiB) alone in the cgroup, which a machine busy compiling can
# show for longer than 0.15 s (CI compiles during these tests), is no main process of the unit.
pid_runs() {  # FILE COLUMN_INDEX (1-based unit index)
  awk -v c="$2" '
    function flush() { if (cur != "" && last - first >= 0.15 && maxr >= 4096) print cur, first, last, lastr, maxr }
    { p = $(2 * c); r = $(2 * c + 1); sub(/,.*/, "", p)
      if (p == "-") next
      if (p != cur) { flush(); cur = p; first = $1; maxr = 0 }
      last = $1; lastr = r; if (r + 0 > maxr) maxr = r + 0 }
    END { flush() }' "$1"
}

# Shared by the parts that restart several units (six, continuity); WORK/m is a fresh scrape.
# check_each_restarted_once CAUSE UNIT...: restarts_total{cause} 1 and oom_kills_total 0 for each
# unit (columns 1.. of WORK/poll in the same order), and the test saw each main process replaced
# exactly once.
check_each_restarted_once() {
  local cause=$1; shift
  local u n o bad="" k runs="" want=""
  for u in "$@"; do
    n=$(msum "$WORK/m" mobasher_unit_restarts_total "unit=\"$u\"" "cause=\"$cause\"")
    o=$(msum "$WORK/m" mobasher_unit_oom_kills_total "unit=\"$u\"")
    [[ $n == 1 && $o == 0 ]] || bad+=" $u:$cause=${n:-none},oom=${o:-none}"
  done
  check "each of the $#: restarts_total{cause=$cause} 1, oom_kills_total 0 (${bad:-all})" test -z "$bad"
  for ((k = 1; k <= $#; k++)); do runs+="$(pid_runs "$WORK/poll" "$k" | grep -c .) "; want+="2 "; done
  check "the test saw each main process replaced once (processes per unit: ${runs% })" \
    test "$runs" = "$want"
}

# check_never_two_down POLL_FILE N MIN_POLLS: from the first poll with all of the first N units
# running, in no poll more than one of their cgroups empty (never two down at once, as the test
# saw it).
check_never_two_down() {
  local polls worst empties
  polls=$(grep -c . "$1")
  read -r worst empties < <(awk -v n="$2" '!go { for (c = 1; c <= n; c++) if ($(2 * c) == "-") next; go = 1 }
      { e = 0; for (c = 1; c <= n; c++) if ($(2 * c) == "-") e++
      if (e > m) m = e; if (e) k++ } END { print m + 0, k + 0 }' "$1")
  check "polls every 0.1 s: $polls; most cgroups empty at once: $worst (<= 1); polls with one empty: $empties" \
    test "$worst" -le 1 -a "$polls" -ge "$3"
}

# check_history_one_at_a_time N [MIN_GAP MAX_GAP]: the history holds N actions (restart, memory,
# done, N distinct units) whose intervals [ts - seconds, ts] never overlap, each at an RSS under
# the 256M limit; the gaps (one's end to the next's start) are printed, and with MIN_GAP MAX_GAP
# each must lie in [MIN_GAP, MAX_GAP] s. Leaves them in WORK/actions.json, sorted by start.
history_actions_at_least() { [[ $(hist_count 'select(.type == "action")') -ge $1 ]]; }
check_history_one_at_a_time() {
  local want=$1 lo=${2:-} hi=${3:-}
  # The history writer syncs a batch at least every 2 s (docs/history.md): the last action's
  # record can trail its "restart done" log line and the metrics by that much.
  wait_until 5 history_actions_at_least "$want"
  hist -s '[.[] | select(.type == "action")] | sort_by(.t - .seconds)' >"$WORK/actions.json"
  local nact overlaps gaps
  nact=$(jq length "$WORK/actions.json")
  overlaps=$(jq '[range(1; length) as $i | select((.[$i].t - .[$i].seconds) < .[$i - 1].t)] | length' "$WORK/actions.json")
  gaps=$(jq -r '[range(1; length) as $i | (.[$i].t - .[$i].seconds - .[$i - 1].t) * 100 | round / 100] | join(" ")' "$WORK/actions.json")
  check "history: $nact action records, overlapping intervals: $overlaps; gaps $gaps s" \
    test "$nact" = "$want" -a "$overlaps" = 0
  if [[ -n $lo ]]; then
    check "every gap between the end of one restart and the start of the next in [$lo, $hi] s ($gaps; restarts took $(jq -r '[.[].seconds * 100 | round / 100] | join(" ")' "$WORK/actions.json") s)" \
      awk -v g="$gaps" -v lo="$lo" -v hi="$hi" 'BEGIN { n = split(g, a, " "); if (n < 1) exit 1
        for (i = 1; i <= n; i++) if (a[i] < lo || a[i] > hi) exit 1 }'
  fi
  check "every action: restart, cause memory, done; units $(jq -r '[.[].unit | sub("archiver@"; "") | sub(".service"; "")] | join(",")' "$WORK/actions.json")" \
    test "$(jq '[.[] | select(.action == "restart" and .cause == "memory" and .result == "done")] | map(.unit) | unique | length' "$WORK/actions.json")" = "$want"
  local maxv; maxv=$(jq '[.[].value] | max' "$WORK/actions.json")
  check "largest RSS at a restart $(mib "$maxv") MiB < 256 MiB limit (values $(jq -r '[.[].value / 1048576 | . * 10 | round / 10] | join(" ")' "$WORK/actions.json") MiB)" \
    awk -v v="$maxv" 'BEGIN { exit !(v < 256 * 1048576) }'
}

# --- parts ----------------------------------------------------------------------------------------
part_memory() {
  local U=archiver@ch1.service OTHER=other@x.service NEAR=archiverx@ch1.service
  leaker_template archiver
  leaker_template other
  leaker_template archiverx
  unit_env archiver ch1 64 8            # 60% of 256M (153.6M) after ~11 s; the limit after ~24 s
  unit_env other x 64 8 180             # leaks past 60% of its own 256M too, stops short of it
  unit_env archiverx ch1 64 8 180
  boot_systemd
  start_units "$U" "$OTHER" "$NEAR"
  local by_pid=() by_nr=() b
  for b in "$OTHER" "$NEAR"; do by_pid+=("$(procs "$b")"); by_nr+=("$(nrestarts "$b")"); done
  log "bystanders: $OTHER pids [${by_pid[0]}] NRestarts ${by_nr[0]}; $NEAR pids [${by_pid[1]}] NRestarts ${by_nr[1]}"
  local old; old=$(main_pid "$U")
  start_poller 0.1 "$WORK/poll" "$U" "$OTHER" "$NEAR"
  write_config '{ "on_memory": "60%", "for": "2s" }' ', "cooldown": "5s", "min_gap": "5s"'
  run_agent

  wait_until 45 log_has "restart done unit=$U" ||
    fail "no 'restart done unit=$U' within 45 s: $(grep -m3 'restart\|error' "$AGENT_LOG" | cut -c1-200 | tr '\n' ' ')"
  local done_line; done_line=$(grep -m1 -F "restart done unit=$U" "$AGENT_LOG")
  pass "log: ${done_line#*restart done }"
  wait_until 10 metric_ge 1 mobasher_unit_restarts_total "unit=\"$U\"" 'cause="memory"' ||
    fail "restarts_total{cause=\"memory\"} of $U not >= 1 within 10 s"
  wait_until 10 hist_has "select(.type == \"action\" and .unit == \"$U\")" ||
    fail "no history action record of $U within 10 s"
  sleep 2  # two more scans: the bystanders keep leaking, the new process runs
  : >"$WORK/stop-pollers"

  scrape "$WORK/m" || fail "GET /metrics failed"
  local n
  n=$(msum "$WORK/m" mobasher_unit_restarts_total "unit=\"$U\"" 'cause="memory"')
  check "restarts_total{unit=$U,cause=memory} = ${n:-none} (>= 1)" num_ge "${n:-0}" 1
  local c other_causes=""
  for c in oom systemd external age predicted; do
    n=$(msum "$WORK/m" mobasher_unit_restarts_total "unit=\"$U\"" "cause=\"$c\"")
    [[ ${n:-0} == 0 ]] || other_causes+=" $c=$n"
  done
  check "no restart of $U with another cause (${other_causes:-none})" test -z "$other_causes"
  n=$(msum "$WORK/m" mobasher_unit_oom_kills_total "unit=\"$U\"")
  check "oom_kills_total{unit=$U} = ${n:-none} (0)" test "${n:-x}" = 0
  n=$(msum "$WORK/m" mobasher_actions_total 'action="restart"' 'cause="memory"' 'result="done"')
  check "actions_total{action=restart,cause=memory,result=done} = ${n:-none} (>= 1)" num_ge "${n:-0}" 1

  local rec; rec=$(hist "select(.type == \"action\" and .unit == \"$U\" and .result == \"done\")" | head -n1)
  if [[ -z $rec ]]; then
    fail "no history action record with result done for $U: $(hist 'select(.type | startswith("action"))')"
  else
    local value threshold reason cause action
    value=$(jq -r .value <<<"$rec") threshold=$(jq -r .threshold <<<"$rec")
    reason=$(jq -r .reason <<<"$rec") cause=$(jq -r .cause <<<"$rec") action=$(jq -r .action <<<"$rec")
    check "history action: action=$action cause=$cause result=done seconds=$(jq -r .seconds <<<"$rec")" \
      test "$action/$cause" = restart/memory
    local vmib; vmib=$(awk -v v="$value" 'BEGIN { printf "%.2fMiB", v / 1048576 }')
    check "history reason names the measured value $vmib: \"$reason\"" \
      grep -qF "rss $vmib >= 153.60MiB (60% of the 256.00MiB limit)" <<<"$reason"
    # The test's own view of the old process: its largest VmRSS (it only grows; the last poll may
    # have caught it exiting, with no VmRSS left).
    local run last_rss
    run=$(pid_runs "$WORK/poll" 1 | awk -v p="$old" '$1 == p')
    last_rss=$(awk '{ print $5 * 1024 }' <<<"$run")
    check "restarted at $(mib "$value") MiB by the agent (last seen by the test $(mib "${last_rss:-0}") MiB), threshold $(mib "$threshold") MiB, limit 256 MiB" \
      awk -v v="$value" -v t="$threshold" -v l="${last_rss:-0}" 'BEGIN {
        exit !(v >= t && v <= l + 1048576 && l - v <= 16 * 1048576 && l < 256 * 1048576) }'
  fi
  local new; new=$(main_pid "$U")
  check "$U: main pid $old replaced by ${new:-none}, running" test -n "$new" -a "$new" != "$old"

  # Bystanders: never touched, over the whole run (every poll) and at the end.
  local i col polls changes
  polls=$(grep -c . "$WORK/poll")
  for i in 0 1; do
    b=$([[ $i == 0 ]] && echo "$OTHER" || echo "$NEAR")
    col=$((i + 2))
    changes=$(awk -v c="$col" -v want="${by_pid[$i]// /,}" '$(2 * c) != want { n++ } END { print n + 0 }' "$WORK/poll")
    check "$b: cgroup.procs [${by_pid[$i]}] in all $polls polls (differing: $changes)" test "$changes" = 0
    local nr; nr=$(nrestarts "$b")
    check "$b: NRestarts ${by_nr[$i]} -> $nr, $(active_state "$b"), rss $(awk -v c="$col" 'END { printf "%.0f", $(2 * c + 1) / 1024 }' "$WORK/poll") MiB" \
      test "$nr" = "${by_nr[$i]}" -a "$(procs "$b")" = "${by_pid[$i]}"
  done
  check "the agent never named a bystander (log)" test "$(grep -c 'other@x\|archiverx@' "$AGENT_LOG")" = 0
  check "no OOM kill recorded in the history" test "$(hist_count 'select(.type == "oom_kill")')" = 0
}

part_six() {
  local units=() i
  leaker_template archiver
  for i in 1 2 3 4 5 6; do
    units+=("archiver@ch$i.service")
    unit_env archiver "ch$i" 120 3  # 153.6M after ~11 s, the 256M limit after ~45 s
  done
  boot_systemd
  for i in 0 1 2 3 4 5; do  # staggered: they cross on_memory within 2.5 s of each other
    start_units "${units[$i]}"
    ((i < 5)) && sleep 0.5
  done
  # Their next start (the agent's restart) runs a small flat leaker: one restart each.
  for i in 1 2 3 4 5 6; do unit_env archiver "ch$i" 16 0; done
  start_poller 0.1 "$WORK/poll" "${units[@]}"
  write_config '{ "on_memory": "60%", "for": "2s" }' ', "cooldown": "1s", "min_gap": "5s"'
  run_agent

  wait_until 60 bash -c "[[ \$(grep -c 'restart done unit=archiver@ch' '$AGENT_LOG') -ge 6 ]]" ||
    fail "not six 'restart done' within 60 s: $(grep -c 'restart done' "$AGENT_LOG")"
  wait_until 10 metric_is 6 mobasher_unit_restarts_total 'cause="memory"' ||
    fail "restarts_total{cause=memory} summed over the six not 6 within 10 s"
  sleep 1
  : >"$WORK/stop-pollers"
  sleep 0.3

  scrape "$WORK/m" || fail "GET /metrics failed"
  check_each_restarted_once memory "${units[@]}"
  local n
  n=$(msum "$WORK/m" mobasher_unit_restarts_total)
  check "restarts_total over every cause: ${n:-none} (6)" test "${n:-x}" = 6
  n=$(msum "$WORK/m" mobasher_actions_total 'action="restart"' 'cause="memory"' 'result="done"')
  check "actions_total{restart,memory,done} = ${n:-none} (6)" test "${n:-x}" = 6
  check_never_two_down "$WORK/poll" 6 100
  check_history_one_at_a_time 6
  check "no OOM kill recorded in the history" test "$(hist_count 'select(.type == "oom_kill")')" = 0
}

part_continuity() {
  local units=() i k R=recorder@ramp.service OTHER=other@x.service
  leaker_template archiver
  leaker_template recorder
  leaker_template other
  # 222 MiB + 0.4 MiB/s: on_memory (90% = 230.4M) ~15 s after the start (VmRSS adds ~3 MiB),
  # then the margin to the 256M limit lasts 64 s, far more than six restarts one at a time need
  # (6 x (job < 1 s + emergency_gap 5 s + scan 0.5 s) + for 1 s ~ 40 s).
  for i in 1 2 3 4 5 6; do
    units+=("archiver@ch$i.service")
    unit_env archiver "ch$i" 222 0.4
  done
  unit_env recorder ramp 8 40 108  # a start-up ramp: +100 MiB in 2.5 s, then flat
  unit_env other x 215 0.4 240     # outside every group: crosses 90% of its 256M, stops short
  boot_systemd
  start_units "$OTHER"
  local by_pid by_nr; by_pid=$(procs "$OTHER") by_nr=$(nrestarts "$OTHER")
  # Built-in cooldown (2m) and min_gap (10m), emergency_gap at its default (5s): only scans and
  # `for` are compressed. The recorder group predicts (10m) after a 10 s window.
  write_config '{ "on_memory": "90%", "for": "1s" }' '' ',
    { "name": "recorder", "units": "recorder@*.service", "memory_limit": "256M",
      "warn": "98%", "critical": "99%",
      "restart": { "on_memory": "99%", "for": "1s", "predict": "10m", "predict_window": "10s" } }' 0.5s
  run_agent
  start_poller 0.1 "$WORK/poll" "${units[@]}" "$R" "$OTHER"
  # Three pairs ~3 s apart, the ramp with the first; their restarts run a small flat leaker.
  local t_ramp=$EPOCHREALTIME
  start_units "$R" "${units[0]}" "${units[1]}"
  for k in 2 4; do
    sleep 3
    start_units "${units[$k]}" "${units[$((k + 1))]}"
  done
  for i in 1 2 3 4 5 6; do unit_env archiver "ch$i" 16 0; done
  local r_pid r_nr; r_pid=$(main_pid "$R") r_nr=$(nrestarts "$R")

  wait_until 90 bash -c "[[ \$(grep -c 'restart done unit=archiver@ch' '$AGENT_LOG') -ge 6 ]]" ||
    fail "not six 'restart done' within 90 s: $(grep -c 'restart done' "$AGENT_LOG")"
  wait_until 10 metric_is 6 mobasher_unit_restarts_total 'cause="memory"' ||
    fail "restarts_total{cause=memory} summed over the six not 6 within 10 s"
  # The ramp is watched for at least three prediction windows.
  sleep "$(awk -v t="$t_ramp" -v n="$EPOCHREALTIME" 'BEGIN { d = t + 31 - n; print (d > 1 ? d : 1) }')"
  : >"$WORK/stop-pollers"
  sleep 0.3

  scrape "$WORK/m" || fail "GET /metrics failed"
  check_each_restarted_once memory "${units[@]}"
  local n
  n=$(msum "$WORK/m" mobasher_actions_total 'action="restart"' 'cause="memory"' 'result="done"')
  check "actions_total{restart,memory,done} = ${n:-none} (6); actions of any other cause: $(awk '/^mobasher_actions_total\{/ && !/cause="memory"/ { s += $2 } END { print s + 0 }' "$WORK/m")" \
    test "${n:-x}" = 6 -a "$(awk '/^mobasher_actions_total\{/ && !/cause="memory"/ { s += $2 } END { print s + 0 }' "$WORK/m")" = 0
  check_never_two_down "$WORK/poll" 6 200
  # Each waits only for the one before it to be active again plus emergency_gap (5 s), never for
  # the built-in cooldown (2m) or min_gap (10m).
  check_history_one_at_a_time 6 4.9 8
  log "restart starts after the first: $(jq -r '(.[0].t - .[0].seconds) as $t0 | [.[] | (.t - .seconds - $t0) * 10 | round / 10] | join(" ")' "$WORK/actions.json") s"
  local line
  for k in 1 2 3 4 5 6; do
    line+="ch$k $(pid_runs "$WORK/poll" "$k" | head -n1 | awk '{ printf "%.1f", $5 / 1024 }') "
  done
  log "largest VmRSS the test saw of each first process (MiB, limit 256, on_memory 230.4): $line"
  check "no OOM kill: history oom_kill $(hist_count 'select(.type == "oom_kill")'), agent log $(log_count 'oom kill'), systemd log $(grep -ci 'oom' "$STATE/kmsg.log")" \
    test "$(hist_count 'select(.type == "oom_kill")')/$(log_count 'oom kill')/$(grep -ci 'oom' "$STATE/kmsg.log")" = 0/0/0

  # The ramp (column 7) and the bystander (column 8): never touched.
  local changes polls runs; polls=$(grep -c . "$WORK/poll")
  runs=$(pid_runs "$WORK/poll" 7 | awk '{ printf "%s ", $1 }')
  check "$R (ramp to $(awk '$14 != "-" { r = $15 } END { printf "%.0f", r / 1024 }' "$WORK/poll") MiB, then flat): main processes seen [${runs% }] ($r_pid), NRestarts $r_nr -> $(nrestarts "$R"), never named in a decision" \
    test "$runs" = "$r_pid " -a "$(main_pid "$R")" = "$r_pid" -a "$(nrestarts "$R")" = "$r_nr" -a "$(grep -c "restart [a-z]* unit=$R" "$AGENT_LOG")" = 0
  n=$(msum "$WORK/m" mobasher_unit_restarts_total "unit=\"$R\"")
  check "restarts_total{unit=$R} over every cause: ${n:-0} (0)" test "${n:-0}" = 0
  changes=$(awk -v want="${by_pid// /,}" '$16 != want { n++ } END { print n + 0 }' "$WORK/poll")
  check "$OTHER: cgroup.procs [$by_pid] in all $polls polls (differing: $changes), NRestarts $by_nr -> $(nrestarts "$OTHER"), rss $(awk 'END { printf "%.0f", $17 / 1024 }' "$WORK/poll") MiB" \
    test "$changes" = 0 -a "$(nrestarts "$OTHER")" = "$by_nr" -a "$(log_count 'other@x')" = 0
}

part_age() {
  local units=() i max_age=30 min_gap=5
  leaker_template archiver
  for i in 1 2 3; do units+=("archiver@ch$i.service"); done
  boot_systemd
  start_units "${units[@]}"
  start_poller 0.1 "$WORK/poll" "${units[@]}"
  write_config "{ \"max_age\": \"${max_age}s\" }" ", \"cooldown\": \"1s\", \"min_gap\": \"${min_gap}s\""
  run_agent

  # Units booted together start off their turns; a turn is reached within two restarts (a first
  # restart at max_age/2 that min_gap delayed can land before the turn once more).
  thrice() {
    local k
    for k in 1 2 3; do [[ $(pid_runs "$WORK/poll" "$k" | grep -c .) -ge 4 ]] || return 1; done
  }
  wait_until 130 thrice || fail "not every unit restarted three times within 130 s"
  sleep 1.5
  : >"$WORK/stop-pollers"
  sleep 0.3

  # Restarts as the test saw them: TIME UNIT AGE (the replaced process's first sighting to the
  # replacement's).
  : >"$WORK/restarts"
  local k
  for k in 1 2 3; do
    pid_runs "$WORK/poll" "$k" | awk -v u="ch$k" 'NR > 1 { print $2, u, $2 - pf } { pf = $2 }' >>"$WORK/restarts"
  done
  sort -n -o "$WORK/restarts" "$WORK/restarts"
  local n lo hi
  n=$(grep -c . "$WORK/restarts")
  lo=$(awk '{ print $3 }' "$WORK/restarts" | sort -n | head -n1)
  hi=$(awk '{ print $3 }' "$WORK/restarts" | sort -n | tail -n1)
  log "restarts (time since the first, unit, age): $(awk 'NR == 1 { t0 = $1 } { printf "%.1f %s %.1f; ", $1 - t0, $2, $3 }' "$WORK/restarts")"
  # The agent's start times come from /proc (whole-second btime): up to 1 s early, so it may act
  # up to 1 s before the true age reaches max_age/2; the polls add 0.1 s.
  check "$n restarts, ages $lo..$hi s within [$((max_age / 2)) - 1.2, $((max_age + 3))] s" \
    awk -v lo="$lo" -v hi="$hi" -v m="$max_age" 'BEGIN { exit !(lo >= m / 2 - 1.2 && hi <= m + 3) }'
  local mingap; mingap=$(awk 'NR > 1 { g = $1 - p; if (m == "" || g < m) m = g } { p = $1 } END { printf "%.2f", m }' "$WORK/restarts")
  check "consecutive group restarts >= min_gap ${min_gap}s apart (smallest $mingap s)" num_ge "$mingap" "$(fsub "$min_gap" 0.3)"
  # From each unit's third restart on, the three take turns: max_age/3 apart.
  local turns
  turns=$(awk '{ seen[$2]++ } NR > 1 && seen[$2] >= 3 { printf "%.1f ", $1 - p } { p = $1 }' "$WORK/restarts")
  check "on their turns (third restarts) the gaps are ~$((max_age / 3)) s: $turns(each >= $((max_age / 3 - 3)))" \
    awk -v g="$turns" -v m="$max_age" 'BEGIN { n = split(g, a, " "); if (n < 2) exit 1
      for (i = 1; i <= n; i++) if (a[i] < m / 3 - 3) exit 1 }'

  # As the agent recorded and counted them (the last record may trail by a history batch, 2 s).
  wait_until 5 history_actions_at_least "$n"
  hist -s '[.[] | select(.type == "action")] | sort_by(.t - .seconds)' >"$WORK/actions.json"
  local nact causes starts_gap
  nact=$(jq length "$WORK/actions.json")
  causes=$(jq -r '[.[] | .cause + "/" + .result] | unique | join(",")' "$WORK/actions.json")
  check "history: $nact action records ($n restarts seen), all age/done ($causes)" \
    test "$nact" = "$n" -a "$causes" = age/done
  starts_gap=$(jq '[range(1; length) as $i | (.[$i].t - .[$i].seconds) - (.[$i - 1].t - .[$i - 1].seconds)] | min * 100 | round / 100' "$WORK/actions.json")
  check "history: action starts >= min_gap apart (smallest $starts_gap s)" num_ge "$starts_gap" "$(fsub "$min_gap" 0.25)"
  check "history: every age >= its turn (value >= threshold), turns $(jq -r '[.[].threshold | . * 10 | round / 10] | join(" ")' "$WORK/actions.json") s" \
    test "$(jq '[.[] | select(.value < .threshold or .threshold < 15)] | length' "$WORK/actions.json")" = 0
  scrape "$WORK/m" || fail "GET /metrics failed"
  local age other
  age=$(msum "$WORK/m" mobasher_unit_restarts_total 'cause="age"')
  other=$(awk '/^mobasher_unit_restarts_total\{/ && !/cause="age"/ { s += $2 } END { print s + 0 }' "$WORK/m")
  check "restarts_total{cause=age} = $age ($n seen), other causes $other" test "$age" = "$n" -a "$other" = 0
}

part_overlap() {
  local A=archiver@ch1:a.service B=archiver@ch1:b.service
  start_slots "$A" "$B"
  write_config '{ "on_memory": "60%", "for": "2s" }' ', "cooldown": "2s", "min_gap": "5s",
    "retry_backoff": "10s", "max_retry_backoff": "40s", "max_per_unit_per_hour": 20,
    "handover": { "strategy": "overlap", "overlap": "3s", "start_timeout": "20s",
                  "output": "'"$SHARE"'/{instance}.out" }'
  run_agent

  # 1. a -> b, on memory (140M + 2M/s crosses 153.6M after ~7 s).
  wait_until 40 log_has "restart done unit=$A action=handover target=$B" ||
    fail "no hand-over $A -> $B done within 40 s: $(grep 'restart' "$AGENT_LOG" | cut -c1-200 | tail -n3 | tr '\n' ' ')"
  : >"$SHARE/fail-ch1:a"  # the next start of slot a fails (ExecStartPre)
  pass "log: $(grep -m1 -F "restart done unit=$A" "$AGENT_LOG" | sed 's/.*restart done //')"
  check "after the hand-over: $A $(active_state "$A"), $B $(active_state "$B")" \
    test "$(active_state "$A")/$(active_state "$B")" = inactive/active
  local b_pid; b_pid=$(main_pid "$B")
  wait_until 10 hist_has "select(.type == \"action\" and .unit == \"$A\")" || fail "no history action record of $A"
  local rec ov
  rec=$(hist "select(.type == \"action\" and .unit == \"$A\")" | head -n1)
  ov=$(jq -r '.overlap_seconds // 0' <<<"$rec")
  check "history: $(jq -r '"\(.action) \(.cause) target=\(.target) result=\(.result) seconds=\(.seconds) overlap_seconds=\(.overlap_seconds)"' <<<"$rec") (overlap >= 3)" \
    awk -v o="$ov" -v r="$(jq -r '.action + .result + .target' <<<"$rec")" -v want="handoverdone$B" \
      'BEGIN { exit !(o >= 3 && r == want) }'
  wait_until 10 metric_is 1 mobasher_unit_restarts_total "unit=\"$B\"" 'cause="memory"' ||
    fail "restarts_total{unit=$B,cause=memory} not 1 within 10 s: $(grep "restarts_total{unit=\"$B\"" "$WORK/m.now" | tr '\n' ' ')"
  pass "restarts_total{unit=$B,cause=memory} = 1"
  # The stopped slot must not be reported down (alerts.for is 1 s: watch 3 s).
  local phases="" k
  for k in 1 2 3 4 5 6; do phases+="$(status_alert "$A" MobasherUnitDown || true)," && sleep 0.5; done
  check "MobasherUnitDown of the stopped $A in /api/v1/status over 3 s: [${phases}] never firing" \
    test "$(grep -c firing <<<"$phases")" = 0
  local sz1 sz2
  sz1=$(stat -c %s "$SHARE/ch1:b.out"); sleep 1; sz2=$(stat -c %s "$SHARE/ch1:b.out")
  check "$B's output grows ($sz1 -> $sz2 bytes)" test "$sz2" -gt "$sz1"

  # 2. b -> a with a's start failing: b keeps running, the failure is reported, the agent backs off.
  wait_until 30 log_has "restart failed unit=$B" ||
    fail "no failed hand-over $B -> $A within 30 s: $(grep 'restart' "$AGENT_LOG" | cut -c1-200 | tail -n3 | tr '\n' ' ')"
  pass "log: $(grep -m1 -F "restart failed unit=$B" "$AGENT_LOG" | sed 's/.*restart failed //' | cut -c1-300)"
  wait_until 10 hist_has "select(.type == \"action_failed\" and .unit == \"$B\")" || fail "no action_failed record of $B"
  rec=$(hist "select(.type == \"action_failed\" and .unit == \"$B\")" | head -n1)
  local fail_t; fail_t=$(jq .t <<<"$rec")
  check "history action_failed: result=$(jq -r .result <<<"$rec") error=\"$(jq -r .error <<<"$rec")\"" \
    grep -qF "$B keeps running" <<<"$(jq -r .error <<<"$rec")"
  wait_until 5 metric_ge 1 mobasher_unit_action_failures "unit=\"$B\"" ||
    fail "mobasher_unit_action_failures{unit=$B} not >= 1"
  pass "mobasher_unit_action_failures{unit=$B} = $(metric_now mobasher_unit_action_failures "unit=\"$B\"")"
  wait_until 5 alert_is "$B" MobasherUnitActionFailed firing ||
    fail "MobasherUnitActionFailed of $B not firing in /api/v1/status: $(status_alert "$B" MobasherUnitActionFailed)"
  pass "/api/v1/status: $B MobasherUnitActionFailed $(status_alert "$B" MobasherUnitActionFailed)"
  wait_until 10 bash -c "[[ \$(cat '$(cgdir "$A")/cgroup.procs' 2>/dev/null) == '' ]]" || fail "$A still has processes after the failure"
  check "after the failure: $A $(active_state "$A") (stopped by the agent), $B $(active_state "$B"), main pid $b_pid -> $(main_pid "$B")" \
    test "$(active_state "$B")" = active -a "$(main_pid "$B")" = "$b_pid"
  # The flag goes 1.5 s before the back-off ends (timed from the agent's record, not from when
  # this test noticed the failure); the retry is checked against the records below.
  sleep "$(awk -v f="$fail_t" -v n="$EPOCHREALTIME" 'BEGIN { d = f + 8.5 - n; print (d > 0 ? d : 0) }')"
  rm -f "$SHARE/fail-ch1:a"
  # 3. The retry after the back-off hands over, and the alert resolves.
  wait_until 45 log_has "restart done unit=$B action=handover target=$A" ||
    fail "the retried hand-over $B -> $A not done within 45 s"
  wait_until 10 hist_has "select(.type == \"action\" and .unit == \"$B\" and .result == \"done\")" ||
    fail "no history action record of the retry"
  # A memory emergency is not held by retry_backoff (issue 12): the next action of b (failed or
  # done) starts once b is seen active again plus emergency_gap (5 s), never sooner.
  local next_start
  next_start=$(hist -s "[.[] | select((.type == \"action\" or .type == \"action_failed\") and .unit == \"$B\" and .t > $fail_t)] | sort_by(.t) | .[0] | .t - .seconds")
  check "next attempt $(fsub "${next_start:-0}" "$fail_t") s after the failure (emergency_gap 5 s); attempts that failed: $(hist_count "select(.type == \"action_failed\" and .unit == \"$B\")")" \
    num_ge "$(fsub "${next_start:-0}" "$fail_t")" 4.9
  check "after the retry: $A $(active_state "$A"), $B $(active_state "$B")" \
    test "$(active_state "$A")/$(active_state "$B")" = active/inactive
  wait_until 5 metric_is 0 mobasher_unit_action_failures "unit=\"$A\"" || fail "action_failures of $A not 0"
  wait_until 10 hist_has "select(.type == \"alert_resolved\" and .unit == \"$B\" and .alert == \"MobasherUnitActionFailed\")" ||
    fail "no alert_resolved MobasherUnitActionFailed for $B in the history"
  pass "MobasherUnitActionFailed of $B resolved (history)"
  sleep 0.5
  : >"$WORK/stop-pollers"
  sleep 0.2

  # Never zero running slots, from a's start to the end.
  local polls zero both
  polls=$(grep -c . "$WORK/poll")
  read -r zero both < <(awk '{ a = $2 != "-"; b = $4 != "-"; if (!a && !b) z++; if (a && b) n++ } END { print z + 0, n + 0 }' "$WORK/poll")
  check "polls every 50 ms: $polls; with no slot running: $zero (0); with both (the overlaps): $both" \
    test "$zero" = 0 -a "$polls" -ge 200 -a "$both" -ge 2
  log "history restart events of the slots: $(hist -r 'select(.type == "restart") | "\(.unit) \(.cause) \(.total)"' | tr '\n' ';')"
  local down; down=$(hist_count 'select(.type == "alert_firing" and .alert == "MobasherUnitDown")')
  check "no MobasherUnitDown fired (history alert_firing: $down)" test "$down" = 0
  scrape "$WORK/m" || fail "GET /metrics failed"
  check "actions_total: $(awk '/^mobasher_actions_total\{/ { printf "%s=%s ", $1, $2 }' "$WORK/m" | sed 's/mobasher_actions_total//g')(done 2, failed as recorded)" \
    test "$(msum "$WORK/m" mobasher_actions_total 'result="done"')/$(msum "$WORK/m" mobasher_actions_total 'result="failed"')" = "2/$(hist_count 'select(.type == "action_failed")')"
}

# The overlap parts' start: the slot template (a leaker, the memory, and an output growing every
# 0.2 s; its start fails while SHARE/fail-INSTANCE exists), the private systemd, slot A started,
# both slots polled every 50 ms into WORK/poll.
start_slots() {  # A B
  cat >"$SHARE/slot.sh" <<EOF
#!/bin/sh
$IN/mobasher-leaker --initial-mb 140 --grow-mb-per-s 2 &
while :; do date +%s.%N >>"$IN/\$1.out"; sleep 0.2; done
EOF
  cat >"$UNITDIR/archiver@.service" <<EOF
[Unit]
Description=actions_test slot %i
StartLimitIntervalSec=0
[Service]
ExecStartPre=/bin/sh -c '! test -e $IN/fail-%i'
ExecStart=/bin/sh $IN/slot.sh %i
Restart=always
RestartSec=500ms
MemoryAccounting=yes
MemoryMax=256M
StandardOutput=append:$IN/%i.log
StandardError=inherit
EOF
  boot_systemd
  start_units "$1"
  start_poller 0.05 "$WORK/poll" "$1" "$2"
}

part_sigterm() {
  local A=archiver@ch1:a.service B=archiver@ch1:b.service
  start_slots "$A" "$B"
  write_config '{ "on_memory": "60%", "for": "2s" }' ', "cooldown": "2s", "min_gap": "5s",
    "max_per_unit_per_hour": 20,
    "handover": { "strategy": "overlap", "overlap": "6s", "start_timeout": "20s",
                  "output": "'"$SHARE"'/{instance}.out" }'
  run_agent
  both_running() { unit_running "$A" && unit_running "$B"; }
  wait_until 40 both_running ||
    die "no hand-over $A -> $B began within 40 s: $(grep 'restart' "$AGENT_LOG" | cut -c1-200 | tail -n3 | tr '\n' ' ')"
  log "both slots run (the overlap): SIGTERM to the agent"
  stop_agent_checked "$AGENT_PID" "$AGENT_LOG" 3
  AGENT_PID=""
  sleep 1
  check "the agent gone mid-hand-over, both slots still run: $A $(active_state "$A"), $B $(active_state "$B")" \
    both_running
  local before; before=$(wc -l <"$AGENT_LOG")
  run_agent
  just_one() { [[ $( (unit_running "$A" && echo a); (unit_running "$B" && echo b) ) =~ ^[ab]$ ]]; }
  wait_until 30 just_one ||
    fail "the restarted agent did not finish the hand-over within 30 s: $A $(active_state "$A"), $B $(active_state "$B")"
  local decided; decided=$(tail -n +"$((before + 1))" "$AGENT_LOG" | grep -m1 'restart decided' | sed 's/.*restart decided //')
  # Its cause: "both slots running: finishing an interrupted hand-over", or memory when the old
  # slot, still leaking, is over on_memory by then (the more urgent reason wins, same action).
  check "the restarted agent finished it: $A $(active_state "$A"), $B $(active_state "$B"); decided: ${decided:0:160}" \
    grep -q 'action=handover' <<<"$decided"
  sleep 0.5
  : >"$WORK/stop-pollers"
  sleep 0.2
  local polls zero
  polls=$(grep -c . "$WORK/poll")
  zero=$(awk '$2 == "-" && $4 == "-" { z++ } END { print z + 0 }' "$WORK/poll")
  check "polls every 50 ms: $polls; with no slot running: $zero (0)" test "$zero" = 0 -a "$polls" -ge 100
}

soak_receiver() {  # NAME: a webhook receiver for the soak, its mode in WORK/rcv-NAME.mode; sets RPORT
  local name=$1 pid
  echo ok >"$WORK/rcv-$name.mode"
  for _ in 1 2 3; do
    RPORT=$(free_port) || die "no free port"
    python3 "$HERE/../tools/webhook_receiver.py" --port "$RPORT" --out "$WORK/rcv-$name.jsonl" \
      --mode-file "$WORK/rcv-$name.mode" --max-seconds $((SOAK_MINUTES * 60 + 600)) \
      >>"$WORK/rcv-$name.log" 2>&1 &
    pid=$!
    STARTED_PIDS+=("$pid")
    wait_until 10 http_ok_or_dead "http://127.0.0.1:$RPORT/__health" "$pid" && alive "$pid" && return 0
    stop_pid "$pid" 2
    forget_pid "$pid"
  done
  die "receiver $name did not start"
}

# One CSV line: minute, RSS kB (all, anonymous, file-backed), descriptors, threads, restarts, sent,
# failed, history files.
soak_sample() {
  scrape "$WORK/s" || return 0
  printf '%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$(fsub "$EPOCHREALTIME" "$1" | awk '{ printf "%.1f", $1 / 60 }')" \
    "$(awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT_PID/status")" \
    "$(awk '/^RssAnon:/ { print $2 }' "/proc/$AGENT_PID/status")" \
    "$(awk '/^RssFile:/ { print $2 }' "/proc/$AGENT_PID/status")" "$(ls "/proc/$AGENT_PID/fd" | wc -l)" \
    "$(awk '/^Threads:/ { print $2 }' "/proc/$AGENT_PID/status")" \
    "$(msum "$WORK/s" mobasher_unit_restarts_total)" "$(msum "$WORK/s" mobasher_notifications_total 'result="sent"')" \
    "$(msum "$WORK/s" mobasher_notifications_total 'result="failed"')" "$(msum "$WORK/s" mobasher_history_files)"
}

part_soak() {
  SOAK_MINUTES=${SOAK_MINUTES:-60}
  local out=${SOAK_OUT:-/tmp/mobasher-soak.csv} i units=() p1 p2 t0
  leaker_template archiver
  for i in 1 2 3 4 5 6; do
    unit_env archiver "s$i" 16 0
    units+=("archiver@s$i.service")
  done
  boot_systemd
  start_units "${units[@]}"
  soak_receiver r1; p1=$RPORT
  soak_receiver r2; p2=$RPORT
  # SOAK_ONLY=restarts (no receivers) or notifications (no restarts by age) splits the work, to
  # tell which of the two a growth follows.
  local max_age=60s webhooks
  webhooks='[ { "name": "r1", "url": "http://127.0.0.1:'$p1'/hook", "timeout": "1s" },
                { "name": "r2", "url": "http://127.0.0.1:'$p2'/hook", "timeout": "1s" } ]'
  [[ ${SOAK_ONLY:-} == restarts ]] && webhooks='[]'
  [[ ${SOAK_ONLY:-} == notifications ]] && max_age=30d
  cat >"$CONFIG" <<EOF
// integration test: $TEST_NAME
{
  "scan_interval": "100ms",
  "discovery_interval": "1s",
  "groups": [
    { "name": "archiver", "units": "archiver@*.service", "memory_limit": "256M",
      "warn": "90%", "critical": "95%", "restart": { "max_age": "$max_age" } }
  ],
  "alerts": { "for": "1s", "node_memory_available_min": "1M", "node_swap_used_max": "100%",
              "webhooks": $webhooks },
  "actions": { "bus": "$BUS", "job_timeout": "20s", "max_per_unit_per_hour": 60,
               "max_per_hour": 1000, "max_concurrent": 1, "cooldown": "5s", "min_gap": "5s" },
  "history": { "interval": "1s", "max_file_size": "64k", "max_total_size": "2M" }
}
EOF
  "$AGENT" check-config --config "$CONFIG" >"$WORK/check-config.out" 2>&1 ||
    die "check-config: $(cat "$WORK/check-config.out")"
  run_agent
  # civetweb hands each new connection to the worker that has waited longest, so the first 128
  # connections each touch another worker's stack and buffers once (~13 kB each, 1.6 MB in all,
  # docs/RELIABILITY.md "Soak"): a bounded one-time cost that two scrapes a minute would spread
  # over the first hour. Serve 300 connections first so the curve shows what grows after that.
  local warm0 warm1
  warm0=$(awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT_PID/status")
  for i in $(seq 300); do scrape "$WORK/s" || die "scrape $i of the warm-up failed"; done
  warm1=$(awk '/^VmRSS:/ { print $2 }' "/proc/$AGENT_PID/status")
  log "HTTP workers warmed by 300 connections: RSS $warm0 -> $warm1 kB"
  echo "minute,rss_kb,rss_anon_kb,rss_file_kb,fds,threads,restarts,sent,failed,history_files" >"$out"
  t0=$EPOCHREALTIME
  local modes=(ok 500 hang ok) k=0
  while awk -v a="$EPOCHREALTIME" -v b="$t0" -v m="$SOAK_MINUTES" 'BEGIN { exit !(a - b < m * 60) }'; do
    alive "$AGENT_PID" || die "the agent died during the soak: $(tail -n 5 "$AGENT_LOG" | tr '\n' ' ')"
    soak_sample "$t0" >>"$out"
    echo "${modes[k % 4]}" >"$WORK/rcv-r1.mode"
    echo "${modes[(k + 2) % 4]}" >"$WORK/rcv-r2.mode"
    k=$((k + 1))
    sleep 30
  done
  soak_sample "$t0" >>"$out"
  log "soak curve ($out):"
  column -t -s, "$out" | sed 's/^/  /'
  # From minute 10 (warm-up: every path taken, the allocator's arenas grown) to the end.
  local verdict
  verdict=$(awk -F, 'NR > 1 && $1 >= 10 { if (!n++) { r0 = $2; f0 = $5; t0 = $6 }
      if ($2 > rmax) rmax = $2; if ($5 > fmax) fmax = $5; if ($6 > tmax) tmax = $6; last = $0 }
    END { printf "%d %d %d %d %d %d", rmax - r0, fmax - f0, tmax - t0, r0, f0, t0 }' "$out")
  local dr df dt r0 f0 th0
  read -r dr df dt r0 f0 th0 <<<"$verdict"
  check "RSS from minute 10 on: $r0 kB, at most +$dr kB (<= 1024)" test "${dr:-99999}" -le 1024
  check "open descriptors from minute 10 on: $f0, at most +$df (<= 2)" test "${df:-99}" -le 2
  check "threads from minute 10 on: $th0, at most +$dt (<= 2)" test "${dt:-99}" -le 2
  local last; last=$(tail -n 1 "$out")
  IFS=, read -r _ _ _ _ _ _ restarts sent failed files <<<"$last"
  check "the churn happened: $restarts restarts, $sent notifications sent, $failed failed attempts, $files history files" \
    test "${restarts%.*}" -ge $((SOAK_MINUTES * 3)) -a "${sent:-1}" -ge 1 -a "${failed:-1}" -ge 1 -a "${files%.*}" -ge 2
}

part_faults() {
  local U=archiver@ch1.service F=archiver@ch2.service n
  leaker_template archiver
  unit_env archiver ch1 140 2  # 153.6M after ~7 s
  boot_systemd
  start_units "$U"
  unit_env archiver ch1 16 0   # what its restart runs
  write_config '{ "on_memory": "60%", "for": "2s" }' ', "cooldown": "2s", "min_gap": "5s",
    "retry_backoff": "5s", "max_retry_backoff": "20s"'
  run_agent
  local old; old=$(main_pid "$U")

  # 1. D-Bus down when the restart is due.
  rss_ge() { local kb; kb=$(awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null); ((${kb:-0} >= $2 * 1024)); }
  wait_until 20 rss_ge "$old" 146 || fail "$U did not reach 146 MiB"
  sdx systemctl stop dbus.socket dbus.service || fail "systemctl stop dbus.socket dbus.service failed"
  local t_down=$EPOCHREALTIME
  wait_until 10 metric_is 0 mobasher_systemd_bus_connected || fail "bus_connected not 0 within 10 s"
  pass "mobasher_systemd_bus_connected 0 $(fsub "$EPOCHREALTIME" "$t_down") s after dbus stopped"
  wait_until 20 log_has "restart failed unit=$U" || fail "no failed restart of $U within 20 s"
  wait_until 10 hist_has "select(.type == \"action_failed\" and .unit == \"$U\")" || fail "no action_failed record of $U"
  local rec err
  rec=$(hist "select(.type == \"action_failed\" and .unit == \"$U\")" | head -n1)
  err=$(jq -r .error <<<"$rec")
  check "history action_failed names the bus: result=$(jq -r .result <<<"$rec") error=\"$err\"" \
    grep -qF "bus not connected ($BUS)" <<<"$err"
  check "/healthz 200 with the bus down ($(http_code "http://127.0.0.1:$APORT/healthz")), agent alive" \
    test "$(http_code "http://127.0.0.1:$APORT/healthz")" = 200
  check "$U untouched while the bus is down (main pid $old -> $(main_pid "$U"))" test "$(main_pid "$U")" = "$old"
  wait_until 5 alert_is "$U" MobasherUnitActionFailed firing ||
    fail "MobasherUnitActionFailed of $U not firing: $(status_alert "$U" MobasherUnitActionFailed)"
  pass "/api/v1/status: $U MobasherUnitActionFailed firing, action_failures $(metric_now mobasher_unit_action_failures "unit=\"$U\"")"
  sdx systemctl start dbus.socket || fail "systemctl start dbus.socket failed"
  local t_up=$EPOCHREALTIME
  wait_until 40 metric_is 1 mobasher_systemd_bus_connected || fail "the agent did not reconnect within 40 s of dbus.socket's start"
  pass "reconnected by itself $(fsub "$EPOCHREALTIME" "$t_up") s after dbus.socket started (bus down $(fsub "$t_up" "$t_down") s)"
  wait_until 30 log_has "restart done unit=$U" || fail "the retried restart of $U not done within 30 s"
  wait_until 10 hist_has "select(.type == \"action\" and .unit == \"$U\" and .result == \"done\")" ||
    fail "no history action record of the retry"
  local fails; fails=$(hist_count "select(.type == \"action_failed\" and .unit == \"$U\")")
  rec=$(hist "select(.type == \"action\" and .unit == \"$U\" and .result == \"done\")" | head -n1)
  check "the retried restart is done (${fails} failed attempt(s) before, seconds=$(jq -r .seconds <<<"$rec"))" \
    test "$(jq -r .cause <<<"$rec")" = memory
  wait_until 5 metric_is 0 mobasher_unit_action_failures "unit=\"$U\"" || fail "action_failures of $U not back to 0"
  wait_until 5 metric_is 1 mobasher_unit_restarts_total "unit=\"$U\"" 'cause="memory"' ||
    fail "restarts_total{unit=$U,cause=memory} not 1: $(grep "restarts_total{unit=\"$U\"" "$WORK/m.now" | tr '\n' ' ')"
  pass "action_failures of $U 0, restarts_total{cause=memory} 1, main pid $old -> $(main_pid "$U")"
  check "MobasherUnitActionFailed of $U resolved ($(status_alert "$U" MobasherUnitActionFailed))" \
    wait_until 5 alert_is "$U" MobasherUnitActionFailed inactive

  # 2. A restart whose start job fails: ExecStartPre fails while the flag exists.
  unit_env archiver ch2 170 0  # above on_memory from its start
  start_units "$F"
  local nr0; nr0=$(nrestarts "$F")
  : >"$SHARE/fail-archiver-ch2"
  wait_until 20 log_has "restart failed unit=$F" || fail "no failed restart of $F within 20 s"
  wait_until 10 hist_has "select(.type == \"action_failed\" and .unit == \"$F\")" || fail "no action_failed record of $F"
  rec=$(hist "select(.type == \"action_failed\" and .unit == \"$F\")" | head -n1)
  err=$(jq -r .error <<<"$rec")
  check "history action_failed: result=$(jq -r .result <<<"$rec") error=\"$err\"" \
    test "$(jq -r .result <<<"$rec")" = failed -a "$(grep -c 'ended with result "failed"' <<<"$err")" = 1
  n=$(metric_now mobasher_actions_total 'action="restart"' 'cause="memory"' 'result="failed"')
  check "actions_total{restart,memory,failed} = ${n:-none} (>= 1)" num_ge "${n:-0}" 1
  sleep 2  # systemd keeps trying (Restart=always) and failing
  check "systemd retries on its own and fails: NRestarts $nr0 -> $(nrestarts "$F"), $(active_state "$F")/$(uprop "$F" Unit SubState)" \
    test "$(nrestarts "$F")" -gt "$nr0"
  local decided; decided=$(log_count "restart decided unit=$F")
  rm -f "$SHARE/fail-archiver-ch2"  # systemd's next try starts it (170M again: still to restart)
  wait_until 20 log_has "restart done unit=$F" || fail "the retried restart of $F not done within 20 s"
  wait_until 10 hist_has "select(.type == \"action\" and .unit == \"$F\" and .result == \"done\")" ||
    fail "no history action record of the retry"
  local fail_t retry_start
  fail_t=$(hist "select(.type == \"action_failed\" and .unit == \"$F\")" | head -n1 | jq .t)
  rec=$(hist "select(.type == \"action\" and .unit == \"$F\" and .result == \"done\")" | head -n1)
  retry_start=$(jq '.t - .seconds' <<<"$rec")
  check "retried $(fsub "$retry_start" "$fail_t") s after the failure (retry_backoff 5 s), done; decisions $decided -> $(log_count "restart decided unit=$F")" \
    num_ge "$(fsub "$retry_start" "$fail_t")" 4.9
  wait_until 5 metric_is 0 mobasher_unit_action_failures "unit=\"$F\"" || fail "action_failures of $F not 0"
  pass "action_failures of $F back to 0; $F $(active_state "$F"), pid $(main_pid "$F")"
  scrape "$WORK/m" || fail "GET /metrics failed"
  # Counted once each: the agent's one restart that worked is memory; systemd's own tries
  # (Restart=, NRestarts) are systemd, the one that brought the unit back too.
  n=$(msum "$WORK/m" mobasher_unit_restarts_total "unit=\"$F\"" 'cause="memory"')
  check "restarts of $F: $(grep "^mobasher_unit_restarts_total{unit=\"$F\"" "$WORK/m" | sed 's/.*cause=//; s/"//g; s/} /=/' | tr '\n' ' ')(memory 1: the failed restart is not counted)" \
    test "${n:-x}" = 1
  check "the agent is alive and healthy ($(http_code "http://127.0.0.1:$APORT/healthz"))" \
    test "$(http_code "http://127.0.0.1:$APORT/healthz")" = 200
}

# Node emergency (issue 12): a floor above the host's MemAvailable ("100%") for node_memory_for
# 2s; three archivers of different sizes and no unit-level cause. The biggest (ch3, 160M) is
# restarted, with cause node_memory, until max_per_unit_per_hour (2) holds it; only then the next
# biggest (ch2); ch1 keeps its process meanwhile.
part_node() {
  local U1=archiver@ch1.service U2=archiver@ch2.service U3=archiver@ch3.service
  leaker_template archiver
  unit_env archiver ch1 64 0
  unit_env archiver ch2 112 0
  unit_env archiver ch3 160 0
  boot_systemd
  start_units "$U1" "$U2" "$U3"
  local p1; p1=$(main_pid "$U1")
  write_config '{}' ', "node_memory_floor": "100%", "node_memory_for": "2s",
    "emergency_gap": "1s", "max_per_unit_per_hour": 2'
  run_agent
  wait_until 60 log_has "restart done unit=$U2" ||
    fail "ch2 not restarted within 60 s: $(grep -c 'restart decided' "$AGENT_LOG") decisions"
  local order
  order=$(grep -F 'restart decided' "$AGENT_LOG" | sed -n 's/.*restart decided unit=\([^ ]*\).*cause=\([^ ]*\).*/\1:\2/p' | tr '\n' ' ')
  log "decisions in order: $order"
  check "the first two decisions are the biggest unit's, cause node_memory ($order)" \
    test "$(echo "$order" | cut -d' ' -f1-2)" = "$U3:node_memory $U3:node_memory"
  check "then the next biggest, ch2 ($order)" test "$(echo "$order" | cut -d' ' -f3)" = "$U2:node_memory"
  check "ch3 restarted exactly max_per_unit_per_hour (2) times: $(log_count "restart decided unit=$U3")" \
    test "$(log_count "restart decided unit=$U3")" = 2
  check "ch1 never restarted (pid $p1 -> $(main_pid "$U1"))" test "$(main_pid "$U1")" = "$p1"
  scrape "$WORK/m" || fail "GET /metrics failed"
  local n; n=$(msum "$WORK/m" mobasher_unit_restarts_total "unit=\"$U3\"" 'cause="node_memory"')
  check "restarts_total{unit=ch3,cause=node_memory} = ${n:-none} (2)" test "${n:-x}" = 2
}

"part_$PART"
# The agent must have lived through it all and stop cleanly (an ASan build reports leaks then).
if [[ -n $AGENT_PID ]]; then
  check "agent (pid $AGENT_PID) still alive at the end" alive "$AGENT_PID"
  stop_agent_checked "$AGENT_PID" "$AGENT_LOG" 10
  AGENT_PID=""
fi
