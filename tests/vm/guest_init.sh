#!/bin/sh
# shellcheck shell=dash
# PID 1 of the cgroup v2 VM (tests/vm/cgroup2.sh puts it at /init of the initramfs): mounts what
# the agent reads, cgroup2 alone at /sys/fs/cgroup (the kernel runs with cgroup_no_v1=all), a swap
# device on a RAM disk (brd), then runs /bin/guest_checks.sh and powers the VM off. Its console
# lines "ok - ", "FAIL - ", "# " and the last "vm-result passed=N failed=M" are read by the host.
export PATH=/bin:/sbin:/usr/bin
export HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs tmpfs /run
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
hostname -F /etc/hostname
echo  # the console's line may still hold the firmware's escape codes
echo "# vm: kernel $(uname -r), up $(cut -d' ' -f1 /proc/uptime) s, $(grep -c ^processor /proc/cpuinfo) cpu, $(awk '/^MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB"
echo "# vm: /proc/self/mounts cgroup lines: $(grep cgroup /proc/self/mounts | tr '\n' ';')"

# 64 MiB of swap on a RAM disk: brd's pages are the kernel's, not charged to any cgroup.
if insmod /brd.ko rd_nr=1 rd_size=65536 && mkswap /dev/ram0 >/dev/null && swapon /dev/ram0; then
  echo "# vm: swap on /dev/ram0: $(awk '/^SwapTotal/ { print $2 " kB" }' /proc/meminfo)"
else
  echo "# vm: no swap device (brd.ko did not load)"
fi

# mobasher.dump=1 on the kernel command line (MOBASHER_VM_DUMP=1 on the host): print the real
# cgroup v2 files the agent reads, to compare with tests/fixtures.
case " $(cat /proc/cmdline) " in *" mobasher.dump=1 "*) export MOBASHER_VM_DUMP=1 ;; esac
/bin/guest_checks.sh
rc=$?
echo "vm-exit rc=$rc uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
poweroff -f
# poweroff returned: leave with a panic (panic=-1 and -no-reboot end qemu).
exit "$rc"
