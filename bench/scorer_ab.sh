#!/usr/bin/env bash
# `scorer score` of two builds side by side: the same input, model and threads, alternating
# between the builds, best of TRIALS runs each; prints reviews/s and their ratio per model.
#
#   bench/scorer_ab.sh BEFORE_SCORER AFTER_SCORER INPUT THREADS "rnn mlp" [TRIALS]
#
# Both builds read this checkout's models/, unless BEFORE_MODELS_DIR or AFTER_MODELS_DIR names
# another folder: an earlier commit's models (`git worktree add`), to compare a build and the
# model files of its day with today's.
#
# For a change to the scoring loop or the exporter: the ratio is from one run on one machine.
set -euo pipefail
before=$1 after=$2 input=$3 threads=$4 models=$5 trials=${6:-3}
here=$(dirname "$0")/../models
before_models=${BEFORE_MODELS_DIR:-$here} after_models=${AFTER_MODELS_DIR:-$here}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
rate() {
  "$1" score --input "$input" --output "$out/scored.parquet" --overwrite --model "$3" --threads "$threads" \
    --models-dir "$2" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["rows_per_second"])'
}
for model in $models; do
  best_before=0 best_after=0
  for _ in $(seq "$trials"); do
    best_before=$(python3 -c "print(max($best_before, $(rate "$before" "$before_models" "$model")))")
    best_after=$(python3 -c "print(max($best_after, $(rate "$after" "$after_models" "$model")))")
  done
  python3 -c "print(f'{\"$model\":14s} {$threads} threads: {$best_before:9.0f} -> {$best_after:9.0f} reviews/s, {$best_after/$best_before:.2f}x')"
done
