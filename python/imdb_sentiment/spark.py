"""Sentiment in Spark (``pip install pyspark``: Spark 4.1 or later, on Java 17 or later)::

    from imdb_sentiment.spark import sentiment, with_sentiment

    reviews = spark.read.parquet("reviews.parquet")
    with_sentiment(reviews).show()                              # + sentiment_score, sentiment_label
    reviews.withColumn("score", sentiment("mlp")("review"))    # one column, an Arrow UDF

Both hand Spark's Arrow batches to ``imdb_sentiment.score`` without converting them to pandas:
``with_sentiment`` through ``DataFrame.mapInArrow``, ``sentiment`` and ``sentiment_label`` as
``arrow_udf``s for ``withColumn`` and ``select``. NULL reviews and reviews with no words give NULL.

Spark runs Python functions in worker processes started with ``PYSPARK_PYTHON`` (else
``python3``): that interpreter needs this package. Each worker opens the models on its first batch
and keeps them for every later batch and task, since Spark reuses its Python workers
(``spark.python.worker.reuse``, on by default). A worker scores on ``spark.task.cpus`` threads
(1 unless set), so ``local[N]`` keeps N cores busy with N workers. The model's name is checked
when the function is made, on the driver, so an unknown model is a ``ValueError`` before any job.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
from pyspark import TaskContext
from pyspark.sql import Column, DataFrame
from pyspark.sql.functions import arrow_udf
from pyspark.sql.types import FloatType, StringType, StructField, StructType

from . import _check_model, labels, score

__all__ = ["append_sentiment", "scored_schema", "sentiment", "sentiment_label", "with_sentiment"]

SCORE = "sentiment_score"
LABEL = "sentiment_label"


def _scorer(model: str | None, models_dir: str | os.PathLike | None, threads: int | None,
            provider: str, name: str = "sentiment",
            then: Callable[[pa.Array], pa.Array] = lambda scores: scores) -> Callable[[pa.Array], pa.Array]:
    """Scores reviews in a worker on ``threads`` or the task's cores, then applies ``then``: typed
    for ``arrow_udf``, and called ``name``, which Spark shows in the column's name."""

    def scores(reviews: pa.Array) -> pa.Array:
        task = TaskContext.get()
        cores = threads or (task.cpus() if task is not None else None)
        return then(score(reviews, model, models_dir, cores, provider))

    scores.__name__ = scores.__qualname__ = name
    return scores


def scored_schema(schema: StructType) -> StructType:
    """``schema`` with ``sentiment_score`` FLOAT and ``sentiment_label`` STRING appended: the
    schema to give ``mapInArrow`` with ``append_sentiment``. A clash is a ``ValueError``."""
    clashes = [name for name in (SCORE, LABEL) if name in schema.fieldNames()]
    if clashes:
        raise ValueError(f"the input already has a column {clashes[0]!r}; rename it before scoring")
    return StructType([*schema.fields, StructField(SCORE, FloatType()), StructField(LABEL, StringType())])


def append_sentiment(review: str = "review", model: str | None = None, *,
                     models_dir: str | os.PathLike | None = None, threads: int | None = None,
                     provider: str = "cpu") -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """The function for ``DataFrame.mapInArrow``: each batch with ``sentiment_score`` and
    ``sentiment_label`` of its column ``review`` appended (schema: ``scored_schema``)."""
    _check_model(model, models_dir=models_dir, threads=1, provider=provider)
    scores = _scorer(model, models_dir, threads, provider)

    def append(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            batch_scores = scores(batch.column(review))
            yield pa.RecordBatch.from_arrays([*batch.columns, batch_scores, labels(batch_scores)],
                                             names=[*batch.schema.names, SCORE, LABEL])

    return append


def with_sentiment(df: DataFrame, review: str = "review", model: str | None = None, **options: Any) -> DataFrame:
    """``df`` with ``sentiment_score`` and ``sentiment_label`` of its string column ``review``
    appended, scored by ``model`` (default: the default model). Options: ``models_dir``,
    ``threads``, ``provider``. A missing or non-string column is an error here, before any job."""
    field = df.schema[review]
    if not isinstance(field.dataType, StringType):
        raise TypeError(f"column {review!r} must be a string to be scored, not {field.dataType.simpleString()}")
    return df.mapInArrow(append_sentiment(review, model, **options), scored_schema(df.schema))


def sentiment(model: str | None = None, *, models_dir: str | os.PathLike | None = None,
              threads: int | None = None, provider: str = "cpu") -> Callable[..., Column]:
    """An Arrow UDF giving P(positive) of a string column as FLOAT: ``sentiment()("review")``."""
    _check_model(model, models_dir=models_dir, threads=1, provider=provider)
    return arrow_udf(_scorer(model, models_dir, threads, provider), FloatType())


def sentiment_label(model: str | None = None, *, models_dir: str | os.PathLike | None = None,
                    threads: int | None = None, provider: str = "cpu") -> Callable[..., Column]:
    """An Arrow UDF giving ``"positive"`` or ``"negative"`` for a string column, as STRING."""
    _check_model(model, models_dir=models_dir, threads=1, provider=provider)
    return arrow_udf(_scorer(model, models_dir, threads, provider, LABEL, labels), StringType())
