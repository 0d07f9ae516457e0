#!/usr/bin/env bash
# integration.polkit: deploy/polkit/50-mobasher-agent.rules judged by the real polkitd (Debian 12,
# polkit 122) on a real system bus, asked through pkcheck exactly as systemd 252 asks it
# (action org.freedesktop.systemd1.manage-units, details unit= and verb=).
#
# The host is not changed: everything runs in a private mount and PID namespace (unshare), with
#   - a tmpfs over /run (our dbus-daemon's /run/dbus/system_bus_socket; the host's bus is hidden),
#   - private copies of /etc/passwd and /etc/group that add the user mobasher-agent,
#   - a directory holding only our rule over /etc/polkit-1/rules.d and an empty one over
#     /usr/share/polkit-1/rules.d, so distro rules (50-default.rules' admin rule, packagekit, ...)
#     cannot decide in our place: every YES seen here is our rule's.
# When the namespace's first process exits the kernel kills whatever is left in it; before that,
# every daemon is ended by PID from a trap. The outer half then checks that no process of the
# namespace survived and that the host's mount table is unchanged.
#
# Usage: polkit_test.sh [RULE_FILE]   (root; default: the repo's deploy/polkit/50-mobasher-agent.rules)
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

POLKITD=/usr/lib/polkit-1/polkitd
MANAGE_UNITS=org.freedesktop.systemd1.manage-units
AGENT_USER=mobasher-agent
OTHER_USER=nobody

# ---------------------------------------------------------------------------------------------
# Inside the namespaces (PID 1 of the new PID namespace).
# ---------------------------------------------------------------------------------------------

inner_cleanup() {
  local i
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${STARTED_PIDS[i]}" 5; done
  printf '%s %s\n' "$CHECKS" "$FAILS" >"$WORK/counts"
}

# start_bg NAME LOG CMD...: runs CMD in the background, records its PID in STARTED_PIDS and BG_PID.
start_bg() {
  local name=$1 logf=$2; shift 2
  "$@" >>"$logf" 2>&1 &
  BG_PID=$!
  STARTED_PIDS+=("$BG_PID")
  log "started $name pid=$BG_PID: $*"
}

bus() { timeout 5 dbus-send --system --reply-timeout=2000 --print-reply "$@"; }
bus_up() { [[ -S /run/dbus/system_bus_socket ]] && bus --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetId >/dev/null 2>&1; }
has_owner() {
  bus --dest=org.freedesktop.DBus / org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q 'boolean true'
}
polkit_up_or_dead() { has_owner org.freedesktop.PolicyKit1 || not_alive "$1"; }

# The subject a pkcheck --process check names: "PID,START_TIME,UID" (the race-free form).
process_subject() {
  local pid=$1 start uid
  start=$(awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$pid/stat") || return 1
  uid=$(awk '/^Uid:/ { print $2 }' "/proc/$pid/status") || return 1
  printf '%s,%s,%s' "$pid" "$start" "$uid"
}

# runs_as PID UID COMM: PID has exec'ed its final program COMM (setpriv is gone) as UID.
runs_as() {
  [[ $(awk '/^Uid:/ { print $2 }' "/proc/$1/status" 2>/dev/null) == "$2" &&
    $(cat "/proc/$1/comm" 2>/dev/null) == "$3" ]]
}

# start_as USER NAME CMD...: CMD as USER (no login, no session), recorded; sets BG_PID.
start_as() {
  local user=$1 name=$2; shift 2
  local uid; uid=$(id -u "$user") || die "no user $user"
  start_bg "$name" "$WORK/$name.log" setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups "$@"
  wait_until 5 runs_as "$BG_PID" "$uid" "$(basename "$1")" ||
    die "$name (pid $BG_PID) did not become '$1' as uid $uid"
}

# The unique bus name (":1.N") of the connection owned by PID, or nothing.
bus_name_of_pid() {
  local n
  for n in $(bus --dest=org.freedesktop.DBus / org.freedesktop.DBus.ListNames |
    grep -o '":[0-9.]*"' | tr -d '"'); do
    if bus --dest=org.freedesktop.DBus / org.freedesktop.DBus.GetConnectionUnixProcessID "string:$n" 2>/dev/null |
      grep -qx "   uint32 $1"; then
      echo "$n"
      return 0
    fi
  done
  return 1
}

# check WANT SUBJECT_ARGS LABEL PKCHECK_ARGS...: runs pkcheck (never with
# --allow-user-interaction: no authentication agent can take part) and compares.
# Exit codes (pkcheck(1)): 0 authorized, 1 not authorized, 2 would need authentication ("challenge"),
# 3 dismissed, 126 bad options, 127 error. WANT=yes needs 0; WANT=no needs 1 or 2: 126/127 are not
# decisions, and counting them as "denied" would let a broken setup pass.
check() {
  local want=$1 subject=$2 label=$3; shift 3
  local out rc
  # stdout only echoes the details back; stderr says why. SUBJECT_ARGS is split on purpose:
  # "--process P,S,U" or "--system-bus-name :1.N".
  # shellcheck disable=SC2086
  out=$(timeout 10 pkcheck $subject "$@" 2>&1 >/dev/null)
  rc=$?
  out=$(printf '%s' "$out" | tr '\n' ' ' | cut -c1-120)
  case "$want:$rc" in
    yes:0) pass "allowed $label (pkcheck rc=0)" ;;
    no:1 | no:2) pass "denied  $label (pkcheck rc=$rc: ${out:-no output})" ;;
    yes:*) fail "allowed $label: pkcheck rc=$rc, want 0 (${out:-no output})" ;;
    *) fail "denied  $label: pkcheck rc=$rc, want 1 or 2 (${out:-no output})" ;;
  esac
}

