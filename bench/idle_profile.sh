#!/usr/bin/env bash
# Where a run of `scorer score` pinned to 2 cores leaves them idle, from the kernel's scheduler
# events (`perf sched`, which needs no hardware counters): each CPU's idle share, then the idle
# time in each quarter second of the run and the idle spans by length. A pinned 1 -> 2 gain short
# of what two 1-core copies make of the machine (bench/run --scaling) is then either a serial
# stretch (idle at the start or the end) or threads waiting for one another all through the run.
# usage: bench/idle_profile.sh SCORER MODEL INPUT.parquet [SCORE OPTION...]
# (perf as root, or with perf_event_paranoid at most 1)
set -euo pipefail
scorer=$1 model=$2 input=$3; shift 3
work=$(mktemp -d -p /dev/shm); trap 'rm -rf "$work"' EXIT
perf sched record -q -o "$work/sched.data" -- taskset -c 0,1 "$scorer" score --input "$input" \
  --output "$work/scored.parquet" --model "$model" --threads 2 "$@" >"$work/run.txt" 2>&1 ||
  { cat "$work/run.txt" >&2; echo "bench/idle_profile.sh: the run failed" >&2; exit 1; }
grep -h "rows/s" "$work/run.txt"
perf sched timehist -i "$work/sched.data" -s 2>/dev/null | sed -n '/Idle stats/,/^$/p' | grep "idle for"
# Lines of `timehist -I`: time, [cpu], task, wait, delay, run; an <idle> line's run is an idle span.
perf sched timehist -i "$work/sched.data" -I 2>/dev/null | awk '
  $3 == "<idle>" && $1 ~ /^[0-9.]+$/ {
    if (!t0) t0 = $1
    quarter[int(($1 - t0) / 0.25)] += $6; last = int(($1 - t0) / 0.25)
    if ($6 < 1) short += $6; else if ($6 < 10) mid += $6; else long += $6
  }
  END {
    printf "idle ms per quarter second:"; for (q = 0; q <= last; q++) printf " %.0f", quarter[q]; print ""
    printf "idle ms in spans < 1 ms: %.0f, 1-10 ms: %.0f, >= 10 ms: %.0f\n", short, mid, long
  }'
