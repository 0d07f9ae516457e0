#!/usr/bin/env bash
# The source folders' layers (docs/ARCHITECTURE.md "Layers"): every `#include "…"` of a file in one
# of the folders below may name a file of its own folder or of a folder of a LOWER layer only.
# So the folder graph has no cycle, no two folders include each other, and nothing includes
# upward. Headers generated into the build tree (default_config.hpp, status_page_asset.hpp) are
# not in the repo and are skipped. A source file in a folder not listed here is an error too: a
# new folder gets its layer on purpose.
#
# usage: scripts/check-layers.sh   (from anywhere; exit 1 with every offending line listed)
set -euo pipefail
cd "$(dirname "$0")/.."

# folder -> layer; a folder and its subfolder are two folders.
declare -A LAYER=(
  [agent/base]=0         # types and pure helpers: snapshot, quantities, regex, url, JSON lines
  [agent/config]=1       # the config file and its built-in default
  [collectors]=2         # /proc, cgroups, the node, the agent's own process -> Snapshot
  [agent/state]=3        # what needs more than one snapshot: tracker, alerts, policy
  [exporters/history]=4  # the history store: records, writer, reader, queries, seeds
  [exporters/alerting]=4 # alert delivery: payloads, webhook client, outbox, notifier
  [exporters/http]=5     # metrics, the HTTP server, status JSON, table and page
  [agent/actions]=5      # D-Bus to systemd: client, executor, restarter
  [agent/app]=6          # the daemon, the CLI, main()
)

bad=0
checked=0
while IFS= read -r file; do
  dir=$(dirname "$file")
  if [[ -z ${LAYER[$dir]+x} ]]; then
    echo "check-layers: $file: folder $dir has no layer (add it to scripts/check-layers.sh)"
    bad=1
    continue
  fi
  n=0
  while IFS= read -r line; do
    n=$((n + 1))
    [[ $line =~ ^[[:space:]]*#[[:space:]]*include[[:space:]]*\"([^\"]+)\" ]] || continue
    inc=${BASH_REMATCH[1]}
    [[ -f $inc ]] || continue  # generated, or relative to the build tree
    to=$(dirname "$inc")
    checked=$((checked + 1))
    [[ $to == "$dir" ]] && continue
    if [[ -z ${LAYER[$to]+x} ]]; then
      echo "check-layers: $file:$n: includes $inc from $to, a folder with no layer"
      bad=1
    elif ((LAYER[$to] >= LAYER[$dir])); then
      echo "check-layers: $file:$n: $dir (layer ${LAYER[$dir]}) includes $inc from $to (layer ${LAYER[$to]}): layers point down only"
      bad=1
    fi
  done <"$file"
done < <(git ls-files 'agent/*' 'collectors/*' 'exporters/*' | grep -E '\.(cpp|hpp|h|in)$')

if ((bad)); then
  echo "check-layers: FAILED"
  exit 1
fi
echo "check-layers: ok ($checked includes, ${#LAYER[@]} folders, every one pointing down)"
