#!/usr/bin/env bash
# The deploy/ units boot for real (issue 14, point 1): a private systemd 252 (sd_harness.sh) runs
# the configured mobasher-agent.service, archiver@ch1:a.service and recorder@ch2.service exactly
# as installed: inside the harness's mount namespace, overlays add the binaries at the units'
# paths (/usr/local/... or /usr/...), /etc/mobasher-agent/config.json, the channels' env files and
# the two system users, and take /var/lib's writes; the host's files are never touched. Checks:
#   - recorder@ch2 added by deploy/scripts/mobasher-add-channel (env file, enable --now), and a
#     second run finds nothing to do
#   - all three active; ffmpeg runs as `mobasher`, the agent as `mobasher-agent`, with no
#     capability, no_new_privs and a seccomp filter; the units' cgroup limits are the plan's
#   - the archiver's file grows (real ffmpeg on a lavfi source, the slot in its name)
#   - the agent, from inside its sandbox, finds both units with their real limits enforced, is
#     connected to the bus and answers /healthz
#   - `systemctl reload` with a broken config fails and leaves the agent running (same PID);
#     with the config repaired it succeeds
# usage: deploy_boot_test.sh BUILD_DIR
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=$(cd "${1:?usage: deploy_boot_test.sh BUILD_DIR}" && pwd)
HARNESS=$HERE/sd_harness.sh
require_root
require_tools unshare:util-linux nsenter:util-linux setpriv:util-linux dbus-daemon:dbus \
  busctl:systemd curl:curl ffmpeg:ffmpeg
require_executable "$BUILD/mobasher-agent"

WORK=$(mktemp -d /tmp/mobasher-it-boot.XXXXXX)
UNITDIR=$WORK/units
SHARE=$WORK/share # /run/sdprobe/share inside
STATE=$WORK/sd
IN=/run/sdprobe/share
mkdir -p "$UNITDIR" "$SHARE/out" "$STATE"
chmod 0777 "$SHARE/out" # the archiver's user writes there
T0=$(date +%s%N)

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [[ -f $STATE/cgname ]]; then
    if ((rc != 0 || FAILS != 0)); then
      log "last 20 lines of the private systemd's log:"
      tail -n 20 "$STATE/kmsg.log" | cut -c1-300 | sed 's/^/  kmsg| /'
    fi
    bash "$HARNESS" stop "$STATE" || fail "sd_harness.sh stop $STATE failed"
  fi
  if grep -qF " $WORK" /proc/self/mountinfo; then # never rm -rf through a mount point
    fail "a mount below $WORK is left; not removing it"
  else
    rm -rf "$WORK"
  fi
  finish integration.deploy_boot || rc=1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
sdx() { bash "$HARNESS" exec "$STATE" "$@"; }
main_pid() { sdx systemctl show -p MainPID --value "$1"; }

