#!/usr/bin/env bash
# Test of sd_harness.sh itself: a real systemd 252 as PID 1 of private namespaces must come and go
# without touching the host. 3 start/stop cycles; in each, a template unit probe@x.service is
# started over the private bus with busctl and runs a binary copied into SHAREDIR, writing a log
# line there; its process is checked from the host in the instance's memory cgroup; `exec` runs
# systemctl inside. After each stop: systemd, the unit's process and every other process of that
# pid namespace are gone, the instance's cgroup dirs are removed, the state files pid/bus/cgroot
# removed, a second stop is a no-op, the host mount table has as many entries as before, and the
# canary files in host /tmp and /var/tmp are intact (their loss means the private systemd ran
# systemd-tmpfiles on the host: the one thing the harness exists to prevent).
#
# UNITDIR, STATEDIR and SHAREDIR are under host /tmp on purpose: /tmp is hidden behind a private
# tmpfs inside, so this also covers the /proc/self/fd bind mounts that make them visible there.
#
# usage: sd_harness_test.sh   (root only; a missing tool is a failure, never a skip)
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
HARNESS=$HERE/sd_harness.sh
TEST_NAME=sd_harness_test
CYCLES=3
CG=/sys/fs/cgroup

require_root
require_tools busctl:systemd unshare:util-linux nsenter:util-linux setpriv:util-linux \
  dbus-daemon:dbus mount:mount
[[ -x /lib/systemd/systemd ]] || die "missing /lib/systemd/systemd (debian package systemd)"

WORK=$(mktemp -d /tmp/mobasher-it-sdh.XXXXXX)
UNITS=$WORK/units
SHARE=$WORK/share
STATE=$WORK/state
mkdir -p "$UNITS" "$SHARE" "$STATE"
TOKEN="mobasher sd_harness canary $$ $RANDOM"
CANARIES=()
for d in /tmp /var/tmp; do
  c=$(mktemp "$d/mobasher-sdh-canary.XXXXXX") || die "cannot create a canary in $d"
  echo "$TOKEN" >"$c"
  CANARIES+=("$c")
done
MOUNTINFO_BEFORE=$WORK/mountinfo.before
cat /proc/self/mountinfo >"$MOUNTINFO_BEFORE"

# Loud on purpose: a missing canary means the host's temp dirs were cleaned.
check_canaries() {
  local c
  for c in "${CANARIES[@]}"; do
    if [[ $(cat "$c" 2>/dev/null) == "$TOKEN" ]]; then
      pass "$1: canary $c intact"
    else
      fail "$1: CANARY $c IS GONE OR CHANGED: the private systemd touched the host's $(dirname "$c")"
    fi
  done
}

