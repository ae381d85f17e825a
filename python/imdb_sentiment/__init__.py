"""Review sentiment with the IMDB GloVe models, from Python.

In DataFusion (``pip install datafusion==55.0.0``)::

    from datafusion import SessionContext
    import imdb_sentiment

    ctx = SessionContext()
    imdb_sentiment.register(ctx)          # sentiment, sentiment_label, sentiment_explain, sentiment_version
    ctx.register_parquet("reviews", "reviews.parquet")
    ctx.sql("SELECT id, sentiment(review) AS score FROM reviews").show()

On plain Arrow (pyarrow, or anything with ``__arrow_c_array__``)::

    scores = imdb_sentiment.score(pa.array(["A wonderful film.", None]), model="mlp")

Every function takes ``models_dir`` (default ``$SENTIMENT_MODELS``, else the ``models/`` folder
of the source tree the package was built from), ``threads`` (default: every core) and
``provider`` (``"cpu"``, ``"cuda"`` or ``"auto"``). ONNX Runtime is ``$ORT_DYLIB_PATH`` when
set, else the ``onnxruntime`` package of this interpreter when it is installed, else found as
the ``scorer`` command finds it.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from . import _native
from ._native import SentimentError, SqlFunction

__all__ = [
    "SentimentError",
    "SqlFunction",
    "functions",
    "labels",
    "provenance",
    "register",
    "score",
    "sentiment",
    "sentiment_explain",
    "sentiment_label",
    "sentiment_version",
]


def _use_this_interpreters_onnxruntime() -> None:
    """Points ONNX Runtime's loader at this interpreter's ``onnxruntime`` package, unless told."""
    if "ORT_DYLIB_PATH" in os.environ:
        return
    spec = importlib.util.find_spec("onnxruntime")
    if spec is None or spec.origin is None:
        return
    libraries = sorted((Path(spec.origin).parent / "capi").glob("libonnxruntime.so*"))
    if libraries:
        os.environ["ORT_DYLIB_PATH"] = str(libraries[-1])


_use_this_interpreters_onnxruntime()


def functions(models_dir: str | os.PathLike | None = None, threads: int | None = None,
              provider: str = "cpu") -> list[SqlFunction]:
    """The four SQL functions, as objects that ``datafusion.udf(...)`` takes."""
    return _native.functions(models_dir, threads, provider)


def _function(name: str, **options: Any) -> SqlFunction:
    return next(f for f in functions(**options) if f.name == name)


def sentiment(**options: Any) -> SqlFunction:
    """``sentiment(review [, model])`` FLOAT: P(positive), NULL for NULL."""
    return _function("sentiment", **options)


def sentiment_label(**options: Any) -> SqlFunction:
    """``sentiment_label(review [, model])`` VARCHAR: ``'positive'`` or ``'negative'``."""
    return _function("sentiment_label", **options)


def sentiment_explain(**options: Any) -> SqlFunction:
    """``sentiment_explain(review [, model])``: each word with its sub-score and weight."""
    return _function("sentiment_explain", **options)


def sentiment_version(**options: Any) -> SqlFunction:
    """``sentiment_version()`` VARCHAR: the package's and the models' version."""
    return _function("sentiment_version", **options)


def register(ctx: Any, **options: Any) -> None:
    """Registers the four functions on a ``datafusion.SessionContext``."""
    from datafusion import udf

    for function in functions(**options):
        ctx.register_udf(udf(function))


def score(reviews: Any, model: str | None = None, models_dir: str | os.PathLike | None = None,
          threads: int | None = None, provider: str = "cpu") -> Any:
    """P(positive) of each review as a ``pyarrow.FloatArray`` (NULL for NULL reviews).

    ``reviews`` is a pyarrow string array or chunked array, any object with
    ``__arrow_c_array__``, or a sequence that ``pyarrow.array`` takes (a list, a pandas Series).
    Arrow input is read without a copy, and the GIL is released while it is scored.
    """
    import pyarrow as pa

    if isinstance(reviews, pa.ChunkedArray):
        chunks = [score(chunk, model, models_dir, threads, provider) for chunk in reviews.chunks]
        return pa.chunked_array(chunks, type=pa.float32())
    if not hasattr(reviews, "__arrow_c_array__"):
        reviews = pa.array(reviews, type=pa.string())
    capsules = _native.score(reviews.__arrow_c_array__(), model, models_dir, threads, provider)
    return pa.Array._import_from_c_capsule(*capsules)


def _check_model(model: str | None, **options: Any) -> None:
    """Opens the models and checks ``model``'s name now, so that an engine's function made with an
    unknown model is a ``ValueError`` naming the models before any query runs."""
    score([], model, **options)


def labels(scores: Any) -> Any:
    """``"positive"`` above 0.5, else ``"negative"``, NULL for NULL: ``sentiment_label`` of scores."""
    import pyarrow.compute as pc

    return pc.if_else(pc.greater(scores, 0.5), "positive", "negative")


def provenance(models: list[str] | None = None, models_dir: str | os.PathLike | None = None,
               threads: int | None = None, provider: str = "cpu") -> dict[str, str]:
    """What made scores, for a Parquet footer: ``table.replace_schema_metadata(provenance())``.

    The same ``sentiment.*`` keys ``scorer score`` writes: package, version, model, the model
    file's SHA-256, contract version, provider and the time.
    """
    return _native.provenance(models, models_dir, threads, provider)
