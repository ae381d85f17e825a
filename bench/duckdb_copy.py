"""The peer of the scaling benchmark (bench/scaling.rs): DuckDB copies a Parquet file of reviews
with a number appended per review, the same file work `scorer score` does around its model.

    python3 bench/duckdb_copy.py INPUT OUTPUT THREADS

Snappy pages and row groups of 16,384 rows, as `scorer score` writes them; DuckDB keeps the input's
row order (its default, preserve_insertion_order).
"""

import sys

import duckdb

source, target, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
con = duckdb.connect(config={"threads": threads})
quote = lambda path: "'" + path.replace("'", "''") + "'"
con.execute(
    f"COPY (SELECT *, length(review)::FLOAT AS s FROM read_parquet({quote(source)})) "
    f"TO {quote(target)} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE 16384)"
)