cleanup() {
  local rc=$? c
  set +e
  trap - EXIT INT TERM
  log "cleanup"
  bash "$HARNESS" stop "$STATE" || fail "cleanup: sd_harness.sh stop $STATE failed"
  check_canaries cleanup
  if ((rc != 0 || FAILS != 0)) && [[ -f $WORK/harness.log ]]; then
    log "last 20 lines of harness stderr:"
    tail -n 20 "$WORK/harness.log" | sed 's/^/  harness| /'
    [[ -f $STATE/kmsg.log ]] && { log "last 20 lines of kmsg.log:"; tail -n 20 "$STATE/kmsg.log" | sed 's/^/  kmsg| /'; }
  fi
  # never rm -rf through a mount point
  if grep -qF " $WORK" /proc/self/mountinfo; then
    fail "cleanup: something is mounted under $WORK on the host; leaving it"
  else
    rm -rf "$WORK"
  fi
  for c in "${CANARIES[@]}"; do rm -f "$c"; done
  finish "$TEST_NAME" || rc=1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the test unit: a copy of sleep run from SHAREDIR, logging to SHAREDIR ----------------------
cp /bin/sleep "$SHARE/probe-sleep"
cat >"$UNITS/probe@.service" <<'EOF'
[Unit]
Description=sd_harness_test probe %i
[Service]
ExecStart=/bin/sh -c 'echo "started %i" >>/run/sdprobe/share/probe-%i.log; exec /run/sdprobe/share/probe-sleep infinity'
EOF

cgroup_procs() { cat "$CG/memory$CGROOT/system.slice/system-probe.slice/probe@x.service/cgroup.procs" 2>/dev/null; }
has_procs() { [[ -n $(cgroup_procs) ]]; }
# PIDs on the host whose pid namespace is $1 (e.g. "pid:[4026532871]")
pids_in_ns() {
  local p out=""
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/ns/pid" 2>/dev/null) == "$1" ]] && out+=" ${p#/proc/}"
  done
  echo "${out# }"
}
secs_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

for cycle in $(seq 1 "$CYCLES"); do
  C="cycle $cycle"
  log "$C: start"
  t0=$EPOCHREALTIME
  out=$(bash "$HARNESS" start "$UNITS" "$STATE" "$SHARE" 2>>"$WORK/harness.log") ||
    die "$C: sd_harness.sh start failed: $(tail -n 5 "$WORK/harness.log" | tr '\n' ' ')"
  log "$C: started in $(secs_since "$t0")s"
  PID=$(cat "$STATE/pid")
  BUS=$(cat "$STATE/bus")
  CGROOT=$(cat "$STATE/cgroot")
  PIDNS=$(cat "$STATE/pidns")
  [[ $out == "$PID"$'\n'"$BUS" ]] && pass "$C: start printed pid and bus ($PID, $BUS)" ||
    fail "$C: start printed '$out', state files say pid=$PID bus=$BUS"
  alive "$PID" && pass "$C: private systemd $PID alive" || fail "$C: private systemd $PID not alive"
  [[ $CGROOT =~ ^/sdprobe-[0-9]+-[0-9]+$ ]] && pass "$C: cgroot $CGROOT" || fail "$C: cgroot '$CGROOT'"
  grep -qE '^NSpid:\s+[0-9]+\s+1$' "/proc/$PID/status" && pass "$C: systemd is PID 1 of its namespace" ||
    fail "$C: systemd $PID is not PID 1 of its namespace: $(grep NSpid "/proc/$PID/status")"
  [[ $(readlink "/proc/$PID/exe") == */systemd ]] && pass "$C: PID $PID is systemd" ||
    fail "$C: PID $PID is $(readlink "/proc/$PID/exe")"

  job=$(busctl --address="$BUS" --timeout=5 call org.freedesktop.systemd1 /org/freedesktop/systemd1 \
    org.freedesktop.systemd1.Manager StartUnit ss probe@x.service replace 2>&1)
  [[ $job == 'o "/org/freedesktop/systemd1/job/'* ]] && pass "$C: StartUnit probe@x.service: $job" ||
    fail "$C: StartUnit probe@x.service: $job"
  if wait_until 10 has_procs; then
    PROBE=$(cgroup_procs | head -n 1)
    pass "$C: probe@x.service process $PROBE in $CG/memory$CGROOT/system.slice/system-probe.slice/probe@x.service"
  else
    PROBE=""
    fail "$C: no process in the probe's memory cgroup within 10 s"
  fi
  if [[ -n $PROBE ]]; then
    [[ $(tr '\0' ' ' <"/proc/$PROBE/cmdline" 2>/dev/null) == "/run/sdprobe/share/probe-sleep infinity " ]] &&
      pass "$C: probe runs the binary from SHAREDIR" ||
      fail "$C: probe $PROBE cmdline: $(tr '\0' ' ' <"/proc/$PROBE/cmdline" 2>/dev/null)"
    [[ $(readlink "/proc/$PROBE/ns/pid") == "$PIDNS" ]] && pass "$C: probe is in the private pid namespace" ||
      fail "$C: probe pid ns $(readlink "/proc/$PROBE/ns/pid") != $PIDNS"
  fi
  n=$(grep -c '^started x$' "$SHARE/probe-x.log" 2>/dev/null)
  [[ $n == "$cycle" ]] && pass "$C: SHAREDIR written from inside ($n lines)" ||
    fail "$C: $SHARE/probe-x.log has ${n:-no} 'started x' lines, expected $cycle"
  st=$(busctl --address="$BUS" --timeout=5 get-property org.freedesktop.systemd1 \
    /org/freedesktop/systemd1/unit/probe_40x_2eservice org.freedesktop.systemd1.Unit ActiveState 2>&1)
  [[ $st == 's "active"' ]] && pass "$C: ActiveState over the bus: $st" || fail "$C: ActiveState: $st"
  st=$(timeout 10 bash "$HARNESS" exec "$STATE" systemctl is-active probe@x.service 2>&1)
  [[ $st == active ]] && pass "$C: exec systemctl is-active: $st" || fail "$C: exec systemctl is-active: $st"
  check_canaries "$C (running)"

  log "$C: stop"
  t0=$EPOCHREALTIME
  if bash "$HARNESS" stop "$STATE" 2>>"$WORK/harness.log"; then
    pass "$C: stop exit 0 in $(secs_since "$t0")s"
  else
    fail "$C: stop failed: $(tail -n 3 "$WORK/harness.log" | tr '\n' ' ')"
  fi
  not_alive "$PID" && pass "$C: systemd $PID gone" || fail "$C: systemd $PID still alive"
  [[ -z $PROBE ]] || { not_alive "$PROBE" && pass "$C: probe $PROBE gone" || fail "$C: probe $PROBE still alive"; }
  left=$(pids_in_ns "$PIDNS")
  [[ -z $left ]] && pass "$C: no process left in $PIDNS" || fail "$C: processes left in $PIDNS: $left"
  dirs=$(ls -d "$CG"/*"$CGROOT" 2>/dev/null | tr '\n' ' ')
  [[ -z $dirs ]] && pass "$C: cgroup dirs $CG/*$CGROOT removed" || fail "$C: cgroup dirs left: $dirs"
  files=$(cd "$STATE" && ls pid bus cgroot 2>/dev/null | tr '\n' ' ')
  [[ -z $files ]] && pass "$C: state files pid, bus, cgroot removed" || fail "$C: state files left: $files"
  bash "$HARNESS" stop "$STATE" 2>>"$WORK/harness.log" && pass "$C: second stop is a no-op (exit 0)" ||
    fail "$C: second stop exit $?"
  after=$(grep -c . /proc/self/mountinfo)
  before=$(grep -c . "$MOUNTINFO_BEFORE")
  if [[ $after == "$before" ]]; then
    pass "$C: host mounts unchanged ($after entries)"
  else
    fail "$C: host has $after mounts, $before before: $(diff "$MOUNTINFO_BEFORE" /proc/self/mountinfo | grep '^[<>]' | tr '\n' ' ')"
  fi
  # the private systemd must never have run the distro's tmpfiles (it cannot see its units)
  n=$(grep -ci tmpfiles "$STATE/kmsg.log" 2>/dev/null)
  [[ ${n:-0} == 0 ]] && pass "$C: kmsg.log never mentions tmpfiles" || fail "$C: kmsg.log mentions tmpfiles $n times"
  check_canaries "$C (stopped)"
done

[[ -d /tmp && -d /var/tmp && $(stat -c %a /tmp) == 1777 && $(stat -c %a /var/tmp) == 1777 ]] &&
  pass "host /tmp and /var/tmp still there, mode 1777" || fail "host /tmp or /var/tmp changed"
