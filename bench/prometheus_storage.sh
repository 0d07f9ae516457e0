#!/usr/bin/env bash
# bench/prometheus_storage.sh BUILD [SECONDS]: what one Mobasher host costs a Prometheus
# (docs/scaling.md). Run inside bench/run.sh's scenario (6 units x 3 processes):
#   BUILD=build WITH_SCENARIO='bash bench/prometheus_storage.sh build 240' bench/run.sh
# Starts the agent (scan_interval 1s) and a real prometheus scraping it every second on loopback
# ports it picks, for SECONDS (240); then prints: series per host, samples appended, the scrape
# body (raw and gzip), and the bytes per sample of a TSDB snapshot of the head (admin API),
# i.e. what the same series take on disk once persisted. Kills only what it started.
set -euo pipefail
BUILD=${1:?usage: prometheus_storage.sh BUILD [SECONDS]}
SECONDS_RUN=${2:-240}
work=$(mktemp -d /tmp/mobasher-promstore-XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
aport=$(port) pport=$(port)
cat >"$work/agent.json" <<JSON
{ "scan_interval": "1s", "discovery_interval": "30s",
  "groups": [ { "name": "archiver", "units": "archiver@b[1-6].service", "memory_limit": "2G",
                "warn": "1.5G", "critical": "95%" } ],
  "actions": { "enabled": false } }
JSON
cat >"$work/prometheus.yml" <<YML
global: { scrape_interval: 1s, evaluation_interval: 15s }
scrape_configs:
  - job_name: mobasher-agent
    static_configs: [ { targets: ["127.0.0.1:$aport"] } ]
YML
mkdir -p "$work/state"
"$BUILD/mobasher-agent" run --config "$work/agent.json" --listen "127.0.0.1:$aport" \
  --state-dir "$work/state" >"$work/agent.log" 2>&1 &
pids+=($!)
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$pport" --web.enable-admin-api >"$work/prom.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$pport/-/ready" >/dev/null && break; sleep 0.2; done
sleep "$SECONDS_RUN"
q() { curl -sf "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" | jq -r '.data.result[0].value[1]'; }
series=$(q 'count({job="mobasher-agent"})')
# every scraped sample plus the 5 a scrape adds (up, scrape_duration_seconds, scrape_samples_*,
# scrape_series_added)
samples=$(q 'sum_over_time(scrape_samples_scraped{job="mobasher-agent"}[1h]) + 5 * count_over_time(up{job="mobasher-agent"}[1h])')
scraped=$(q 'scrape_samples_scraped{job="mobasher-agent"}')
raw=$(curl -s -o /dev/null -w '%{size_download}' "http://127.0.0.1:$aport/metrics")
gz=$(curl -s -o /dev/null -H 'Accept-Encoding: gzip' -w '%{size_download}' "http://127.0.0.1:$aport/metrics")
snap=$(curl -sf -XPOST "http://127.0.0.1:$pport/api/v1/admin/tsdb/snapshot" | jq -r .data.name)
chunks=$(du -sb "$work/tsdb/snapshots/$snap" | cut -f1)
cat <<OUT
seconds $SECONDS_RUN, scrape every 1s
series of the job (incl. up and scrape_*): $series; samples per scrape: $scraped
samples stored for the job: $samples
/metrics body: $raw bytes raw, $gz bytes with Accept-Encoding: gzip
TSDB snapshot of the head: $chunks bytes -> $(python3 -c "print(f'{$chunks / $samples:.2f}')") bytes per sample
OUT
