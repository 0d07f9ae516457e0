#!/usr/bin/env bash
# sd_harness.sh - boot a REAL, private systemd (PID 1 of its own namespaces) for tests.
# Every isolation step below is a safety rule, not a detail: a systemd that can see the distro
# unit dir pulls in sysinit.target and systemd-tmpfiles wipes the HOST's /tmp. Keep them all.
# Its own test: sd_harness_test.sh (canaries in host /tmp and /var/tmp, mounts, cgroups).
#
#   sd_harness.sh start UNITDIR STATEDIR [SHAREDIR]
#                                          boot it; print host PID (line 1) and bus address (line 2);
#                                          both also written to STATEDIR/pid and STATEDIR/bus.
#                                          SHAREDIR (optional): a host dir bind-mounted read-write
#                                          at /run/sdprobe/share inside, for binaries the test
#                                          units run and the files they write (host /tmp and /run
#                                          are hidden inside, so a build dir under /tmp is not
#                                          visible there: copy binaries into SHAREDIR)
#   sd_harness.sh exec  STATEDIR CMD...    run CMD inside its namespaces (systemctl/busctl work there)
#   sd_harness.sh stop  STATEDIR           SIGKILL it, verify nothing is left, remove its cgroups
#                                          (idempotent: stopping a stopped/never-started dir exits 0)
# Exit status: 0 ok, 1 error (message on stderr, plus log tails for a failed start), 2 usage.
#
# From the host (root):  busctl --address="$(cat STATEDIR/bus)" ...   or
#                        DBUS_SYSTEM_BUS_ADDRESS="$(cat STATEDIR/bus)" your-agent
# (host `systemctl` refuses to run because the host is not booted with systemd: use busctl,
#  sd-bus/libdbus clients with the address above, or `sd-harness.sh exec STATEDIR systemctl ...`)
# Host-side cgroup of a unit = /sys/fs/cgroup/<hierarchy> + "$(cat STATEDIR/cgroot)" + its
# ControlGroup property, e.g.
#   /sys/fs/cgroup/memory/sdprobe-123-4567/system.slice/system-leak.slice/leak@ch1.service
# Files of the private namespace are reachable from the host under /proc/PID/root/...
# (e.g. /proc/PID/root/var/log/leak-ch1.log). Logs of the private systemd itself:
# STATEDIR/kmsg.log (its /dev/kmsg and /dev/console), STATEDIR/console.log (namespace setup).
#
# Isolation (why each step exists):
#  * new pid/mount/uts/ipc/net/cgroup namespaces, propagation private, unshare --kill-child.
#  * systemd never sees the distro unit dir or generators: SYSTEMD_UNIT_PATH=UNITDIR:stubs, empty
#    generator dirs, its own dbus.socket/dbus.service and dependency-free stub targets.
#  * host /run /tmp /var/tmp /var/log /var/lib/systemd /var/cache /etc/systemd /dev are hidden
#    behind private tmpfs mounts BEFORE systemd runs (an earlier attempt that let it see
#    /lib/systemd/system had systemd-tmpfiles wipe the host's /tmp).
#  * /sys, /proc/sys, /proc/sysrq-trigger, /etc/machine-id are read-only (per-mount flag only;
#    "remount,bind" never touches the host's superblock), so PID-1 setup code cannot change global
#    sysctls (v252 would otherwise bump fs.file-max / fs.nr_open on the host).
#  * cgroups: each used hierarchy (v1 + cgroup2) gets a per-instance dir /sdprobe-<id>; only the
#    namespace init is moved there and it creates a cgroup namespace rooted at it, so systemd sees
#    it as "/" and everything it creates stays below it. stop rmdirs exactly that tree.
#  * capability bounding set reduced before exec'ing systemd (no sys_module, sys_time, ...).
#  * only PIDs recorded in STATEDIR (checked against their start time) are ever signalled.
#
# Env knobs: SDH_START_TIMEOUT (s, default 10)  SDH_STOP_TIMEOUT (s, default 5)
#   SDH_CONTROLLERS (default "systemd unified memory pids cpu cpuacct"; absent ones skipped)
#   SDH_LOG_LEVEL (systemd log level, default info)  SDH_VERBOSE=1 (timings)  SDH_TRACE=1 (set -x)
# Needs: root, util-linux (unshare/nsenter/setpriv/mount), dbus-daemon, busctl, systemd (v252).
set -euo pipefail

