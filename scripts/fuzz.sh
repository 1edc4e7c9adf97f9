#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 10s).
# Usage: scripts/fuzz.sh [FUZZTIME]   e.g. scripts/fuzz.sh 10m
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${1:-${FUZZTIME:-10s}}"
parallel="${FUZZ_PARALLEL:-$(nproc)}"
mapfile -t files < <(git ls-files '*_test.go' | xargs grep -l '^func Fuzz' || true)
[ "${#files[@]}" -gt 0 ] || { echo "no fuzz targets found" >&2; exit 1; }
count=0
for f in "${files[@]}"; do
  dir="./$(dirname "$f")"
  for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //'); do
    echo "== $dir $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" -parallel "$parallel" "$dir"
    count=$((count + 1))
  done
done
echo "fuzzed $count targets for $fuzztime each"
