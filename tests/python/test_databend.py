"""`scorer serve` called by Databend itself: the `databend` wheel embeds Databend's query engine,
whose `CREATE FUNCTION ... LANGUAGE python HANDLER ... ADDRESS` calls the server over Arrow Flight;
run by scripts/python-test. Environment: SCORER (the scorer binary), IMDB_TEST (the Parquet file).
"""

import os
import unittest
from pathlib import Path

from .test_flight import start
from .test_imdb_sentiment import TOLERANCE, scorer_scores


class Databend(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.process, address, _ = start()
        cls.address = address.replace("grpc://", "http://")
        # Databend calls only the servers it is told it may.
        os.environ["QUERY_ENABLE_UDF_SERVER"] = "true"
        os.environ["QUERY_UDF_SERVER_ALLOW_LIST"] = cls.address
        from databend import SessionContext

        cls.ctx = SessionContext()
        for name, returns in (("sentiment", "FLOAT"), ("sentiment_label", "STRING")):
            cls.ctx.sql(f"CREATE FUNCTION {name} (STRING) RETURNS {returns} LANGUAGE python "
                        f"HANDLER = '{name}' ADDRESS = '{cls.address}'").collect()
        reviews = Path(os.environ["IMDB_TEST"]).resolve()  # Databend takes no `..` in a path.
        cls.ctx.register_parquet("reviews", f"{reviews.parent}/", pattern=reviews.name)
        cls.expected = scorer_scores("ngram")

    @classmethod
    def tearDownClass(cls):
        cls.process.kill()
        cls.process.communicate()

    def test_all_of_imdb_test_in_one_select_gives_the_scorers_scores(self):
        # Databend sends a whole block per call: 25,000 long reviews, 33 MB.
        table = self.ctx.sql("SELECT id, sentiment(review) AS s, sentiment_label(review) AS l FROM reviews")
        table = table.to_arrow_table()
        ids, scores, labels = (table[c].to_pylist() for c in ("id", "s", "l"))
        self.assertEqual(sorted(ids), sorted(self.expected))
        worst = max(abs(self.expected[i] - s) for i, s in zip(ids, scores))
        self.assertLessEqual(worst, TOLERANCE)
        self.assertEqual([label == "positive" for label in labels], [s > 0.5 for s in scores])

    def test_null_and_empty_reviews_give_null_and_an_unknown_function_is_named(self):
        row = self.ctx.sql("SELECT sentiment(NULL) AS a, sentiment('') AS b, sentiment_label('1234') AS c")
        self.assertEqual(row.to_arrow_table().to_pylist(), [{"a": None, "b": None, "c": None}])
        # Databend asks the server for the function's schema when it is created.
        with self.assertRaisesRegex(RuntimeError, r'NotFound, message: "no function \\"sentiment_bert\\"'):
            self.ctx.sql(f"CREATE FUNCTION bert (STRING) RETURNS FLOAT LANGUAGE python HANDLER = 'sentiment_bert' "
                         f"ADDRESS = '{self.address}'").collect()
        # The server is still up for the next query.
        self.assertEqual(self.ctx.sql("SELECT sentiment_label('A wonderful film') AS l").to_arrow_table()["l"].to_pylist(),
                         ["positive"])


if __name__ == "__main__":
    unittest.main()
