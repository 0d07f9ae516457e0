#!/bin/sh
# shellcheck shell=dash
# The checks inside the cgroup v2 VM (run by guest_init.sh under busybox sh; see cgroup2.sh).
# Unit-shaped cgroups with real processes (busybox sh main processes, mobasher-leaker children):
#   /system.slice/archiver@ch1.service                      256M limit, 40 MiB leaker
#   /system.slice/system-archiver.slice/archiver@ch3.service 20M limit, no swap: the OOM victim
#   /lxc.payload.c1/system.slice/archiver@ch2.service       32M limit, 48 MiB leaker: swaps
#   /lxc.payload.c1/system.slice/recorder@ch1.service       no limit (max), 24 MiB leaker
#   /lxc.payload.c1/system.slice/mobasher-agent.service     the agent (a container's agent)
# and, never to be found: /lxc.payload.c2/system.slice/archiver@ch9.service (another container)
# and /system.slice/lxc@c3.service/system.slice/archiver@ch8.service (inside a service).
# Each check prints "ok - ..." or "FAIL - ..." with the values compared; the last line is
# "vm-result passed=N failed=M"; the exit status is 0 only with no failure.
set -u
CG=/sys/fs/cgroup
AGENT=/bin/mobasher-agent
W=/tmp/vm
PORT=9842
URL=http://127.0.0.1:$PORT
PCT=5
PASS=0
FAILS=0
AGENT_PID=""
mkdir -p "$W"

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL - $*"; }
note() { echo "# $*"; }
now() { cut -d' ' -f1 /proc/uptime; }
T_START=$(now)
since() { awk -v a="$T_START" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
phase() { note "t=$(since)s $*"; }

# wait_until SECONDS COMMAND...: true as soon as COMMAND is, false after SECONDS.
wait_until() {
  local end
  end=$(awk -v u="$(now)" -v s="$1" 'BEGIN { print u + s }')
  shift
  while :; do
    "$@" && return 0
    awk -v u="$(now)" -v e="$end" 'BEGIN { exit !(u >= e) }' && return 1
    sleep 0.2
  done
}
# within_pct A B PCT: |A - B| <= PCT % of B (both numbers, in any notation awk reads)
within_pct() {
  [ -n "$1" ] && [ -n "$2" ] || return 1
  awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; m = b < 0 ? -b : b
    exit !(a == a + 0 && b == b + 0 && d <= m * p / 100) }'
}
num_eq() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 == b + 0) }'; }
num_ge() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }

# --- the agent's view ------------------------------------------------------------------------------
scrape() { timeout 10 wget -q -O "$W/m.txt" "$URL/metrics" 2>/dev/null; }
# mval NAME [FILTER]: the value of the first series of NAME (whose labels hold FILTER) in $W/m.txt
mval() { grep "^$1[{ ]" "$W/m.txt" 2>/dev/null | grep -F "${2:-}" | awk '{ print $2; exit }'; }
uval() { mval "$1" "unit=\"$2\""; }
units_in() {  # FILE: the units with a mobasher_unit_up series, sorted, space-separated
  grep '^mobasher_unit_up{' "$1" | sed 's/.*unit="\([^"]*\)".*/\1/' | sort | tr '\n' ' ' | sed 's/ $//'
}
# sh -c "$IN_CGROUP" in CGROUP_DIR COMMAND...: COMMAND as a process of that cgroup (as systemd
# starts a service); with & its PID is $! (sh execs it).
# shellcheck disable=SC2016  # expanded by that sh
IN_CGROUP='echo $$ >"$1/cgroup.procs" && shift && exec "$@"'
run_in() { sh -c "$IN_CGROUP" in "$@"; }

