"""Tried for issue 11: the attention model's per-word maps computed once per distinct word of a call.

    pip install --target /tmp/onnx onnx
    PYTHONPATH=.deps/python:/tmp/onnx python3 bench/attention_distinct_ids.py models/attention.onnx [THREADS]

The query, key and value maps and the MLP's first layer on the word's own vector depend on the
word alone. Tables of them over 100,001 ids would not fit the models folder's budget; this
rewrites the exported graph to compute them for the distinct ids of each call only (ONNX
`Unique`, one product for the four maps, a `Gather` back to every position, a `Split`), the
same arithmetic. It measures both graphs on the first 2,048 reviews of IMDB test in calls of
128 reviews (the scorer's chunks), alternating, five trials, prints the largest difference in
any output, each file's best reviews/s and their ratio, and ONNX Runtime's node times for the
rewritten graph.
"""
import collections
import json
import os
import re
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
import pyarrow.parquet as pq
from onnx import helper, numpy_helper

CHUNK = 128


def rewrite(source, target):
    """Writes `source` with the per-word maps computed for distinct ids, beside it (glove.f32)."""
    model = onnx.load(source, load_external_data=False)
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    producers = {n.output[0]: n for n in graph.node}

    def weight(matmul):
        return numpy_helper.to_array(weights[matmul.input[1]])

    matmuls = [n for n in graph.node if n.op_type == "MatMul" and n.input[1] in weights]
    word = matmuls[0].input[0]  # the concatenated GloVe and learned vector of each word
    maps = [n for n in matmuls if n.input[0] == word]  # key, value, query
    width = weight(maps[0]).shape[0]  # GloVe's 50 and the learned dimensions
    # The MLP's first layer reads the word's vector and what it attended to.
    first = next(n for n in matmuls if weight(n).shape[0] > width)
    concat = producers[first.input[0]]
    first_weight = weight(first)
    stacked = np.concatenate([weight(n) for n in maps] + [first_weight[:width]], 1)
    sizes = [weight(n).shape[1] for n in maps] + [first_weight.shape[1]]
    gathers = [producers[name] for name in producers[word].input]  # GloVe's, then the learned
    tables = [n.input[0] for n in gathers]
    graph.initializer.extend([
        numpy_helper.from_array(stacked.astype(np.float32), "word_maps"),
        numpy_helper.from_array(first_weight[width:].astype(np.float32), "attended_map"),
        numpy_helper.from_array(np.array([-1], np.int64), "flat"),
        numpy_helper.from_array(np.array([-1, 100, sum(sizes)], np.int64), "per_position"),
        numpy_helper.from_array(np.array(sizes, np.int64), "map_sizes"),
    ])
    node = helper.make_node
    distinct = [
        node("Reshape", ["token_ids", "flat"], ["flat_ids"]),
        node("Unique", ["flat_ids"], ["distinct_ids", "first_index", "inverse", "counts"], sorted=0),
        node("Gather", [tables[0], "distinct_ids"], ["distinct_glove"]),
        node("Gather", [tables[1], "distinct_ids"], ["distinct_learned"]),
        node("Concat", ["distinct_glove", "distinct_learned"], ["distinct_words"], axis=1),
        node("MatMul", ["distinct_words", "word_maps"], ["distinct_maps"]),
        node("Gather", ["distinct_maps", "inverse"], ["position_maps"]),
        node("Reshape", ["position_maps", "per_position"], ["maps"]),
        node("Split", ["maps", "map_sizes"], [n.output[0] for n in maps] + ["own_part"], axis=2),
    ]
    attended = concat.input[1]
    kept = []
    for n in graph.node:
        if n in maps or n in gathers or n.output[0] in (word, concat.output[0]):
            continue
        if n is first:
            kept += [node("MatMul", [attended, "attended_map"], ["attended_part"]),
                     node("Add", ["own_part", "attended_part"], [first.output[0]])]
            continue
        kept.append(n)
    start = next(i for i, n in enumerate(kept) if n.op_type == "Pad")
    del graph.node[:]
    graph.node.extend(kept[:start] + distinct + kept[start:])
    unused = {n.input[1] for n in maps} | {first.input[1]}
    kept_weights = [w for w in graph.initializer if w.name not in unused]
    del graph.initializer[:]
    graph.initializer.extend(kept_weights)
    onnx.save(model, target)


def imdb_ids(vocab_path, n):
    vocab = {w: i for i, w in enumerate(open(vocab_path).read().split("\n"))}
    texts = pq.read_table("../shared/data/imdb/test.parquet", columns=["review"]).column("review").to_pylist()[:n]
    ids = np.zeros((n, 100), np.int64)
    lengths = np.zeros(n, np.int64)
    for row, text in enumerate(texts):
        text = re.sub(r"[^A-Za-z]+", " ", text)
        text = re.sub(r"(?<=\s)[A-Za-z](?=\s)", "", " " + text + " ")
        words = [vocab.get(w, 0) for w in text.lower().split()[:100]]
        ids[row, : len(words)] = words
        lengths[row] = len(words)
    return ids, lengths


def session(path, threads, profile=False):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.enable_profiling = profile
    options.log_severity_level = 3
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def main():
    source = sys.argv[1]
    threads = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    ids, lengths = imdb_ids(os.path.join(os.path.dirname(source), "vocab.txt"), 2048)
    calls = [{"token_ids": ids[s : s + CHUNK], "lengths": lengths[s : s + CHUNK]} for s in range(0, len(ids), CHUNK)]
    with tempfile.NamedTemporaryFile(suffix=".onnx", dir=os.path.dirname(source)) as target:
        rewrite(source, target.name)
        sessions = {"exported": session(source, threads), "distinct ids": session(target.name, threads)}
        outputs = [s.run(None, calls[0]) for s in sessions.values()]
        difference = max(float(np.abs(a - b).max()) for a, b in zip(*outputs))
        distinct = np.mean([len(np.unique(c["token_ids"])) for c in calls])
        print(f"distinct ids per call: {distinct:.0f} of {CHUNK * 100}; largest output difference {difference:.2e}")
        best = dict.fromkeys(sessions, 0.0)
        for _ in range(5):
            for name, s in sessions.items():
                started = time.perf_counter()
                for call in calls:
                    s.run(["probability"], call)
                best[name] = max(best[name], len(ids) / (time.perf_counter() - started))
        for name, rate in best.items():
            print(f"{name}: {rate:.0f} reviews/s")
        print(f"ratio: {best['distinct ids'] / best['exported']:.2f}x on {threads} thread(s)")
        profiled = session(target.name, threads, profile=True)
        for call in calls:
            profiled.run(["probability"], call)
        trace = profiled.end_profiling()
        times = collections.Counter()
        for event in json.load(open(trace)):
            if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
                times[event["args"]["op_name"]] += event["dur"]
        os.remove(trace)
        total = sum(times.values())
        print("node time by operator, rewritten graph:", ", ".join(f"{op} {100 * t / total:.0f}%" for op, t in times.most_common(6)))


if __name__ == "__main__":
    main()
