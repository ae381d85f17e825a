#!/usr/bin/env bash
# What this machine lets a second core give, apart from any program's design: a one-thread
# command pinned to core 0 alone, then two copies of it at once, one pinned to core 0 and one to
# core 1. Two copies share nothing but the machine (memory bandwidth, caches, the hypervisor), so
# 2 x (time alone) / (slower copy's time) is the most any program can gain from the second core
# on that work. Best of TRIALS rounds; run it beside `bench/run --scaling`'s pinned gains.
#
#   bench/core_ceiling.sh TRIALS -- COMMAND... {out}
#
# {out} in COMMAND becomes each copy's own output path, a .parquet file (in /dev/shm, as the scaling runs write).
# Examples (issue 33's floor and models, and the peer):
#   bench/core_ceiling.sh 3 -- target/release/scorer score --input /tmp/million.parquet \
#     --output {out} --overwrite --model mlp --threads 1
#   bench/core_ceiling.sh 3 -- python3 bench/duckdb_copy.py /tmp/million.parquet {out} 1
set -euo pipefail
trials=$1
shift 2
out=$(mktemp -p /dev/shm -d)
trap 'rm -rf "$out"' EXIT
# Wall seconds of COMMAND on `core`, writing to `out/name`.
timed() {
  local core=$1 name=$2
  shift 2
  local args=("${@//\{out\}/$out/$name.parquet}")
  # A fresh output each time: replacing the last one's frees its pages within the run.
  rm -f "$out/$name.parquet"
  /usr/bin/time -f %e -o "$out/$name.time" taskset -c "$core" "${args[@]}" >/dev/null
  cat "$out/$name.time"
}
alone=1e18 together=1e18
for _ in $(seq "$trials"); do
  alone=$(python3 -c "print(min($alone, $(timed 0 alone "$@")))")
  timed 0 first "$@" >"$out/first" &
  timed 1 second "$@" >"$out/second"
  wait
  slower=$(python3 -c "print(max($(cat "$out/first"), $(cat "$out/second")))")
  together=$(python3 -c "print(min($together, $slower))")
done
python3 -c "print(f'alone on core 0 {$alone:.2f} s; two copies on cores 0 and 1 {$together:.2f} s (the slower); ceiling of the 1 -> 2 core gain: {2 * $alone / $together:.2f}x')"
