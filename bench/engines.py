"""Each engine's rate on a file of reviews against `scorer score` in the same run: the file read,
every review scored by one model, and the file written with the score appended, as `scorer score`
does it. Run by bench/engines, which builds the release extension and scorer first.

    python bench/engines.py --scorer SCORER --reviews FILE [--models ngram,mlp] [--trials 5]
                            [--cores 2] [--json OUT]

- scorer:  `scorer score --input FILE --output OUT --model M`, a process per trial;
- DuckDB:  `COPY (SELECT *, sentiment(review) ...) TO OUT (FORMAT parquet)` with
           imdb_sentiment.duckdb's function, on `--cores` threads;
- Polars:  read_parquet, with_columns(imdb_sentiment.polars.sentiment(...)), write_parquet;
- Spark:   imdb_sentiment.spark.with_sentiment over spark.read.parquet, written with
           DataFrame.write.parquet, in local[cores].

Each is the best of `--trials`, in a warm process (the engine started, the models opened; Spark's
first trial, which starts its Python workers, is printed beside). Spark's Python workers' peak
memory (VmHWM) is read from /proc after a job that only passes the batches through and again after
the scoring jobs: the difference is what the models and scoring add to a worker.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq

import imdb_sentiment.duckdb
from imdb_sentiment.polars import sentiment


def machine() -> str:
    """The CPU's name, as /proc/cpuinfo gives it."""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def best(trials: int, run) -> tuple[float, float]:
    """(first, best) seconds of `trials` calls of `run`."""
    times = []
    for _ in range(trials):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times[0], min(times)


def worker_peaks() -> list[int]:
    """Peak resident bytes of each forked Spark Python worker (a pyspark.daemon whose parent is one)."""
    daemons = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if b"pyspark.daemon" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        daemons[pid] = (fields["PPid"].strip(), int(fields["VmHWM"].split()[0]) * 1024)
    return [peak for parent, peak in daemons.values() if parent in daemons]


def spark_runs(reviews: str, models: list[str], cores: int, trials: int, out: Path) -> tuple[dict, dict]:
    """{model: (first, best)} for with_sentiment written as Parquet, and the workers' memory."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    from imdb_sentiment.spark import with_sentiment

    spark = (SparkSession.builder.master(f"local[{cores}]").config("spark.ui.enabled", "false")
             .config("spark.ui.showConsoleProgress", "false").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    df = spark.read.parquet(reviews)
    df.mapInArrow(lambda batches: batches, df.schema).write.mode("overwrite").parquet(str(out / "spark-pass"))
    passing = worker_peaks()
    times = {m: best(trials, lambda: with_sentiment(df, model=m).write.mode("overwrite")
                     .parquet(str(out / f"spark-{m}"))) for m in models}
    scoring = worker_peaks()
    spark.stop()
    memory = {"workers": len(scoring), "passing_batches_mb": max(passing) / 2**20,
              "scoring_mb": max(scoring) / 2**20}
    return times, memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scorer", required=True)
    parser.add_argument("--reviews", required=True)
    parser.add_argument("--models", default="ngram,mlp")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--cores", type=int, default=os.cpu_count())
    parser.add_argument("--json")
    args = parser.parse_args()
    models = args.models.split(",")
    rows = pq.ParquetFile(args.reviews).metadata.num_rows
    tmp = tempfile.TemporaryDirectory()
    out = Path(tmp.name)

    results = {m: {} for m in models}
    for m in models:
        results[m]["scorer"] = best(args.trials, lambda: subprocess.run(
            [args.scorer, "score", "--input", args.reviews, "--output", str(out / "scorer.parquet"), "--model", m,
             "--threads", str(args.cores), "--overwrite"], check=True, capture_output=True))
        con = duckdb.connect(config={"threads": args.cores})
        imdb_sentiment.duckdb.register(con, m, threads=args.cores)
        results[m]["duckdb"] = best(args.trials, lambda: con.execute(
            "COPY (SELECT *, sentiment(review) AS sentiment_score FROM read_parquet(?)) TO '"
            + str(out / "duckdb.parquet") + "' (FORMAT parquet)", [args.reviews]))
        results[m]["polars"] = best(args.trials, lambda: pl.read_parquet(args.reviews).with_columns(
            sentiment_score=sentiment(pl.col("review"), m, threads=args.cores)).write_parquet(out / "polars.parquet"))
    spark_times, memory = spark_runs(args.reviews, models, args.cores, args.trials, out)
    for m in models:
        results[m]["spark"] = spark_times[m]

    print(f"{rows:,} reviews, {args.cores} cores ({machine()}), best of {args.trials}; the engines in a warm "
          f"process, the scorer a process per trial (its start and model loading included)")
    print(f"{'model':<8} {'engine':<8} {'reviews/s':>10} {'of scorer':>10} {'first trial s':>14}")
    for m in models:
        scorer_rate = rows / results[m]["scorer"][1]
        for engine, (first, fastest) in results[m].items():
            rate = rows / fastest
            print(f"{m:<8} {engine:<8} {rate:>10,.0f} {rate / scorer_rate:>9.0%} {first:>14.2f}")
    print(f"Spark's Python workers ({memory['workers']}): peak {memory['scoring_mb']:.0f} MB each after scoring, "
          f"{memory['passing_batches_mb']:.0f} MB after passing the batches through")
    if args.json:
        report = {"machine": machine(), "rows": rows, "cores": args.cores, "trials": args.trials, "spark_workers": memory,
                  "seconds": {m: {e: {"first": f, "best": b} for e, (f, b) in r.items()} for m, r in results.items()}}
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    tmp.cleanup()


if __name__ == "__main__":
    main()