# --- the kernel's view ----------------------------------------------------------------------------
procs_of() { cat "$CG$1/cgroup.procs"; }
nprocs() { grep -c . "$CG$1/cgroup.procs"; }
status_sum() {  # REL FIELD: sum of FIELD (kB) in /proc/PID/status over the cgroup's processes, bytes
  local p
  for p in $(procs_of "$1"); do awk -v f="$2:" '$1 == f { print $2 }' "/proc/$p/status" 2>/dev/null; done |
    awk '{ s += $1 } END { printf "%.0f\n", s * 1024 }'
}
cgfile() { cat "$CG$1/$2"; }
working_set() {  # memory.current - inactive_file of memory.stat
  awk -v c="$(cgfile "$1" memory.current)" '$1 == "inactive_file" { printf "%.0f\n", c - $2 }' "$CG$1/memory.stat"
}
events_oom() { awk '$1 == "oom_kill" { print $2 }' "$CG$1/memory.events"; }
oom_raw_is() { [ "$(events_oom "$1")" = "$2" ]; }
nprocs_is() { [ "$(nprocs "$1")" = "$2" ]; }

# cmp_pct DESC AGENT_CMD KERNEL_CMD: the two within PCT %, each read afresh up to 5 times.
cmp_pct() {
  local desc=$1 a k i=1
  while :; do
    scrape
    a=$(eval "$2")
    k=$(eval "$3")
    if within_pct "$a" "$k" "$PCT"; then
      ok "$desc: agent=$a kernel=$k (within $PCT%, attempt $i)"
      return 0
    fi
    if [ "$i" -ge 5 ]; then
      fail "$desc: agent=$a kernel=$k (not within $PCT% in $i attempts)"
      return 1
    fi
    i=$((i + 1))
    sleep 0.6
  done
}

# --- 1. cgroups, the memory controller, units --------------------------------------------------------
phase "making cgroups"
ROOT_UNITS="/system.slice/archiver@ch1.service /system.slice/system-archiver.slice/archiver@ch3.service"
C1_UNITS="/lxc.payload.c1/system.slice/archiver@ch2.service /lxc.payload.c1/system.slice/recorder@ch1.service"
AGENT_CG=/lxc.payload.c1/system.slice/mobasher-agent.service
NS_AGENT_CG=/lxc.payload.c1/system.slice/mobasher-agent-ns.service
HOST_AGENT_CG=/system.slice/mobasher-agent.service
for d in $ROOT_UNITS $C1_UNITS $AGENT_CG $NS_AGENT_CG $HOST_AGENT_CG \
  /lxc.payload.c2/system.slice/archiver@ch9.service \
  /system.slice/lxc@c3.service/system.slice/archiver@ch8.service; do
  mkdir -p "$CG$d" || fail "mkdir $CG$d"
done
note "controllers at the root: $(cat $CG/cgroup.controllers)"
for d in "" /system.slice /system.slice/system-archiver.slice; do
  echo +memory >"$CG$d/cgroup.subtree_control" || fail "cannot enable memory in $CG$d/cgroup.subtree_control"
done

# A container with its own cgroup namespace (as LXC makes it): a process joins /lxc.payload.c1
# before the memory controller is enabled there (no internal processes after that), unshares
# its cgroup and mount namespaces, moves to a service of its own and waits for its turn.
mkfifo "$W/ns.fifo"
cat >"$W/ns.sh" <<EOF
#!/bin/sh
echo \$\$ >$CG$NS_AGENT_CG/cgroup.procs || exit 21
cat /proc/self/cgroup >$W/ns.self_cgroup
echo ready >$W/ns.ready
read -r _ <$W/ns.fifo
umount /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup || exit 22
ls /sys/fs/cgroup >$W/ns.ls
$AGENT status --local --format json --color never --config $W/agent.json --state-dir $W/state-ns >$W/ns.json 2>$W/ns.err
$AGENT once --config $W/agent.json --state-dir $W/state-ns >$W/ns.once 2>>$W/ns.err
echo done >$W/ns.done
EOF
sh -c "$IN_CGROUP" in "$CG/lxc.payload.c1" /bin/unshare.util-linux --cgroup --mount --propagation unchanged sh "$W/ns.sh" &
NS_PID=$!
wait_until 20 test -e "$W/ns.ready" || fail "container helper (pid $NS_PID) not ready"
for d in /lxc.payload.c1 /lxc.payload.c1/system.slice; do
  echo +memory >"$CG$d/cgroup.subtree_control" || fail "cannot enable memory in $CG$d/cgroup.subtree_control"
