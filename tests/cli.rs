//! The `scorer` command line end to end, with the shipped models: scoring a file, a folder and a
//! glob; refusing to overwrite; atomic output; streaming; SQL; eval against the model cards.

use crate::common;

use std::process::{Command, Stdio};

use arrow::array::{Array, AsArray};
use arrow::datatypes::Float32Type;
use common::{provenance, read, repo, sample, scorer, stderr};
use sentiment::data::LabeledReviews;

#[test]
fn scores_a_file_keeping_every_row_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("reviews.parquet");
    std::fs::copy(sample(), &input).unwrap();
    let out = scorer(&["--input", input.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["rows"], 18);
    let written = read(&dir.path().join("reviews.scored.parquet"));
    let names: Vec<_> = written.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["id", "movie_id", "review", "label", "sentiment_score", "sentiment_label"]);
    assert_eq!(written.num_rows(), 18);
    let scores = written.column(4).as_primitive::<Float32Type>();
    assert!(scores.is_null(17), "a NULL review gets a NULL score");
    assert!(scores.is_null(16), "an empty review has no words to judge");
    // The sample's clear-cut reviews are judged right.
    let ids = written.column(0).as_primitive::<arrow::datatypes::Int64Type>();
    for (id, positive) in [(4, false), (7, false), (10, true), (13, true)] {
        let row = ids.values().iter().position(|&i| i == id).unwrap();
        assert_eq!(scores.value(row) > 0.5, positive, "review {id}: {}", scores.value(row));
    }
}

