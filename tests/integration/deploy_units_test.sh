#!/usr/bin/env bash
# The systemd units and the channel launcher of deploy/ (issue 14, point 1), as CMake configures
# them for the install prefix:
#   - `systemd-analyze verify` of mobasher-agent.service, archiver@.service and recorder@.service
#     in a scratch root holding the binaries at the units' paths: no finding at all (a warning
#     fails too); and it does find a missing binary and an unknown key (the check can fail)
#   - `systemd-analyze security --offline=yes` of the agent's unit: exposure <= 3.0
#   - the plan's limits, restart, start-limit and OOM settings, each set once in the
#     configured files (verify above proves systemd accepts them)
#   - ExecReload runs check-config before the HUP; the agent's unit is ordered after
#     time-sync.target
#   - deploy/scripts/mobasher-channel: the command line for a channel and its two slots, and
#     every bad input refused with exit 2 and a message naming the culprit
#   - deploy/scripts/mobasher-swap in a scratch root: dry run, the three steps, idempotent, a
#     foreign fstab line and bad arguments refused
#   - deploy/scripts/mobasher-add-channel in a scratch root: the env file the launcher reads,
#     idempotent, a different file kept without --force (.old with it), bad arguments refused
#   - shellcheck of deploy/scripts/* clean
# usage: deploy_units_test.sh BUILD_DIR
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
ROOT=$(cd "$HERE/../.." && pwd)
BUILD=${1:?usage: deploy_units_test.sh BUILD_DIR}
UNITS=$BUILD/deploy/systemd
CHANNEL=$ROOT/deploy/scripts/mobasher-channel
require_tools systemd-analyze:systemd shellcheck:shellcheck blkid:util-linux mkswap:util-linux \
  fallocate:util-linux numfmt:coreutils
