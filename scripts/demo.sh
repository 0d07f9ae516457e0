#!/usr/bin/env bash
# Demo: what the agent is for, in a minute. Six channels (archiver@demo1..4, recorder@demo1..2)
# start together and leak alike, as on the night of Sep 15, scaled down: 256 MiB / 192 MiB limits,
# 5 MiB/s leaks from 32 MiB (each unit would reach its limit after ~40 s).
#
#   sudo scripts/demo.sh                 a real, private systemd (tests/integration/sd_harness.sh)
#                                        runs the six units with their MemoryMax; the agent restarts
#                                        each before its limit, one at a time, through systemd's
#                                        D-Bus API: 0 OOM kills.
#   sudo scripts/demo.sh --no-actions    the same units, the agent only watching: the kernel kills
#                                        each at its limit and systemd's Restart= brings it back.
#   sudo scripts/demo.sh --cgroups       no systemd at all: four leakers in bare cgroups shaped like
#                                        the units (the kernel kills; nothing restarts them).
# Options: --seconds N (default 60; 0 = until Ctrl-C; --no-actions ends sooner once the kernel has
# killed every unit), --listen HOST:PORT (default 127.0.0.1:9842),
#   --agent PATH --leaker PATH (use these binaries instead of building them).
# The last lines are a summary per unit and a result line:
#   demo: result: R restarts by the agent, K OOM kills by the kernel
# Everything it made (processes, the private systemd, cgroups, its temp dir) is removed on exit,
# also on Ctrl-C. Needs root (cgroups, namespaces). The agent's log: $MOBASHER_DEMO_LOG if set.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
LISTEN=127.0.0.1:9842
SECONDS_TO_RUN=60
MODE=systemd
ACTIONS=1
AGENT=""
LEAKER=""
usage() {
  echo "usage: $0 [--no-actions] [--cgroups] [--seconds N] [--listen HOST:PORT] [--agent PATH --leaker PATH]" >&2
  exit 2
}
while (($#)); do
  case $1 in
    --no-actions) ACTIONS=0; shift ;;
    --cgroups) MODE=cgroups; ACTIONS=0; shift ;;
    --seconds) [[ ${2:-} =~ ^[0-9]+$ ]] || usage; SECONDS_TO_RUN=$2; shift 2 ;;
    --listen) [[ -n ${2:-} ]] || usage; LISTEN=$2; shift 2 ;;
    --agent) [[ -n ${2:-} ]] || usage; AGENT=$(readlink -f "$2"); shift 2 ;;
    --leaker) [[ -n ${2:-} ]] || usage; LEAKER=$(readlink -f "$2"); shift 2 ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    *) usage ;;
  esac
done
[[ $EUID -eq 0 ]] || { echo "demo: must run as root (it creates cgroups and namespaces): sudo $0" >&2; exit 1; }
if [[ -z $AGENT || -z $LEAKER ]]; then
  scripts/install-deps.sh --demo
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOBASHER_TESTS=OFF -DMOBASHER_BENCH=OFF >/dev/null
  cmake --build build -j"$(nproc)" --target mobasher-agent mobasher-leaker >/dev/null
  AGENT=${AGENT:-$ROOT/build/mobasher-agent}
  LEAKER=${LEAKER:-$ROOT/build/mobasher-leaker}
fi
for tool in ffmpeg curl; do
  command -v "$tool" >/dev/null || { echo "demo: $tool missing: scripts/install-deps.sh --demo" >&2; exit 1; }
done

CG=/sys/fs/cgroup
WORK=$(mktemp -d /tmp/mobasher-demo.XXXXXX)
LOG=${MOBASHER_DEMO_LOG:-$WORK/agent.log}
AGENT_PID=""
PIDS=()         # --cgroups: the channels' process groups
CG_DIRS=()      # --cgroups: the cgroups made, deepest last
HARNESS=$ROOT/tests/integration/sd_harness.sh
SDSTATE=$WORK/sd

