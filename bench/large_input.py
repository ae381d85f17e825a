"""A large review file for the scripts that take one (bench/thread_gain.sh, bench/scorer_ab.sh):
IMDB's train, test and unlabeled reviews (100,000) repeated to ROWS rows, `id` and `review`,
Snappy, row groups of 65,536, as `bench/run --scaling` builds its input in a temporary folder.

usage: python3 bench/large_input.py OUTPUT.parquet [ROWS]   (needs pyarrow; ROWS: 1,000,000)
"""
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ROW_GROUP = 65_536


def main(output, rows=1_000_000):
    imdb = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "imdb"
    parts = [pq.read_table(imdb / f"{split}.parquet", columns=["id", "review"]) for split in ("train", "test", "unsup")]
    reviews = pa.concat_tables([part.cast(parts[0].schema) for part in parts])
    copies = -(-int(rows) // reviews.num_rows)
    table = pa.concat_tables([reviews] * copies).slice(0, int(rows))
    pq.write_table(table, output, row_group_size=ROW_GROUP, compression="snappy")
    print(f"{table.num_rows} reviews -> {output}")


if __name__ == "__main__":
    main(*sys.argv[1:])
