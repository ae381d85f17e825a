"""``sentiment`` and ``sentiment_label`` as DuckDB functions over Arrow (``pip install duckdb``)::

    import duckdb
    import imdb_sentiment.duckdb

    con = duckdb.connect()
    imdb_sentiment.duckdb.register(con)                      # the default model
    con.sql("SELECT id, sentiment(review) AS score FROM 'reviews.parquet'").show()

DuckDB hands each function a whole vector of reviews as an Arrow array, which is scored without a
copy (``imdb_sentiment.score``); NULL and reviews with no words give NULL. The models load once per
process and are shared by every function and connection.
"""

from __future__ import annotations

import os
from typing import Any

import duckdb
import pyarrow as pa

from . import _check_model, labels, score

__all__ = ["register"]


def register(con: duckdb.DuckDBPyConnection, model: str | None = None, *, prefix: str = "",
             models_dir: str | os.PathLike | None = None, threads: int | None = None,
             provider: str = "cpu") -> None:
    """Registers ``sentiment(review)`` FLOAT and ``sentiment_label(review)`` VARCHAR on ``con``,
    with ``model`` (default: the default model), named with ``prefix`` in front
    (``prefix="mlp_"`` gives ``mlp_sentiment``) to register several models on one connection.
    An unknown model is a ``ValueError`` here, before any query runs."""
    options = {"models_dir": models_dir, "threads": threads, "provider": provider}
    _check_model(model, **options)

    def sentiment(reviews: Any) -> pa.Array:
        return score(reviews, model, **options)

    def sentiment_label(reviews: Any) -> pa.Array:
        return labels(score(reviews, model, **options))

    for name, function, returns in ((f"{prefix}sentiment", sentiment, duckdb.sqltypes.FLOAT),
                                    (f"{prefix}sentiment_label", sentiment_label, duckdb.sqltypes.VARCHAR)):
        con.create_function(name, function, [duckdb.sqltypes.VARCHAR], returns, type="arrow",
                            null_handling="special")