#[test]
fn scores_a_folder_and_a_glob_alike() {
    let dir = tempfile::tempdir().unwrap();
    let landing = dir.path().join("landing");
    std::fs::create_dir(&landing).unwrap();
    for name in ["a.parquet", "b.parquet"] {
        std::fs::copy(sample(), landing.join(name)).unwrap();
    }
    let by_folder = dir.path().join("folder.parquet");
    let by_glob = dir.path().join("glob.parquet");
    let out = scorer(&["score", "--input", landing.to_str().unwrap(), "--output", by_folder.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pattern = format!("{}/*.parquet", landing.display());
    let out = scorer(&["score", "--input", &pattern, "--output", by_glob.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (a, b) = (read(&by_folder), read(&by_glob));
    assert_eq!(a.num_rows(), 36);
    assert_eq!(a, b);
}

#[test]
fn refuses_to_overwrite_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.parquet");
    std::fs::write(&output, b"precious").unwrap();
    let out = scorer(&["--input", sample().to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--overwrite"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&output).unwrap(), b"precious");
    let out = scorer(&["--input", sample().to_str().unwrap(), "--output", output.to_str().unwrap(), "--overwrite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read(&output).num_rows(), 18);
}

#[test]
fn an_output_column_clash_is_refused_with_the_way_out() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.parquet");
    let out = scorer(&[
        "--input",
        sample().to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
        "--score-column",
        "label",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("--score-column"), "{}", stderr(&out));
    assert!(!output.exists());
}

#[test]
fn a_killed_run_leaves_nothing_at_the_output_path() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.parquet");
    let imdb = repo().join("../shared/data/imdb/unsup.parquet");
    let mut child = Command::new(env!("CARGO_BIN_EXE_scorer"))
        .args(["--input", imdb.to_str().unwrap(), "--output", output.to_str().unwrap(), "--batch-size", "256"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it is writing (its temporary file exists), then kill it.
    let started = std::time::Instant::now();
    while std::fs::read_dir(dir.path()).unwrap().count() == 0 && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "the job ended before it could be killed");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "a temporary file is being written");
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!output.exists(), "a killed run must not leave a file at the output path");
}

#[test]
fn missing_column_names_the_columns_there_are() {
    let out = scorer(&["--input", sample().to_str().unwrap(), "--column", "text", "--output", "/tmp/never.parquet"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("no column \"text\"") && err.contains("movie_id"), "{err}");
}

#[test]
fn usage_errors_exit_with_two() {
    assert_eq!(scorer(&["score"]).status.code(), Some(2));
    assert_eq!(scorer(&["--no-such-flag"]).status.code(), Some(2));
}

#[test]
fn stream_scores_ndjson_and_plain_lines_and_reports_bad_ones() {
    use std::io::Write;
    let mut child = common::spawn_scorer(&["stream"]);
    let input = "{\"id\": 1, \"review\": \"A wonderful, moving film\"}\n{\"review\": \"broken\n{\"id\": 2}\nTerrible and boring\n";
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "the malformed and the field-less lines are skipped");
    assert_eq!(lines[0]["id"], 1);
    assert_eq!(lines[0]["sentiment_label"], "positive");
    assert_eq!(lines[1]["review"], "Terrible and boring");
    assert_eq!(lines[1]["sentiment_label"], "negative");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("line 2") && err.contains("line 3"), "{err}");
}

#[test]
fn sql_runs_the_functions_over_a_table() {
    let out = scorer(&[
        "sql",
        "--input",
        sample().to_str().unwrap(),
        "--format",
        "json",
        "SELECT id, sentiment(review) AS s, sentiment_label(review, 'mlp') AS l FROM reviews ORDER BY id",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 18);
    assert_eq!(rows[17], serde_json::json!({"id": 18, "s": null, "l": null}), "NULL review, NULL score");
}

#[test]
fn sql_copy_writes_a_parquet_file() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("nightly.parquet");
    let query = format!(
        "COPY (SELECT id, sentiment(review) AS score FROM reviews) TO '{}' STORED AS PARQUET",
        output.display()
    );
    let out = scorer(&["sql", "--table", &format!("reviews={}", sample().display()), &query]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read(&output).num_rows(), 18);
    // Snappy pages, as `scorer score` writes them.
    let file = std::fs::File::open(&output).unwrap();
    let metadata =
        parquet::file::reader::FileReader::metadata(&parquet::file::reader::SerializedFileReader::new(file).unwrap())
            .clone();
    let codec = metadata.row_group(0).column(0).compression();
    assert_eq!(codec, parquet::basic::Compression::SNAPPY);
}

#[test]
fn sql_copy_writes_row_groups_as_score_does() {
    // DataFusion's default would put all 40,000 rows in one row group, held in memory until then.
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("series.parquet");
    let query = format!(
        "COPY (SELECT value AS id, sentiment('a fine film', 'mlp') AS score FROM generate_series(1, 40000)) \
         TO '{}' STORED AS PARQUET",
        output.display()
    );
    let out = scorer(&["sql", &query]);
    assert!(out.status.success(), "{}", stderr(&out));
    let file = std::fs::File::open(&output).unwrap();
    let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
    let metadata = parquet::file::reader::FileReader::metadata(&reader);
    let rows: Vec<i64> = metadata.row_groups().iter().map(|group| group.num_rows()).collect();
    assert_eq!(rows.iter().sum::<i64>(), 40_000);
    let most = sentiment::io::output::ROW_GROUP_SIZE as i64;
    assert!(rows.len() >= 3 && rows.iter().all(|&n| n <= most), "row groups of {rows:?} rows");
}

/// The SHA-256 of a shipped model's file, by coreutils.
fn sha256sum(model: &str) -> String {
    let out = Command::new("sha256sum").arg(repo().join("models").join(format!("{model}.onnx"))).output().unwrap();
    String::from_utf8(out.stdout).unwrap().split_whitespace().next().unwrap().to_owned()
}

#[test]
fn scored_parquet_files_say_what_scored_them() {
    let dir = tempfile::tempdir().unwrap();
    let scored = dir.path().join("scored.parquet");
    let out = scorer(&["--input", sample().to_str().unwrap(), "--output", scored.to_str().unwrap(), "--model", "rnn"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let footer = provenance(&scored);
    assert_eq!(footer["sentiment.package"], "imdb-sentiment");
    assert_eq!(footer["sentiment.version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(footer["sentiment.model"], "rnn");
    assert_eq!(footer["sentiment.model_sha256"], sha256sum("rnn"));
    assert_eq!(footer["sentiment.contract_version"], "1");
    assert_eq!(footer["sentiment.provider"], "cpu");
    let at = &footer["sentiment.scored_at"];
    assert!(at.len() == 20 && at.starts_with("20") && at.ends_with('Z'), "RFC 3339 in UTC: {at}");

    // A COPY names every model its query calls, in order, the default one included.
    let copied = dir.path().join("copied.parquet");
    let query = format!(
        "COPY (SELECT id, sentiment(review, 'mlp') AS a, sentiment_label(review) AS b FROM reviews) TO '{}'",
        copied.display()
    );
    let out = scorer(&["sql", "--input", sample().to_str().unwrap(), &query]);
    assert!(out.status.success(), "{}", stderr(&out));
    let footer = provenance(&copied);
    assert_eq!(footer["sentiment.model"], "mlp,ngram");
    assert_eq!(footer["sentiment.model_sha256"], format!("{},{}", sha256sum("mlp"), sha256sum("ngram")));
    assert_eq!(footer["sentiment.contract_version"], "1,2");
    // A COPY that scores nothing claims nothing, and the statement's own metadata wins.
    let query =
        format!("COPY (SELECT id FROM reviews) TO '{}' OPTIONS ('format.metadata::owner' 'nightly')", copied.display());
    assert!(scorer(&["sql", "--input", sample().to_str().unwrap(), &query]).status.success());
    assert!(provenance(&copied).is_empty());
}

#[test]
fn models_json_identifies_every_model_file() {
    let out = scorer(&["models", "--json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let models: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = models.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["attention", "gru", "mlp", "ngram", "rnn", "weighted-mlp"]);
    for model in &models {
        let name = model["name"].as_str().unwrap();
        assert_eq!(model["sha256"], sha256sum(name), "{name}");
        assert_eq!(model["contract_version"], if name == "ngram" { 2 } else { 1 });
        assert_eq!(model["default"], name == "ngram");
        assert!(model["test"]["accuracy"].as_f64().unwrap() > 0.8, "{name}");
    }
}

#[test]
fn sql_unknown_model_lists_the_models() {
    let out = scorer(&["sql", "--input", sample().to_str().unwrap(), "SELECT sentiment(review, 'bert') FROM reviews"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("unknown model \"bert\"") && err.contains("gru"), "{err}");
}

#[test]
fn eval_on_imdb_test_matches_every_model_card() {
    let test = repo().join("../shared/data/imdb/test.parquet");
    for name in ["rnn", "gru", "mlp", "weighted-mlp", "attention", "ngram"] {
        let out = scorer(&["eval", "--input", test.to_str().unwrap(), "--model", name, "--json"]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let card: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(repo().join(format!("models/{name}.json"))).unwrap())
                .unwrap();
        assert_eq!(report["n"], 25_000);
        for key in ["accuracy", "f1", "roc_auc"] {
            let (got, want) = (report[key].as_f64().unwrap(), card["test"][key].as_f64().unwrap());
            assert!((got - want).abs() < 1e-4, "{name} {key}: eval {got}, card {want}");
        }
    }
}

#[test]
fn eval_judges_the_short_text_check_beside_the_whole_reviews() {
    // A slice of IMDB test across both labels: every 25th review, 1,000 in all.
    let dir = tempfile::tempdir().unwrap();
    let slice = dir.path().join("slice.parquet");
    let test = read(&common::imdb("test"));
    let every_25th = arrow::array::UInt32Array::from_iter_values((0..test.num_rows() as u32).step_by(25));
    let columns = test.columns().iter().map(|c| arrow::compute::take(c, &every_25th, None).unwrap()).collect();
    common::write_batch(&slice, &arrow::record_batch::RecordBatch::try_new(test.schema(), columns).unwrap());

    let check = sentiment::short_texts::of(&LabeledReviews::load(&slice, "review", None).unwrap()).unwrap();
    let positive = check.labels.iter().filter(|&&l| l).count() as f64 / check.len() as f64;
    for model in ["ngram", "mlp"] {
        let out = scorer(&["eval", "--input", slice.to_str().unwrap(), "--short-texts", "--model", model, "--json"]);
        assert!(out.status.success(), "{model}: {}", stderr(&out));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["n"], 1000, "{model}: the whole reviews");
        let log_loss = report["log_loss"].as_f64().unwrap();
        assert!(log_loss > 0.0 && log_loss < 2f64.ln(), "{model}: better than always 1/2, {log_loss}");
        let short = &report["short_texts"];
        assert_eq!(short["n"], check.len() as u64 - short["no_words"].as_u64().unwrap(), "{model}");
        assert!(check.len() > 1000, "a first and a last sentence of most of the extreme reviews");
        assert!((short["labeled_positive"].as_f64().unwrap() - positive).abs() < 0.01, "{model}");
        let accuracy = short["accuracy"].as_f64().unwrap();
        assert!(accuracy > 0.6 && accuracy < report["accuracy"].as_f64().unwrap(), "{model}: {accuracy}");
        let predicted = short["predicted_positive"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&predicted), "{model}: {predicted}");
    }

    // Without ratings there is no check to build.
    let out = scorer(&["eval", "--input", sample().to_str().unwrap(), "--short-texts"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cannot build the short-text check") && stderr(&out).contains("\"rating\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn explain_prints_the_words_and_the_verdict() {
    let out = scorer(&["explain", "This movie is amazing", "--model", "weighted-mlp"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    for word in ["this", "movie", "is", "amazing", "positive"] {
        assert!(text.contains(word), "{text}");
    }
}

/// The n-gram model explains with its n-grams: each distinct word and word pair of the whole
/// review it has a weight for, once, with its sub-score, in the command line and in SQL.
#[test]
fn the_ngram_model_explains_with_its_ngrams() {
    let out = scorer(&["explain", "Not good. Not good at all, a waste of time.", "--model", "ngram"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("model: ngram\nn-gram"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with("not good ")).count(), 1, "{text}");
    assert!(text.contains("waste of") && text.contains("negative"), "{text}");

    let query = "SELECT w.token AS ngram, w.score AS score, w.weight AS weight \
                 FROM (SELECT unnest(sentiment_explain(review, 'ngram')) AS w FROM reviews WHERE id = 1)";
    let out = scorer(&["sql", "--input", sample().to_str().unwrap(), "--format", "json", query]);
    assert!(out.status.success(), "{}", stderr(&out));
    let rows: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(rows.iter().any(|r| r["ngram"].as_str().unwrap().contains(' ')), "word pairs too: {rows:?}");
    assert!(rows.iter().all(|r| r["weight"] == 1.0 && r["score"].is_number()), "{rows:?}");
}

#[test]
fn a_missing_onnx_runtime_library_is_named() {
    let out = Command::new(env!("CARGO_BIN_EXE_scorer"))
        .args(["explain", "fine"])
        .env("ORT_DYLIB_PATH", "/nonexistent/libonnxruntime.so")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/libonnxruntime.so"), "{}", stderr(&out));
}

#[test]
fn cuda_where_it_is_unavailable_is_an_error_not_a_fallback() {
    let out = scorer(&["explain", "fine", "--provider", "cuda"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no CUDA execution provider"), "{}", stderr(&out));
    let out = scorer(&["explain", "fine", "--provider", "auto"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("CUDA is not available"), "{}", stderr(&out));
}

/// Runs `scorer` with `args` and `input` on stdin, its stdout's reader gone before it writes (as
/// `| head -1` leaves once it has its line): it must end with exit 0 and say nothing.
fn ends_quietly_when_the_reader_leaves(args: &[&str], input: Vec<u8>) {
    let mut child = common::spawn_scorer(args);
    drop(child.stdout.take());
    let mut stdin = child.stdin.take().unwrap();
    // The scorer may stop reading early; a failed write here is expected then.
    let writer = std::thread::spawn(move || {
        let _ = std::io::Write::write_all(&mut stdin, &input);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
    assert_eq!(stderr(&out), "", "{args:?}");
}

#[test]
fn a_reader_that_leaves_is_success_for_every_printing_command() {
    let sample = sample();
    let sample = sample.to_str().unwrap();
    for format in ["table", "csv", "json"] {
        ends_quietly_when_the_reader_leaves(
            &["sql", "--input", sample, "--format", format, "SELECT id, sentiment(review) AS s FROM reviews"],
            Vec::new(),
        );
    }
    ends_quietly_when_the_reader_leaves(&["stream"], b"{\"review\": \"a fine film\"}\n".repeat(3000));
    ends_quietly_when_the_reader_leaves(&["tokens"], b"\"a fine film\"\n".repeat(30_000));
    ends_quietly_when_the_reader_leaves(&["models"], Vec::new());
}

#[test]
fn sql_reads_a_file_whose_name_holds_glob_characters_as_itself() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r[1].csv"), "id,review\n1,the bracketed file\n").unwrap();
    std::fs::write(dir.path().join("r1.csv"), "id,review\n9,the file a glob would match\n").unwrap();
    std::fs::write(dir.path().join("odd #?.csv"), "id,review\n2,hash and question mark\n").unwrap();
    for (name, id) in [("r[1].csv", 1), ("odd #?.csv", 2)] {
        let table = format!("r={}", dir.path().join(name).display());
        let out = scorer(&["sql", "--table", &table, "--format", "csv", "SELECT id FROM r"]);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), format!("id\n{id}\n"), "{name}");
    }
}

#[test]
fn sql_takes_a_where_of_four_thousand_ored_terms() {
    // It overflowed the stack of the thread that planned it, and the process aborted (exit 134).
    let terms: Vec<String> = (0..4000).map(|i| format!("review = 'w{i}'")).collect();
    let query = format!("SELECT count(*) AS n FROM reviews WHERE {}", terms.join(" OR "));
    let out = scorer(&["sql", "--input", sample().to_str().unwrap(), "--format", "csv", &query]);
    assert!(out.status.success(), "{:?}: {}", out.status, stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "n\n0\n");
}

#[test]
fn sql_csv_of_no_rows_still_prints_its_header() {
    let query = "SELECT id, sentiment(review) AS s FROM reviews WHERE id < 0";
    let out = scorer(&["sql", "--input", sample().to_str().unwrap(), "--format", "csv", query]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "id,s\n");
}

#[test]
fn sql_json_writes_null_so_every_line_has_every_key() {
    let out = scorer(&[
        "sql",
        "--format",
        "json",
        "SELECT sentiment(review) AS s, 1 AS one FROM (VALUES ('a fine film'), (NULL)) AS t(review)",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert!(lines[0]["s"].is_number(), "{lines:?}");
    assert_eq!(lines[1], serde_json::json!({"s": null, "one": 1}));
}

#[test]
fn every_shipped_model_labels_the_exercises_reviews_right() {
    use sentiment::catalog::Catalog;
    let catalog = Catalog::open(&repo().join("models"), 1, sentiment::runtime::Provider::Cpu).unwrap();
    let texts: Vec<&str> = sentiment::card::SEED_EXAMPLES.iter().map(|(text, _)| *text).collect();
    for name in catalog.names() {
        let model = catalog.model(name).unwrap();
        let scores = model.probabilities(&model.encode(&texts)).unwrap();
        for ((text, positive), score) in sentiment::card::SEED_EXAMPLES.iter().zip(scores) {
            assert_eq!(score > 0.5, *positive, "{name} gives {score} to {text:?}");
        }
    }
}

#[test]
fn sql_over_stdin_emits_rows_before_the_input_ends() {
    use std::io::{BufRead, BufReader, Write};
    let query = "SELECT id, sentiment_label(review) AS label FROM reviews WHERE id > 1";
    let mut child = common::spawn_scorer(&["sql", "--stdin", "reviews", "--format", "json", query]);
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    // A watchdog: a scorer that waits for the end of the input would block this test forever. It
    // stands down when the test ends (`_done` dropped), before the scorer's pid can be reused.
    let pid = child.id();
    let (_done, ended) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let waited = ended.recv_timeout(std::time::Duration::from_secs(120));
        if waited == Err(std::sync::mpsc::RecvTimeoutError::Timeout) {
            let _ = Command::new("kill").arg(pid.to_string()).status();
        }
    });
    let mut line = String::new();
    for (id, review, label) in [(2, "A wonderful, moving film.", "positive"), (3, "Dull and far too long.", "negative")]
    {
        writeln!(stdin, r#"{{"id": 1, "review": "filtered out"}}"#).unwrap();
        writeln!(stdin, r#"{{"id": {id}, "review": "{review}"}}"#).unwrap();
        stdin.flush().unwrap();
        // The row comes back while stdin is still open.
        line.clear();
        stdout.read_line(&mut line).unwrap();
        let row: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!((row["id"].as_i64(), row["label"].as_str()), (Some(id), Some(label)), "{line}");
    }
    drop(stdin);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
}

#[test]
fn sql_over_stdin_refuses_a_query_that_needs_the_whole_input_unless_bounded() {
    use std::io::Write;
    let run = |args: &[&str]| {
        let mut child = common::spawn_scorer(args);
        let mut stdin = child.stdin.take().unwrap();
        writeln!(stdin, r#"{{"id": 1, "review": "A wonderful film"}}"#).unwrap();
        writeln!(stdin, r#"{{"id": 2, "review": "An awful film"}}"#).unwrap();
        drop(stdin);
        child.wait_with_output().unwrap()
    };
    let query = "SELECT sentiment_label(review) AS label, count(*) AS n FROM reviews GROUP BY 1 ORDER BY 1";
    let refused = run(&["sql", "--stdin", "reviews", query]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("needs the whole input") && stderr(&refused).contains("--bounded"));
    let answered = run(&["sql", "--stdin", "reviews", "--bounded", "--format", "csv", query]);
    assert!(answered.status.success(), "{}", stderr(&answered));
    assert_eq!(String::from_utf8(answered.stdout).unwrap(), "label,n\nnegative,1\npositive,1\n");
}

#[test]
fn sql_over_stdin_names_the_lines_that_do_not_fit() {
    use std::io::Write;
    let run = |input: &str| {
        let mut child = common::spawn_scorer(&["sql", "--stdin", "reviews", "SELECT * FROM reviews"]);
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{input}");
        stderr(&output)
    };
    let err = run("{\"id\": 1, \"review\": \"good\"}\n{\"id\": \"x\", \"review\": \"bad\"}\n");
    assert!(err.contains("stdin lines 1 to 2") && err.contains("failed to parse \"x\" as Int64"), "{err}");
    let err = run("[1, 2]\n");
    assert!(err.contains("stdin line 1 is not a JSON object"), "{err}");
    let err = run("");
    assert!(err.contains("no input on stdin for table reviews"), "{err}");
    // Two objects on one line would fill the decoder's batch early and lose rows; an unfinished
    // object would swallow the next line.
    let two_per_line = "{\"review\": \"a\"} {\"review\": \"b\"}\n".repeat(10);
    let err = run(&format!("{{\"review\": \"first\"}}\n{two_per_line}"));
    assert!(err.contains("stdin line 2: not one JSON object"), "{err}");
    let err = run("{\"review\": \"first\"}\n{\"review\":\n\"second\"}\n");
    assert!(err.contains("stdin line 2: not one JSON object"), "{err}");
}