done

# limits (memory.max, memory.swap.max) before the processes start, as systemd does
echo 268435456 >"$CG/system.slice/archiver@ch1.service/memory.max"
echo 33554432 >"$CG/lxc.payload.c1/system.slice/archiver@ch2.service/memory.max"
C3=/system.slice/system-archiver.slice/archiver@ch3.service
set_c3_limits() { echo 20971520 >"$CG$C3/memory.max" && echo 0 >"$CG$C3/memory.swap.max"; }
set_c3_limits || fail "cannot set memory.max/memory.swap.max of $C3"

# A unit's main process: joins its cgroup, runs a leaker child and waits. With a FIFO: runs a
# leaker in the foreground for each line written to it (the OOM victim), and nothing else.
cat >"$W/unit.sh" <<'EOF'
#!/bin/sh
# args: CGROUP_DIR LEAK_MB OUT [FIFO]
echo $$ >"$1/cgroup.procs" || exit 11
if [ -n "${4:-}" ]; then
  while read -r _ <"$4"; do
    mobasher-leaker --initial-mb "$2" >>"$3" 2>&1
    echo "leaker rc=$?" >>"$3"
  done
fi
mobasher-leaker --initial-mb "$2" >"$3" 2>&1 &
lk=$!
trap 'kill -TERM $lk; wait $lk; exit 0' TERM
wait $lk
EOF
start_unit() {  # REL LEAK_MB [FIFO]; the main PID in $W/NAME.main
  local name
  name=$(basename "$1")
  sh "$W/unit.sh" "$CG$1" "$2" "$W/$name.out" ${3:+"$3"} &
  echo $! >"$W/$name.main"
}
main_of() { cat "$W/$(basename "$1").main"; }
leaker_ready() { grep -q '^ready' "$W/$(basename "$1").out" 2>/dev/null && [ "$(nprocs "$1")" = 2 ]; }

phase "starting units"
start_unit /system.slice/archiver@ch1.service 40
start_unit /lxc.payload.c1/system.slice/archiver@ch2.service 48
start_unit /lxc.payload.c1/system.slice/recorder@ch1.service 24
mkfifo "$W/ch3.fifo"
start_unit "$C3" 64 "$W/ch3.fifo"
for u in $ROOT_UNITS $C1_UNITS; do
  [ "$u" = "$C3" ] && continue
  wait_until 60 leaker_ready "$u" ||
    fail "unit $u did not start: procs=[$(procs_of "$u" | tr '\n' ' ')] out=$(cat "$W/$(basename "$u").out" 2>/dev/null)"
done
wait_until 10 nprocs_is "$C3" 1 || fail "$C3: main process not in its cgroup"
phase "units running"
for u in $ROOT_UNITS $C1_UNITS; do
  note "$u: procs=[$(procs_of "$u" | tr '\n' ' ')] memory.current=$(cgfile "$u" memory.current) memory.max=$(cgfile "$u" memory.max) memory.swap.current=$(cgfile "$u" memory.swap.current)"
done

# --- 2. the agent, as a container's agent in /lxc.payload.c1 (no cgroup namespace) ---------------
cat >"$W/agent.json" <<'EOF'
// the cgroup v2 VM (tests/vm/guest_checks.sh)
{
  "scan_interval": "500ms",
  "discovery_interval": "1s",
  "groups": [
    { "name": "archiver", "units": "archiver@*.service", "memory_limit": "2G",
      "warn": "1.5G", "critical": "95%" },
    { "name": "recorder", "units": "recorder@*.service", "memory_limit": "1.5G",
      "warn": "80%", "critical": "95%" }
  ],
  "actions": { "enabled": false }
}
EOF
phase "starting the agent in $AGENT_CG"
sh -c "$IN_CGROUP" in "$CG$AGENT_CG" "$AGENT" run --config "$W/agent.json" --listen "127.0.0.1:$PORT" \
  --state-dir "$W/state" >"$W/agent.log" 2>&1 &
