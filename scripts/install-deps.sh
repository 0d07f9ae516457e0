#!/usr/bin/env bash
# Installs the Debian 12 packages mobasher-agent needs. Every package the project's scripts use is
# listed here: a missing one is a bug even if your machine happens to have it.
#   scripts/install-deps.sh          build + run the agent
#   scripts/install-deps.sh --demo   also what scripts/demo.sh runs (ffmpeg, a private systemd)
#   scripts/install-deps.sh --test   also the test suite's real peers and the benchmarks' tools
#   scripts/install-deps.sh --fuzz   --test and clang with its libFuzzer runtime (scripts/fuzz.sh)
set -euo pipefail

BUILD=(g++ cmake make pkg-config ca-certificates
  prometheus-cpp-dev libcivetweb-dev libboost-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libssl-dev zlib1g-dev libsystemd-dev
  libyaml-cpp-dev libcrypt-dev)
TEST=(ninja-build ccache libgtest-dev libgmock-dev libbenchmark-dev clang-format universal-ctags
  prometheus prometheus-alertmanager openssl ffmpeg curl jq iproute2 procps util-linux coreutils
  prometheus-process-exporter wrk python3 chromium time apache2-utils
  systemd dbus-daemon dbus-bin polkitd shellcheck dpkg-dev lintian file nodejs
  qemu-system-x86 busybox-static cpio binutils)
DEMO=(ffmpeg curl util-linux systemd dbus-daemon dbus-bin)
FUZZ=(clang libclang-rt-dev)

want=("${BUILD[@]}")
case "${1:-}" in
  --demo) want+=("${DEMO[@]}") ;;
  --test) want+=("${DEMO[@]}" "${TEST[@]}") ;;
  --fuzz) want+=("${DEMO[@]}" "${TEST[@]}" "${FUZZ[@]}") ;;
  "") ;;
  *) echo "usage: $0 [--demo|--test|--fuzz]" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm: Debian's own package beside Debian's nodejs; a nodejs from NodeSource already ships npm (and
# conflicts with Debian's), so the package is wanted only while the command is missing.
[[ ${1:-} == --test || ${1:-} == --fuzz ]] && ! command -v npm >/dev/null && missing+=(npm)
# tests/vm/cgroup2.sh fetches Debian's cloud kernel (once, into its cache) with apt-get download:
# apt's lists must know the package even when every package above is installed.
lists_stale=0
if [[ ${1:-} == --test || ${1:-} == --fuzz ]] && ! apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1; then
  lists_stale=1
fi
if ((${#missing[@]} == 0 && lists_stale == 0)); then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi
if [[ $EUID -ne 0 ]]; then
  echo "install-deps: missing packages: ${missing[*]:-none}$( ((lists_stale)) && echo "; apt's lists know no linux-image-cloud-amd64"); run as root (sudo $0 $*)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#want[@]} packages present; apt's lists updated (they did not know linux-image-cloud-amd64)"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
# policy-rc.d keeps package scripts from starting services (prometheus, ...) on the host.
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get install -y -q --no-install-recommends "${missing[@]}"