# unit_verb WANT SUBJECT WHO UNIT VERB [ACTION]
unit_verb() {
  local want=$1 subject=$2 who=$3 unit=$4 verb=$5 action=${6:-$MANAGE_UNITS}
  local shown; shown=$(printf '%q' "$unit")
  ((${#unit} > 48)) && shown="$(printf '%q' "${unit:0:24}")...(${#unit} chars)"
  check "$want" "$subject" "$who action=${action##*.} unit=$shown verb=$(printf '%q' "$verb")" \
    --action-id "$action" --detail unit "$unit" --detail verb "$verb"
}

# Private /etc/passwd and /etc/group with AGENT_USER added (unless the host has it already).
private_users() {
  mkdir -p "$WORK/etc"
  cp /etc/passwd /etc/group "$WORK/etc/" || die "cannot copy /etc/passwd and /etc/group"
  if ! getent passwd "$AGENT_USER" >/dev/null; then
    local id="" n
    for n in $(seq 999 -1 900); do
      getent passwd "$n" >/dev/null || getent group "$n" >/dev/null || { id=$n; break; }
    done
    [[ -n $id ]] || die "no free system uid/gid in 900-999 for $AGENT_USER"
    printf '%s:x:%s:%s:mobasher-agent unit monitor:/nonexistent:/usr/sbin/nologin\n' \
      "$AGENT_USER" "$id" "$id" >>"$WORK/etc/passwd"
    printf '%s:x:%s:\n' "$AGENT_USER" "$id" >>"$WORK/etc/group"
  fi
  # /etc/shadow is not needed: no check here authenticates anybody.
  mount --bind "$WORK/etc/passwd" /etc/passwd || die "cannot bind-mount a private /etc/passwd"
  mount --bind "$WORK/etc/group" /etc/group || die "cannot bind-mount a private /etc/group"
  getent passwd "$AGENT_USER" >/dev/null || die "user $AGENT_USER not visible after the bind mount"
  log "user $AGENT_USER: $(getent passwd "$AGENT_USER")"
}

# Only our rule: polkitd reads exactly these two directories (polkit(8)).
private_rules() {
  mkdir -p "$WORK/rules.d" "$WORK/empty-rules.d"
  install -m 0644 "$RULE" "$WORK/rules.d/50-mobasher-agent.rules" || die "cannot copy rule $RULE"
  # Like the packaged directories: owned by polkitd, mode 0700 (polkitd runs as polkitd).
  chown polkitd "$WORK/rules.d" "$WORK/empty-rules.d" || die "cannot chown the rule directories to polkitd"
  chmod 0700 "$WORK/rules.d" "$WORK/empty-rules.d" || die "cannot chmod the rule directories"
  mount --bind "$WORK/rules.d" /etc/polkit-1/rules.d || die "cannot bind-mount over /etc/polkit-1/rules.d"
  mount --bind "$WORK/empty-rules.d" /usr/share/polkit-1/rules.d ||
    die "cannot bind-mount over /usr/share/polkit-1/rules.d"
  local seen
  seen=$(find /etc/polkit-1/rules.d /usr/share/polkit-1/rules.d -mindepth 1 | tr '\n' ' ')
  [[ $seen == "/etc/polkit-1/rules.d/50-mobasher-agent.rules " ]] ||
    die "rule directories hold more than our rule: $seen"
  log "rules polkitd sees: $seen"
}

inside() {
  WORK=$1 RULE=$2
  trap inner_cleanup EXIT
  # PID 1 of a namespace gets only the signals it handles; these let the outer half stop us.
  trap 'exit 143' TERM
  trap 'exit 130' INT
  readlink /proc/self/ns/pid >"$WORK/pidns"

  mount -t tmpfs -o mode=0755,size=16m mobasher-polkit-run /run || die "cannot mount a tmpfs over /run"
  mkdir -p /run/dbus
  private_users
  private_rules

  export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket
  # The distro's system bus configuration (its policy lets only user polkitd own
  # org.freedesktop.PolicyKit1), in the foreground, logging to a file.
  start_bg dbus-daemon "$WORK/dbus-daemon.log" dbus-daemon --system --nofork --nopidfile --nosyslog
  local dbus_pid=$BG_PID
  wait_until 10 bus_up || die "system bus not up in 10 s: $(tail -n 5 "$WORK/dbus-daemon.log" | tr '\n' ' ')"
  alive "$dbus_pid" || die "dbus-daemon exited: $(tail -n 5 "$WORK/dbus-daemon.log" | tr '\n' ' ')"

  # As polkit.service does. Started by us, never by bus activation: nothing asks for the name
  # until it is owned.
  start_bg polkitd "$WORK/polkitd.log" "$POLKITD" --no-debug
  local polkitd_pid=$BG_PID
  wait_until 20 polkit_up_or_dead "$polkitd_pid" ||
    die "org.freedesktop.PolicyKit1 not on the bus in 20 s: $(tail -n 5 "$WORK/polkitd.log" | tr '\n' ' ')"
  alive "$polkitd_pid" ||
    die "polkitd pid=$polkitd_pid exited: $(tail -n 5 "$WORK/polkitd.log" | tr '\n' ' ')"
  pass "polkitd pid=$polkitd_pid (uid $(awk '/^Uid:/ { print $2 }' "/proc/$polkitd_pid/status")) owns org.freedesktop.PolicyKit1 on the private bus (dbus-daemon pid=$dbus_pid)"

  # Subjects: a process of each user, as `pkcheck --process PID,START,UID` names it, and a bus
  # connection of each user, as systemd names the caller of RestartUnit (system-bus-name).
  start_as "$AGENT_USER" agent-sleep sleep 300
  local agent other
  agent="--process $(process_subject "$BG_PID")" || die "cannot read /proc/$BG_PID"
  start_as "$OTHER_USER" other-sleep sleep 300
  other="--process $(process_subject "$BG_PID")" || die "cannot read /proc/$BG_PID"
  log "subjects: $AGENT_USER $agent; $OTHER_USER $other"

  local u v a
  for v in restart start stop; do unit_verb yes "$agent" "$AGENT_USER" archiver@ch1.service "$v"; done
  unit_verb yes "$agent" "$AGENT_USER" recorder@ch2.service restart
  unit_verb yes "$agent" "$AGENT_USER" archiver@ch1:a.service start
  unit_verb yes "$agent" "$AGENT_USER" archiver@ch1:b.service stop
  unit_verb yes "$agent" "$AGENT_USER" recorder@radio-one_2.service restart

  # Every other verb systemd 252 sends for manage-units (job types and unit operations).
  for v in reload try-restart reload-or-restart reload-or-try-restart verify-active try-reload \
    reload-or-start kill reset-failed set-property clean freeze thaw bind-mount mount-image \
    Restart RESTART '' 'restart '; do
    unit_verb no "$agent" "$AGENT_USER" archiver@ch1.service "$v"
  done

  # Units that are not an archiver@/recorder@ service instance.
  for u in ssh.service dbus.service polkit.service archiver@ch1.timer archiver@ch1.socket \
    xarchiver@ch1.service archiver-x@ch1.service archiver@.service recorder@.service \
    archiver.service archiver@ch1.service.bak archiver@ch1.servicex Archiver@ch1.service \
    'archiver@ch1/../ssh.service' 'archiver@ch 1.service' $'archiver@ch1.service\nssh.service' \
    $'ssh.service\narchiver@ch1.service' "archiver@$(printf 'x%.0s' $(seq 1 260)).service" \
    '' '*' 'recorder@radio\x2done.service' 'archiver@ch1\x2f..\x2fssh.service' 'archiver@ch.1.service' \
    'archiver@ch1@x.service' archiver@ch1:c.service archiver@ch1:a:b.service archiver@:a.service \
    'archiver@ch1:A.service'; do
    unit_verb no "$agent" "$AGENT_USER" "$u" restart
  done

  # A missing detail (systemd's manager-wide calls send none).
  check no "$agent" "$AGENT_USER action=manage-units without details" --action-id "$MANAGE_UNITS"
  check no "$agent" "$AGENT_USER action=manage-units unit=archiver@ch1.service, no verb" \
    --action-id "$MANAGE_UNITS" --detail unit archiver@ch1.service
  check no "$agent" "$AGENT_USER action=manage-units verb=restart, no unit" \
    --action-id "$MANAGE_UNITS" --detail verb restart

  # Other action ids with otherwise allowed details.
  for a in org.freedesktop.systemd1.manage-unit-files org.freedesktop.systemd1.reload-daemon \
    org.freedesktop.systemd1.set-environment org.freedesktop.login1.reboot; do
    unit_verb no "$agent" "$AGENT_USER" archiver@ch1.service restart "$a"
  done

  # Another user asking for exactly what the agent may do.
  for v in restart start stop; do unit_verb no "$other" "$OTHER_USER" archiver@ch1.service "$v"; done

  # The subject kind systemd itself uses: the caller's bus connection.
  start_as "$AGENT_USER" agent-bus dbus-monitor --system "type='signal',interface='org.mobasher.NoSuchInterface'"
  local agent_bus_pid=$BG_PID name
  start_as "$OTHER_USER" other-bus dbus-monitor --system "type='signal',interface='org.mobasher.NoSuchInterface'"
  local other_bus_pid=$BG_PID
  wait_until 5 bus_name_of_pid "$agent_bus_pid" >/dev/null || die "no bus connection of pid $agent_bus_pid"
  wait_until 5 bus_name_of_pid "$other_bus_pid" >/dev/null || die "no bus connection of pid $other_bus_pid"
  name=$(bus_name_of_pid "$agent_bus_pid")
  local agent_bus="--system-bus-name $name"
  name=$(bus_name_of_pid "$other_bus_pid")
  local other_bus="--system-bus-name $name"
  log "bus subjects: $AGENT_USER $agent_bus; $OTHER_USER $other_bus"
  unit_verb yes "$agent_bus" "$AGENT_USER(bus)" archiver@ch1.service restart
  unit_verb yes "$agent_bus" "$AGENT_USER(bus)" archiver@ch1:a.service start
  unit_verb no "$agent_bus" "$AGENT_USER(bus)" ssh.service restart
  unit_verb no "$agent_bus" "$AGENT_USER(bus)" archiver@ch1.service kill
  unit_verb no "$other_bus" "$OTHER_USER(bus)" archiver@ch1.service restart

  if alive "$polkitd_pid"; then
    pass "polkitd pid=$polkitd_pid still running after all checks"
  else
    fail "polkitd pid=$polkitd_pid died: $(tail -n 5 "$WORK/polkitd.log" | tr '\n' ' ')"
  fi
  ((FAILS == 0))   # the outer half adds these counts to its own and prints the summary
}

# ---------------------------------------------------------------------------------------------
# On the host.
# ---------------------------------------------------------------------------------------------

if [[ ${1:-} == --inside ]]; then
  inside "$2" "$3"
  exit $?
fi

RULE=$(realpath "${1:-$HERE/../../deploy/polkit/50-mobasher-agent.rules}")
require_root
require_tools unshare:util-linux setpriv:util-linux timeout:coreutils pkcheck:polkitd \
  dbus-daemon:dbus-daemon dbus-send:dbus-bin dbus-monitor:dbus-bin
[[ -x $POLKITD ]] || die "missing $POLKITD (debian-package: polkitd)"
[[ -r $RULE ]] || die "no rule file: $RULE"
[[ -d /etc/polkit-1/rules.d && -d /usr/share/polkit-1/rules.d ]] ||
  die "missing /etc/polkit-1/rules.d or /usr/share/polkit-1/rules.d (debian-package: polkitd)"
getent passwd polkitd >/dev/null || die "no user polkitd (created by debian-package polkitd)"
getent passwd "$OTHER_USER" >/dev/null || die "no user $OTHER_USER"

WORK=$(mktemp -d /tmp/mobasher-polkit.XXXXXX) || die "mktemp failed"
NS_PID=""
# Asks the namespace's PID 1 (unshare's only child) to run its cleanup, then makes sure: killing
# unshare kills the whole namespace (--kill-child).
stop_namespace() {
  [[ -n $NS_PID ]] && alive "$NS_PID" || return 0
  local init; init=$(cat "/proc/$NS_PID/task/$NS_PID/children" 2>/dev/null)
  [[ -n $init ]] && kill -TERM "$init" 2>/dev/null
  wait_until 15 not_alive "$NS_PID" || kill -KILL "$NS_PID" 2>/dev/null
}
# Interrupted (ctest timeout, ^C) or done.
outer_cleanup() {
  stop_namespace
  [[ -n $NS_PID ]] && wait "$NS_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap outer_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
T0=$(date +%s%N)
log "rule=$RULE work=$WORK"
cat /proc/self/mountinfo >"$WORK/mountinfo.before"

# --kill-child: when unshare dies, its child (PID 1 of the namespace) is SIGKILLed and the kernel
# takes every process of the namespace with it. --pdeathsig: unshare dies with this script, even
# when this script is SIGKILLed and no trap runs.
setpriv --pdeathsig KILL \
  unshare --mount --propagation private --pid --fork --mount-proc --kill-child \
  bash "$HERE/polkit_test.sh" --inside "$WORK" "$RULE" &
NS_PID=$!
if ! wait_until 100 not_alive "$NS_PID"; then
  fail "the namespaced half still running after 100 s; stopping it"
  stop_namespace
fi
wait "$NS_PID"
rc=$?
NS_PID=""
if [[ -r $WORK/counts ]]; then
  read -r c f <"$WORK/counts"
  CHECKS=$((CHECKS + c))
  FAILS=$((FAILS + f))
fi
((rc == 0)) || fail "the namespaced half exited with rc=$rc"

# Nothing of the namespace is left, and the host's mounts are what they were.
if [[ -s $WORK/pidns ]]; then
  ns=$(cat "$WORK/pidns")
  left=()
  for p in /proc/[0-9]*; do
    [[ $(readlink "$p/ns/pid" 2>/dev/null) == "$ns" ]] && left+=("${p#/proc/}:$(cat "$p/comm" 2>/dev/null)")
  done
  if ((${#left[@]} == 0)); then
    pass "no process left in the test's PID namespace $ns"
  else
    fail "processes left in the test's PID namespace $ns: ${left[*]}"
  fi
else
  fail "the namespaced half did not record its PID namespace"
fi
cat /proc/self/mountinfo >"$WORK/mountinfo.after"
if cmp -s "$WORK/mountinfo.before" "$WORK/mountinfo.after"; then
  pass "host mount table unchanged ($(wc -l <"$WORK/mountinfo.after") mounts)"
else
  fail "host mount table changed: $(diff "$WORK/mountinfo.before" "$WORK/mountinfo.after" | head -n 5 | tr '\n' ' ')"
fi
log "duration $((($(date +%s%N) - T0) / 1000000)) ms"
finish integration.polkit
