"""imdb_sentiment in the engines themselves, against `scorer score` on IMDB test: DuckDB
(`imdb_sentiment.duckdb.register`) and Polars (`imdb_sentiment.polars`); run by
scripts/python-test. Environment: SCORER (the scorer binary), IMDB_TEST (the Parquet file).
"""

import os
import unittest
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa

import imdb_sentiment.duckdb
from imdb_sentiment.polars import sentiment, sentiment_label
from .test_imdb_sentiment import TOLERANCE, scorer_scores

MODELS = ["ngram", "mlp"]


class Engines(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.reviews = Path(os.environ["IMDB_TEST"])
        cls.expected = {m: scorer_scores(m) for m in MODELS}

    def assert_same(self, model, ids, scores):
        expected = self.expected[model]
        self.assertEqual(sorted(ids), sorted(expected), "every review, once")
        worst = max(abs(expected[i] - s) for i, s in zip(ids, scores))
        self.assertLessEqual(worst, TOLERANCE, f"{model}: worst difference {worst}")

    def test_duckdb_scores_imdb_test_as_the_scorer_does(self):
        con = duckdb.connect()
        imdb_sentiment.duckdb.register(con)
        imdb_sentiment.duckdb.register(con, "mlp", prefix="mlp_")
        rows = con.execute("SELECT id, sentiment(review), mlp_sentiment(review), sentiment_label(review) "
                           "FROM read_parquet(?)", [str(self.reviews)]).fetchall()
        ids = [r[0] for r in rows]
        self.assert_same("ngram", ids, [r[1] for r in rows])
        self.assert_same("mlp", ids, [r[2] for r in rows])
        self.assertEqual({r[3] for r in rows}, {"positive", "negative"})
        self.assertEqual([r[3] == "positive" for r in rows], [r[1] > 0.5 for r in rows])

    def test_polars_scores_imdb_test_as_the_scorer_does(self):
        df = pl.read_parquet(self.reviews, columns=["id", "review"])
        scored = df.with_columns(s=sentiment(pl.col("review")), m=sentiment(pl.col("review"), "mlp"),
                                 label=sentiment_label(pl.col("review")))
        self.assertEqual(scored.schema["s"], pl.Float32)
        self.assert_same("ngram", scored["id"].to_list(), scored["s"].to_list())
        self.assert_same("mlp", scored["id"].to_list(), scored["m"].to_list())
        self.assertEqual((scored["label"] == "positive").to_list(), (scored["s"] > 0.5).to_list())

    def test_nulls_and_wordless_reviews_give_null_and_bad_input_is_the_engines_error(self):
        con = duckdb.connect()
        imdb_sentiment.duckdb.register(con)
        rows = con.sql("SELECT sentiment(r), sentiment_label(r) FROM (VALUES (NULL), (''), ('1234 !!')) t(r)")
        self.assertEqual(rows.fetchall(), [(None, None)] * 3)
        with self.assertRaisesRegex(duckdb.BinderException, r"sentiment\(col0 VARCHAR"):
            con.sql("SELECT sentiment(42)").fetchall()
        with self.assertRaisesRegex(ValueError, 'unknown model "bert"; the models are'):
            imdb_sentiment.duckdb.register(con, "bert")
        df = pl.DataFrame({"review": [None, "", "A wonderful film"], "n": [1, 2, 3]})
        scored = df.select(s=sentiment(pl.col("review")), l=sentiment_label(pl.col("review")))
        self.assertEqual(scored["s"].to_list()[:2], [None, None])
        self.assertEqual(scored["l"].to_list(), [None, None, "positive"])
        with self.assertRaisesRegex(TypeError, "reviews must be an Arrow string array, not Int64"):
            df.select(sentiment(pl.col("n")))
        with self.assertRaisesRegex(ValueError, 'unknown model "bert"'):
            df.select(sentiment(pl.col("review"), "bert"))


if __name__ == "__main__":
    unittest.main()
