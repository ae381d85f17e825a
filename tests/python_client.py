"""Scores token ids with Python's onnxruntime, a client independent of the Rust scorer.

Usage: python_client.py MODEL.onnx INPUT.json
INPUT.json holds {"token_ids": [[...100 ints], ...], "lengths": [...]}; prints the probabilities
as a JSON list.
"""
import json
import sys

import numpy as np
import onnxruntime

model, path = sys.argv[1], sys.argv[2]
with open(path) as f:
    batch = json.load(f)
session = onnxruntime.InferenceSession(model, providers=["CPUExecutionProvider"])
(probability,) = session.run(
    ["probability"],
    {
        "token_ids": np.asarray(batch["token_ids"], dtype=np.int64),
        "lengths": np.asarray(batch["lengths"], dtype=np.int64),
    },
)
print(json.dumps([float(p) for p in probability]))