require_executable "$BUILD/mobasher-agent"
require_executable "$CHANNEL"
WORK=$(mktemp -d /tmp/mobasher-deploy-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# ------------------------------------------------------------------ systemd-analyze verify
exec_path() { sed -n "s/^$2=\\([^ ]*\\).*/\\1/p" "$1" | head -n 1; }
agent_bin=$(exec_path "$UNITS/mobasher-agent.service" ExecStart)
channel_bin=$(exec_path "$UNITS/archiver@.service" ExecStart)
[[ $agent_bin == /* && $channel_bin == /* ]] ||
  die "units not configured: ExecStart '$agent_bin' / '$channel_bin' (run cmake first)"
scratch=$WORK/root
mkdir -p "$scratch/lib/systemd" "$scratch$(dirname "$agent_bin")" "$scratch$(dirname "$channel_bin")"
cp -a /lib/systemd/system "$scratch/lib/systemd/"  # the targets the units refer to
cp "$UNITS"/*.service "$scratch/lib/systemd/system/"
verify() {  # verify UNIT...: prints the findings; status 0 only when there are none
  local out
  out=$(systemd-analyze verify --root="$scratch" --man=no "${@/#/$scratch/lib/systemd/system/}" 2>&1)
  local rc=$?
  printf '%s' "$out"
  [[ $rc -eq 0 && -z $out ]]
}
units=(mobasher-agent.service archiver@.service recorder@.service)
out=$(verify "${units[@]}")
[[ -z $out ]] && fail "verify without the binaries found nothing to say"
[[ $out == *"$agent_bin"*"not executable"* || $out == *"not executable"*"$agent_bin"* ]] &&
  pass "verify finds a missing $agent_bin" || fail "verify did not name the missing binary: $out"
cp "$BUILD/mobasher-agent" "$scratch$agent_bin"  # verify resolves links inside the root
cp "$CHANNEL" "$scratch$channel_bin"
if out=$(verify "${units[@]}"); then
  pass "systemd-analyze verify: ${units[*]}: no findings"
else
  fail "systemd-analyze verify: $out"
fi
cp "$scratch/lib/systemd/system/recorder@.service" "$WORK/recorder.orig"
sed -i 's/^MemoryMax=/MemoryMaxx=/' "$scratch/lib/systemd/system/recorder@.service"
out=$(verify recorder@.service)
[[ $out == *"MemoryMaxx"* ]] && pass "verify reports an unknown key" ||
  fail "verify let an unknown key through: '$out'"
cp "$WORK/recorder.orig" "$scratch/lib/systemd/system/recorder@.service"

# ------------------------------------------------------------------ the agent's hardening
sec=$(systemd-analyze security --offline=yes "$UNITS/mobasher-agent.service" 2>&1)
score=$(sed -n 's/.*Overall exposure level for mobasher-agent.service: \([0-9.]*\).*/\1/p' <<<"$sec")
if [[ -n $score ]] && awk -v s="$score" 'BEGIN { exit !(s <= 3.0) }'; then
  pass "systemd-analyze security: exposure $score <= 3.0"
else
  fail "systemd-analyze security: exposure '${score:-?}' (want <= 3.0): $(tail -n 3 <<<"$sec")"
fi

# ------------------------------------------------------------------ the settings
key() { sed -n "s/^$2=//p" "$UNITS/$1"; }  # every value of KEY, one per line
expect_key() {  # expect_key UNIT KEY VALUE: the unit sets KEY exactly once, to VALUE
  local got; got=$(key "$1" "$2")
  [[ $got == "$3" ]] && pass "$1: $2=$3" || fail "$1: $2 is '${got//$'\n'/ | }' (want $3)"
}
for spec in "archiver@.service 2G 1946M 1G" "recorder@.service 1536M 1459M 768M"; do
  read -r u max high swap <<<"$spec"
  expect_key "$u" MemoryMax "$max"
  expect_key "$u" MemoryHigh "$high"
  expect_key "$u" MemorySwapMax "$swap"
  expect_key "$u" Restart always
  expect_key "$u" OOMPolicy stop
  expect_key "$u" StartLimitIntervalSec 0
  expect_key "$u" ExecStart "$channel_bin ${u%@.service} %i"
done
reload=$(key mobasher-agent.service ExecReload)
want_reload="$agent_bin check-config /etc/mobasher-agent/config.json \$MOBASHER_AGENT_ARGS"$'\n''/bin/kill -HUP $MAINPID'
[[ $reload == "$want_reload" ]] && pass "ExecReload: check-config (with the optional flags), then HUP" ||
  fail "ExecReload is '${reload//$'\n'/ | }'"
expect_key mobasher-agent.service EnvironmentFile -/etc/default/mobasher-agent
[[ $(key mobasher-agent.service ExecStart) == *'run --config /etc/mobasher-agent/config.json $MOBASHER_AGENT_ARGS' ]] &&
  pass "ExecStart takes MOBASHER_AGENT_ARGS (e.g. --web.config.file)" ||
  fail "ExecStart is '$(key mobasher-agent.service ExecStart)'"
[[ $(key mobasher-agent.service After) == *time-sync.target* ]] &&
  pass "the agent starts after time-sync.target" || fail "no After=time-sync.target"

# ------------------------------------------------------------------ mobasher-channel
mkdir -p "$WORK/etc/archiver" "$WORK/etc/recorder"
cat >"$WORK/etc/archiver/ch1.env" <<'EOF'
INPUT='http://127.0.0.1:8080/live/ch1.m3u8'
OUTPUT=/srv/mobasher/archive/{channel}-{slot}.ts
FFMPEG_INPUT_ARGS="-rw_timeout 10000000"
FFMPEG_OUTPUT_ARGS="-c copy -f mpegts"
EOF
printf 'INPUT=/srv/in.ts\nOUTPUT=/srv/out/{channel}.ts\n' >"$WORK/etc/recorder/ch2.env"
printf 'OUTPUT=/srv/out.ts\n' >"$WORK/etc/recorder/noinput.env"
channel() { MOBASHER_CHANNEL_DIR=$WORK/etc "$CHANNEL" "$@" 2>&1; }
expect_line() {  # expect_line WANT ARGS...: --print ARGS prints WANT, exit 0
  local got; got=$(channel --print "${@:2}")
  local rc=$?
  [[ $rc -eq 0 && $got == "$1" ]] && pass "mobasher-channel ${*:2}: $1" ||
    fail "mobasher-channel ${*:2}: exit $rc, '$got' (want '$1')"
}
base='ffmpeg -nostdin -hide_banner -loglevel warning'
expect_line "$base -rw_timeout 10000000 -i http://127.0.0.1:8080/live/ch1.m3u8 -c copy -f mpegts /srv/mobasher/archive/ch1-a.ts " archiver ch1:a
expect_line "$base -rw_timeout 10000000 -i http://127.0.0.1:8080/live/ch1.m3u8 -c copy -f mpegts /srv/mobasher/archive/ch1-b.ts " archiver ch1:b
expect_line "$base -i /srv/in.ts /srv/out/ch2.ts " recorder ch2
expect_refusal() {  # expect_refusal MESSAGE_PART ARGS...: exit 2, the message names the culprit
  local got; got=$(channel --print "${@:2}")
  local rc=$?
  [[ $rc -eq 2 && $got == *"$1"* ]] && pass "mobasher-channel ${*:2} refused: $got" ||
    fail "mobasher-channel ${*:2}: exit $rc, '$got' (want exit 2 naming '$1')"
}
expect_refusal "instance 'ch1/../x'" archiver 'ch1/../x'
expect_refusal "instance 'ch1:c'" archiver ch1:c
expect_refusal "instance 'ch1\\x2fa'" archiver 'ch1\x2fa'
expect_refusal "role 'ffmpeg'" ffmpeg ch1
expect_refusal "$WORK/etc/recorder/ch9.env: no such file" recorder ch9
expect_refusal "$WORK/etc/recorder/noinput.env: INPUT= is empty" recorder noinput
expect_refusal "$WORK/etc/recorder/ch2.env: OUTPUT= has no {slot} or {instance}" recorder ch2:a
expect_refusal "usage" archiver

# ------------------------------------------------------------------ mobasher-swap
SWAP=$ROOT/deploy/scripts/mobasher-swap
sroot=$WORK/swaproot
mkdir -p "$sroot/etc"
echo 'UUID=0 / ext4 defaults 0 1' >"$sroot/etc/fstab"
tree() { find "$sroot" -type f -printf '%p %s %m %T@\n' | sort; }
before=$(tree)
out=$("$SWAP" --root "$sroot" --size 16M --dry-run 2>&1)
[[ $? -eq 0 && $(grep -c '^would: ' <<<"$out") == 3 && $(tree) == "$before" ]] &&
  pass "mobasher-swap --dry-run: 3 steps announced, nothing changed" || fail "mobasher-swap --dry-run: $out"
out=$("$SWAP" --root "$sroot" --size 16M 2>&1)
sw=$sroot/swapfile
[[ $? -eq 0 && $(stat -c '%s %a' "$sw") == "16777216 600" && $(blkid -o value -s TYPE "$sw") == swap ]] &&
  pass "mobasher-swap: a 16M swap file, mode 0600, swap signature" || fail "mobasher-swap: $out; $(stat -c '%s %a' "$sw" 2>&1)"
[[ $(cat "$sroot/etc/fstab") == $'UUID=0 / ext4 defaults 0 1
/swapfile none swap sw 0 0' ]] &&
  pass "mobasher-swap: fstab line added, the rest kept" || fail "mobasher-swap: fstab '$(cat "$sroot/etc/fstab")'"
[[ $(grep -c '^vm.swappiness = 30$\|^vm.overcommit_memory = 0$' "$sroot/etc/sysctl.d/60-mobasher-memory.conf") == 2 ]] &&
  pass "mobasher-swap: sysctl.d file" || fail "mobasher-swap: sysctl.d '$(cat "$sroot/etc/sysctl.d/60-mobasher-memory.conf")'"
before=$(tree)
out=$("$SWAP" --root "$sroot" --size 16M 2>&1)
[[ $? -eq 0 && $(grep -c '^ok: ' <<<"$out") == 3 && $out != *doing* && $(tree) == "$before" ]] &&
  pass "mobasher-swap again: every step ok, nothing touched" || fail "mobasher-swap again: $out"
out=$("$SWAP" --root "$sroot" --size 32M --dry-run 2>&1)
[[ $out == *"would: create /swapfile (32M"* ]] && pass "mobasher-swap: another size is a change" ||
  fail "mobasher-swap --size 32M --dry-run: $out"
echo '/swapfile none swap defaults,pri=5 0 0' >"$sroot/etc/fstab"
out=$("$SWAP" --root "$sroot" --size 16M 2>&1)
[[ $? -eq 1 && $out == *"fstab has another line for /swapfile"* ]] &&
  pass "mobasher-swap: a different fstab line for the file is left to a human: $out" || fail "mobasher-swap with a foreign fstab line: $out"
for bad in "--size 8X" "--file swap" "--root $WORK/none" "--bogus"; do
  # shellcheck disable=SC2086 # word splitting of the arguments is the point
  out=$("$SWAP" $bad 2>&1)
  [[ $? -eq 2 && $out == mobasher-swap:* ]] && pass "mobasher-swap $bad: exit 2, '$out'" ||
    fail "mobasher-swap $bad: '$out'"
done

# ------------------------------------------------------------------ mobasher-add-channel
ADD=$ROOT/deploy/scripts/mobasher-add-channel
aroot=$WORK/addroot
mkdir -p "$aroot"
env1=$aroot/etc/mobasher/archiver/ch7.env
add() { "$ADD" --root "$aroot" "$@" 2>&1; }
out=$(add --dry-run archiver ch7 'http://s/ch7 x.m3u8' '/srv/a/{channel}.ts')
[[ $? -eq 0 && $out == *"would: write $env1"* && ! -e $env1 ]] &&
  pass "mobasher-add-channel --dry-run: announced, nothing written" || fail "mobasher-add-channel --dry-run: $out"
out=$(add --output-args '-c copy -f mpegts' archiver ch7 'http://s/ch7 x.m3u8' '/srv/a/{channel}.ts')
line=$(MOBASHER_CHANNEL_DIR=$aroot/etc/mobasher "$CHANNEL" --print archiver ch7)
[[ $line == "$base -i http://s/ch7\ x.m3u8 -c copy -f mpegts /srv/a/ch7.ts " ]] &&
  pass "mobasher-add-channel: the env file gives: $line" || fail "mobasher-add-channel: $out; the launcher says '$line'"
before=$(cat "$env1")
out=$(add --output-args '-c copy -f mpegts' archiver ch7 'http://s/ch7 x.m3u8' '/srv/a/{channel}.ts')
[[ $? -eq 0 && $out == "ok: $env1"* && $(cat "$env1") == "$before" ]] &&
  pass "mobasher-add-channel again: ok, unchanged" || fail "mobasher-add-channel again: $out"
out=$(add archiver ch7 'http://s/other.m3u8' '/srv/a/{channel}.ts')
[[ $? -eq 2 && $out == *"$env1 exists and says something else"* && $(cat "$env1") == "$before" ]] &&
  pass "mobasher-add-channel: a different env file is kept without --force" || fail "mobasher-add-channel without --force: $out"
out=$(add --force --overlap archiver ch7 'http://s/other.m3u8' '/srv/a/{instance}.ts')
[[ $? -eq 0 && $(cat "$env1.old") == "$before" && $(grep -c other.m3u8 "$env1") == 1 ]] &&
  pass "mobasher-add-channel --force --overlap: replaced, the old one kept as .old" || fail "mobasher-add-channel --force: $out"
for bad in "--overlap archiver ch8 in /srv/a/{channel}.ts|names neither {slot}" "archiver ch/8 in /srv/x|channel 'ch/8'" \
  "recorder ch8 in relative.ts|is not an absolute path" "player ch8 in /srv/x|role 'player'" "archiver ch8|usage"; do
  # shellcheck disable=SC2086 # word splitting of the arguments is the point
  out=$(add ${bad%%|*})
  [[ $? -eq 2 && $out == *"${bad#*|}"* ]] && pass "mobasher-add-channel ${bad%%|*}: refused: $out" ||
    fail "mobasher-add-channel ${bad%%|*}: '$out' (want exit 2 naming '${bad#*|}')"
done

# ------------------------------------------------------------------ shellcheck
if out=$(shellcheck "$ROOT"/deploy/scripts/* 2>&1); then
  pass "shellcheck deploy/scripts/*: clean"
else
  fail "shellcheck: $(head -n 20 <<<"$out")"
fi
finish integration.deploy_units