SELF=$(readlink -f "${BASH_SOURCE[0]}")
CG=/sys/fs/cgroup
SYSTEMD_BIN=${SYSTEMD_BIN:-/lib/systemd/systemd}
START_TIMEOUT=${SDH_START_TIMEOUT:-10}
STOP_TIMEOUT=${SDH_STOP_TIMEOUT:-5}
CONTROLLERS=${SDH_CONTROLLERS:-systemd unified memory pids cpu cpuacct}
LOG_LEVEL=${SDH_LOG_LEVEL:-info}
MACHINE_ID=${SDH_MACHINE_ID:-5d0be7c0a7f14b6f9e2c53a1d4f0c0de}
# Removed from the bounding set of the private systemd (and therefore of all its units).
DROP_CAPS=-sys_module,-sys_time,-sys_rawio,-sys_pacct,-sys_tty_config,-wake_alarm,-block_suspend,-mac_admin,-mac_override,-syslog
# Host dirs hidden behind a private tmpfs (path:mode) inside the mount namespace (+ /run, /dev).
PRIVATE_DIRS=(/tmp:1777 /var/tmp:1777 /var/log:0755 /var/lib/systemd:0755 /var/cache:0755 /etc/systemd:0755)
IN=/run/sdprobe   # inside the namespace (private tmpfs): units/, stub/, empty/, share/, staging
STATE_FILES=(pid bus unshare_pid starttime pidns cgname cgroot hostpid)

die()  { echo "sd-harness: error: $*" >&2; exit 1; }
warn() { echo "sd-harness: warning: $*" >&2; }
vlog() { if [[ -n ${SDH_VERBOSE:-} ]]; then echo "sd-harness: $*" >&2; fi; }
# fork-free clock (forks cost ~10 ms on small VMs): microseconds since epoch
now_us() { local t=${EPOCHREALTIME/[.,]/}; echo "$t"; }
deadline_in() { DEADLINE=$(( ${EPOCHREALTIME/[.,]/} + $1 * 1000000 )); }
deadline_passed() { (( ${EPOCHREALTIME/[.,]/} > DEADLINE )); }
since() { local d=$(( ${EPOCHREALTIME/[.,]/} - $1 )); printf '%d.%03d' $((d / 1000000)) $((d / 1000 % 1000)); }

