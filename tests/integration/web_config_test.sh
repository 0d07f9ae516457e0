#!/usr/bin/env bash
# Integration test of --web.config.file (issue 15, point 1): TLS and basic auth from an
# exporter-toolkit web config, against a real prometheus and curl.
# - a real `prometheus` scrapes the agent over TLS with basic_auth (up == 1, the agent's series
#   arrive); a job with a wrong password and a job over plain HTTP get up == 0, with the reason;
# - curl: the right user gets 200 on every endpoint, a wrong password, an unknown user and no
#   credentials get 401 with WWW-Authenticate, plain HTTP gets no HTTP answer, the configured
#   header is sent, the certificate verifies for 127.0.0.1;
# - hashes made by htpasswd (apache2-utils: APR's bcrypt, not the libcrypt the agent checks with);
# - SIGHUP: a changed password takes effect, a broken file is refused and the old one kept;
#   then client certificates (RequireAndVerifyClientCert): without one the handshake fails, with
#   one curl and prometheus get in;
# - a bad web config: exit 2 naming file, line and key; check-config checks the file too;
# - --log.format json: every line of the agent's log is a JSON object.
#
# usage: web_config_test.sh PATH/TO/mobasher-agent
# No cgroups needed; cleans up every process (by PID) and file it made, also on failure.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
source "$HERE/lib.sh"

AGENT=${1:-}
TEST_NAME=web_config_test
require_tools prometheus:prometheus promtool:prometheus curl:curl jq:jq ss:iproute2 \
  openssl:openssl htpasswd:apache2-utils
require_executable "$AGENT"
AGENT=$(readlink -f "$AGENT")

WORK=$(mktemp -d /tmp/mobasher-it-web.XXXXXX)
AGENT_PID=""
PROM_PID=""
AGENT_LOG=$WORK/agent.log
trap 'stop_started_and_remove "$WORK"' EXIT

