#!/usr/bin/env bash
# Checks deploy/prometheus (ctest: deploy.prometheus_config): the example configuration as
# installed (prometheus.yml beside both rule files and file_sd/) passes `promtool check config`,
# the recording rules pass `promtool check rules` and their unit tests. Needs promtool (Debian
# package "prometheus"): a missing tool is a failure, never a skip.
set -euo pipefail
here=$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd)
root=$(cd "$here/../.." && pwd)
command -v promtool >/dev/null ||
  { echo "ERROR: promtool not found: apt-get install -y prometheus" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The layout of docs/scaling.md: /etc/prometheus/{prometheus.yml,mobasher.rules.yml,...}
cp "$here/prometheus.yml" "$here/mobasher.recording.yml" "$root/alerts/mobasher.rules.yml" "$work/"
cp -r "$here/file_sd" "$work/"
promtool check config "$work/prometheus.yml"
promtool check rules "$here/mobasher.recording.yml"
promtool test rules "$here/tests/recording.test.yml"
# A config that is wrong must fail (the check can fail): a rule file that is not there.
sed -i 's/- mobasher.recording.yml/- mobasher.missing.yml/' "$work/prometheus.yml"
if promtool check config "$work/prometheus.yml" >/dev/null 2>&1; then
  echo "FAILED: promtool accepted a config whose rule file is missing" >&2
  exit 1
fi
echo "deploy/prometheus: all checks passed"
