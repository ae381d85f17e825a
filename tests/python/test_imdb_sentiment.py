"""The imdb_sentiment Python package against `scorer score`, run by scripts/python-test.

Every model's scores through datafusion-python's SQL and through the plain-Arrow entry point must
equal the scorer's on IMDB test within 1e-6; NULL and empty reviews, an unknown model, a wrong
argument type, a missing models folder, two threads scoring at once and the provenance a footer
carries are checked too. Environment: SCORER (the scorer binary), IMDB_TEST (the Parquet file).
"""

import functools
import os
import subprocess
import tempfile
import threading
import unittest
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from datafusion import SessionContext, udf

import imdb_sentiment

MODELS = ["attention", "gru", "mlp", "ngram", "rnn", "weighted-mlp"]
TOLERANCE = 1e-6


@functools.cache
def scorer_scores(model: str) -> dict:
    """id -> score of IMDB test by `scorer score`, run once per model for every test module."""
    with tempfile.TemporaryDirectory() as out:
        output = Path(out) / "scored.parquet"
        subprocess.run([os.environ["SCORER"], "score", "--input", os.environ["IMDB_TEST"], "--output", str(output),
                        "--model", model], check=True, capture_output=True)
        table = pq.read_table(output, columns=["id", "sentiment_score"])
    return dict(zip(table["id"].to_pylist(), table["sentiment_score"].to_pylist()))


class AgainstTheScorer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.reviews = Path(os.environ["IMDB_TEST"])
        cls.expected = {m: scorer_scores(m) for m in MODELS}
        cls.table = pq.read_table(cls.reviews, columns=["id", "review"])

    def assert_same(self, model, ids, scores):
        expected = self.expected[model]
        self.assertEqual(len(ids), len(expected))
        worst = max(abs(expected[i] - s) for i, s in zip(ids, scores))
        self.assertLessEqual(worst, TOLERANCE, f"{model}: worst difference {worst}")

    def test_sql_in_datafusion_python_gives_the_scorers_scores(self):
        ctx = SessionContext()
        imdb_sentiment.register(ctx)
        ctx.register_parquet("reviews", str(self.reviews))
        for model in MODELS:
            result = ctx.sql(f"SELECT id, sentiment(review, '{model}') AS s FROM reviews").to_arrow_table()
            self.assert_same(model, result["id"].to_pylist(), result["s"].to_pylist())
        default = ctx.sql("SELECT id, sentiment(review) AS s FROM reviews").to_arrow_table()
        self.assert_same("ngram", default["id"].to_pylist(), default["s"].to_pylist())

    def test_plain_arrow_gives_the_scorers_scores(self):
        for model in MODELS:
            scores = imdb_sentiment.score(self.table["review"], model=model)
            self.assertEqual(scores.type, pa.float32())
            self.assert_same(model, self.table["id"].to_pylist(), scores.to_pylist())

    def test_two_threads_at_once_give_the_serial_scores(self):
        reviews = self.table["review"].combine_chunks()
        serial = {m: imdb_sentiment.score(reviews, model=m) for m in ("gru", "mlp")}
        results = {}

        def run(model):
            results[model] = imdb_sentiment.score(reviews, model=model)

        threads = [threading.Thread(target=run, args=(m,)) for m in serial]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for model, scores in serial.items():
            self.assertTrue(results[model].equals(scores), model)


