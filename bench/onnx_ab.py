"""Model-only speed of two ONNX files of the same contract, measured side by side.

    PYTHONPATH=.deps/python python3 bench/onnx_ab.py BEFORE.onnx AFTER.onnx [THREADS]

Runs ONNX Runtime (the Python package `scripts/setup` installs) on the same 128 reviews of
random token ids (lengths 50 to 100, the scorer's chunk size), alternating between the files, five
trials of 60 calls each, and prints each file's best reviews/s and their ratio. For a change to
the exporter: the ratio is from one run on one machine, which is what to compare.
"""
import sys
import time

import numpy as np
import onnxruntime as ort


def session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def main():
    before, after = sys.argv[1:3]
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 30000, size=(128, 100)).astype(np.int64)
    lengths = rng.integers(50, 101, size=(128,)).astype(np.int64)
    for row, length in enumerate(lengths):
        ids[row, length:] = 0
    feeds = {"token_ids": ids, "lengths": lengths}
    sessions = {path: session(path, threads) for path in (before, after)}
    best = dict.fromkeys(sessions, 0.0)
    for _ in range(5):
        for path, s in sessions.items():
            s.run(["probability"], feeds)
            started = time.perf_counter()
            for _ in range(60):
                s.run(["probability"], feeds)
            best[path] = max(best[path], 60 * len(ids) / (time.perf_counter() - started))
    for path, rate in best.items():
        print(f"{rate:9.0f} reviews/s  {path}")
    print(f"after / before: {best[after] / best[before]:.2f}x on {threads} thread(s)")


if __name__ == "__main__":
    main()
