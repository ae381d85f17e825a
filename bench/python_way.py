"""The Python way of scoring a Parquet file, for the benchmark (bench/throughput.rs):
pyarrow reads, the exercise's regular expressions clean, a dict maps words to ids (for the n-gram
model, FNV-1a hashes the distinct words, word pairs (and triples where its card says) of the whole review) in numpy, Python onnxruntime
runs the same .onnx file, pyarrow writes.

usage: python_way.py MODEL.onnx INPUT.parquet OUTPUT.parquet THREADS
"""
import json
import os
import re
import sys

import numpy as np
import onnxruntime as ort
import pyarrow as pa
import pyarrow.parquet as pq

NON_LETTERS = re.compile(r"[^a-zA-Z]")
SINGLE_LETTER = re.compile(r"\s+[a-zA-Z]\s+")
SPACES = re.compile(r"\s+")
MAX_TOKENS = 100


def words(text):
    # The seed exercise's loader, as it was written, without its cut to the first 100 words.
    text = NON_LETTERS.sub(" ", text)
    text = SINGLE_LETTER.sub(" ", text)
    text = SPACES.sub(" ", text)
    return text.strip().lower().split()


def word_ids(reviews, ids):
    """The word models' inputs: the first 100 words' ids, padded with 0."""
    token_ids = np.zeros((len(reviews), MAX_TOKENS), dtype=np.int64)
    lengths = np.zeros(len(reviews), dtype=np.int64)
    for row, review in enumerate(reviews):
        kept = words(review or "")[:MAX_TOKENS]
        lengths[row] = len(kept)
        token_ids[row, : len(kept)] = [ids.get(w, 0) for w in kept]
    return {"token_ids": token_ids, "lengths": lengths}


def fnv1a(data):
    """FNV-1a, 64 bits: the n-gram model's hash (src/ngrams.rs)."""
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def ngram_ids(reviews, hashing):
    """The n-gram model's inputs: each review's distinct hashed n-gram ids, padded with 0.

    hashing is (buckets, longest n-gram in words); the n-grams ending at a word come longest first."""
    buckets, max_n = hashing
    rows = []
    for review in reviews:
        found = {}
        review_words = words(review or "")
        for i in range(len(review_words)):
            for n in range(min(max_n, i + 1), 0, -1):
                ngram = " ".join(review_words[i - n + 1 : i + 1])
                found.setdefault(1 + fnv1a(ngram.encode()) % buckets, None)
        rows.append(list(found))
    matrix = np.zeros((len(rows), max(1, max(map(len, rows), default=0))), dtype=np.int64)
    for row, found in enumerate(rows):
        matrix[row, : len(found)] = found
    return {"ngram_ids": matrix, "lengths": np.array([len(r) for r in rows], dtype=np.int64)}


def main(model_path, input_path, output_path, threads):
    models = os.path.dirname(model_path)
    with open(model_path[: -len(".onnx")] + ".json", encoding="utf-8") as f:
        contract = json.load(f)["contract"]
    if "ngram_buckets" in contract:
        inputs, table = ngram_ids, (contract["ngram_buckets"], contract.get("ngram_max_n", 2))
    else:
        with open(os.path.join(models, contract["vocabulary"]), encoding="utf-8") as f:
            inputs, table = word_ids, {word.rstrip("\n"): i + 1 for i, word in enumerate(f)}
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    source = pq.ParquetFile(input_path)
    writer = None
    for batch in source.iter_batches(batch_size=8192):
        reviews = batch.column("review").to_pylist()
        (probability,) = session.run(["probability"], inputs(reviews, table))
        labels = np.where(probability > 0.5, "positive", "negative")
        batch = batch.append_column("sentiment_score", pa.array(probability, pa.float32()))
        batch = batch.append_column("sentiment_label", pa.array(labels))
        if writer is None:
            writer = pq.ParquetWriter(output_path, batch.schema)
        writer.write_batch(batch)
    writer.close()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
