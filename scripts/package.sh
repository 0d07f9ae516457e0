#!/usr/bin/env bash
# scripts/package.sh [BUILD_DIR]: builds the Debian package in BUILD_DIR (default build-deb):
# prefix /usr, the polkit rule in /usr/share/polkit-1/rules.d, no tests or benchmarks; prints
# the .deb's path as its last line. Needs dpkg-dev (dpkg-shlibdeps): scripts/install-deps.sh --test.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(realpath -m "${1:-build-deb}")
# -O2 (RelWithDebInfo, line tables only; cpack strips them): GCC 12's -O3 reports a false
# -Wrestrict in std::string (GCC bug 105651) that -Werror turns into an error.
# With CCACHE_BASEDIR set (scripts/test.sh) the objects the normal tree compiled are cache hits.
launcher=()
[[ -n ${CCACHE_BASEDIR:-} ]] && command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG" -DCMAKE_INSTALL_PREFIX=/usr \
  -DMOBASHER_PACKAGE=ON -DMOBASHER_TESTS=OFF -DMOBASHER_BENCH=OFF \
  -DMOBASHER_POLKIT_RULES_DIR=share/polkit-1/rules.d >/dev/null
cmake --build "$dir" -j"$(nproc)" --target mobasher-agent mobasher-webhook-tls
(cd "$dir" && cpack -G DEB >cpack.log 2>&1) || { cat "$dir/cpack.log"; exit 1; }
find "$dir" -maxdepth 1 -name 'mobasher-agent_*.deb' | sort | tail -n 1