AGENT_PID=$!
healthz_code() {
  timeout 10 wget -S -q -O "$W/healthz.txt" "$URL/healthz" 2>&1 | sed -n 's|.*HTTP/[0-9.]* \([0-9][0-9][0-9]\).*|\1|p' | head -n 1
}
healthy() { [ "$(healthz_code)" = 200 ]; }
if wait_until 30 healthy; then
  ok "/healthz: $(healthz_code) \"$(head -n 1 "$W/healthz.txt")\" (agent pid $AGENT_PID, up after $(since) s)"
else
  fail "/healthz: $(healthz_code), not 200 within 30 s: $(cat "$W/healthz.txt" 2>/dev/null) log: $(tail -n 5 "$W/agent.log")"
fi
note "agent's /proc/self/cgroup: $(cat "/proc/$AGENT_PID/cgroup")"
all_seen() {
  scrape && [ "$(mval mobasher_units_discovered)" = 4 ] &&
    [ "$(uval mobasher_unit_processes archiver@ch2.service)" = 2 ] &&
    [ "$(uval mobasher_unit_processes archiver@ch3.service)" = 1 ]
}
wait_until 30 all_seen || note "not every unit seen within 30 s: discovered=$(mval mobasher_units_discovered)"

layout=$(grep '^mobasher_build_info{' "$W/m.txt" | sed 's/.*cgroup_layout="\([^"]*\)".*/\1/')
[ "$layout" = v2 ] && ok "mobasher_build_info cgroup_layout=$layout" || fail "mobasher_build_info cgroup_layout=$layout, expected v2"

# --- 3. discovery ------------------------------------------------------------------------------------
phase "discovery"
timeout 10 wget -q -O "$W/status.json" "$URL/api/v1/status" || fail "GET /api/v1/status"
found=$(units_in "$W/m.txt")
want="archiver@ch1.service archiver@ch2.service archiver@ch3.service recorder@ch1.service"
[ "$found" = "$want" ] && [ "$(mval mobasher_units_discovered)" = 4 ] &&
  ok "discovery (agent in $AGENT_CG): units [$found], mobasher_units_discovered=4" ||
  fail "discovery (agent in $AGENT_CG): units [$found] discovered=$(mval mobasher_units_discovered), expected [$want]"
for u in $ROOT_UNITS $C1_UNITS; do
  grep -q "\"cgroup\": *\"$u\"" "$W/status.json" && ok "discovered at $u (status JSON \"cgroup\")" ||
    fail "no unit with \"cgroup\": \"$u\" in /api/v1/status: $(grep -o '"cgroup": *"[^"]*"' "$W/status.json" | tr '\n' ' ')"
done
if grep -q 'archiver@ch[89]' "$W/m.txt" "$W/status.json"; then
  fail "another container's unit (/lxc.payload.c2/...archiver@ch9) or one inside a service (lxc@c3.service/.../archiver@ch8) was taken: $(grep -o 'archiver@ch[89][^"]*' "$W/m.txt" | sort -u | tr '\n' ' ')"
else
  ok "not entered: /lxc.payload.c2/system.slice/archiver@ch9.service (another container), /system.slice/lxc@c3.service/system.slice/archiver@ch8.service (inside a service)"
fi

# `once` as the host's agent (in /system.slice): the host's units only, no container's.
run_in "$CG$HOST_AGENT_CG" "$AGENT" once --config "$W/agent.json" --state-dir "$W/state-host" \
  >"$W/once-host.txt" 2>"$W/once-host.err"
found=$(units_in "$W/once-host.txt")
want="archiver@ch1.service archiver@ch3.service"
[ "$found" = "$want" ] && ok "once as the host's agent ($HOST_AGENT_CG): units [$found]" ||
  fail "once as the host's agent ($HOST_AGENT_CG): units [$found], expected [$want] ($(tail -n 2 "$W/once-host.err"))"

# --cgroup-root at the container's subtree: the container's units, at paths relative to it.
"$AGENT" status --local --format json --color never --config "$W/agent.json" --state-dir "$W/state-root" \
  --cgroup-root "$CG/lxc.payload.c1" >"$W/root-c1.json" 2>"$W/root-c1.err"
