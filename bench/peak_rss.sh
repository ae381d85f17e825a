#!/usr/bin/env bash
# Peak RSS of `scorer score` for two builds side by side: the same input, each model at each
# thread count, the builds alternating, output to /dev/shm; prints MB (GNU time's maximum
# resident set size) per run, TRIALS runs each, and the largest (the one a bound is read against).
#
#   bench/peak_rss.sh BEFORE_SCORER AFTER_SCORER INPUT "mlp ngram" "1 2 4 16" [TRIALS]
#
# Both builds read this checkout's models/. INPUT: `python3 bench/large_input.py million.parquet`
# gives the 1,000,000 reviews that issue 33's memory bound is stated on (600 MB at --threads 16).
# Peaks move by tens of MB from run to run (what the allocator keeps), so read several trials.
set -euo pipefail
before=$1 after=$2 input=$3 models=$4 threads=$5 trials=${6:-2}
models_dir=$(dirname "$0")/../models
out=$(mktemp -p /dev/shm -d)
trap 'rm -rf "$out"' EXIT
peak() {
  /usr/bin/time -f %M -o "$out/rss" "$1" score --input "$input" --output "$out/scored.parquet" --overwrite \
    --model "$2" --threads "$3" --models-dir "$models_dir" >/dev/null
  echo $(($(cat "$out/rss") / 1024))
}
for model in $models; do
  for t in $threads; do
    runs_before=() runs_after=()
    for _ in $(seq "$trials"); do
      runs_before+=("$(peak "$before" "$model" "$t")")
      runs_after+=("$(peak "$after" "$model" "$t")")
    done
    most() { printf '%s\n' "$@" | sort -n | tail -1; }
    printf '%-14s %2s threads: before %s MB (most %s), after %s MB (most %s)\n' "$model" "$t" \
      "${runs_before[*]}" "$(most "${runs_before[@]}")" "${runs_after[*]}" "$(most "${runs_after[@]}")"
  done
done