# --- process helpers ----------------------------------------------------------------------------
# PSTAT=(fields 3.. of /proc/PID/stat): PSTAT[0]=state, PSTAT[1]=ppid, PSTAT[19]=starttime
read_stat() { local l; PSTAT=(); read -r l 2>/dev/null <"/proc/$1/stat" || return 1; l=${l##*) }; read -ra PSTAT <<<"$l"; }
# alive PID [STARTTIME]: exists, not a zombie, and (if given) the same process we recorded
alive() {
  [[ -n ${1:-} ]] && read_stat "$1" || return 1
  [[ ${PSTAT[0]} != [ZX] ]] || return 1
  [[ -z ${2:-} || ${PSTAT[19]} == "$2" ]]
}
existing_controllers() {
  local h
  for h in $CONTROLLERS; do if [[ -e $CG/$h/cgroup.procs ]]; then echo "$h"; fi; done
}
# Remove the per-instance tree /sdprobe-<id> in every hierarchy (never anything else).
cleanup_cgroups() {
  local cgname=$1 h dirs=()
  [[ $cgname =~ ^sdprobe-[0-9]+-[0-9]+$ ]] || { warn "refusing to clean cgroup '$cgname'"; return 1; }
  deadline_in "$STOP_TIMEOUT"
  while :; do
    dirs=()
    for h in $CONTROLLERS; do if [[ -d $CG/$h/$cgname ]]; then dirs+=("$CG/$h/$cgname"); fi; done
    (( ${#dirs[@]} )) || return 0
    # deepest first; cgroup dirs are removed with plain rmdir although they list files
    find "${dirs[@]}" -depth -type d -exec rmdir {} + 2>/dev/null || true
    for h in "${dirs[@]}"; do [[ -d $h ]] && break; done
    [[ -d $h ]] || return 0
    if deadline_passed; then
      warn "cgroup dirs not removable: ${dirs[*]}; procs: $(find "${dirs[@]}" -name cgroup.procs -exec cat {} + 2>/dev/null | tr '\n' ' ')"
      return 1
    fi
    sleep 0.02
  done
}
dump_logs() {
  local f
  for f in console.log kmsg.log; do
    if [[ -s $1/$f ]]; then echo "----- last lines of $1/$f -----" >&2; tail -n 25 "$1/$f" >&2; fi
  done
}

# --- start --------------------------------------------------------------------------------------
cmd_start() {
  (( $# == 2 || $# == 3 )) || { echo "usage: $0 start UNITDIR STATEDIR [SHAREDIR]" >&2; exit 2; }
  [[ $EUID -eq 0 ]] || die "must run as root"
  local unitdir statedir sharedir="" t0 h b d f cgname ctrls hostpid="" unshare_pid st pidns bus state=""
  t0=$(now_us)
  unitdir=$(readlink -f "$1") || die "bad UNITDIR '$1'"
  [[ -d $unitdir ]] || die "UNITDIR '$1' is not a directory"
  if [[ -n ${3:-} ]]; then
    sharedir=$(readlink -f "$3") || die "bad SHAREDIR '$3'"
    [[ -d $sharedir ]] || die "SHAREDIR '$3' is not a directory"
    # the units write there as root: never a system directory
    case $sharedir in /|/tmp|/var/tmp|/run|/etc|/usr|/var|/home|/root|/proc|/sys|/dev|/boot)
      die "SHAREDIR '$3' is a system directory; use a dir of its own" ;;
    esac
  fi
  mkdir -p "$2" || die "cannot create STATEDIR '$2'"
  statedir=$(readlink -f "$2")
  for b in "$SYSTEMD_BIN" /usr/bin/dbus-daemon /usr/bin/busctl /usr/bin/unshare /usr/bin/setpriv /usr/bin/nsenter; do
    [[ -x $b ]] || die "missing $b"
  done
  for d in "${PRIVATE_DIRS[@]}"; do [[ -d ${d%%:*} ]] || die "host dir ${d%%:*} missing (refusing to create it on the host)"; done
  [[ -e $CG/systemd/cgroup.procs ]] || die "no name=systemd hierarchy at $CG/systemd"
  if [[ -f $statedir/pid ]] && alive "$(<"$statedir/pid")" "$(cat "$statedir/starttime" 2>/dev/null)"; then
    die "an instance is already running for $statedir (pid $(<"$statedir/pid")); stop it first"
  fi
  # leftovers of an earlier crashed start/stop in this STATEDIR
  if [[ -f $statedir/cgname ]]; then cmd_stop "$statedir" || die "stale instance in $statedir could not be cleaned up"; fi
  for f in "${STATE_FILES[@]}"; do rm -f "${statedir:?}/$f"; done
  : >"$statedir/kmsg.log"; : >"$statedir/console.log"

  # per-instance cgroup dir in each hierarchy (recorded first, so stop can always clean it)
  cgname=sdprobe-$$-$RANDOM
  echo "$cgname" >"$statedir/cgname"
  ctrls=$(existing_controllers)
  for h in $ctrls; do mkdir "$CG/$h/$cgname"; done

  fail() {
    echo "sd-harness: start failed: $*" >&2
    dump_logs "$statedir"
    cmd_stop "$statedir" >&2 || true
    exit 1
  }
  # Launcher: close inherited fds (a test runner's pipes must not be held open by systemd),
  # new session (no signals from the caller's process group), then the namespaces.
  (
    for fd in "/proc/$BASHPID/fd/"*; do fd=${fd##*/}; if (( fd > 2 )); then eval "exec $fd>&-"; fi; done 2>/dev/null
    exec setsid -w unshare --pid --fork --kill-child --mount --uts --ipc --net --propagation private \
      -- /usr/bin/env SDH_TRACE="${SDH_TRACE:-}" /bin/bash "$SELF" __inner "$unitdir" "$statedir" "$cgname" "$ctrls" "$sharedir" \
      </dev/null >>"$statedir/console.log" 2>&1
  ) &
  local launcher=$!

  deadline_in "$START_TIMEOUT"
  # 1) the namespace init reports its host PID (it later execs systemd, so the PID stays)
  while :; do
    if [[ -s $statedir/hostpid ]]; then hostpid=$(<"$statedir/hostpid"); [[ -n $hostpid ]] && break; fi
    alive "$launcher" || fail "namespace setup exited early"
    deadline_passed && fail "timeout waiting for namespace setup"
    sleep 0.01
  done
  read_stat "$hostpid" || fail "namespace init (pid $hostpid) vanished"
  unshare_pid=${PSTAT[1]}; st=${PSTAT[19]}
  pidns=$(readlink "/proc/$hostpid/ns/pid") || fail "namespace init (pid $hostpid) vanished"
  echo "$unshare_pid" >"$statedir/unshare_pid"; echo "$st" >"$statedir/starttime"
  echo "$pidns" >"$statedir/pidns"; echo "$hostpid" >"$statedir/pid"
  bus="unix:path=/proc/$hostpid/root/run/dbus/system_bus_socket"
  # 2) wait until systemd answers on its own system bus and the boot job queue is empty
  while :; do
    alive "$hostpid" "$st" || fail "private systemd (pid $hostpid) died"
    if [[ -S /proc/$hostpid/root/run/dbus/system_bus_socket ]]; then
      state=$(timeout 3 busctl --address="$bus" --timeout=2 get-property org.freedesktop.systemd1 \
        /org/freedesktop/systemd1 org.freedesktop.systemd1.Manager SystemState 2>/dev/null) || state=""
      case $state in *'"running"'*|*'"degraded"'*) break ;; esac
    fi
    deadline_passed && fail "timeout (${START_TIMEOUT}s) waiting for systemd on $bus (SystemState: ${state:-no answer})"
    sleep 0.02
  done
  [[ $state == *degraded* ]] && warn "private systemd is up but degraded (a unit failed)"
  echo "$bus" >"$statedir/bus"
  echo "/$cgname" >"$statedir/cgroot"
  vlog "started pid=$hostpid in $(since "$t0")s"
  echo "$hostpid"
  echo "$bus"
}

# --- namespace init, phase 1 ----------------------------------------------------------------------
# PID 1 of new pid/mount/uts/ipc/net namespaces, still in the caller's cgroups, host /proc mounted.
# Report our host PID, move ONLY ourselves (not the unshare parent) into the per-instance cgroups,
# then re-exec in a new cgroup namespace rooted there.
cmd_inner() {
  local statedir=$2 cgname=$3 ctrls=$4 hostpid h
  [[ $$ == 1 ]] || die "__inner must run as PID 1 of a new pid namespace"
  read -r hostpid _ </proc/self/stat      # host /proc: bash's own host PID
  echo "$hostpid" >"$statedir/hostpid"
  for h in $ctrls; do echo 0 >"$CG/$h/$cgname/cgroup.procs"; done   # "0" = the writing process
  exec /usr/bin/unshare --cgroup -- /bin/bash "$SELF" __inner2 "$@"
}

# --- namespace init, phase 2: private mounts, then exec systemd -----------------------------------
cmd_inner2() {
  local unitdir=$1 statedir=$2 cgname=$3 ctrls=$4 sharedir=${5:-} h d
  [[ $$ == 1 ]] || die "__inner2 must run as PID 1 of a new pid namespace"
  # Safety: every mount/umount below must happen in a NEW mount namespace. The host /proc is
  # still mounted here, so /proc/1 is the host's init: refuse if we share its mount namespace.
  [[ /proc/self/ns/mnt -ef /proc/1/ns/mnt ]] && die "not in a private mount namespace; refusing to mount"
  # Hold host paths that the private mounts may hide (STATEDIR/UNITDIR/SHAREDIR may be under /tmp
  # or /run); they are bind-mounted from /proc/self/fd/N (--no-canonicalize is essential).
  exec 7<"$unitdir" 8>>"$statedir/kmsg.log" 9<"${sharedir:-/}"

  # private /run: unit dirs + staging area
  mount -t tmpfs -o mode=0755,nosuid,nodev,size=64m sdprobe-run /run
  mkdir -p "$IN"/{units,stub,empty,cg,sys,dev} /run/dbus /run/lock
  chmod 1777 /run/lock
  mount --no-canonicalize -o bind,ro /proc/self/fd/7 "$IN/units"
  if [[ -n $sharedir ]]; then
    # read-write for the units; nosuid,nodev on our mount only (per-mount flags)
    mkdir "$IN/share"
    mount --no-canonicalize --bind /proc/self/fd/9 "$IN/share"
    mount -o remount,bind,nosuid,nodev "$IN/share"
  fi
  write_stubs "$IN/stub"
  echo "$MACHINE_ID" >"$IN/machine-id"

  # cgroups: read-only tmpfs holding only our per-instance dirs (they are "/" in our cgroupns).
  # Read-only matters: systemd cannot mkdir+mount the other v1 hierarchies (blkio, ...) whose
  # cgroupns root is still the host root.
  mount -t tmpfs -o mode=0755,nosuid,nodev,noexec,size=1m sdprobe-cgroup "$IN/cg"
  for h in $ctrls; do mkdir "$IN/cg/$h"; done
  for h in $ctrls; do mount --bind "$CG/$h/$cgname" "$IN/cg/$h"; done
  mount -o remount,bind,ro "$IN/cg"
  # /sys: non-recursive read-only bind (per-mount flag; host /sys stays rw), detach our copy of
  # the host /sys tree (incl. all host cgroup hierarchies), put ours in place
  mount -o bind,ro,nosuid,nodev,noexec /sys "$IN/sys"
  umount -R -l /sys
  mount --move "$IN/sys" /sys
  mount --move "$IN/cg" "$CG"

  # private /dev (built in staging, then moved): copies of the basic nodes/symlinks of the
  # host /dev, own devpts + shm.
  mount -t tmpfs -o mode=0755,nosuid,size=1m sdprobe-dev "$IN/dev"
  local nodes=(/dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/ptmx) links=()
  for d in fd:/proc/self/fd stdin:/proc/self/fd/0 stdout:/proc/self/fd/1 stderr:/proc/self/fd/2; do
    if [[ -L /dev/${d%%:*} ]]; then nodes+=("/dev/${d%%:*}"); else links+=("$d"); fi
  done
  cp -a "${nodes[@]}" "$IN/dev/"      # one cp instead of many mknod/ln (forks are slow)
  for d in ${links[@]+"${links[@]}"}; do ln -s "${d#*:}" "$IN/dev/${d%%:*}"; done
  mkdir "$IN/dev/pts" "$IN/dev/shm"
  # /dev/kmsg (+ /dev/console) = a FIFO drained by a tiny reader into STATEDIR/kmsg.log. A plain
  # file does not work: systemd and its forked children open it without O_APPEND and overwrite
  # each other. The reader opens the FIFO read-write, so it never sees EOF and writers never
  # block in open(); it is a child of PID 1 and dies with the namespace.
  mkfifo -m 0600 "$IN/dev/kmsg"; : >"$IN/dev/console"
  ( exec -a sdprobe-kmsg-reader cat ) <>"$IN/dev/kmsg" >&8 7<&- 8>&- 9<&- &
  mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 sdprobe-devpts "$IN/dev/pts"
  mount -t tmpfs -o mode=1777,nosuid,nodev sdprobe-shm "$IN/dev/shm"
  mount --bind "$IN/dev/kmsg" "$IN/dev/console"
  umount -R -l /dev
  mount --move "$IN/dev" /dev

  # /proc of the new pid namespace (detach the host's); sysctls read-only
  umount -R -l /proc
  mount -t proc -o nosuid,nodev,noexec sdprobe-proc /proc
  mount -o bind,ro /proc/sys /proc/sys
  if [[ -e /proc/sysrq-trigger ]]; then mount -o bind,ro /proc/sysrq-trigger /proc/sysrq-trigger; fi

  # fixed machine-id (=> not "first boot", no presets); private tmpfs over host state dirs
  mount -o bind,ro "$IN/machine-id" /etc/machine-id
  for d in "${PRIVATE_DIRS[@]}"; do mount -t tmpfs -o "mode=${d##*:},nosuid,nodev" sdprobe-priv "${d%%:*}"; done
  printf '[Manager]\nShowStatus=no\nLogColor=no\n' >/etc/systemd/system.conf
  rmdir "$IN/cg" "$IN/sys" "$IN/dev"

  exec 7<&- 8>&- 9<&-
  cd /
  exec /usr/bin/env -i container=sdprobe PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    SYSTEMD_UNIT_PATH="$IN/units:$IN/stub" \
    SYSTEMD_GENERATOR_PATH="$IN/empty" SYSTEMD_ENVIRONMENT_GENERATOR_PATH="$IN/empty" \
    SYSTEMD_LOG_LEVEL="$LOG_LEVEL" SYSTEMD_LOG_TARGET=kmsg SYSTEMD_LOG_COLOR=0 \
    /usr/bin/setpriv --bounding-set "$DROP_CAPS" --inh-caps=-all -- "$SYSTEMD_BIN"
}

# Dependency-free stand-ins for the distro targets, plus our own dbus.socket/dbus.service
# (systemd only connects to the bus when it owns dbus.socket+dbus.service; a hand-started
# dbus-daemon + SIGUSR1 does not work with v252). UNITDIR comes first in the path and may
# override any of these.
write_stubs() {
  local dir=$1 t
  for t in multi-user graphical sysinit basic sockets timers paths slices local-fs local-fs-pre \
    remote-fs swap network network-pre network-online nss-lookup time-sync getty \
    shutdown umount ctrl-alt-del emergency rescue exit; do
    printf '[Unit]\nDescription=sdprobe stub %s.target\nDefaultDependencies=no\n' "$t" >"$dir/$t.target"
  done
  printf 'Wants=dbus.socket dbus.service\nAllowIsolate=yes\n' >>"$dir/multi-user.target"
  printf '[Unit]\nDescription=%s\n[Socket]\nListenStream=%s\n' \
    "D-Bus System Message Bus Socket (sdprobe)" /run/dbus/system_bus_socket >"$dir/dbus.socket"
  printf '[Unit]\nDescription=%s\nRequires=dbus.socket\n[Service]\nExecStart=%s\nExecReload=%s\n' \
    "D-Bus System Message Bus (sdprobe)" \
    "/usr/bin/dbus-daemon --system --address=systemd: --nofork --nopidfile --systemd-activation --syslog-only" \
    "/usr/bin/dbus-send --print-reply --system --type=method_call --dest=org.freedesktop.DBus / org.freedesktop.DBus.ReloadConfig" \
    >"$dir/dbus.service"
  ln -s multi-user.target "$dir/default.target"
}

# --- exec ---------------------------------------------------------------------------------------
cmd_exec() {
  (( $# >= 2 )) || { echo "usage: $0 exec STATEDIR CMD..." >&2; exit 2; }
  local statedir=$1 pid st; shift
  pid=$(cat "$statedir/pid" 2>/dev/null) || die "no instance in $statedir (no pid file)"
  st=$(cat "$statedir/starttime" 2>/dev/null) || true
  alive "$pid" "$st" || die "private systemd (pid $pid) of $statedir is not running"
  # a DBUS_SYSTEM_BUS_ADDRESS pointing at /proc/<hostpid>/... would be wrong inside
  exec env -u DBUS_SYSTEM_BUS_ADDRESS nsenter --target "$pid" --mount --uts --ipc --net --pid --cgroup \
    --root --wd -- "$@"
}

# --- stop ---------------------------------------------------------------------------------------
cmd_stop() {
  (( $# == 1 )) || { echo "usage: $0 stop STATEDIR" >&2; exit 2; }
  local statedir=$1 pid="" st="" upid="" ust="" pidns="" cgname="" left p nsfd="" rc=0 t0 f
  t0=$(now_us)
  [[ -d $statedir ]] || { vlog "no STATEDIR $statedir: nothing to stop"; return 0; }
  [[ -f $statedir/pid ]] && pid=$(<"$statedir/pid")
  [[ -z $pid && -f $statedir/hostpid ]] && pid=$(<"$statedir/hostpid")   # start was interrupted
  [[ -f $statedir/starttime ]] && st=$(<"$statedir/starttime")
  [[ -f $statedir/unshare_pid ]] && upid=$(<"$statedir/unshare_pid")
  [[ -f $statedir/pidns ]] && pidns=$(<"$statedir/pidns")
  [[ -f $statedir/cgname ]] && cgname=$(<"$statedir/cgname")
  if [[ -n $pid && -z $st ]]; then
    # identity not recorded yet: only trust a process that is PID 1 of its own pid namespace
    if alive "$pid" && grep -qE '^NSpid:\s+[0-9]+\s+1$' "/proc/$pid/status" 2>/dev/null; then
      st=${PSTAT[19]}; upid=${PSTAT[1]}; pidns=$(readlink "/proc/$pid/ns/pid" 2>/dev/null || true)
    else
      pid=""
    fi
  fi
  [[ -n $upid ]] && read_stat "$upid" && ust=${PSTAT[19]}
  if [[ -n $pid ]] && alive "$pid" "$st"; then
    # keep a reference to its pid namespace for the final "nothing left" check
    { exec {nsfd}<"/proc/$pid/ns/pid"; } 2>/dev/null || nsfd=""
    # SIGKILL to namespace PID 1: the kernel kills every process of the namespace with it
    # (SIGTERM would make systemd re-execute itself, not exit).
    kill -KILL "$pid" 2>/dev/null || true
  fi
  deadline_in "$STOP_TIMEOUT"
  # the kernel only lets ns-PID-1 finish exiting after all other members are gone, so
  # "systemd dead + unshare (its reaper) gone" means the whole namespace is gone
  while { [[ -n $pid ]] && alive "$pid" "$st"; } || { [[ -n $ust ]] && alive "$upid" "$ust"; }; do
    if deadline_passed; then
      # unshare --kill-child: killing the unshare parent also SIGKILLs the namespace init
      if [[ -n $ust ]] && alive "$upid" "$ust"; then kill -KILL "$upid" 2>/dev/null || true; fi
      sleep 0.2; break
    fi
    sleep 0.005
  done
  # verify: no process left in that pid namespace (fork-free scan of /proc)
  if [[ -n $nsfd ]]; then
    left=""
    for p in /proc/[0-9]*; do
      [[ $p/ns/pid -ef /proc/$BASHPID/fd/$nsfd ]] && left+=" ${p#/proc/}"
    done
    exec {nsfd}<&-
    [[ -z $left ]] || { warn "processes still alive in $pidns:$left"; rc=1; }
  fi
  if [[ -n $pid ]] && alive "$pid" "$st"; then warn "private systemd $pid still alive"; rc=1; fi
  if [[ -n $cgname ]]; then cleanup_cgroups "$cgname" || rc=1; fi
  if (( rc == 0 )); then
    for f in "${STATE_FILES[@]}"; do rm -f "${statedir:?}/$f"; done
    vlog "stopped in $(since "$t0")s"
  else
    warn "stop of $statedir incomplete (state files kept; rerun stop)"
  fi
  return $rc
}

if [[ -n ${SDH_TRACE:-} ]]; then PS4='+ ${EPOCHREALTIME} ${FUNCNAME[0]:-}: '; set -x; fi
case ${1:-} in
  start)    shift; cmd_start "$@" ;;
  exec)     shift; cmd_exec "$@" ;;
  stop)     shift; cmd_stop "$@" ;;
  __inner)  shift; cmd_inner "$@" ;;
  __inner2) shift; cmd_inner2 "$@" ;;
  *) echo "usage: $0 start UNITDIR STATEDIR [SHAREDIR] | exec STATEDIR CMD... | stop STATEDIR" >&2; exit 2 ;;
esac