found=$(grep -o '"cgroup": *"[^"]*"' "$W/root-c1.json" | sed 's/.*"\([^"]*\)"$/\1/' | sort | tr '\n' ' ' | sed 's/ $//')
want="/system.slice/archiver@ch2.service /system.slice/recorder@ch1.service"
[ "$found" = "$want" ] && ok "--cgroup-root $CG/lxc.payload.c1: cgroups [$found]" ||
  fail "--cgroup-root $CG/lxc.payload.c1: cgroups [$found], expected [$want] ($(tail -n 2 "$W/root-c1.err"))"

# An agent inside the container's own cgroup namespace: / is /lxc.payload.c1.
timeout 10 sh -c "echo go >'$W/ns.fifo'" || fail "the container helper does not read $W/ns.fifo"
wait_until 60 test -e "$W/ns.done" || fail "the agent in the cgroup namespace did not finish: $(cat "$W/ns.err" 2>/dev/null)"
wait "$NS_PID"
note "in the cgroup namespace: /proc/self/cgroup=$(cat "$W/ns.self_cgroup" 2>/dev/null) /sys/fs/cgroup: $(tr '\n' ' ' <"$W/ns.ls" 2>/dev/null)"
found=$(grep -o '"cgroup": *"[^"]*"' "$W/ns.json" 2>/dev/null | sed 's/.*"\([^"]*\)"$/\1/' | sort | tr '\n' ' ' | sed 's/ $//')
layout=$(grep '^mobasher_build_info{' "$W/ns.once" 2>/dev/null | sed 's/.*cgroup_layout="\([^"]*\)".*/\1/')
[ "$found" = "$want" ] && [ "$layout" = v2 ] &&
  ok "agent in a cgroup namespace rooted at /lxc.payload.c1: cgroups [$found], layout $layout" ||
  fail "agent in a cgroup namespace rooted at /lxc.payload.c1: cgroups [$found] layout $layout, expected [$want] v2 ($(tail -n 2 "$W/ns.err" 2>/dev/null))"

# --- 4. values against the kernel's files -------------------------------------------------------------
phase "values"
check_unit() {  # REL: every per-unit value against /proc and the cgroup files
  local rel=$1 u a k
  u=$(basename "$rel")
  cmp_pct "$u rss vs sum VmRSS of cgroup.procs" "uval mobasher_unit_rss_bytes $u" "status_sum $rel VmRSS"
  scrape
  a=$(uval mobasher_unit_processes "$u")
  k=$(nprocs "$rel")
  [ "$a" = "$k" ] && ok "$u processes: agent=$a cgroup.procs=$k" || fail "$u processes: agent=$a cgroup.procs=$k"
  cmp_pct "$u usage vs memory.current" "uval mobasher_unit_memory_usage_bytes $u" "cgfile $rel memory.current"
  cmp_pct "$u working set vs memory.current - memory.stat inactive_file" \
    "uval mobasher_unit_memory_working_set_bytes $u" "working_set $rel"
  cmp_pct "$u cgroup swap vs memory.swap.current" "uval mobasher_unit_cgroup_swap_bytes $u" "cgfile $rel memory.swap.current"
  cmp_pct "$u swap vs sum VmSwap of cgroup.procs" "uval mobasher_unit_swap_bytes $u" "status_sum $rel VmSwap"
}
check_limit() {  # UNIT REL EXPECTED_LIMIT EXPECTED_ENFORCED: waits (10 s) until both hold
  local u=$1 rel=$2 want=$3 enf=$4 lim="" raw
  limit_is() { scrape && lim=$(uval mobasher_unit_memory_limit_bytes "$u") && num_eq "$lim" "$want" &&
    [ "$(uval mobasher_unit_memory_limit_enforced "$u")" = "$enf" ]; }
  raw=$(cgfile "$rel" memory.max)
  if wait_until 10 limit_is; then
    ok "$u limit: memory.max=$raw -> mobasher_unit_memory_limit_bytes=$lim, mobasher_unit_memory_limit_enforced=$enf"
  else
    fail "$u limit: memory.max=$raw -> limit_bytes=$lim enforced=$(uval mobasher_unit_memory_limit_enforced "$u"), expected $want and $enf"
  fi
}
for rel in /system.slice/archiver@ch1.service $C1_UNITS; do check_unit "$rel"; done
C2=/lxc.payload.c1/system.slice/archiver@ch2.service
swapped=$(cgfile $C2 memory.swap.current)
num_ge "$swapped" $((8 << 20)) && ok "archiver@ch2.service really swapped: memory.swap.current=$swapped >= 8 MiB (48 MiB leaker under memory.max=33554432)" ||
  fail "archiver@ch2.service did not swap: memory.swap.current=$swapped (48 MiB leaker, memory.max=33554432; SwapTotal $(awk '/^SwapTotal/ { print $2 }' /proc/meminfo) kB)"
