#!/usr/bin/env bash
# The agent on a real cgroup v2 kernel (issue 16): Debian 12's cloud kernel booted under QEMU (TCG,
# no KVM needed) from an initramfs holding the built agent, the leaker and busybox. Inside the VM
# (tests/vm/guest_checks.sh): cgroup2 at /sys/fs/cgroup with the memory controller, unit-shaped
# cgroups at the root and under a container's prefix, real processes in them, a real swap device,
# a real OOM kill; the agent's discovery, RSS, usage, working set, limit, swap, OOM counter,
# pressure, limit_enforced, `status --local` and /healthz checked against the kernel's files.
#
# usage: bash tests/vm/cgroup2.sh BUILD_DIR      (BUILD_DIR holds mobasher-agent and mobasher-leaker)
# Root (apt-get download, dpkg -x into the cache). Needs the Debian packages qemu-system-x86,
# busybox-static and cpio (plus apt, dpkg, binutils, util-linux, coreutils, which every Debian
# host with a compiler has); a missing one is a failure that names the package, never a skip.
# The kernel package is fetched once and kept in $MOBASHER_VM_CACHE (default
# /var/cache/mobasher-agent/vm/KERNEL_VERSION/). Everything else it makes is in one temp dir,
# removed on exit, also on failure; the VM is bounded by `timeout` ($MOBASHER_VM_TIMEOUT, 300 s).
# MOBASHER_VM_KEEP=1 keeps the temp dir (the console log, the initramfs) to look at;
# MOBASHER_VM_DUMP=1 prints the real cgroup v2 files the agent reads (to compare with fixtures).
# Last line: "cgroup2 vm: N checks passed" (exit 0), or the failed checks and a non-zero exit.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD_DIR=${1:-}
CACHE=${MOBASHER_VM_CACHE:-/var/cache/mobasher-agent/vm}
VM_TIMEOUT=${MOBASHER_VM_TIMEOUT:-300}
VM_MEM_MB=512
WORK=""
QEMU_PID=""
SHOW_PID=""
T0=$(date +%s.%N)

log() { printf '[cgroup2-vm %6.1fs] %s\n' "$(elapsed)" "$*"; }
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
die() {
  log "FAIL - $*"
  echo "cgroup2 vm: FAILED: $*"
  exit 1
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $QEMU_PID ]] && kill -0 "$QEMU_PID" 2>/dev/null; then
    kill -TERM "$QEMU_PID" 2>/dev/null  # timeout(1) passes it on to qemu
    for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.5; done
    if kill -0 "$QEMU_PID" 2>/dev/null; then
      pkill -KILL -P "$QEMU_PID"  # qemu, the only child of that timeout
      kill -KILL "$QEMU_PID" 2>/dev/null
    fi
    wait "$QEMU_PID" 2>/dev/null
  fi
  [[ -n $SHOW_PID ]] && wait "$SHOW_PID" 2>/dev/null  # the console follower ends with the VM
  if [[ -n $WORK && -d $WORK ]]; then
    if [[ -n ${MOBASHER_VM_KEEP:-} ]]; then log "kept $WORK (MOBASHER_VM_KEEP)"; else rm -rf "$WORK"; fi
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 0. what the run needs --------------------------------------------------------------------------
[[ -n $BUILD_DIR ]] || die "usage: bash tests/vm/cgroup2.sh BUILD_DIR"
AGENT=$BUILD_DIR/mobasher-agent
LEAKER=$BUILD_DIR/mobasher-leaker
[[ -x $AGENT ]] || die "no executable $AGENT"
[[ -x $LEAKER ]] || die "no executable $LEAKER"
((EUID == 0)) || die "run as root (apt-get download and the kernel cache in $CACHE)"
missing=()
for tool in qemu-system-x86_64:qemu-system-x86 cpio:cpio apt-get:apt apt-cache:apt dpkg:dpkg \
  strip:binutils ldd:libc-bin unshare:util-linux flock:util-linux timeout:coreutils; do
  command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
done
BUSYBOX=/bin/busybox
# busybox-static's binary: the guest has no libraries of its own for it.
if [[ ! -x $BUSYBOX || $(LC_ALL=C ldd "$BUSYBOX" 2>&1) != *"not a dynamic executable"* ]]; then
  missing+=(busybox-static)
