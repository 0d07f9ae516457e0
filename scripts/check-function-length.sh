#!/usr/bin/env bash
# No function of the agent's sources (agent/, collectors/, exporters/) is over 60 lines unless it
# says why: a comment directly above it that starts "Long on purpose:". Function extents come from
# universal-ctags (its `end:` field); lambdas count as part of the function that holds them.
#
# usage: scripts/check-function-length.sh [MAX_LINES]   (exit 1 with every offender listed)
set -euo pipefail
cd "$(dirname "$0")/.."
max=${1:-60}
if ! ctags --version 2>/dev/null | grep -q 'Universal Ctags'; then
  echo "check-function-length: needs universal-ctags (scripts/install-deps.sh --test)" >&2
  exit 1
fi
mapfile -t files < <(git ls-files 'agent/*.cpp' 'agent/*.hpp' 'collectors/*.cpp' 'collectors/*.hpp' \
  'exporters/*.cpp' 'exporters/*.hpp')
bad=0 long=0
while IFS=$'\t' read -r lines file line name; do
  long=$((long + 1))
  # The comment block right above the function (or its template line).
  reason=$(awk -v l="$line" 'NR < l { buf[NR] = $0 } END {
      for (i = l - 1; i > 0 && buf[i] ~ /^(template|[[:space:]]*\/\/)/; i--) if (buf[i] ~ /Long on purpose:/) { print "yes"; exit } }' "$file")
  if [[ $reason != yes ]]; then
    echo "$file:$line: $name is $lines lines (over $max): split it, or say why above it (// Long on purpose: ...)"
    bad=$((bad + 1))
  fi
done < <(ctags --fields=+ne --c++-kinds=f -o - "${files[@]}" |
  awk -F'\t' -v max="$max" '$1 !~ /^__anon/ { l = ""; e = ""
      for (i = 4; i <= NF; i++) { if ($i ~ /^line:/) l = substr($i, 6); if ($i ~ /^end:/) e = substr($i, 5) }
      if (e != "" && e - l + 1 > max) printf "%d\t%s\t%d\t%s\n", e - l + 1, $2, l, $1 }')
if ((bad > 0)); then
  echo "check-function-length: $bad function(s) over $max lines without a reason"
  exit 1
fi
echo "check-function-length: ${#files[@]} files, $long function(s) over $max lines, each with its reason"
