#!/usr/bin/env bash
# bench/ffmpeg_memory.sh BUILD [SECONDS]: ffmpeg's memory with default and with memory-conscious
# parameters, measured by the agent (docs/ffmpeg.md). As root, on a host with the v1 memory and
# name=systemd hierarchies (the test machines' hybrid layout).
#
# Three live encodes of a lavfi source (480x270, 25 fps, -re, libx264 + aac to MPEG-TS), each in
# its own unit-shaped cgroup archiver@VARIANT.service under a private prefix, side by side for
# SECONDS (600):
#   defaults     ffmpeg's and x264's defaults (preset medium: rc-lookahead 40, threads auto)
#   bighost      the same with -threads 24: what "auto" gives on a 16-core host (1.5 x cores)
#   recommended  -preset veryfast -threads 2 -rc-lookahead 10 -max_muxing_queue_size 256
#                -probesize 1M -analyzeduration 1M
# The agent (scan_interval 5s) watches them; its mobasher_unit_rss_bytes is sampled every 30 s.
# Prints a Markdown table (RSS at 1, 5 and 10 minutes and the maximum) and leaves the samples
# in OUT (default /tmp/mobasher-ffbench-PID). Kills only what it started; removes its cgroups.
set -euo pipefail
BUILD=${1:?usage: ffmpeg_memory.sh BUILD [SECONDS]}
RUN=${2:-600}
CG=/sys/fs/cgroup
PREFIX=mobasher-ffbench-$$.slice
SLICE=$PREFIX/system.slice/system-archiver.slice
OUT=${OUT:-/tmp/mobasher-ffbench-$$}
WORK=$(mktemp -d /tmp/mobasher-ffwork-XXXXXX)
VARIANTS=(defaults bighost recommended)
declare -A ARGS=(
  [defaults]="-c:v libx264"
  [bighost]="-c:v libx264 -threads 24"
  [recommended]="-c:v libx264 -preset veryfast -threads 2 -rc-lookahead 10 -max_muxing_queue_size 256"
)
declare -A IN_ARGS=([defaults]="" [bighost]="" [recommended]="-probesize 1M -analyzeduration 1M")
PIDS=()
mkdir -p "$OUT"

cleanup() {
  set +e
  local p u ctl i
  for p in "${PIDS[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null
  done
  for ctl in memory systemd; do
    for ((i = 0; i < 50; i++)); do
      for u in "${VARIANTS[@]}"; do rmdir "$CG/$ctl/$SLICE/archiver@$u.service" 2>/dev/null; done
      rmdir "$CG/$ctl/$SLICE" "$CG/$ctl/$PREFIX/system.slice" "$CG/$ctl/$PREFIX" 2>/dev/null
      [[ -d $CG/$ctl/$PREFIX ]] || break
      sleep 0.1
    done
  done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for v in "${VARIANTS[@]}"; do
  for ctl in memory systemd; do mkdir -p "$CG/$ctl/$SLICE/archiver@$v.service"; done
  # shellcheck disable=SC2016,SC2086 # $$ is the child's; the argument strings are word-split on purpose
  bash -c 'echo $$ >"$1/cgroup.procs"; echo $$ >"$2/cgroup.procs"; shift 2; exec "$@"' _ \
    "$CG/memory/$SLICE/archiver@$v.service" "$CG/systemd/$SLICE/archiver@$v.service" \
    ffmpeg -nostdin -hide_banner -loglevel error -re ${IN_ARGS[$v]} \
    -f lavfi -i testsrc2=size=480x270:rate=25 ${IN_ARGS[$v]} -f lavfi -i sine=frequency=1000:sample_rate=48000 \
    ${ARGS[$v]} -c:a aac -f mpegts "$WORK/$v.ts" </dev/null >"$OUT/ffmpeg-$v.log" 2>&1 &
  PIDS+=($!)
done
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$WORK/agent.json" <<EOF
{ "scan_interval": "5s", "groups": [ { "name": "archiver", "units": "archiver@*.service",
  "memory_limit": "2G" } ], "actions": { "enabled": false } }
EOF
mkdir -p "$WORK/state"
"$BUILD/mobasher-agent" run --config "$WORK/agent.json" --listen "127.0.0.1:$port" \
  --state-dir "$WORK/state" >"$OUT/agent.log" 2>&1 &
PIDS+=($!)
echo "t_s unit rss_bytes usage_bytes" >"$OUT/samples.txt"
start=$SECONDS
while ((SECONDS - start < RUN)); do
  sleep 30
  t=$((SECONDS - start))
  curl -sf "http://127.0.0.1:$port/metrics" |
    awk -v t="$t" -v pre="$PREFIX" '
      /^mobasher_unit_(rss|memory_usage)_bytes\{/ {
        match($0, /unit="archiver@[a-z]+\.service"/); u = substr($0, RSTART + 15, RLENGTH - 24)
        if ($0 ~ /^mobasher_unit_rss_bytes/) rss[u] = $2; else use[u] = $2 }
      END { for (u in rss) print t, u, rss[u], use[u] }' >>"$OUT/samples.txt"
  for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || { echo "ffmpeg_memory.sh: pid $p died" >&2; exit 1; }; done
done
python3 - "$OUT/samples.txt" "$RUN" <<'EOF'
import sys
rows = [l.split() for l in open(sys.argv[1]).read().splitlines()[1:]]
run = int(sys.argv[2])
by = {}
for t, u, rss, use in rows:
    by.setdefault(u, []).append((int(t), float(rss) / 2**20, float(use) / 2**20))
def at(s, when):
    return min(s, key=lambda x: abs(x[0] - when))[1]
print("| variant | RSS at 1 min | 5 min | 10 min | max RSS | max cgroup usage |")
print("|---|---:|---:|---:|---:|---:|")
for u in ("defaults", "bighost", "recommended"):
    s = by.get(u, [])
    if not s:
        print(f"| {u} | no samples | | | | |"); continue
    print(f"| {u} | {at(s, 60):.1f} MiB | {at(s, 300):.1f} MiB | {at(s, min(600, run)):.1f} MiB "
          f"| {max(x[1] for x in s):.1f} MiB | {max(x[2] for x in s):.1f} MiB |")
EOF