class Edges(unittest.TestCase):
    def test_null_and_wordless_reviews_score_null(self):
        scores = imdb_sentiment.score(pa.array([None, "", "   ", "1984!", "A wonderful film."]), model="mlp")
        self.assertEqual(scores.null_count, 4)
        self.assertGreater(scores[4].as_py(), 0.5)
        self.assertEqual(len(imdb_sentiment.score(pa.array([], pa.string()))), 0)

    def test_large_and_view_strings_and_lists_are_taken(self):
        plain = imdb_sentiment.score(pa.array(["good", "awful"]), model="mlp")
        self.assertTrue(imdb_sentiment.score(pa.array(["good", "awful"], pa.large_string()), model="mlp").equals(plain))
        self.assertTrue(imdb_sentiment.score(pa.array(["good", "awful"], pa.string_view()), model="mlp").equals(plain))
        self.assertTrue(imdb_sentiment.score(["good", "awful"], model="mlp").equals(plain))

    def test_an_unknown_model_is_a_value_error_naming_the_models(self):
        with self.assertRaisesRegex(ValueError, 'unknown model "bert".*gru'):
            imdb_sentiment.score(pa.array(["good"]), model="bert")
        ctx = SessionContext()
        imdb_sentiment.register(ctx)
        with self.assertRaisesRegex(Exception, 'unknown model "bert"'):
            ctx.sql("SELECT sentiment('good', 'bert')").collect()

    def test_a_wrong_argument_type_is_an_error_naming_it(self):
        with self.assertRaisesRegex(TypeError, "string array, not Int64"):
            imdb_sentiment.score(pa.array([1, 2]))
        ctx = SessionContext()
        imdb_sentiment.register(ctx)
        with self.assertRaisesRegex(Exception, "review must be text"):
            ctx.sql("SELECT sentiment(42)").collect()
        with self.assertRaisesRegex(Exception, "literal"):
            ctx.sql("SELECT sentiment(r, r) FROM (VALUES ('good'), ('gru')) AS t(r)").collect()

    def test_a_capsule_consumed_already_is_a_value_error_not_a_panic(self):
        capsules = pa.array(["A wonderful film"]).__arrow_c_array__()
        first = pa.Array._import_from_c_capsule(*imdb_sentiment._native.score(capsules))
        self.assertEqual(len(first), 1)
        with self.assertRaisesRegex(ValueError, "consumed already"):
            imdb_sentiment._native.score(capsules)
        # The extension is still usable.
        self.assertEqual(len(imdb_sentiment.score(["Dull"])), 1)

    def test_a_missing_models_folder_is_an_error_naming_it(self):
        with self.assertRaisesRegex(imdb_sentiment.SentimentError, "no-such-models"):
            imdb_sentiment.functions(models_dir="/no-such-models")

    def test_the_functions_are_separate_objects_for_register_udf(self):
        ctx = SessionContext()
        ctx.register_udf(udf(imdb_sentiment.sentiment_label()))
        ctx.register_udf(udf(imdb_sentiment.sentiment_explain()))
        label = ctx.sql("SELECT sentiment_label('A wonderful, moving film.', 'mlp') AS l").to_arrow_table()
        self.assertEqual(label["l"].to_pylist(), ["positive"])
        words = ctx.sql("SELECT unnest(sentiment_explain('wonderful film', 'mlp')) AS w").to_arrow_table()
        self.assertEqual([w["token"] for w in words["w"].to_pylist()], ["wonderful", "film"])

    def test_provenance_lands_in_a_parquet_footer(self):
        scores = imdb_sentiment.score(pa.array(["good"]), model="rnn")
        table = pa.table({"score": scores}).replace_schema_metadata(imdb_sentiment.provenance(["rnn"]))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "scored.parquet"
            pq.write_table(table, path)
            footer = {k.decode(): v.decode() for k, v in pq.read_metadata(path).metadata.items()}
        self.assertEqual(footer["sentiment.model"], "rnn")
        self.assertEqual(len(footer["sentiment.model_sha256"]), 64)
        self.assertEqual(footer["sentiment.package"], "imdb-sentiment")

    def test_a_rescored_file_says_only_what_scored_it_last(self):
        # pyarrow reads a table's schema metadata from the Arrow schema embedded in the footer,
        # which must not keep the input's sentiment.* keys: the footer's own keys say what scored.
        with tempfile.TemporaryDirectory() as tmp:
            first, second = Path(tmp) / "first.parquet", Path(tmp) / "second.parquet"
            source = pa.table({"review": ["A wonderful film", "Dull"]})
            pq.write_table(source, Path(tmp) / "in.parquet")
            run = lambda *args: subprocess.run([os.environ["SCORER"], "score", *args], check=True, capture_output=True)
            run("--input", str(Path(tmp) / "in.parquet"), "--output", str(first))
            run("--input", str(first), "--output", str(second), "--model", "mlp",
                "--score-column", "mlp_score", "--label-column-out", "mlp_label")
            schema_metadata = pq.read_table(second).schema.metadata or {}
            footer = pq.read_metadata(second).metadata
        self.assertNotIn(b"sentiment.model", schema_metadata, "the first scoring's model is not carried over")
        self.assertEqual(footer[b"sentiment.model"], b"mlp")


if __name__ == "__main__":
    unittest.main()
