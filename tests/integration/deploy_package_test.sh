#!/usr/bin/env bash
# The Debian package (scripts/package.sh; issue 14, point 5). Given the .deb:
#   - its control fields, its conffile (/etc/mobasher-agent/config.json) and maintainer scripts
#   - every file where the units and docs say it is: /usr/bin, /usr/lib/mobasher-agent, the
#     units (whose ExecStart names /usr/bin and /usr/lib paths that are in the package), the
#     sysusers file, the polkit rule, the Prometheus files, the docs
#   - unpacked into a scratch root: that binary runs `check-config` on that config and `once`
#     against this host's /proc and cgroups, and finds its https module next to it
#   - lintian: no error (its findings are printed for docs/OPERATIONS.md)
# usage: deploy_package_test.sh DEB
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
DEB=${1:?usage: deploy_package_test.sh DEB}
[[ -f $DEB ]] || die "no package at '$DEB' (scripts/package.sh builds it)"
require_tools dpkg-deb:dpkg lintian:lintian
WORK=$(mktemp -d /tmp/mobasher-deb-XXXXXX)
trap 'rm -rf "$WORK"' EXIT

field() { dpkg-deb -f "$DEB" "$1"; }
[[ $(field Package) == mobasher-agent && $(field Architecture) == amd64 ]] &&
  pass "package $(field Package) $(field Version) $(field Architecture)" || fail "control: $(dpkg-deb -f "$DEB")"
deps=$(field Depends)
for d in systemd ffmpeg libcivetweb1 libprometheus-cpp-core libsystemd0; do
  [[ $deps == *"$d"* ]] && pass "Depends has $d" || fail "Depends lacks $d: $deps"
done
dpkg-deb -e "$DEB" "$WORK/control"
[[ $(cat "$WORK/control/conffiles") == /etc/mobasher-agent/config.json ]] &&
  pass "conffile: /etc/mobasher-agent/config.json" || fail "conffiles: '$(cat "$WORK/control/conffiles" 2>&1)'"
for s in postinst prerm postrm; do
  [[ -x $WORK/control/$s ]] && sh -n "$WORK/control/$s" && pass "maintainer script $s" || fail "maintainer script $s"
done
grep -q '^  systemd-sysusers mobasher-agent.conf' "$WORK/control/postinst" &&
  grep -q 'daemon-reload' "$WORK/control/postinst" && pass "postinst creates the users and reloads systemd" ||
  fail "postinst: $(cat "$WORK/control/postinst")"

R=$WORK/root
dpkg-deb -x "$DEB" "$R"
for f in usr/bin/mobasher-agent usr/lib/mobasher-agent/mobasher-webhook-tls.so \
  usr/lib/mobasher-agent/mobasher-channel usr/sbin/mobasher-swap usr/sbin/mobasher-add-channel \
  usr/lib/systemd/system/mobasher-agent.service usr/lib/systemd/system/archiver@.service \
  usr/lib/systemd/system/recorder@.service usr/lib/sysusers.d/mobasher-agent.conf \
  usr/share/polkit-1/rules.d/50-mobasher-agent.rules etc/mobasher-agent/config.json \
  usr/share/mobasher-agent/prometheus/prometheus.yml usr/share/mobasher-agent/prometheus/mobasher.rules.yml \
  usr/share/mobasher-agent/dashboards/mobasher.json \
  usr/share/mobasher-agent/grafana/provisioning/dashboards/mobasher.yml \
  usr/share/mobasher-agent/grafana/provisioning/datasources/mobasher-prometheus.yml \
  usr/share/doc/mobasher-agent/OPERATIONS.md usr/share/doc/mobasher-agent/copyright \
  usr/share/doc/mobasher-agent/changelog.gz; do
  [[ -e $R/$f ]] && pass "/$f" || fail "/$f is not in the package"
done
prov_path=$(sed -n 's/^ *path: *//p' "$R/usr/share/mobasher-agent/grafana/provisioning/dashboards/mobasher.yml")
[[ -f $R$prov_path/mobasher.json ]] && pass "Grafana provisioning loads $prov_path/mobasher.json: in the package" ||
  fail "Grafana provisioning path '$prov_path' has no mobasher.json in the package"
# Every absolute path a unit runs is in the package.
for u in mobasher-agent archiver@ recorder@; do
  for p in $(sed -n 's/^Exec[A-Za-z]*=\(\/[^ ]*\).*/\1/p' "$R/usr/lib/systemd/system/$u.service" | sort -u); do
    [[ $p == /bin/kill || -x $R$p ]] && pass "$u.service runs $p: in the package" ||
      fail "$u.service runs $p, which the package does not have"
  done
done
[[ $(file -b "$R/usr/bin/mobasher-agent") == *stripped* && $(file -b "$R/usr/bin/mobasher-agent") != *"not stripped"* ]] &&
  pass "the binary is stripped ($(stat -c %s "$R/usr/bin/mobasher-agent") bytes)" ||
  fail "the binary: $(file -b "$R/usr/bin/mobasher-agent")"

out=$("$R/usr/bin/mobasher-agent" check-config "$R/etc/mobasher-agent/config.json" 2>&1)
[[ $? -eq 0 && $out == *"2 group(s)"* ]] && pass "check-config of the packaged config: $out" ||
  fail "check-config: $out"
mkdir -p "$WORK/state"
out=$("$R/usr/bin/mobasher-agent" once --config "$R/etc/mobasher-agent/config.json" \
  --state-dir "$WORK/state" 2>&1)
rc=$?
[[ $rc -eq 0 && $out == *mobasher_units_discovered* ]] &&
  pass "once from the scratch root: exit 0, $(grep -c '^mobasher_' <<<"$out") series" ||
  fail "once: exit $rc: $(head -n 5 <<<"$out")"
# The https module is found next to the binary (../lib/mobasher-agent), not in the build tree.
cat >"$WORK/https.json" <<'EOF'
{ "groups": [ { "name": "archiver", "units": "archiver@*.service", "memory_limit": "2G" } ],
  "alerts": { "webhooks": [ { "url": "https://127.0.0.1:1/hook" } ] } }
EOF
out=$("$R/usr/bin/mobasher-agent" check-config "$WORK/https.json" 2>&1)
[[ $? -eq 0 ]] && pass "check-config with an https receiver (the module loads): $out" ||
  fail "https receiver: $out"

out=$(lintian --tag-display-limit 0 "$DEB" 2>&1)
errors=$(grep -c '^E: ' <<<"$out")
warnings=$(grep -c '^W: ' <<<"$out")
printf '%s\n' "$out" | sed 's/^/  lintian| /'
((errors == 0)) && pass "lintian: 0 errors, $warnings warnings" || fail "lintian: $errors errors"
finish integration.deploy_package
