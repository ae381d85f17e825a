#!/usr/bin/env bash
# What a second thread gives `scorer score`, against one thread measured two ways: pinned to one
# core (`taskset -c 0`: reading, tokenising, scoring and writing share that core), and free (the
# reader and writer threads may run on another core while the model's one session runs).
# Best of TRIALS runs each, alternating; prints reviews/s and both ratios per model.
#
#   bench/thread_gain.sh SCORER INPUT "rnn gru" [TRIALS]
#
# `bench/run`'s "1 → 2 threads" column is the free one; the pinned one is what "one core" means.
set -euo pipefail
scorer=$1 input=$2 models=$3 trials=${4:-2}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rate() {
  "$@" --input "$input" --output "$out/scored.parquet" --overwrite --json |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["rows_per_second"])'
}
for model in $models; do
  pinned=0 free=0 two=0
  for _ in $(seq "$trials"); do
    pinned=$(python3 -c "print(max($pinned, $(rate taskset -c 0 "$scorer" score --model "$model" --threads 1)))")
    free=$(python3 -c "print(max($free, $(rate "$scorer" score --model "$model" --threads 1)))")
    two=$(python3 -c "print(max($two, $(rate "$scorer" score --model "$model" --threads 2)))")
  done
  python3 -c "print(f'{\"$model\":14s} 1 thread on 1 core {$pinned:7.0f}, 1 thread free {$free:7.0f}, 2 threads {$two:7.0f} reviews/s; 2 threads over 1 core {$two/$pinned:.2f}x, over 1 free thread {$two/$free:.2f}x')"
done
