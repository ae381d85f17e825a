"""`scorer serve` through pyarrow.flight, as RisingWave's arrow-udf client calls it, and through
that client itself; run by scripts/python-test. Environment: SCORER (the scorer binary),
RISINGWAVE_CLIENT (tests/risingwave-client built), IMDB_TEST (the Parquet file).
"""

import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import unittest
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as flight
import pyarrow.parquet as pq

from .test_imdb_sentiment import scorer_scores

BATCH = 1000


def start(*args):
    """A `scorer serve` on a free port; returns the process, its address and a connected client."""
    process = subprocess.Popen([os.environ["SCORER"], "serve", "--port", "0", *args],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("listening on "):
        process.kill()
        raise RuntimeError(f"scorer serve did not start: {line!r} {process.stderr.read()}")
    address = f"grpc://{line.split()[2]}"
    return process, address, flight.connect(address)


def exchange(client, function, batches):
    """Sends the batches one at a time and reads each answer before the next: row for row."""
    writer, reader = client.do_exchange(flight.FlightDescriptor.for_path(function))
    answers = []
    with writer:
        writer.begin(batches[0].schema)
        for batch in batches:
            writer.write_batch(batch)
            answers.append(reader.read_chunk().data)
        writer.done_writing()
    return answers


class FlightServer(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.process, cls.address, cls.client = start("--max-batch-rows", "5000")
        table = pq.read_table(os.environ["IMDB_TEST"], columns=["id", "review"])
        ids = table["id"].to_pylist()
        cls.expected = {model: [scorer_scores(model)[i] for i in ids] for model in ("ngram", "mlp")}
        cls.batches = table.select(["review"]).combine_chunks().to_batches(max_chunksize=BATCH)

    @classmethod
    def tearDownClass(cls):
        cls.process.kill()
        cls.process.communicate()

    def scores(self, function, batches=None):
        answers = exchange(self.client, function, batches or self.batches)
        for sent, got in zip(batches or self.batches, answers):
            self.assertEqual(sent.num_rows, got.num_rows, "each batch is answered row for row")
        return [v for answer in answers for v in answer.column(0).to_pylist()]

    def assert_close(self, got, expected):
        self.assertEqual(len(got), len(expected))
        worst = max(abs(a - b) for a, b in zip(got, expected) if a is not None)
        self.assertLessEqual(worst, 1e-6)

    def test_functions_are_listed_with_their_schemas(self):
        infos = {info.descriptor.path[0].decode(): info for info in self.client.list_flights()}
        for name in ("sentiment", "sentiment_label", "sentiment_explain", "sentiment_weighted_mlp", "sentiment_label_rnn"):
            self.assertIn(name, infos)
        info = self.client.get_flight_info(flight.FlightDescriptor.for_path("sentiment_mlp"))
        self.assertEqual(info.total_records, 1, "one argument")
        self.assertEqual(info.schema.types, [pa.string(), pa.float32()])
        self.assertEqual(info.schema.names, ["review", "sentiment_mlp"])
        version = list(self.client.do_action(flight.Action("protocol_version", b"")))
        self.assertEqual(version[0].body.to_pybytes(), b"\x02")

    def test_imdb_test_through_the_server_gives_the_scorers_scores(self):
        self.assert_close(self.scores("sentiment"), self.expected["ngram"])
        self.assert_close(self.scores("sentiment_mlp"), self.expected["mlp"])
        labels = self.scores("sentiment_label_mlp")
        self.assertEqual(labels, [None if s is None else ("positive" if s > 0.5 else "negative")
                                  for s in self.expected["mlp"]])

    def risingwave(self, function, reviews, chunk_rows=256):
        """RisingWave's own client (arrow-udf-flight) looks FUNCTION up and calls it on the reviews,
        CHUNK_ROWS at a time (RisingWave's default chunk size); one printed value per row."""
        address = self.address.replace("grpc://", "http://")
        return subprocess.run([os.environ["RISINGWAVE_CLIENT"], address, function, str(chunk_rows)],
                              input="".join(json.dumps(r) + "\n" for r in reviews), capture_output=True, text=True)

    def test_risingwaves_client_gets_the_scorers_scores(self):
        reviews = pa.Table.from_batches(self.batches)["review"].to_pylist()
        done = self.risingwave("sentiment_mlp", reviews)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("sentiment_mlp(varchar) returns Float32", done.stderr)
        self.assert_close([float(v) for v in done.stdout.splitlines()], self.expected["mlp"])
        done = self.risingwave("sentiment_label", reviews[:2000] + [None, ""], chunk_rows=1000)
        self.assertEqual(done.returncode, 0, done.stderr)
        expected = ["positive" if s > 0.5 else "negative" for s in self.expected["ngram"][:2000]]
        self.assertEqual(done.stdout.splitlines(), expected + ["null", "null"])

    def test_risingwaves_client_is_told_of_an_unknown_function(self):
        done = self.risingwave("sentiment_bert", ["fine"])
        self.assertNotEqual(done.returncode, 0)
        self.assertRegex(done.stderr, r'NotFound, message: "no function \\"sentiment_bert\\"')

    def test_explain_nulls_and_large_strings(self):
        batch = pa.record_batch([pa.array(["Truly wonderful film", None, ""], pa.large_string())], names=["review"])
        [answer] = exchange(self.client, "sentiment_explain_mlp", [batch])
        words = answer.column(0).to_pylist()
        self.assertEqual([w["token"] for w in words[0]], ["truly", "wonderful", "film"])
        self.assertIsNone(words[1])

    def test_a_batch_of_no_rows_gets_a_reply_of_no_rows(self):
        empty = pa.record_batch([pa.array([], pa.string())], names=["review"])
        answers = exchange(self.client, "sentiment_mlp", [self.batches[0], empty, self.batches[1]])
        self.assertEqual([a.num_rows for a in answers], [BATCH, 0, BATCH])
        self.assertEqual(answers[1].schema.field(0).name, "sentiment_mlp")

    def test_a_model_whose_name_would_collide_with_a_function_is_refused_at_start(self):
        with tempfile.TemporaryDirectory() as tmp:
            models = Path(__file__).resolve().parents[2] / "models"
            for name in ("vocab.txt", "glove.f32", "mlp.onnx", "mlp.json"):
                os.symlink(models / name, Path(tmp) / name)
            card = json.loads((models / "mlp.json").read_text())
            card["name"] = "label-mlp"
            (Path(tmp) / "label-mlp.json").write_text(json.dumps(card))
            os.symlink(models / "mlp.onnx", Path(tmp) / "label-mlp.onnx")
            run = subprocess.run([os.environ["SCORER"], "serve", "--port", "0", "--models-dir", tmp],
                                 capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertIn("two functions would be served as sentiment_label_mlp", run.stderr)

    def test_errors_are_replies_and_the_server_stays_up(self):
        # An unknown name is gRPC's NOT_FOUND, which pyarrow raises as a KeyError.
        with self.assertRaisesRegex(KeyError, 'no function "sentiment_bert"'):
            exchange(self.client, "sentiment_bert", self.batches[:1])
        ints = pa.record_batch([pa.array([1, 2])], names=["review"])
        # INVALID_ARGUMENT, which pyarrow raises as ArrowInvalid.
        with self.assertRaisesRegex(pa.ArrowInvalid, "one VARCHAR column"):
            exchange(self.client, "sentiment", [ints])
        big = pa.record_batch([pa.array(["fine"] * 5001)], names=["review"])
        with self.assertRaisesRegex(pa.ArrowInvalid, "over this server's limit of 5000"):
            exchange(self.client, "sentiment", [big])
        with self.assertRaises(KeyError):
            self.client.get_flight_info(flight.FlightDescriptor.for_path("nope"))
        self.assertEqual(len(self.scores("sentiment_mlp", self.batches[:2])), 2 * BATCH)

    def test_eight_clients_at_once_each_get_their_answers(self):
        failures = []
        deadline = time.monotonic() + 20

        def client_loop(offset):
            client = flight.connect(self.address)
            while time.monotonic() < deadline:
                batches = self.batches[offset:offset + 3]
                answers = exchange(client, "sentiment_mlp", batches)
                got = [v for a in answers for v in a.column(0).to_pylist()]
                expected = self.expected["mlp"][offset * BATCH:offset * BATCH + len(got)]
                if any((a is None) != (b is None) or (a is not None and abs(a - b) > 1e-6) for a, b in zip(got, expected)):
                    failures.append(offset)
                    return

        threads = [threading.Thread(target=client_loop, args=(3 * i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(failures, [])


class Backpressure(unittest.TestCase):
    def test_a_client_that_does_not_read_is_held_back_not_buffered(self):
        # sentiment_explain's answers are large (every word of 1,000 reviews), so unread answers
        # fill the connection's window at once; the server must then stop reading, not buffer.
        process, address, client = start()
        batch = pq.read_table(os.environ["IMDB_TEST"], columns=["review"]).slice(0, BATCH).to_batches()[0]
        attempts = 2000  # About 2.6 GB of reviews if nothing held the writer back.
        sent = []

        def rss_mb():
            with open(f"/proc/{process.pid}/status") as status:
                return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024

        def send(writer):
            try:
                for _ in range(attempts):
                    writer.write_batch(batch)
                    sent.append(1)
            except (pa.ArrowException, OSError):
                pass  # The exchange was cancelled while the write waited.

        try:
            writer, reader = client.do_exchange(flight.FlightDescriptor.for_path("sentiment_explain_mlp"))
            writer.begin(batch.schema)
            writer.write_batch(batch)
            reader.read_chunk()  # The model has run once: its memory is in the baseline.
            before = rss_mb()
            sender = threading.Thread(target=send, args=(writer,), daemon=True)
            sender.start()
            time.sleep(4)
            held = len(sent)
            time.sleep(2)
            still, grown = len(sent), rss_mb() - before
            reader.cancel()
            sender.join(10)
            self.assertEqual(held, still, "the writer is held back")
            self.assertLess(held, 100, f"{held} batches of 1,000 reviews taken unread")
            self.assertLess(grown, 200, f"the server grew by {grown:.0f} MB")
            self.assertEqual(len(exchange(flight.connect(address), "sentiment_mlp", [batch])), 1,
                             "the server still answers")
        finally:
            process.kill()
            process.communicate()


class Bounds(unittest.TestCase):
    """The server's bounds (`--max-message-bytes`, `--max-exchanges`, `--idle-timeout`) against
    clients that cross them: each gets an error reply and the server answers the next client."""

    def setUp(self):
        self.process, self.address, self.client = start(
            "--max-message-bytes", "2000000", "--max-exchanges", "2", "--idle-timeout", "2")

    def tearDown(self):
        self.process.kill()
        self.process.communicate()

    def assert_still_serves(self):
        batch = pa.record_batch([pa.array(["a wonderful film"])], names=["review"])
        self.assertEqual(exchange(flight.connect(self.address), "sentiment", [batch])[0].num_rows, 1)

    def test_a_compressed_batch_that_expands_past_the_limit_is_refused_before_decoding(self):
        # 1,000 reviews of 100 kB compress to under 1 MB with LZ4 and ZSTD and decode to 100 MB.
        batch = pa.record_batch([pa.array(["a" * 100_000] * 1000)], names=["review"])
        def rss():
            with open(f"/proc/{self.process.pid}/status") as status:
                return int(next(line for line in status if line.startswith("VmRSS:")).split()[1])

        before = rss()
        for codec in ("lz4", "zstd"):
            options = pa.ipc.IpcWriteOptions(compression=codec)
            call = flight.FlightCallOptions(write_options=options)
            writer, reader = self.client.do_exchange(flight.FlightDescriptor.for_path("sentiment"), options=call)
            with self.assertRaisesRegex(pa.ArrowException, "max-message-bytes"):
                with writer:
                    writer.begin(batch.schema, options=options)
                    writer.write_batch(batch)
                    reader.read_chunk()
        self.assertLess((rss() - before) / 1024, 50, "the batch was never decoded")
        self.assert_still_serves()

    def test_exchanges_over_the_limit_are_refused_and_idle_ones_closed(self):
        batch = pa.record_batch([pa.array(["fine"])], names=["review"])
        held = []
        for _ in range(2):
            writer, reader = self.client.do_exchange(flight.FlightDescriptor.for_path("sentiment"))
            writer.begin(batch.schema)
            writer.write_batch(batch)
            reader.read_chunk()
            held.append((writer, reader))
        with self.assertRaisesRegex(pa.ArrowException, "max-exchanges"):
            exchange(self.client, "sentiment", [batch])
        # The two held exchanges send nothing more: after --idle-timeout they are closed.
        with self.assertRaisesRegex(pa.ArrowException, "idle-timeout"):
            held[0][1].read_chunk()
        time.sleep(0.5)
        self.assert_still_serves()


class Shutdown(unittest.TestCase):
    def test_sigterm_ends_the_server_with_exit_zero(self):
        process, _, client = start()
        self.assertTrue(list(client.list_flights()))
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
        self.assertEqual(process.returncode, 0)
        self.assertIn("stopped", stderr)

    def test_an_exchange_held_open_does_not_outlast_the_grace_period(self):
        process, _, client = start("--shutdown-grace", "1")
        batch = pa.record_batch([pa.array(["fine"])], names=["review"])
        writer, reader = client.do_exchange(flight.FlightDescriptor.for_path("sentiment"))
        writer.begin(batch.schema)
        writer.write_batch(batch)
        reader.read_chunk()
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
        self.assertEqual(process.returncode, 0)
        self.assertLess(time.monotonic() - started, 5, "closed after the grace period, not the exchange's end")


if __name__ == "__main__":
    unittest.main()
