"""Sentiment as Polars expressions (``pip install polars``)::

    import polars as pl
    from imdb_sentiment.polars import sentiment, sentiment_label

    df = pl.read_parquet("reviews.parquet")
    df.with_columns(score=sentiment(pl.col("review")), label=sentiment_label(pl.col("review")))

Each expression scores a whole column (every batch Polars hands it) through Arrow without a
copy (``imdb_sentiment.score``): ``map_batches``, not a compiled expression plugin, because a
plugin (pyo3-polars) must be built against the Polars release it runs in, and this package is
built once for any Polars. NULL and reviews with no words give NULL.
"""

from __future__ import annotations

import os

import polars as pl

from . import labels, score

__all__ = ["sentiment", "sentiment_label"]


def _scores(column: pl.Series, model: str | None, options: dict) -> pl.Series:
    return pl.Series(column.name, score(column.to_arrow(), model, **options), dtype=pl.Float32)


def sentiment(review: pl.Expr, model: str | None = None, *, models_dir: str | os.PathLike | None = None,
              threads: int | None = None, provider: str = "cpu") -> pl.Expr:
    """P(positive) of each review of a string expression, as Float32 (NULL for no words)."""
    options = {"models_dir": models_dir, "threads": threads, "provider": provider}
    return review.map_batches(lambda column: _scores(column, model, options), return_dtype=pl.Float32)


def sentiment_label(review: pl.Expr, model: str | None = None, *, models_dir: str | os.PathLike | None = None,
                    threads: int | None = None, provider: str = "cpu") -> pl.Expr:
    """``"positive"`` or ``"negative"`` for each review of a string expression (NULL for no words)."""
    options = {"models_dir": models_dir, "threads": threads, "provider": provider}

    def column_labels(column: pl.Series) -> pl.Series:
        return pl.Series(column.name, labels(score(column.to_arrow(), model, **options)), dtype=pl.String)

    return review.map_batches(column_labels, return_dtype=pl.String)