C1=/system.slice/archiver@ch1.service
R1=/lxc.payload.c1/system.slice/recorder@ch1.service
check_limit archiver@ch1.service $C1 268435456 1
check_limit archiver@ch2.service $C2 33554432 1
check_limit recorder@ch1.service $R1 1610612736 0
# both ways: the limit taken away and set again, the unlimited one limited
echo max >"$CG$C1/memory.max"
check_limit archiver@ch1.service $C1 2147483648 0
echo 209715200 >"$CG$R1/memory.max"
check_limit recorder@ch1.service $R1 209715200 1
echo 268435456 >"$CG$C1/memory.max"
check_limit archiver@ch1.service $C1 268435456 1

# --- 5. a real OOM kill, and the counter across a new cgroup of the same unit -------------------------
phase "OOM kill"
oom_agent() { scrape && uval mobasher_unit_oom_kills_total archiver@ch3.service; }
MIN_OOM=""
oom_is() {  # N: the agent's counter is N (and remember the smallest value seen)
  local v
  v=$(oom_agent)
  [ -n "$v" ] && { [ -z "$MIN_OOM" ] || awk -v a="$v" -v b="$MIN_OOM" 'BEGIN { exit !(a < b) }'; } && MIN_OOM=$v
  [ -n "$v" ] && num_eq "$v" "$1"
}
ch3_up_with() {  # N: one process (the main), counter N
  oom_is "$1" && [ "$(uval mobasher_unit_processes archiver@ch3.service)" = 1 ]
}
oom_round() {  # EXPECTED_RAW EXPECTED_AGENT
  local raw
  timeout 10 sh -c "echo go >'$W/ch3.fifo'" || fail "$C3: its main process does not read $W/ch3.fifo"
  if wait_until 60 oom_raw_is $C3 "$1"; then
    ok "real OOM kill in $C3 (memory.max=$(cgfile $C3 memory.max), memory.swap.max=$(cgfile $C3 memory.swap.max)): memory.events: $(tr '\n' ' ' <"$CG$C3/memory.events")"
  else
    fail "no OOM kill in $C3 within 60 s: memory.events: $(tr '\n' ' ' <"$CG$C3/memory.events") out: $(cat "$W/archiver@ch3.service.out")"
  fi
  wait_until 10 grep -q "leaker rc=" "$W/archiver@ch3.service.out" &&
    note "victim: $(grep 'leaker rc=' "$W/archiver@ch3.service.out" | tail -n 1) (137 = SIGKILL)"
  raw=$(events_oom $C3)
  if wait_until 10 oom_is "$2"; then
    ok "archiver@ch3.service mobasher_unit_oom_kills_total=$(oom_agent) (memory.events oom_kill=$raw of this cgroup)"
  else
    fail "archiver@ch3.service mobasher_unit_oom_kills_total=$(oom_agent), expected $2 (memory.events oom_kill=$raw)"
  fi
}
wait_until 10 ch3_up_with 0 && ok "archiver@ch3.service seen before its OOM kill: oom_kills_total=0 processes=1" ||
  fail "archiver@ch3.service before its OOM kill: oom_kills_total=$(oom_agent) processes=$(uval mobasher_unit_processes archiver@ch3.service)"
