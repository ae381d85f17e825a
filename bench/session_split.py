"""How a model's threads are best spent: one ONNX Runtime session with N intra-op threads, or N
single-threaded sessions side by side (the scorer's pool for the models of
`SIDE_BY_SIDE_MODELS`, src/model.rs).

    PYTHONPATH=.deps/python python3 bench/session_split.py models/gru.onnx [THREADS]

Runs the model (the Python onnxruntime that `scripts/setup` installs, with the scorer's session
settings: no memory pattern, no spinning) on the same 128 reviews of random ids, the scorer's
chunk size, alternating between the two ways, five trials of 64 calls each, and prints each way's
best reviews/s and their ratio. Word models get 100 token ids per review (lengths 50 to 100);
the n-gram model (contract 2) 200 n-gram ids per review. The ratio is from one run on one machine.
"""
import json
import sys
import threading
import time

import numpy as np
import onnxruntime as ort

ROWS = 128
CALLS = 64


def session(path, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.enable_mem_pattern = False
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def feeds(path):
    rng = np.random.default_rng(0)
    with open(path[: -len(".onnx")] + ".json", encoding="utf-8") as f:
        buckets = json.load(f)["contract"].get("ngram_buckets")
    if buckets:
        ids = rng.integers(1, buckets + 1, size=(ROWS, 200)).astype(np.int64)
        return {"ngram_ids": ids, "lengths": np.full(ROWS, 200, dtype=np.int64)}
    ids = rng.integers(1, 30000, size=(ROWS, 100)).astype(np.int64)
    lengths = rng.integers(50, 101, size=(ROWS,)).astype(np.int64)
    for row, length in enumerate(lengths):
        ids[row, length:] = 0
    return {"token_ids": ids, "lengths": lengths}


def rate(sessions, inputs):
    """Reviews/s of CALLS calls spread over `sessions`, each on its own Python thread."""
    def work(s):
        for _ in range(CALLS // len(sessions)):
            s.run(["probability"], inputs)

    threads = [threading.Thread(target=work, args=(s,)) for s in sessions]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return CALLS * ROWS / (time.perf_counter() - started)


def main():
    path = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    inputs = feeds(path)
    ways = {
        "one session": [session(path, threads)],
        "sessions side by side": [session(path, 1) for _ in range(threads)],
    }
    best = dict.fromkeys(ways, 0.0)
    for _ in range(5):
        for way, sessions in ways.items():
            best[way] = max(best[way], rate(sessions, inputs))
    one, pool = best.values()
    print(
        f"{path}: {threads} threads: one session {one:.0f} reviews/s, "
        f"{threads} sessions side by side {pool:.0f}, {pool / one:.2f}x"
    )


if __name__ == "__main__":
    main()
