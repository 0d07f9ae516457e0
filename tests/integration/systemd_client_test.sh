#!/usr/bin/env bash
# Runs mobasher-systemd-tests (systemd_client_test.cpp: agent/actions/systemd_client over sd-bus)
# against a real systemd 252 booted by sd_harness.sh with units generated here:
#   probe@.service  a copy of mobasher-leaker (4 MiB) run from SHAREDIR, Restart=always,
#                   StartLimitIntervalSec=0, MemoryMax=64M, output appended to SHAREDIR
#   fail@.service   Type=oneshot, ExecStart=/bin/false
#   slow@.service   ExecStartPre=/bin/sleep 4, then sleep infinity
# Exports MOBASHER_TEST_BUS, MOBASHER_TEST_HARNESS_STATE and MOBASHER_TEST_HARNESS for the tests.
# The harness is stopped in a trap EXIT whatever happens.
#
# usage: systemd_client_test.sh PATH/TO/mobasher-systemd-tests PATH/TO/mobasher-leaker [GTEST ARGS]
# Root only; a missing tool is a failure, never a skip.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"
HARNESS=$HERE/sd_harness.sh
TEST_NAME=systemd_client_test

TESTS=${1:-}
LEAKER=${2:-}
if (($# >= 2)); then shift 2; else set --; fi
require_root
require_tools busctl:systemd unshare:util-linux nsenter:util-linux setpriv:util-linux \
  dbus-daemon:dbus timeout:coreutils
require_executable "$TESTS"
require_executable "$LEAKER"
TESTS=$(readlink -f "$TESTS")

WORK=$(mktemp -d /tmp/mobasher-it-sdc.XXXXXX)
UNITS=$WORK/units
SHARE=$WORK/share
STATE=$WORK/state
mkdir -p "$UNITS" "$SHARE" "$STATE"

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  log "cleanup"
  bash "$HARNESS" stop "$STATE" || fail "sd_harness.sh stop $STATE failed"
  if ((rc != 0 || FAILS != 0)) && [[ -f $STATE/kmsg.log ]]; then
    log "last 30 lines of the private systemd's log:"
    tail -n 30 "$STATE/kmsg.log" | cut -c1-300 | sed 's/^/  kmsg| /'
  fi
  if grep -qF " $WORK" /proc/self/mountinfo; then  # never rm -rf through a mount point
    fail "something is mounted under $WORK on the host; leaving it"
  else
    rm -rf "$WORK"
  fi
  finish "$TEST_NAME" || rc=1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The build dir may be under host /tmp, which the namespace hides: the units run a copy.
cp "$LEAKER" "$SHARE/mobasher-leaker"
cat >"$UNITS/probe@.service" <<'EOF'
[Unit]
Description=systemd_client_test probe %i
StartLimitIntervalSec=0
[Service]
ExecStart=/run/sdprobe/share/mobasher-leaker --initial-mb 4
Restart=always
RestartSec=100ms
MemoryAccounting=yes
MemoryMax=64M
StandardOutput=append:/run/sdprobe/share/probe-%i.log
StandardError=inherit
EOF
cat >"$UNITS/fail@.service" <<'EOF'
[Unit]
Description=systemd_client_test failing %i
[Service]
Type=oneshot
ExecStart=/bin/false
EOF
cat >"$UNITS/slow@.service" <<'EOF'
[Unit]
Description=systemd_client_test slow %i
[Service]
ExecStartPre=/bin/sleep 4
ExecStart=/bin/sleep infinity
EOF

log "starting the private systemd"
bash "$HARNESS" start "$UNITS" "$STATE" "$SHARE" >/dev/null || die "sd_harness.sh start failed"
export MOBASHER_TEST_BUS MOBASHER_TEST_HARNESS_STATE=$STATE MOBASHER_TEST_HARNESS=$HARNESS
MOBASHER_TEST_BUS=$(cat "$STATE/bus")
log "bus $MOBASHER_TEST_BUS, cgroot $(cat "$STATE/cgroot")"

t0=$EPOCHREALTIME
timeout --kill-after=5 150 "$TESTS" "$@"
rc=$?
secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
((rc == 0)) && pass "mobasher-systemd-tests passed in ${secs}s" ||
  fail "mobasher-systemd-tests exit status $rc after ${secs}s"