oom_round 1 1
scrape
a=$(mval mobasher_node_oom_kills_total)
k=$(awk '$1 == "oom_kill" { print $2 }' /proc/vmstat)
num_eq "$a" "$k" && ok "mobasher_node_oom_kills_total=$a /proc/vmstat oom_kill=$k" ||
  fail "mobasher_node_oom_kills_total=$a /proc/vmstat oom_kill=$k"

# The unit stops, its cgroup is removed and made again (as systemd does on a restart).
ino1=$(stat -c %i "$CG$C3")
main=$(main_of $C3)
kill -KILL "$main"
wait "$main" 2>/dev/null
wait_until 10 nprocs_is $C3 0 || fail "$C3 not empty after its main process was killed"
rmdir "$CG$C3" || fail "rmdir $CG$C3"
MIN_OOM=""
# sampled while the unit is gone, until the agent has seen it go (no series) or 3 s pass
gone() { oom_is 1; ! grep -q 'unit="archiver@ch3.service"' "$W/m.txt"; }
wait_until 3 gone
note "while removed: min oom_kills_total seen=${MIN_OOM:-none (series gone)}, series present: $(grep -c 'unit="archiver@ch3.service"' "$W/m.txt")"
mkdir "$CG$C3" && set_c3_limits || fail "cannot make $CG$C3 again"
ino2=$(stat -c %i "$CG$C3")
start_unit "$C3" 64 "$W/ch3.fifo"
if wait_until 15 ch3_up_with 1 && [ "$(events_oom $C3)" = 0 ] && [ "$ino1" != "$ino2" ] &&
  { [ -z "$MIN_OOM" ] || num_ge "$MIN_OOM" 1; }; then
  ok "archiver@ch3.service cgroup made again (inode $ino1 -> $ino2, memory.events oom_kill=$(events_oom $C3)): oom_kills_total=$(oom_agent), never below 1 (min seen $MIN_OOM)"
else
  fail "archiver@ch3.service cgroup made again (inode $ino1 -> $ino2, memory.events oom_kill=$(events_oom $C3)): oom_kills_total=$(oom_agent) min seen=$MIN_OOM processes=$(uval mobasher_unit_processes archiver@ch3.service), expected 1 throughout"
fi
oom_round 1 2
note "archiver@ch3.service restarts: $(grep '^mobasher_unit_restarts_total{' "$W/m.txt" | grep -F 'archiver@ch3' | grep -v ' 0$' | tr '\n' ' ')"

if [ -n "${MOBASHER_VM_DUMP:-}" ]; then
  for f in $CG/cgroup.controllers $CG/system.slice/cgroup.subtree_control "/proc/$AGENT_PID/cgroup" \
    /proc/pressure/memory $CG$C2/memory.max $CG$C2/memory.current $CG$C2/memory.swap.current \
    $CG$C2/memory.swap.max $CG$C2/memory.events $CG$C2/memory.stat $CG$C3/memory.events \
    $CG$C3/memory.swap.max $CG$R1/memory.max $CG$C2/cgroup.procs; do
    sed "s|^|# dump $f\| |" "$f"
  done
fi

# --- 6. pressure ---------------------------------------------------------------------------------------
phase "pressure"
note "/proc/pressure/memory: $(tr '\n' ';' </proc/pressure/memory)"
psi_total() { awk -v k="$1" '$1 == k { for (i = 2; i <= NF; i++) if ($i ~ /^total=/) print substr($i, 7) }' /proc/pressure/memory; }
scans_after() { scrape && num_ge "$(mval mobasher_scans_total)" "$1"; }
for kind in some full; do
  t0=$(psi_total $kind)
  scrape
  s0=$(mval mobasher_scans_total)
  wait_until 10 scans_after "$((${s0%.*} + 2))"
  a=$(mval mobasher_node_memory_pressure_seconds_total "kind=\"$kind\"")
  t1=$(psi_total $kind)
  if [ -n "$a" ] && awk -v a="$a" -v t0="$t0" -v t1="$t1" 'BEGIN { e = 1 + t1 * 1e-6  # the exposition rounds
    exit !(a * 1e6 >= t0 - e && a * 1e6 <= t1 + e) }'; then
    ok "mobasher_node_memory_pressure_seconds_total{kind=\"$kind\"}=$a within /proc/pressure/memory $kind total= $t0..$t1 us"
  else
    fail "mobasher_node_memory_pressure_seconds_total{kind=\"$kind\"}=$a, /proc/pressure/memory $kind total= $t0..$t1 us"
  fi
