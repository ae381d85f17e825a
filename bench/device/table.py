"""The table of docs/performance.md ("16 cores and a GPU") from bench/device/measure's scale.tsv,
with issue 33's goals for a device checked against it. A CPU run's `threads` is also its cores
(measure pins it to that many); a CUDA run had every core. Standard library only: the device machine
runs it after measuring, and anyone can run it again on the TSV that came back.

usage: python3 bench/device/table.py scale.tsv
"""
import csv
import sys

CORES = ["1", "2", "4", "8", "16"]
CALLS = ["128", "1024", "4096", "16384"]
FILE_BOUND = ["mlp", "weighted-mlp", "ngram"]


def cell(rates, key):
    """A rate as the table prints it, or a dash where it was not measured."""
    return f"{rates[key]:,.0f}" if key in rates else "-"


def main(path):
    cpu, cuda, rows = {}, {}, {}
    with open(path, newline="") as tsv:
        for run in csv.DictReader(tsv, delimiter="\t"):
            if run["reviews_per_s"].startswith("FAILED"):
                print(f"{run['provider']} {run['model']}, {run['threads']} threads, calls of "
                      f"{run['rows_per_call']}: {run['reviews_per_s']}")
                continue
            model, rate = run["model"], float(run["reviews_per_s"])
            rows[model] = run["rows"]
            if run["provider"] == "cpu":
                cpu.setdefault(model, {})[run["threads"]] = rate
            else:
                cuda.setdefault(model, {})[run["rows_per_call"]] = rate
    models = list(dict.fromkeys([*cpu, *cuda]))
    header = ["model", "reviews", *(f"{t} core{'s' * (t != '1')}" for t in CORES), "16 ÷ 1"]
    header += [f"CUDA, calls of {int(c):,}" for c in CALLS] + ["best CUDA ÷ best CPU"]
    print("| " + " | ".join(header) + " |")
    print("|---|" + "---:|" * (len(header) - 1))
    goals = []
    for model in models:
        cores, calls = cpu.get(model, {}), cuda.get(model, {})
        gain = cores["16"] / cores["1"] if {"1", "16"} <= cores.keys() else None
        best_cpu = max(cores.values(), default=None)
        best_cuda = max(calls.values(), default=None)
        versus = best_cuda / best_cpu if best_cpu and best_cuda else None
        line = [model, f"{int(rows[model]):,}", *(cell(cores, t) for t in CORES)]
        line += [f"{gain:.1f}×" if gain else "-", *(cell(calls, c) for c in CALLS)]
        line += [f"{versus:.2f}×" if versus else "-"]
        print("| " + " | ".join(line) + " |")
        if model in FILE_BOUND and gain:
            goals.append((f"{model} gains at least 8× from 1 to 16 cores", gain >= 8, f"{gain:.1f}×"))
        if versus:
            goals.append((f"{model} on CUDA at least as fast as its best CPU count", versus >= 1, f"{versus:.2f}×"))
        if model == "attention" and best_cuda and "16" in cores:
            ratio = best_cuda / cores["16"]
            goals.append(("attention on CUDA at least 3× its 16-core rate", ratio >= 3, f"{ratio:.2f}×"))
    print()
    for goal, met, figure in goals:
        print(f"- {goal}: {'met' if met else 'missed'} ({figure})")


if __name__ == "__main__":
    main(*sys.argv[1:])