cleanup() {
  set +e
  trap - EXIT INT TERM
  [[ -n $AGENT_PID ]] && { kill -TERM "$AGENT_PID" 2>/dev/null; wait "$AGENT_PID" 2>/dev/null; }
  if [[ -f $SDSTATE/cgname ]]; then
    bash "$HARNESS" stop "$SDSTATE" || echo "demo: stopping the private systemd failed ($SDSTATE)" >&2
  fi
  local pid d
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for ((i = ${#CG_DIRS[@]} - 1; i >= 0; i--)); do  # a killed process leaves its cgroup a moment later
    d=${CG_DIRS[i]}
    for _ in $(seq 50); do
      if [[ -d $d ]] && ! rmdir "$d" 2>/dev/null; then sleep 0.1; else break; fi
    done
    [[ -d $d ]] && echo "demo: could not remove $d" >&2
  done
  if grep -qF " $WORK" /proc/self/mountinfo; then
    echo "demo: something is still mounted under $WORK; leaving it" >&2
  else
    rm -rf "$WORK"
  fi
  echo "demo: cleaned up"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The six channels: NAME LIMIT_MIB INITIAL_MIB GROW_MIB_PER_S
CHANNELS=("archiver@demo1.service 256 32 5" "archiver@demo2.service 256 32 5"
  "archiver@demo3.service 256 32 5" "archiver@demo4.service 256 32 5"
  "recorder@demo1.service 192 32 4" "recorder@demo2.service 192 32 4")
# The agent's plan, scaled down: warn at 60 %, restart at 80 % held 2 s, or 15 s before the limit
# by the growth of the last 10 s. With --no-actions the same plan, nothing done.
write_config() {  # BUS (empty: actions off)
  local restart='"restart": { "on_memory": "80%", "for": "2s", "predict": "15s", "predict_window": "10s" }'
  local actions='"actions": { "enabled": false }'
  [[ -n $1 ]] && actions='"actions": { "bus": "'"$1"'", "max_per_unit_per_hour": 10, "max_per_hour": 100 }'
  cat >"$WORK/config.json" <<JSON
{
  // scripts/demo.sh: the Mobasher plan scaled down so the units reach their limits in a minute.
  "scan_interval": "1s",
  "discovery_interval": "2s",
  "groups": [
    { "name": "archiver", "units": "archiver@*.service", "memory_limit": "256M", "warn": "60%", "critical": "90%", $restart },
    { "name": "recorder", "units": "recorder@*.service", "memory_limit": "192M", "warn": "60%", "critical": "90%", $restart }
  ],
  "alerts": { "for": "2s" },
  $actions,
  "history": { "interval": "5s" }
}
JSON
  "$AGENT" check-config --config "$WORK/config.json" >/dev/null
}

start_agent() {  # extra agent flags...
  "$AGENT" run --config "$WORK/config.json" --listen "$LISTEN" --state-dir "$WORK/state" "$@" >>"$LOG" 2>&1 &
  AGENT_PID=$!
  for _ in $(seq 100); do
    curl -fsS -m 1 "http://$LISTEN/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$AGENT_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "demo: the agent did not start on $LISTEN:" >&2
  tail -n 5 "$LOG" >&2
  exit 1
}

# --- the private systemd and its units --------------------------------------------------------------
start_systemd_units() {
  local units=$WORK/units share=$WORK/share in=/run/sdprobe/share prefix
  mkdir -p "$units" "$share" "$SDSTATE" "$WORK/cgroot" "$WORK/state"
  cp "$LEAKER" "$share/mobasher-leaker"
  for prefix in archiver recorder; do
    # As deploy/systemd/$prefix@.service: Restart=always, OOMPolicy=stop, a MemoryMax; the main
    # process is a leaker with a real ffmpeg child.
    cat >"$units/$prefix@.service" <<EOF
[Unit]
Description=demo $prefix %i
StartLimitIntervalSec=0
[Service]
EnvironmentFile=$in/%p-%i.env
ExecStart=/bin/sh -c 'ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=160x120:rate=5 -f null - & exec $in/mobasher-leaker --initial-mb \$INITIAL_MB --grow-mb-per-s \$GROW_MB'
Restart=always
RestartSec=1s
OOMPolicy=stop
MemoryAccounting=yes
MemoryMax=\${LIMIT}
EOF
  done
  local c name lim init grow
  for c in "${CHANNELS[@]}"; do
    read -r name lim init grow <<<"$c"
    printf 'INITIAL_MB=%s\nGROW_MB=%s\n' "$init" "$grow" >"$share/${name%%@*}-$(inst "$name").env"
    sed -i "s/^MemoryMax=.*/MemoryMax=${lim}M/" "$units/${name%%@*}@.service"
  done
  bash "$HARNESS" start "$units" "$SDSTATE" "$share" >/dev/null
  local h root; root=$(cat "$SDSTATE/cgroot")
  # The agent sees only this systemd's cgroups (another one on the host may run units of the same
  # names), through a directory of links given as --cgroup-root.
  for h in systemd memory unified; do [[ -d $CG/$h$root ]] && ln -s "$CG/$h$root" "$WORK/cgroot/$h"; done
  [[ -d $CG/$root && ! -e $WORK/cgroot/memory ]] && rmdir "$WORK/cgroot" && ln -s "$CG$root" "$WORK/cgroot"
  BUS=$(cat "$SDSTATE/bus")
}
inst() { local u=${1#*@}; echo "${u%.service}"; }

# --- bare cgroups (--cgroups) -----------------------------------------------------------------------
start_cgroup_units() {
  local hierarchies=() h c name lim init grow rel p procs part
  if [[ -e $CG/cgroup.controllers ]]; then hierarchies=("$CG"); else
    [[ -e $CG/memory/cgroup.procs ]] || { echo "demo: no memory cgroup hierarchy under $CG" >&2; exit 1; }
    hierarchies=("$CG/memory"); [[ -e $CG/systemd/cgroup.procs ]] && hierarchies+=("$CG/systemd")
  fi
  mkdir -p "$WORK/state"
  for c in "${CHANNELS[@]:0:4}"; do  # four bare channels: the archivers
    read -r name lim init grow <<<"$c"
    rel=mobasher-demo-$$.slice/system.slice/system-${name%%@*}.slice/$name
    procs=()
    for h in "${hierarchies[@]}"; do
      p=$h
      for part in ${rel//\// }; do
        p=$p/$part
        [[ -d $p ]] || { mkdir "$p"; CG_DIRS+=("$p"); }
        if [[ $h == "$CG" && $part != "$name" ]]; then echo +memory >"$p/cgroup.subtree_control" 2>/dev/null || true; fi
      done
      [[ $h == "$CG" ]] && echo "${lim}M" >"$p/memory.max"
      [[ $h == "$CG/memory" ]] && echo "${lim}M" >"$p/memory.limit_in_bytes"
      procs+=("$p/cgroup.procs")
    done
    # shellcheck disable=SC2016 # $$ is the channel's own shell
    setsid bash -c 'for f in '"${procs[*]}"'; do echo $$ >"$f"; done
      ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=160x120:rate=5 -f null - &
      while true; do '"$LEAKER"' --initial-mb '"$init"' --grow-mb-per-s '"$grow"'; sleep 1; done' \
      >/dev/null 2>&1 &
    PIDS+=($!)
  done
  CHANNELS=("${CHANNELS[@]:0:4}")
}

# --- watching ---------------------------------------------------------------------------------------
declare -A PEAK=()
metrics() { curl -fsS -m 2 "http://$LISTEN/metrics" 2>/dev/null || true; }
# sum_of METRICS NAME UNIT [CAUSE_REGEX]
sum_of() {
  awk -v n="$2" -v u="unit=\"$3\"" -v c="${4:-}" '
    index($1, n "{") == 1 && index($1, u) { if (c == "" || $1 ~ ("cause=\"(" c ")\"")) s += $2 }
    END { printf "%d", s }' <<<"$1"
}
AGENT_CAUSES='memory|predicted|age|node_memory'
tick() {  # ELAPSED; sets ALL_KILLED when every unit was killed by the kernel at least once
  local m c name lim line="" restarts=0 kills=0 use k
  m=$(metrics)
  ALL_KILLED=1
  for c in "${CHANNELS[@]}"; do
    read -r name lim _ <<<"$c"
    use=$(sum_of "$m" mobasher_unit_memory_usage_bytes "$name")
    ((use > ${PEAK[$name]:-0})) && PEAK[$name]=$use
    restarts=$((restarts + $(sum_of "$m" mobasher_unit_restarts_total "$name" "$AGENT_CAUSES")))
    k=$(sum_of "$m" mobasher_unit_oom_kills_total "$name")
    kills=$((kills + k))
    ((k > 0)) || ALL_KILLED=0
    line+=$(printf ' %s%s %3dM' "${name:0:1}" "$(inst "$name" | tr -dc 0-9)" $((use >> 20)))
  done
  if [[ -t 1 ]]; then
    printf '\033[H\033[2J'
    echo "mobasher-agent demo ($MODE, actions $([[ $ACTIONS == 1 ]] && echo on || echo off)) - ${1}s - Ctrl-C stops"
    "$AGENT" status --listen "$LISTEN" 2>&1 || true
    echo
  fi
  printf 't=%3ds%s | restarts by the agent %d, OOM kills by the kernel %d\n' "$1" "$line" "$restarts" "$kills"
}
summary() {
  local m c name lim r k total_r=0 total_k=0
  m=$(metrics)
  echo "demo: summary after ${SECONDS}s ($MODE, actions $([[ $ACTIONS == 1 ]] && echo on || echo off))"
  for c in "${CHANNELS[@]}"; do
    read -r name lim _ <<<"$c"
    r=$(sum_of "$m" mobasher_unit_restarts_total "$name" "$AGENT_CAUSES")
    k=$(sum_of "$m" mobasher_unit_oom_kills_total "$name")
    total_r=$((total_r + r)) total_k=$((total_k + k))
    printf 'demo: unit %-24s peak %4d MiB of %d MiB, restarted by the agent %d, killed by the kernel %d\n' \
      "$name" $((${PEAK[$name]:-0} >> 20)) "$lim" "$r" "$k"
  done
  echo "demo: result: $total_r restarts by the agent, $total_k OOM kills by the kernel"
}

if [[ $MODE == systemd ]]; then
  start_systemd_units
  write_config "$([[ $ACTIONS == 1 ]] && echo "$BUS")"
  start_agent --cgroup-root "$WORK/cgroot"
  bash "$HARNESS" exec "$SDSTATE" systemctl start "${CHANNELS[@]%% *}"
else
  start_cgroup_units
  write_config ""
  start_agent
fi
echo "demo: agent on http://$LISTEN/ (/metrics, /api/v1/status, /healthz); its log: $LOG"
SECONDS=0
while ((SECONDS_TO_RUN == 0 || SECONDS < SECONDS_TO_RUN)); do
  tick "$SECONDS"
  kill -0 "$AGENT_PID" 2>/dev/null || { echo "demo: the agent exited:" >&2; tail -n 5 "$LOG" >&2; exit 1; }
  # Without actions the point is made once the kernel has killed every unit.
  ((ACTIONS == 0 && ALL_KILLED)) && break
  sleep 2
done
summary
