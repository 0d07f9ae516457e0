#!/usr/bin/env bash
# Demo: a few simulated channels -- real processes leaking memory in real cgroups shaped like the
# systemd units (archiver@demoN.service, recorder@demo1.service), each with a real ffmpeg child --
# and the agent watching them. Within a minute the units grow past their warning thresholds; a
# channel that reaches its cgroup limit is OOM-killed and its leaker comes back. Everything is
# removed on exit (Ctrl-C). Needs root (cgroups). Usage: sudo scripts/demo.sh [--listen H:P] [--seconds N]
set -euo pipefail
cd "$(dirname "$0")/.."
LISTEN=127.0.0.1:9842
SECONDS_TO_RUN=0  # 0 = until Ctrl-C
while (($#)); do
  case $1 in
    --listen) LISTEN=$2; shift 2 ;;
    --seconds) SECONDS_TO_RUN=$2; shift 2 ;;
    *) echo "usage: $0 [--listen HOST:PORT] [--seconds N]" >&2; exit 2 ;;
  esac
done
[[ $EUID -eq 0 ]] || { echo "demo: must run as root (it creates cgroups): sudo $0" >&2; exit 1; }
command -v ffmpeg >/dev/null || { echo "demo: ffmpeg missing: scripts/install-deps.sh --test" >&2; exit 1; }
scripts/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOBASHER_TESTS=OFF -DMOBASHER_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target mobasher-agent mobasher-leaker >/dev/null

CG=/sys/fs/cgroup
PREFIX=mobasher-demo-$$
WORK=$(mktemp -d /tmp/mobasher-demo.XXXXXX)
LOG=${MOBASHER_DEMO_LOG:-$WORK/agent.log}
PIDS=()
DIRS=()

if [[ -e $CG/cgroup.controllers ]]; then
  LAYOUT=v2; HIERARCHIES=("$CG")
elif [[ -e $CG/memory/cgroup.procs ]]; then
  LAYOUT=v1; HIERARCHIES=("$CG/memory"); [[ -e $CG/systemd/cgroup.procs ]] && HIERARCHIES+=("$CG/systemd")
else
  echo "demo: no memory cgroup hierarchy under $CG" >&2; exit 1
fi

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM -- "-$pid" 2>/dev/null; kill -TERM "$pid" 2>/dev/null; done
  for _ in $(seq 50); do
    alive=0; for pid in "${PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || break; sleep 0.1
  done
  for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null; kill -KILL "$pid" 2>/dev/null; done
  # a killed process leaves its cgroup a moment later: retry rmdir (deepest first) for up to 5 s
  for _ in $(seq 50); do
    left=0
    for h in "${HIERARCHIES[@]}"; do
      [[ -d $h/$PREFIX ]] && { find "$h/$PREFIX" -depth -type d -exec rmdir {} + 2>/dev/null; left=1; }
    done
    ((left)) || break
    sleep 0.1
  done
  for h in "${HIERARCHIES[@]}"; do [[ -d $h/$PREFIX ]] && echo "demo: could not remove $h/$PREFIX" >&2; done
  rm -rf "$WORK"
  echo "demo: cleaned up"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# make_unit SLICE UNIT LIMIT: the cgroup in every hierarchy; prints the dirs
make_unit() {
  local rel=$PREFIX/system.slice/$1/$2 h
  for h in "${HIERARCHIES[@]}"; do
    if [[ $LAYOUT == v2 ]]; then
      local p=$h part
      for part in $PREFIX system.slice "$1"; do
        p=$p/$part; mkdir -p "$p"
        echo +memory >"$(dirname "$p")/cgroup.subtree_control" 2>/dev/null || true
      done
      echo +memory >"$p/cgroup.subtree_control" 2>/dev/null || true
      mkdir -p "$h/$rel"; echo "$3" >"$h/$rel/memory.max"
    else
      mkdir -p "$h/$rel"
      [[ $h == "$CG/memory" ]] && echo "$3" >"$h/$rel/memory.limit_in_bytes"
    fi
  done
  echo "$rel"
}

# start_channel REL INITIAL_MB GROW_MB_S: main process (bash) + ffmpeg + a leaker that comes back
# after an OOM kill, all inside the unit's cgroup.
start_channel() {
  local rel=$1 h procs=()
  for h in "${HIERARCHIES[@]}"; do procs+=("$h/$rel/cgroup.procs"); done
  setsid bash -c '
    for f in '"${procs[*]}"'; do echo $$ >"$f"; done
    exec -a channel-main bash -c "
      ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=160x120:rate=5 -f null - &
      while true; do '"$PWD"'/build/mobasher-leaker --initial-mb '"$2"' --grow-mb-per-s '"$3"'; sleep 1; done"
  ' >/dev/null 2>&1 &
  PIDS+=($!)
}

echo "demo: cgroup layout $LAYOUT; creating units under $PREFIX"
start_channel "$(make_unit system-archiver.slice archiver@demo1.service 512M)" 120 6
start_channel "$(make_unit system-archiver.slice archiver@demo2.service 512M)" 60 3
start_channel "$(make_unit system-archiver.slice archiver@demo3.service 512M)" 200 9
start_channel "$(make_unit system-recorder.slice recorder@demo1.service 384M)" 80 4

cat >"$WORK/config.json" <<JSON
{
  // The Mobasher plan scaled down so the demo crosses its thresholds within a minute.
  "scan_interval": "1s",
  "discovery_interval": "5s",
  "state_dir": "$WORK/state",
  "groups": [
    { "name": "archiver", "units": "archiver@*.service", "memory_limit": "512M", "warn": "75%", "critical": "95%" },
    { "name": "recorder", "units": "recorder@*.service", "memory_limit": "384M", "warn": "80%", "critical": "95%" }
  ]
}
JSON
build/mobasher-agent run --config "$WORK/config.json" --listen "$LISTEN" 2>"$LOG" &
PIDS+=($!)
sleep 1.5
echo "demo: agent on http://$LISTEN/  (metrics: /metrics, JSON: /api/v1/status); log: $LOG"
end=$((SECONDS + SECONDS_TO_RUN))
while ((SECONDS_TO_RUN == 0 || SECONDS < end)); do
  out=$(build/mobasher-agent status --listen "$LISTEN" 2>&1 || true)
  printf '\033[H\033[2J'
  echo "mobasher-agent demo ($LAYOUT) - $(date +%T) - Ctrl-C stops and removes everything"
  echo "$out"
  echo
  curl -s "http://$LISTEN/metrics" | grep -E '^mobasher_unit_(memory_growth_bytes_per_second|seconds_to_limit|oom_kills_total)' || true
  sleep 2
done
