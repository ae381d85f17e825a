"""imdb_sentiment in Spark itself (pyspark, local[2], on the machine's Java), against `scorer score`
on IMDB test: `with_sentiment` through mapInArrow and the `sentiment` / `sentiment_label` Arrow
UDFs; run by scripts/python-test. Environment: SCORER (the scorer binary), IMDB_TEST (the Parquet
file).
"""

import os
import sys
import unittest

from pyspark.errors import PythonException
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from imdb_sentiment.spark import append_sentiment, sentiment, sentiment_label, with_sentiment
from .test_imdb_sentiment import TOLERANCE, scorer_scores


class Spark(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # The workers run the interpreter that runs the tests, which has the package.
        os.environ["PYSPARK_PYTHON"] = sys.executable
        cls.spark = (SparkSession.builder.master("local[2]").appName("imdb-sentiment-test")
                     .config("spark.ui.enabled", "false").config("spark.ui.showConsoleProgress", "false")
                     .getOrCreate())
        # The failures these tests provoke reach them as exceptions; Spark need not log them too.
        cls.spark.sparkContext.setLogLevel("FATAL")
        cls.reviews = cls.spark.read.parquet(os.environ["IMDB_TEST"]).select("id", "review")

    @classmethod
    def tearDownClass(cls):
        cls.spark.stop()

    def assert_same(self, model, rows):
        expected = scorer_scores(model)
        self.assertEqual(sorted(r[0] for r in rows), sorted(expected), "every review, once")
        worst = max(abs(expected[i] - s) for i, s in rows)
        self.assertLessEqual(worst, TOLERANCE, f"{model}: worst difference {worst}")

    def test_with_sentiment_scores_imdb_test_as_the_scorer_does(self):
        scored = with_sentiment(self.reviews)
        self.assertEqual(scored.columns, ["id", "review", "sentiment_score", "sentiment_label"])
        rows = scored.select("id", "sentiment_score", "sentiment_label").collect()
        self.assert_same("ngram", [(r.id, r.sentiment_score) for r in rows])
        self.assertEqual([r.sentiment_label == "positive" for r in rows], [r.sentiment_score > 0.5 for r in rows])

    def test_the_arrow_udfs_score_imdb_test_as_the_scorer_does(self):
        scored = self.reviews.withColumn("score", sentiment("mlp")("review")) \
                             .withColumn("label", sentiment_label("mlp")("review"))
        self.assertEqual(dict(scored.dtypes)["score"], "float")
        rows = scored.select("id", "score", "label").collect()
        self.assert_same("mlp", [(r.id, r.score) for r in rows])
        self.assertEqual([r.label == "positive" for r in rows], [r.score > 0.5 for r in rows])

    def test_nulls_and_wordless_reviews_give_null(self):
        df = self.spark.createDataFrame([(1, None), (2, ""), (3, "1234 !!"), (4, "A wonderful film")],
                                        "n int, review string")
        rows = with_sentiment(df).withColumn("udf", sentiment()("review")).orderBy("n").collect()
        self.assertEqual([(r.sentiment_score, r.sentiment_label, r.udf) for r in rows[:3]], [(None, None, None)] * 3)
        self.assertEqual(rows[3].sentiment_label, "positive")
        self.assertEqual(rows[3].sentiment_score, rows[3].udf)

    def test_bad_input_is_an_error_naming_the_problem(self):
        with self.assertRaisesRegex(ValueError, 'unknown model "bert"; the models are'):
            sentiment("bert")
        with self.assertRaisesRegex(ValueError, 'unknown model "bert"'):
            with_sentiment(self.reviews, model="bert")
        numbers = self.spark.range(3).withColumn("review", F.col("id"))
        with self.assertRaisesRegex(TypeError, "column 'review' must be a string to be scored, not bigint"):
            with_sentiment(numbers)
        with self.assertRaisesRegex(PythonException, "reviews must be an Arrow string array, not Int64"):
            numbers.select(sentiment()("review")).collect()
        scored = with_sentiment(self.reviews.limit(1))
        with self.assertRaisesRegex(ValueError, "already has a column 'sentiment_score'"):
            with_sentiment(scored)
        with self.assertRaisesRegex(KeyError, "review"):
            with_sentiment(self.spark.range(1))
        # A column that is not there, found by the mapInArrow function itself.
        with self.assertRaisesRegex(PythonException, 'Field "review" does not exist'):
            self.spark.range(1).mapInArrow(append_sentiment(), "id long, sentiment_score float, "
                                           "sentiment_label string").collect()


if __name__ == "__main__":
    unittest.main()