# --- 0. certificates and hashes -------------------------------------------------------------------
cd "$WORK" || die "no work dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=mobasher-it CA" -keyout ca.key -out ca.pem 2>/dev/null || die "openssl: CA"
make_cert() {  # make_cert NAME SUBJECT EXT
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$2" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null &&
    printf '%s\n' "$3" >"$1.ext" &&
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
      -extfile "$1.ext" -out "$1.pem" 2>/dev/null
}
make_cert server "/CN=127.0.0.1" "subjectAltName=IP:127.0.0.1,DNS:localhost" || die "openssl: server"
make_cert client "/CN=prometheus" "extendedKeyUsage=clientAuth" || die "openssl: client"
chmod 600 ./*.key
HASH1=$(htpasswd -nbBC 10 "" s3cret | tr -d ':\n')
HASH2=$(htpasswd -nbBC 10 "" n3w-pass | tr -d ':\n')
[[ $HASH1 == \$2y\$10\$* ]] || die "htpasswd made no bcrypt hash: $HASH1"

write_web() {  # write_web HASH [extra tls lines]
  {
    printf 'tls_server_config:\n  cert_file: server.pem\n  key_file: %s/server.key\n' "$WORK"
    [[ -n ${2:-} ]] && printf '%s\n' "$2"
    printf 'basic_auth_users:\n  prometheus: %s\n' "$1"
    printf 'http_server_config:\n  headers:\n    X-Content-Type-Options: nosniff\n'
  } >"$WORK/web.yml.new" && mv "$WORK/web.yml.new" "$WORK/web.yml"
}
write_web "$HASH1"

# --- 1. a bad web config: exit 2, the culprit named ------------------------------------------------
printf 'tls_server_config:\n  cert_file: server.pem\n  key_file: nope.key\n' >bad.yml
out=$("$AGENT" run --web.config.file "$WORK/bad.yml" --listen 127.0.0.1:0 2>&1)
rc=$?
if [[ $rc -eq 2 && $out == *"web config $WORK/bad.yml:3: tls_server_config.key_file: $WORK/nope.key: No such file or directory"* ]]; then
  pass "a missing key_file: exit 2, named with its line: ${out:0:120}"
else
  fail "a missing key_file: exit $rc, output: $out"
fi
printf 'tls_server_config:\n  cert_file: ca.key\n  key_file: server.key\n' >badpem.yml
out=$("$AGENT" run --web.config.file "$WORK/badpem.yml" --listen 127.0.0.1:0 2>&1)
rc=$?
if [[ $rc -eq 2 && $out == *"tls_server_config: cert_file $WORK/ca.key"* ]]; then
  pass "a key given as cert_file: exit 2, OpenSSL's reason named: $(tail -n 1 <<<"$out" | cut -c1-160)"
else
  fail "a key given as cert_file: exit $rc, output: $out"
fi
out=$("$AGENT" check-config --web.config.file "$WORK/web.yml" 2>&1)
if [[ $? -eq 0 && $out == *"web config ok: $WORK/web.yml: TLS (min TLS12) + basic auth (1 user)"* ]]; then
  pass "check-config checks the web config: $(tail -n 1 <<<"$out")"
else
  fail "check-config --web.config.file: $out"
fi
out=$("$AGENT" check-config --web.config.file "$WORK/bad.yml" 2>&1)
[[ $? -eq 2 && $out == *"bad.yml:3"* ]] && pass "check-config refuses the bad web config (exit 2)" ||
  fail "check-config with the bad web config: $out"

# --- 2. the agent over TLS with basic auth ----------------------------------------------------------
CURL=(curl -s --max-time 3 --cacert "$WORK/ca.pem")
https_code() {  # https_code PATH [curl args]
  local path=$1; shift
  "${CURL[@]}" -o /dev/null -w '%{http_code}' "$@" "https://127.0.0.1:$APORT$path" || true
}
healthy_tls() {
  [[ $(https_code /healthz -u prometheus:s3cret) == 200 ]] || not_alive "$AGENT_PID"
}
for attempt in 1 2 3; do
  APORT=$(free_port) || die "no free port"
  "$AGENT" run --web.config.file "$WORK/web.yml" --web.listen-address "127.0.0.1:$APORT" \
    --log.format json --state-dir "$WORK/state" >>"$AGENT_LOG" 2>&1 &
  AGENT_PID=$!
  STARTED_PIDS+=("$AGENT_PID")
  wait_until 20 healthy_tls && alive "$AGENT_PID" && break
  log "agent attempt $attempt: $(tail -n 3 "$AGENT_LOG")"
  stop_pid "$AGENT_PID" 2
  forget_pid "$AGENT_PID"
  AGENT_PID=""
done
[[ -n $AGENT_PID ]] || die "the agent did not serve https with basic auth"
stop_on_agent_death 'level|error|ERROR|runtime error'
log "agent pid=$AGENT_PID on https://127.0.0.1:$APORT"

for path in /metrics /healthz /api/v1/status "/api/v1/history?since=5m" /; do
  code=$(https_code "$path" -u prometheus:s3cret)
  [[ $code == 200 ]] && pass "GET $path with the right password: 200" || fail "GET $path: $code"
done
for creds in "prometheus:wrong" "grafana:s3cret" "prometheus:" ; do
  code=$(https_code /metrics -u "$creds")
  [[ $code == 401 ]] && pass "GET /metrics as '$creds': 401" || fail "GET /metrics as '$creds': $code"
done
code=$(https_code /healthz)
[[ $code == 401 ]] && pass "/healthz without credentials: 401" || fail "/healthz without credentials: $code"
hdrs=$("${CURL[@]}" -D - -o /dev/null "https://127.0.0.1:$APORT/metrics" | tr -d '\r')
[[ $hdrs == *'WWW-Authenticate: Basic realm="mobasher-agent"'* ]] &&
  pass "401 asks for basic auth (WWW-Authenticate)" || fail "401 headers: $hdrs"
hdrs=$("${CURL[@]}" -D - -o /dev/null -u prometheus:s3cret "https://127.0.0.1:$APORT/metrics" | tr -d '\r')
[[ $hdrs == *"X-Content-Type-Options: nosniff"* ]] &&
  pass "http_server_config.headers sent (X-Content-Type-Options: nosniff)" || fail "headers: $hdrs"
code=$(http_code "http://127.0.0.1:$APORT/metrics" -u prometheus:s3cret)
[[ $code == 000 ]] && pass "plain HTTP to the TLS port: no HTTP answer (curl code $code)" ||
  fail "plain HTTP to the TLS port answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 3 -u prometheus:s3cret \
  "https://127.0.0.1:$APORT/metrics" || true)
[[ $code == 000 ]] && pass "a client that does not trust the CA gets no answer (verification fails)" ||
  fail "an unverified https client got $code"
code=$(https_code /metrics -u prometheus:s3cret --tls-max 1.1)
[[ $code == 000 ]] && pass "TLS 1.1 refused (min_version TLS12 by default)" || fail "TLS 1.1 got $code"

# --- 3. a real prometheus: tls_config + basic_auth; wrong password and plain HTTP fail ------------
cat >"$WORK/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: secure
    scheme: https
    tls_config: {ca_file: $WORK/ca.pem, cert_file: $WORK/client.pem, key_file: $WORK/client.key}
    basic_auth: {username: prometheus, password_file: $WORK/password}
    static_configs: [{targets: ['127.0.0.1:$APORT']}]
  - job_name: wrong_password
    scheme: https
    tls_config: {ca_file: $WORK/ca.pem}
    basic_auth: {username: prometheus, password: guess}
    static_configs: [{targets: ['127.0.0.1:$APORT']}]
  - job_name: plain_http
    static_configs: [{targets: ['127.0.0.1:$APORT']}]
EOF
printf 's3cret' >"$WORK/password"
promtool check config "$WORK/prometheus.yml" >/dev/null 2>&1 || die "promtool rejects the test's prometheus.yml"
for attempt in 1 2 3; do
  PPORT=$(free_port) || die "no free port"
  prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
    --web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
  PROM_PID=$!
  STARTED_PIDS+=("$PROM_PID")
  wait_until 30 http_ok_or_dead "http://127.0.0.1:$PPORT/-/ready" "$PROM_PID" && alive "$PROM_PID" && break
  stop_pid "$PROM_PID" 5
  forget_pid "$PROM_PID"
  PROM_PID=""
done
[[ -n $PROM_PID ]] || die "prometheus did not become ready: $(tail -n 3 "$WORK/prometheus.log")"
PURL="http://127.0.0.1:$PPORT"
promval() {
  curl -fsS --max-time 5 --data-urlencode "query=$1" "$PURL/api/v1/query" 2>/dev/null |
    jq -r 'if (.data.result | length) == 0 then "none" else .data.result[0].value[1] end' 2>/dev/null ||
    echo error
}
target_error() {  # target_error JOB -> the target's lastError
  curl -fsS --max-time 5 "$PURL/api/v1/targets" |
    jq -r --arg j "$1" '.data.activeTargets[] | select(.labels.job == $j) | .lastError'
}
all_scraped() {
  [[ $(promval 'up{job="secure"}') == 1 && $(promval 'up{job="wrong_password"}') == 0 &&
    $(promval 'up{job="plain_http"}') == 0 ]]
}
check_prometheus() {  # check_prometheus WHAT
  if wait_until 20 all_scraped; then
    pass "$1: prometheus over TLS with basic_auth: up=1, $(promval 'count({job="secure",__name__=~"mobasher_.*"})') mobasher_ series"
    pass "$1: wrong password: up=0 ($(target_error wrong_password))"
    pass "$1: plain HTTP: up=0 ($(target_error plain_http | cut -c1-100))"
  else
    fail "$1: up secure=$(promval 'up{job="secure"}') wrong_password=$(promval 'up{job="wrong_password"}') plain_http=$(promval 'up{job="plain_http"}'); secure: $(target_error secure)"
  fi
}
check_prometheus "TLS + basic auth"
[[ $(target_error wrong_password) == *401* ]] && pass "the wrong password's scrape error names 401" ||
  fail "wrong password error: $(target_error wrong_password)"

# --- 4. SIGHUP: a new password, a broken file, then client certificates ---------------------------
write_web "$HASH2"
kill -HUP "$AGENT_PID"
new_pass_works() { [[ $(https_code /healthz -u prometheus:n3w-pass) == 200 ]]; }
if wait_until 10 new_pass_works && [[ $(https_code /healthz -u prometheus:s3cret) == 401 ]]; then
  pass "SIGHUP: the new password is in, the old one out"
else
  fail "SIGHUP with a new password: new=$(https_code /healthz -u prometheus:n3w-pass) old=$(https_code /healthz -u prometheus:s3cret)"
fi
printf 'tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  bogus: 1\n' >"$WORK/web.yml"
kill -HUP "$AGENT_PID"
refused() { grep -q 'reload refused, keeping the previous web config' "$AGENT_LOG"; }
if wait_until 10 refused && [[ $(https_code /healthz -u prometheus:n3w-pass) == 200 ]]; then
  pass "SIGHUP with a broken web config: refused (logged), still serving with the previous one"
else
  fail "SIGHUP with a broken web config: $(tail -n 2 "$AGENT_LOG")"
fi
write_web "$HASH1" "  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.pem"
kill -HUP "$AGENT_PID"
with_client_cert() {
  [[ $(https_code /healthz -u prometheus:s3cret --cert "$WORK/client.pem" --key "$WORK/client.key") == 200 ]]
}
if wait_until 10 with_client_cert; then
  pass "RequireAndVerifyClientCert: a client certificate from the CA gets in"
else
  fail "client certificate refused: $(tail -n 2 "$AGENT_LOG")"
fi
code=$(https_code /healthz -u prometheus:s3cret)
[[ $code == 000 ]] && pass "RequireAndVerifyClientCert: no client certificate, no handshake" ||
  fail "without a client certificate: $code"
sleep 2  # one more scrape each after the reload
check_prometheus "client certificates"

# --- 5. json logs; stop --------------------------------------------------------------------------
bad_lines=$(grep -v '^[[:space:]]*$' "$AGENT_LOG" | jq -c . 2>&1 >/dev/null | wc -l)
lines=$(wc -l <"$AGENT_LOG")
started=$(jq -r 'select(.msg == "started") | .serving' "$AGENT_LOG" 2>/dev/null | head -n 1)
if [[ $bad_lines -eq 0 && $started == "TLS (min TLS12) + basic auth (1 user)" ]]; then
  pass "--log.format json: all $lines log lines are JSON objects; started.serving=\"$started\""
else
  fail "--log.format json: $bad_lines unparsable lines of $lines; started.serving=$started"
fi
stop_agent_checked "$AGENT_PID" "$AGENT_LOG"
AGENT_PID=""
finish "$TEST_NAME"