fi
((${#missing[@]} == 0)) || die "missing tools; apt-get install $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
UNSHARE=$(command -v unshare)

WORK=$(mktemp -d /tmp/mobasher-vm.XXXXXX) || die "mktemp"

# --- 1. the kernel: Debian 12's cloud kernel, fetched once ----------------------------------------
# The current version is what the meta package depends on; an older cached one is used when apt
# knows none (no package lists).
kernel_pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null |
  awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9].*-cloud-amd64$/ { print $2; exit }')
mkdir -p "$CACHE" || die "cannot make $CACHE"
if [[ -z $kernel_pkg ]]; then
  cached=$(find "$CACHE" -mindepth 2 -maxdepth 2 -name vmlinuz -printf '%h\n' 2>/dev/null | sort -V | tail -n 1)
  [[ -n $cached ]] || die "apt knows no linux-image-cloud-amd64 (run apt-get update) and $CACHE holds no kernel"
  kernel_pkg=linux-image-$(basename "$cached")
  log "apt knows no linux-image-cloud-amd64; using the cached $kernel_pkg"
fi
KVER=${kernel_pkg#linux-image-}
KDIR=$CACHE/$KVER
fetch_kernel() {  # into $KDIR: vmlinuz, config, brd.ko (the RAM disk module for swap), version
  local tmp
  tmp=$(mktemp -d "$CACHE/.fetch.XXXXXX") || return 1
  if ! (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root "$kernel_pkg" >download.log 2>&1); then
    log "apt-get download $kernel_pkg failed: $(tail -n 3 "$tmp/download.log")"
    rm -rf "$tmp"
    return 1
  fi
  dpkg -x "$tmp"/linux-image-*.deb "$tmp/x" &&
    mkdir -p "$tmp/k" &&
    cp "$tmp/x/boot/vmlinuz-$KVER" "$tmp/k/vmlinuz" &&
    cp "$tmp/x/boot/config-$KVER" "$tmp/k/config" &&
    cp "$tmp/x/lib/modules/$KVER/kernel/drivers/block/brd.ko" "$tmp/k/brd.ko" &&
    basename "$tmp"/linux-image-*.deb >"$tmp/k/package" &&
    rm -rf "$KDIR" && mv "$tmp/k" "$KDIR" &&
    find "$CACHE" -mindepth 1 -maxdepth 1 -type d ! -name "$KVER" ! -name '.fetch.*' -exec rm -rf {} +  # older kernels
  local rc=$?
  rm -rf "$tmp"
  return $rc
}
t=$(elapsed)
(
  flock -w 120 9 || exit 1
  [[ -s $KDIR/vmlinuz && -s $KDIR/brd.ko ]] && exit 0
  fetch_kernel
) 9>"$CACHE/.lock" || die "could not fetch $kernel_pkg into $KDIR"
log "kernel $KVER ($(cat "$KDIR/package" 2>/dev/null)) in $KDIR ($(awk -v a="$t" -v b="$(elapsed)" 'BEGIN { printf "%.1f", b - a }') s)"
for opt in CONFIG_MEMCG=y CONFIG_PSI=y CONFIG_SWAP=y CONFIG_SERIAL_8250_CONSOLE=y CONFIG_BLK_DEV_INITRD=y; do
  grep -qx "$opt" "$KDIR/config" || die "kernel $KVER lacks $opt"
done

# --- 2. the initramfs: busybox, the agent and the leaker with their libraries ---------------------
t=$(elapsed)
ROOT=$WORK/root
mkdir -p "$ROOT"/{bin,sbin,proc,sys,dev,tmp,run,etc,root,lib,lib64,usr/bin} || die "mkdir $ROOT"
cp "$BUSYBOX" "$ROOT/bin/busybox" || die "cp busybox"
for applet in $("$BUSYBOX" --list); do
  [[ $applet == busybox || -e $ROOT/bin/$applet ]] || ln -s busybox "$ROOT/bin/$applet"
done
# The agent without its debug info (94 MB -> 3 MB): the same code, a smaller initramfs.
strip -o "$ROOT/bin/mobasher-agent" "$AGENT" || die "strip $AGENT"
cp "$LEAKER" "$ROOT/bin/mobasher-leaker" || die "cp $LEAKER"
cp "$UNSHARE" "$ROOT/bin/unshare.util-linux" || die "cp $UNSHARE"  # busybox's unshare has no -C
copy_libs() {  # BINARY: its shared libraries and the dynamic loader, at the paths ldd names
  local lib
  for lib in $(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
    [[ -e $ROOT$lib ]] && continue
    mkdir -p "$ROOT$(dirname "$lib")" && cp -L "$lib" "$ROOT$lib" || return 1
  done
}
for b in "$AGENT" "$LEAKER" "$UNSHARE"; do copy_libs "$b" || die "cannot copy the libraries of $b"; done
cp "$KDIR/brd.ko" "$ROOT/brd.ko" || die "cp brd.ko"
install -m 0755 "$HERE/guest_init.sh" "$ROOT/init" || die "cp guest_init.sh"
install -m 0755 "$HERE/guest_checks.sh" "$ROOT/bin/guest_checks.sh" || die "cp guest_checks.sh"
echo "root:x:0:0:root:/root:/bin/sh" >"$ROOT/etc/passwd"
echo "root:x:0:" >"$ROOT/etc/group"
echo "mobasher-vm" >"$ROOT/etc/hostname"
(cd "$ROOT" && find . -print0 | cpio --null --create --format=newc --quiet) >"$WORK/initramfs.cpio" ||
  die "cpio failed"
log "initramfs: $(du -m "$WORK/initramfs.cpio" | cut -f1) MiB, $(find "$ROOT" | wc -l) entries ($(awk -v a="$t" -v b="$(elapsed)" 'BEGIN { printf "%.1f", b - a }') s)"

# --- 3. boot it under TCG, bounded ----------------------------------------------------------------
CONSOLE=$WORK/console.log
t=$(elapsed)
log "booting $KVER under qemu-system-x86_64 -accel tcg (${VM_MEM_MB} MiB, timeout ${VM_TIMEOUT}s)"
timeout --kill-after=10 "$VM_TIMEOUT" qemu-system-x86_64 -accel tcg -cpu max -smp 1 -m "$VM_MEM_MB" \
  -nographic -no-reboot -nic none -monitor none -serial stdio \
  -kernel "$KDIR/vmlinuz" -initrd "$WORK/initramfs.cpio" \
  -append "console=ttyS0 cgroup_no_v1=all panic=-1 oops=panic rdinit=/init loglevel=4 psi=1${MOBASHER_VM_DUMP:+ mobasher.dump=1}" \
  </dev/null >"$CONSOLE" 2>&1 &
QEMU_PID=$!
# Live: the guest's check lines and its progress notes (everything goes to $CONSOLE). In the
# background, so that a signal ends the wait below at once (and the trap ends the VM); tail
# follows the VM's end by itself.
tail --pid="$QEMU_PID" -n +1 -f "$CONSOLE" 2>/dev/null | sed -u 's/\r$//' |
  grep --line-buffered -E '^(ok - |FAIL - |# |vm-)' | sed -u 's/^/  vm| /' &
SHOW_PID=$!
wait "$QEMU_PID"
qrc=$?
QEMU_PID=""
wait "$SHOW_PID"
SHOW_PID=""
boot_s=$(awk -v a="$t" -v b="$(elapsed)" 'BEGIN { printf "%.1f", b - a }')
tr -d '\r' <"$CONSOLE" >"$WORK/console.txt"

passed=$(grep -c '^ok - ' "$WORK/console.txt")
failed=$(grep -c '^FAIL - ' "$WORK/console.txt")
result=$(grep -m1 '^vm-result ' "$WORK/console.txt")
log "qemu exited rc=$qrc after $boot_s s; guest: ${result:-no result line}"
if [[ -z $result ]] || ((qrc != 0 || failed != 0 || passed == 0)); then
  echo "--- last 40 console lines ---"
  tail -n 40 "$WORK/console.txt"
  echo "---"
  grep '^FAIL - ' "$WORK/console.txt"
  names=$(grep '^FAIL - ' "$WORK/console.txt" | sed 's/^FAIL - //; s/:.*//' | paste -sd';' -)
  if [[ -z $result ]]; then
    names="${names:+$names; }the guest did not finish"
    ((qrc == 124 || qrc == 137)) && names+=" within ${VM_TIMEOUT}s"
    names+=" (qemu rc=$qrc)"
  fi
  echo "cgroup2 vm: FAILED: $names ($failed failed, $passed passed in $(elapsed) s)"
  exit 1
fi
grep -q "^vm-result passed=$passed failed=0\$" "$WORK/console.txt" ||
  die "the guest's count ($result) differs from the console's ($passed ok lines)"
log "total $(elapsed) s (kernel+initramfs before boot, then boot and checks $boot_s s)"
echo "cgroup2 vm: $passed checks passed"