done

# --- 7. status ------------------------------------------------------------------------------------------
phase "status"
run_in "$CG$AGENT_CG" "$AGENT" status --local --color never --config "$W/agent.json" --state-dir "$W/state-status" \
  >"$W/status-local.txt" 2>"$W/status-local.err"
src=$?
sed 's/^/# status --local| /' "$W/status-local.txt"
row_pids() { awk -v u="$2" '$1 == u { print $3 }' "$1"; }
row_limit() { awk -v u="$2" '$1 == u { print $6 }' "$1"; }
bad=""
for rel in $ROOT_UNITS $C1_UNITS; do
  u=$(basename "$rel")
  want=$(procs_of "$rel" | sort -n | tr '\n' ',' | sed 's/,$//')
  got=$(row_pids "$W/status-local.txt" "$u" | tr ',' '\n' | sort -n | tr '\n' ',' | sed 's/,$//')
  [ "$got" = "$want" ] || bad="$bad $u: PIDS [$got] cgroup.procs [$want];"
done
lim_c1=$(row_limit "$W/status-local.txt" archiver@ch1.service)
[ $src = 0 ] && [ -z "$bad" ] && ok "status --local (exit $src): a row per unit, PIDS = cgroup.procs; archiver@ch1 LIMIT $lim_c1" ||
  fail "status --local (exit $src):$bad $(head -n 2 "$W/status-local.err")"
"$AGENT" status --listen "127.0.0.1:$PORT" --color never >"$W/status.txt" 2>"$W/status.err"
src=$?
found=$(awk 'NR > 1 && $1 ~ /@/ { print $1 }' "$W/status.txt" | sort | tr '\n' ' ' | sed 's/ $//')
want="archiver@ch1.service archiver@ch2.service archiver@ch3.service recorder@ch1.service"
[ $src = 0 ] && [ "$found" = "$want" ] && ok "status from the running agent (exit $src): units [$found]" ||
  fail "status from the running agent (exit $src): units [$found], expected [$want] $(head -n 2 "$W/status.err")"

# --- 8. the agent's health at the end -----------------------------------------------------------------
phase "end"
scrape
e_cg=$(mval mobasher_scan_errors_total 'source="cgroup"')
e_proc=$(mval mobasher_scan_errors_total 'source="proc"')
e_dup=$(mval mobasher_scan_errors_total 'source="duplicate_unit"')
[ "${e_cg:-0}" = 0 ] && [ "${e_proc:-0}" = 0 ] && [ "${e_dup:-0}" = 0 ] &&
  ok "no scan errors: cgroup=${e_cg:-0} proc=${e_proc:-0} duplicate_unit=${e_dup:-0} in $(mval mobasher_scans_total) scans" ||
  fail "scan errors: cgroup=${e_cg:-0} proc=${e_proc:-0} duplicate_unit=${e_dup:-0}: $(grep -i 'error\|warn' "$W/agent.log" | tail -n 3)"
healthy && ok "/healthz at the end: 200" || fail "/healthz at the end: $(healthz_code) $(cat "$W/healthz.txt" 2>/dev/null)"
kill -TERM "$AGENT_PID"
wait "$AGENT_PID"
arc=$?
[ $arc = 0 ] && ok "agent exits 0 on SIGTERM" || fail "agent exit status $arc on SIGTERM: $(tail -n 3 "$W/agent.log")"
if [ "$FAILS" -gt 0 ]; then
  note "agent log (last 30 lines):"
  tail -n 30 "$W/agent.log" | sed 's/^/# agent| /'
fi
phase "done: $PASS passed, $FAILS failed"
echo "vm-result passed=$PASS failed=$FAILS"
[ "$FAILS" = 0 ]
