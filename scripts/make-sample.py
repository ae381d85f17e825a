"""Writes tests/data/reviews.parquet from tests/data/reviews.jsonl (needs pyarrow).

The sample reviews are our own writing; IMDB text never goes into the repository.
"""
import json
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq

data = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data"
rows = [json.loads(line) for line in (data / "reviews.jsonl").open()]
table = pa.table({
    "id": pa.array([r["id"] for r in rows], pa.int64()),
    "movie_id": pa.array([r["movie_id"] for r in rows], pa.string()),
    "review": pa.array([r["review"] for r in rows], pa.string()),
    "label": pa.array([r["label"] for r in rows], pa.int8()),
})
pq.write_table(table, data / "reviews.parquet")