# ------------------------------------------------------------------ the installed files
cp "$BUILD"/deploy/systemd/*.service "$UNITDIR/"
agent_bin=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$UNITDIR/mobasher-agent.service")
channel_bin=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$UNITDIR/archiver@.service")
prefix=${agent_bin%/bin/mobasher-agent}
[[ $prefix == /usr || $prefix == /usr/local ]] || die "unexpected install prefix '$prefix' ($agent_bin)"
[[ $channel_bin == "$prefix/lib/mobasher-agent/mobasher-channel" ]] || die "channel launcher at '$channel_bin'"
mkdir -p "$SHARE/ov/prefix/up/bin" "$SHARE/ov/prefix/up/lib/mobasher-agent" \
  "$SHARE/ov/etc/up/mobasher-agent" "$SHARE/ov/etc/up/mobasher/archiver" \
  "$SHARE/ov/etc/up/mobasher/recorder"
cp "$BUILD/mobasher-agent" "$SHARE/ov/prefix/up/bin/"
cp "$ROOT/deploy/scripts/mobasher-channel" "$SHARE/ov/prefix/up/lib/mobasher-agent/"
# The shipped config, on loopback (the namespace has its own network anyway).
sed 's/"listen": "0.0.0.0:9842"/"listen": "127.0.0.1:9842"/' "$ROOT/deploy/config.json" \
  >"$SHARE/ov/etc/up/mobasher-agent/config.json"
cp "$SHARE/ov/etc/up/mobasher-agent/config.json" "$WORK/config.good"
cat >"$SHARE/ov/etc/up/mobasher/archiver/ch1.env" <<EOF
INPUT='testsrc=size=160x120:rate=10'
OUTPUT=$IN/out/{channel}-{slot}.ts
FFMPEG_INPUT_ARGS="-re -f lavfi"
FFMPEG_OUTPUT_ARGS="-c:v mpeg2video -flush_packets 1 -f mpegts"
EOF
cp "$ROOT/deploy/scripts/mobasher-add-channel" "$SHARE/"  # recorder@ch2 is added with it
cat >"$SHARE/setup.sh" <<EOF
#!/bin/bash
# Runs inside the harness's mount namespace only (the harness refuses to run outside one).
set -euo pipefail
S=$IN/ov
cp /etc/passwd /etc/group "\$S/etc/up/"
echo 'mobasher-agent:x:64990:64990:mobasher-agent:/nonexistent:/usr/sbin/nologin' >>"\$S/etc/up/passwd"
echo 'mobasher:x:64991:64991:mobasher:/nonexistent:/usr/sbin/nologin' >>"\$S/etc/up/passwd"
printf 'mobasher-agent:x:64990:\nmobasher:x:64991:\n' >>"\$S/etc/up/group"
for d in prefix:$prefix etc:/etc varlib:/var/lib; do
  mkdir -p "\$S/\${d%%:*}/up" "\$S/\${d%%:*}/work"
  mount -t overlay "mobasher-\${d%%:*}" \\
    -o "lowerdir=\${d#*:},upperdir=\$S/\${d%%:*}/up,workdir=\$S/\${d%%:*}/work" "\${d#*:}"
done
EOF

# ------------------------------------------------------------------ boot and start
bash "$HARNESS" start "$UNITDIR" "$STATE" "$SHARE" >/dev/null || die "sd_harness.sh start failed"
CGROOT=$(cat "$STATE/cgroot")
[[ /proc/self/ns/mnt -ef /proc/$(cat "$STATE/pid")/ns/mnt ]] && die "the harness shares our mount namespace"
sdx bash "$IN/setup.sh" || die "overlays inside the namespace failed"
units=(mobasher-agent.service archiver@ch1:a.service recorder@ch2.service)
sdx systemctl start "${units[@]:0:2}" || fail "systemctl start ${units[*]:0:2} failed"
add=(env MOBASHER_CHANNEL_LAUNCHER="$channel_bin" "$IN/mobasher-add-channel" --input-args "-re -f lavfi"
  recorder ch2 sine=frequency=440:sample_rate=8000 "$IN/out/{channel}.wav")
out=$(sdx "${add[@]}" 2>&1)
[[ $? -eq 0 && $out == *"doing: systemctl enable --now recorder@ch2.service"* ]] &&
  pass "mobasher-add-channel wrote ch2.env and started recorder@ch2" || fail "mobasher-add-channel: $out"
active() { [[ $(sdx systemctl show -p ActiveState --value "$1") == active ]]; }
for u in "${units[@]}"; do
  if wait_until 10 active "$u"; then pass "$u active"; else fail "$u: $(sdx systemctl show -p ActiveState -p Result --value "$u" | tr '\n' ' ')"; fi
done
user_of() { sdx ps -o user= -p "$(main_pid "$1")" | tr -d ' '; }
[[ $(user_of archiver@ch1:a.service) == mobasher && $(user_of recorder@ch2.service) == mobasher ]] &&
  pass "ffmpeg runs as mobasher" || fail "ffmpeg users: $(user_of archiver@ch1:a.service) $(user_of recorder@ch2.service)"
[[ $(user_of mobasher-agent.service) == mobasher-agent ]] && pass "the agent runs as mobasher-agent" ||
  fail "the agent runs as '$(user_of mobasher-agent.service)'"

# The agent's sandbox, seen from the host: its cgroup.procs give the host PID.
host_agent=$(head -n 1 "/sys/fs/cgroup/memory$CGROOT/system.slice/mobasher-agent.service/cgroup.procs")
status=$(cat "/proc/$host_agent/status" 2>/dev/null)
caps=$(awk '/^CapEff:/ {print $2}' <<<"$status")
nnp=$(awk '/^NoNewPrivs:/ {print $2}' <<<"$status")
seccomp=$(awk '/^Seccomp:/ {print $2}' <<<"$status")
[[ $caps == 0000000000000000 && $nnp == 1 && $seccomp == 2 ]] &&
  pass "agent (host pid $host_agent): CapEff 0, NoNewPrivs 1, Seccomp filter" ||
  fail "agent (host pid ${host_agent:-?}): CapEff '$caps' NoNewPrivs '$nnp' Seccomp '$seccomp'"
limit() { cat "/sys/fs/cgroup/memory$CGROOT/system.slice/$1/memory.limit_in_bytes"; }
[[ $(limit system-archiver.slice/archiver@ch1:a.service) == 2147483648 &&
  $(limit system-recorder.slice/recorder@ch2.service) == 1610612736 &&
  $(limit mobasher-agent.service) == 67108864 ]] &&
  pass "cgroup limits: archiver 2G, recorder 1.5G, agent 64M" ||
  fail "cgroup limits: $(limit system-archiver.slice/archiver@ch1:a.service) $(limit system-recorder.slice/recorder@ch2.service) $(limit mobasher-agent.service)"

# Again: the env file is left alone and the recorder keeps running (the same process). (The
# harness's systemd does not search /etc/systemd/system, so is-enabled says "disabled" and the
# script enables once more, which changes nothing.)
rec_pid=$(main_pid recorder@ch2.service)
out=$(sdx "${add[@]}" 2>&1)
[[ $? -eq 0 && $out == *"ok: /etc/mobasher/recorder/ch2.env"* && $(main_pid recorder@ch2.service) == "$rec_pid" ]] &&
  pass "mobasher-add-channel again: env file ok, recorder@ch2 untouched (pid $rec_pid)" ||
  fail "mobasher-add-channel again: $out; pid $(main_pid recorder@ch2.service), was $rec_pid"

# ------------------------------------------------------------------ the archiver records
size() { stat -c %s "$SHARE/out/$1" 2>/dev/null || echo 0; }
grown() { (($(size ch1-a.ts) > 16384 && $(size ch2.wav) > 16384)); }
wait_until 30 grown && pass "recording: ch1-a.ts $(size ch1-a.ts) bytes, ch2.wav $(size ch2.wav) bytes" ||
  fail "recording did not grow: ch1-a.ts $(size ch1-a.ts), ch2.wav $(size ch2.wav) bytes"

# ------------------------------------------------------------------ the agent sees them
metrics() { sdx curl -s -m 3 http://127.0.0.1:9842/metrics; }
metric() { awk -v k="$1" '$1 == k {print $2}' <<<"$BODY"; }
both_seen() { BODY=$(metrics); [[ $(metric mobasher_units_discovered) == 2 ]]; }
wait_until 20 both_seen || fail "the agent did not discover both units: $(grep '^mobasher_units_discovered' <<<"$BODY")"
for spec in 'archiver@ch1:a.service archiver ch1:a 2147483648' 'recorder@ch2.service recorder ch2 1610612736'; do
  read -r u g c lim <<<"$spec"
  labels="{unit=\"$u\",group=\"$g\",channel=\"$c\"}"
  got="$(metric "mobasher_unit_memory_limit_bytes$labels") $(metric "mobasher_unit_memory_limit_enforced$labels") $(metric "mobasher_unit_up$labels")"
  [[ $got == "$lim 1 1" ]] && pass "agent: $u limit $lim enforced, up" || fail "agent: $u limit/enforced/up '$got' (want '$lim 1 1')"
done
[[ $(metric mobasher_systemd_bus_connected) == 1 ]] && pass "agent: connected to the system bus" ||
  fail "agent: mobasher_systemd_bus_connected '$(metric mobasher_systemd_bus_connected)'"
health=$(sdx curl -s -m 3 http://127.0.0.1:9842/healthz)
[[ $health == ok* ]] && pass "agent: /healthz '$health'" || fail "agent: /healthz '$health'"

# ------------------------------------------------------------------ reload
pid=$(main_pid mobasher-agent.service)
echo '{ "scan_interval": "5 parsecs" }' >"$SHARE/ov/etc/up/mobasher-agent/config.json"
if sdx systemctl reload mobasher-agent.service 2>/dev/null; then
  fail "systemctl reload succeeded with a broken config"
else
  pass "systemctl reload fails on a broken config"
fi
active mobasher-agent.service && [[ $(main_pid mobasher-agent.service) == "$pid" ]] &&
  pass "the agent kept running (pid $pid)" || fail "after the failed reload: $(main_pid mobasher-agent.service), was $pid"
cp "$WORK/config.good" "$SHARE/ov/etc/up/mobasher-agent/config.json"
sdx systemctl reload mobasher-agent.service && [[ $(main_pid mobasher-agent.service) == "$pid" ]] &&
  pass "systemctl reload succeeds with the config repaired" || fail "reload with the good config failed"
sdx systemctl stop "${units[@]}" || fail "systemctl stop failed"
states=$(for u in "${units[@]}"; do sdx systemctl show -p ActiveState --value "$u"; done | tr '\n' ' ')
[[ $states == "inactive inactive inactive " ]] && pass "stopped cleanly: $states(ffmpeg's 255 on SIGINT is success)" ||
  fail "after stop: $states"
log "duration $((($(date +%s%N) - T0) / 1000000)) ms"
