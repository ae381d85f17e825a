"""Scores encoded reviews with Python's onnxruntime, a client independent of the Rust scorer.

Usage: python_client.py MODEL.onnx INPUT.json
INPUT.json holds the model's inputs by name: {"token_ids": [[...100 ints], ...], "lengths": [...]}
for a word model, {"ngram_ids": [[...], ...], "lengths": [...]} for the n-gram model; prints the
probabilities as a JSON list.
"""
import json
import sys

import numpy as np
import onnxruntime

model, path = sys.argv[1], sys.argv[2]
with open(path) as f:
    batch = json.load(f)
session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
inputs = {name: np.asarray(values, dtype=np.int64) for name, values in batch.items()}
(probability,) = session.run(["probability"], inputs)
print(json.dumps([float(p) for p in probability]))
