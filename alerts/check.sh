#!/usr/bin/env bash
# Checks the Prometheus rules and the Alertmanager example (ctest: alerts.rules_and_alertmanager).
#   bash alerts/check.sh        (from any directory)
# Needs promtool (Debian package "prometheus") and amtool ("prometheus-alertmanager"). A missing
# tool is a failure, never a skip. Exit 0 only when every check passed.
set -euo pipefail

cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")/.."

missing=0
need() {  # need TOOL DEBIAN_PACKAGE
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "ERROR: $1 not found: install the Debian package '$2' (apt-get install -y --no-install-recommends $2)" >&2
    missing=1
  fi
}
need promtool prometheus
need amtool prometheus-alertmanager
if ((missing)); then
  echo "0 passed, 1 failed" >&2
  exit 1
fi

passed=0
failed=0
check() {  # check DESCRIPTION COMMAND...
  local what=$1
  shift
  echo "== $what"
  if "$@"; then
    echo "ok: $what"
    passed=$((passed + 1))
  else
    echo "FAILED: $what" >&2
    failed=$((failed + 1))
  fi
}

# Where an alert of each severity goes (amtool exits non-zero when the receivers differ).
route() {  # route EXPECTED_RECEIVERS LABEL=VALUE...
  local expected=$1
  shift
  amtool config routes test --config.file=alerts/alertmanager.example.yml \
    --verify.receivers="$expected" "$@" 2>/dev/null
}

shopt -s nullglob
tests=(alerts/tests/*.yml)
shopt -u nullglob
if ((${#tests[@]} == 0)); then
  echo "ERROR: no rule tests under alerts/tests/" >&2
  failed=$((failed + 1))
fi

# Duplicate rules are an error here, not just a warning.
check "promtool check rules" promtool check rules --lint=all --lint-fatal alerts/mobasher.rules.yml
((${#tests[@]} == 0)) || check "promtool test rules (${#tests[@]} files)" promtool test rules "${tests[@]}"
check "amtool check-config" amtool check-config alerts/alertmanager.example.yml
check "route: critical pages and goes to the chat" \
  route pager,chat alertname=MobasherUnitOOMKilled severity=critical unit=archiver@ch1.service instance=host-a:9842
check "route: warning goes to the chat only" \
  route chat alertname=MobasherUnitMemoryHigh severity=warning unit=archiver@ch1.service instance=host-a:9842

echo "$passed passed, $failed failed"
((failed == 0))
