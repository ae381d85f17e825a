#!/usr/bin/env bash
# A nightly job's folder, scored two ways side by side: one `scorer score --output-dir` over the
# folder, against one `scorer score` process per file, one after another (what a shell loop or a
# scheduler without --output-dir does); then the rerun with nothing new, against the first run.
# FILES files of ROWS reviews each, IMDB test's repeated, Parquet; best of TRIALS each way.
#
#   bench/folder_job.sh SCORER [MODEL] [FILES] [ROWS] [TRIALS]
set -euo pipefail
scorer=$1 model=${2:-ngram} files=${3:-40} rows=${4:-25000} trials=${5:-2}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
test=$(cd "$(dirname "$0")/.." && pwd)/../shared/data/imdb/test.parquet
mkdir -p "$work/landing"
for i in $(seq -w 1 "$files"); do
  "$scorer" sql --table t="$test" \
    "COPY (SELECT id, review FROM t LIMIT $rows) TO '$work/landing/part-$i.parquet' STORED AS PARQUET" >/dev/null
done
now() { date +%s.%N; }
best_folder=1e9 best_loop=1e9 rerun=1e9
for _ in $(seq "$trials"); do
  rm -rf "$work/scored" "$work/loop" && mkdir -p "$work/loop"
  start=$(now)
  "$scorer" score --input "$work/landing" --output-dir "$work/scored" --model "$model" >/dev/null
  mid=$(now)
  "$scorer" score --input "$work/landing" --output-dir "$work/scored" --model "$model" >/dev/null
  end=$(now)
  for file in "$work"/landing/*.parquet; do
    "$scorer" score --input "$file" --output "$work/loop/$(basename "$file")" --model "$model" >/dev/null
  done
  done_loop=$(now)
  best_folder=$(python3 -c "print(min($best_folder, $mid - $start))")
  rerun=$(python3 -c "print(min($rerun, $end - $mid))")
  best_loop=$(python3 -c "print(min($best_loop, $done_loop - $end))")
done
python3 -c "
folder, loop, rerun, reviews = $best_folder, $best_loop, $rerun, $files * $rows
print(f'$model, $files files of $rows reviews: --output-dir {folder:.2f} s ({reviews / folder:.0f} reviews/s), '
      f'a process per file {loop:.2f} s: {loop / folder:.2f}x; rerun with nothing new {rerun:.2f} s, '
      f'{100 * rerun / folder:.1f}% of the first run')"
