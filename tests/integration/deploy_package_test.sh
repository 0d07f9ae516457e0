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
require_tools dpkg-deb:dpkg lintian:lintian openssl:openssl curl:curl ss:iproute2
WORK=$(mktemp -d /tmp/mobasher-deb-XXXXXX)
trap 'stop_started_and_remove "$WORK"' EXIT

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

# The packaged binary serves TLS: civetweb's dlopen("libssl.so") finds the package's compat
# library through the binary's DT_RPATH (CMakeLists.txt), not a libssl-dev on the host.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null || die "openssl: a test certificate"
printf 'tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n' >"$WORK/web.yml"
TPORT=$(free_port) || die "no free port"
LD_DEBUG=libs "$R/usr/bin/mobasher-agent" run --web.config.file "$WORK/web.yml" \
  --listen "127.0.0.1:$TPORT" --state-dir "$WORK/state" >"$WORK/tls.log" 2>&1 &
TLS_PID=$!
STARTED_PIDS+=("$TLS_PID")
tls_ok() {
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$WORK/cert.pem" \
    "https://127.0.0.1:$TPORT/healthz") == 200 ]] || not_alive "$TLS_PID"
}
if wait_until 15 tls_ok && alive "$TLS_PID" &&
  grep -q "calling init: $R/usr/bin/../lib/mobasher-agent/libssl.so$" "$WORK/tls.log"; then
  pass "the packaged agent serves https (civetweb loaded the package's lib/mobasher-agent/libssl.so)"
else
  fail "the packaged agent over TLS: $(grep -v '^ *[0-9]*:' "$WORK/tls.log" | tail -n 3)"
fi
stop_pid "$TLS_PID" 5
forget_pid "$TLS_PID"

out=$(lintian --tag-display-limit 0 "$DEB" 2>&1)
errors=$(grep -c '^E: ' <<<"$out")
warnings=$(grep -c '^W: ' <<<"$out")
printf '%s\n' "$out" | sed 's/^/  lintian| /'
((errors == 0)) && pass "lintian: 0 errors, $warnings warnings" || fail "lintian: $errors errors"
finish integration.deploy_package
