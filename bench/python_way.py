"""The Python way of scoring a Parquet file, for the benchmark (bench/throughput.rs):
pyarrow reads, the exercise's regular expressions clean, a dict maps words to ids (numpy),
Python onnxruntime runs the same .onnx file, pyarrow writes.

usage: python_way.py MODEL.onnx INPUT.parquet OUTPUT.parquet THREADS
"""
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


def tokens(text):
    # The seed exercise's loader, as it was written.
    text = NON_LETTERS.sub(" ", text)
    text = SINGLE_LETTER.sub(" ", text)
    text = SPACES.sub(" ", text)
    return text.strip().lower().split()[:MAX_TOKENS]


def main(model_path, input_path, output_path, threads):
    models = os.path.dirname(model_path)
    with open(os.path.join(models, "vocab.txt"), encoding="utf-8") as f:
        ids = {word.rstrip("\n"): i + 1 for i, word in enumerate(f)}
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    source = pq.ParquetFile(input_path)
    writer = None
    for batch in source.iter_batches(batch_size=8192):
        reviews = batch.column("review").to_pylist()
        token_ids = np.zeros((len(reviews), MAX_TOKENS), dtype=np.int64)
        lengths = np.zeros(len(reviews), dtype=np.int64)
        for row, review in enumerate(reviews):
            words = tokens(review or "")
            lengths[row] = len(words)
            token_ids[row, : len(words)] = [ids.get(w, 0) for w in words]
        (probability,) = session.run(["probability"], {"token_ids": token_ids, "lengths": lengths})
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
