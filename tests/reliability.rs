//! The reliability matrix of `docs/reliability.md`, one test per row: odd values in the review
//! column, schema problems, broken files and interrupted jobs, broken models, and streaming input.
//! Every failure must name its cause, exit non-zero and leave nothing at the output path.

use crate::common;

use std::io::Write;
use std::path::Path;
use std::process::{Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, BinaryArray, Int64Array, StringArray};
use common::{imdb, read, sample, scorer, scorer_command, scores, stderr, write, write_reviews};

/// Scores `input` into `output` with `extra` arguments; panics with stderr when the run fails.
fn score(input: &Path, output: &Path, extra: &[&str]) -> Vec<Option<f32>> {
    let mut args = vec!["score", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = scorer(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    scores(output)
}

/// Asserts that a run failed with exit code 1 and a message holding every one of `needles`.
fn assert_fails_naming(out: &Output, needles: &[&str]) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    for needle in needles {
        assert!(err.contains(needle), "{needle:?} not in: {err}");
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<_> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

// Values inside a review column.

#[test]
fn reviews_without_words_get_no_score_and_keep_their_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("odd.parquet"), dir.path().join("out.parquet"));
    let reviews = [
        Some("A wonderful film"),
        None,
        Some(""),
        Some("   \t\n "),
        Some("1234 !!!"),
        Some("😀🎬 日本語の映画 фильм"),
        Some("Dreadful, a waste of time"),
    ];
    write_reviews(&input, &reviews);
    let scores = score(&input, &output, &[]);
    assert_eq!(scores.len(), reviews.len(), "no row is dropped");
    assert!(scores[0].unwrap() > 0.5 && scores[6].unwrap() < 0.5, "{scores:?}");
    assert!(scores[1..6].iter().all(Option::is_none), "no words, no score: {scores:?}");
    let written = read(&output);
    let ids: &Int64Array = written.column(0).as_any().downcast_ref().unwrap();
    assert_eq!(ids.values().to_vec(), (0..7).collect::<Vec<i64>>(), "rows keep their order");
    let labels: &StringArray = written.column(3).as_any().downcast_ref().unwrap();
    assert_eq!(labels.null_count(), 5);
}

/// A word model's first 100 words, a 10 MB review that goes on after them, and 100 and 5,000
/// repetitions of one word.
fn long_reviews(input: &Path) {
    let opening = "An awful, boring and predictable film. ".repeat(20);
    let first_hundred = sentiment::text::tokenize(&opening).join(" ");
    let huge = format!("{opening}{}", "brilliant masterpiece ".repeat(10 * 1024 * 1024 / 22));
    let repeated = "great ".repeat(5_000);
    write_reviews(input, &[Some(&first_hundred), Some(&huge), Some(&"great ".repeat(100)), Some(&repeated)]);
}

#[test]
fn only_the_first_hundred_words_count_however_long_the_review() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("long.parquet"), dir.path().join("out.parquet"));
    long_reviews(&input);
    let scores = score(&input, &output, &["--model", "gru"]);
    assert!((scores[0].unwrap() - scores[1].unwrap()).abs() < 1e-6, "{scores:?}");
    assert!((scores[2].unwrap() - scores[3].unwrap()).abs() < 1e-6, "{scores:?}");
}

#[test]
fn the_ngram_model_reads_a_whole_long_review_and_each_ngram_once() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("long.parquet"), dir.path().join("out.parquet"));
    long_reviews(&input);
    let scores = score(&input, &output, &["--model", "ngram"]);
    // The praise after the first 100 words counts, but as its four n-grams, once each: it moves
    // the logit by far more than rounding would.
    let logit = |p: f32| (p / (1.0 - p)).ln();
    assert!(logit(scores[1].unwrap()) - logit(scores[0].unwrap()) > 0.3, "{scores:?}");
    assert!((scores[2].unwrap() - scores[3].unwrap()).abs() < 1e-6, "repetition does not: {scores:?}");
}

#[test]
fn invalid_utf8_in_a_binary_column_only_separates_words() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("bytes.parquet"), dir.path().join("out.parquet"));
    let texts: Vec<&[u8]> = vec![b"A great \xff\xfe film, truly \xc3\x28moving", b"A great film truly moving"];
    write(&input, vec![("review", Arc::new(BinaryArray::from(texts)) as ArrayRef)]);
    let scores = score(&input, &output, &[]);
    assert_eq!(scores[0], scores[1]);
    assert!(scores[0].is_some());
}

// Schema.

#[test]
fn null_and_categorical_review_columns_are_text() {
    // NULL gives NULL, as a literal and as an NDJSON column with no value at all (type Null).
    let out = scorer(&["sql", "--format", "csv", "SELECT sentiment(NULL) AS s, sentiment_label(NULL) AS l"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "s,l\n,\n");
    let dir = tempfile::tempdir().unwrap();
    let nulls = dir.path().join("nulls.jsonl");
    std::fs::write(&nulls, "{\"id\": 1, \"review\": null}\n{\"id\": 2, \"review\": null}\n").unwrap();
    assert_eq!(score(&nulls, &dir.path().join("nulls.parquet"), &[]), [None, None]);
    // A dictionary-encoded (categorical) column, as pandas and Polars write them.
    let values = Arc::new(StringArray::from(vec!["A wonderful, moving film", "Awful and boring"]));
    let keys = arrow::array::Int32Array::from(vec![Some(0), Some(1), None, Some(0)]);
    let categorical = arrow::array::DictionaryArray::<arrow::datatypes::Int32Type>::try_new(keys, values).unwrap();
    let input = dir.path().join("categorical.parquet");
    write(&input, vec![("review", Arc::new(categorical) as ArrayRef)]);
    let scores = score(&input, &dir.path().join("categorical.scored.parquet"), &[]);
    assert!(scores[0].unwrap() > 0.5 && scores[1].unwrap() < 0.5 && scores[2].is_none(), "{scores:?}");
    assert_eq!(scores[0], scores[3]);
}

#[test]
fn a_column_that_is_not_text_is_named_with_its_type() {
    let out = scorer(&["--input", sample().to_str().unwrap(), "--column", "id", "--output", "/tmp/never.parquet"]);
    assert_fails_naming(&out, &["\"id\"", "Int64", "not text"]);
    assert!(!Path::new("/tmp/never.parquet").exists());
}

#[test]
fn an_empty_file_gives_an_empty_output_with_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let (input, output) = (dir.path().join("empty.parquet"), dir.path().join("out.parquet"));
    write_reviews(&input, &[]);
    assert!(score(&input, &output, &[]).is_empty());
    let written = read(&output);
    let names: Vec<_> = written.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, ["id", "review", "sentiment_score", "sentiment_label"]);
}

#[test]
fn files_of_different_schemas_are_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let landing = dir.path().join("landing");
    std::fs::create_dir(&landing).unwrap();
    write_reviews(&landing.join("a.parquet"), &[Some("fine")]);
    let texts = StringArray::from(vec!["fine"]);
    write(&landing.join("b.parquet"), vec![("review", Arc::new(texts) as ArrayRef)]);
    let output = dir.path().join("out.parquet");
    let out = scorer(&["--input", landing.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert_fails_naming(&out, &["b.parquet", "different schema"]);
    assert!(!output.exists());
}

// Files.

#[test]
fn corrupt_and_truncated_parquet_is_named_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(sample()).unwrap();
    let cases = [
        ("garbage.parquet", b"this is not parquet at all".to_vec()),
        ("truncated.parquet", bytes[..bytes.len() / 2].to_vec()),
        // A valid footer over damaged pages: fails while decoding, after writing has begun.
        ("damaged.parquet", {
            let mut b = bytes.clone();
            b[4..bytes.len() / 2].fill(0x5a);
            b
        }),
    ];
    for (name, content) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, content).unwrap();
        let output = dir.path().join(format!("{name}.out"));
        let out = scorer(&["--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
        assert_fails_naming(&out, &[name]);
        assert!(!output.exists(), "{name}: nothing at the output path");
    }
    assert_eq!(files_in(dir.path()).len(), 3, "no temporary file is left: {:?}", files_in(dir.path()));
}

#[test]
fn a_missing_input_is_named() {
    let out = scorer(&["--input", "/no/such/reviews.parquet"]);
    assert_fails_naming(&out, &["/no/such/reviews.parquet", "does not exist"]);
    let out = scorer(&["--input", "/no/such/*.parquet"]);
    assert_fails_naming(&out, &["no Parquet, CSV or NDJSON files in /no/such/*.parquet"]);
}

#[test]
fn a_batch_size_of_zero_or_too_large_is_refused_and_the_output_kept() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample();
    for extension in ["parquet", "csv", "ndjson"] {
        let output = dir.path().join(format!("out.{extension}"));
        std::fs::write(&output, b"precious").unwrap();
        let path = output.to_str().unwrap();
        for rows in ["0", "2000000000"] {
            let args = ["score", "--input", input.to_str().unwrap(), "--output", path, "--overwrite"];
            let out = scorer(&[&args[..], &["--batch-size", rows]].concat());
            assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
            assert!(stderr(&out).contains("--batch-size") && stderr(&out).contains("1 to"), "{}", stderr(&out));
            assert_eq!(std::fs::read(&output).unwrap(), b"precious", "{extension}, --batch-size {rows}");
        }
    }
    let out = scorer(&["stream", "--batch-size", "200000000"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = scorer(&["score", "--input", input.to_str().unwrap(), "--rows-per-call", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("a model call holds 1 to"), "{}", stderr(&out));
}

#[test]
fn onnx_runtime_and_python_modules_are_never_loaded_from_the_current_folder() {
    let dir = tempfile::tempdir().unwrap();
    // What someone else's folder might hold where the scorer once looked first: loading either
    // would run their code (here, fail to load or leave a mark).
    let planted = dir.path().join(".deps/onnxruntime");
    std::fs::create_dir_all(&planted).unwrap();
    std::fs::write(planted.join("libonnxruntime.so.1.31.1"), b"not a library").unwrap();
    std::fs::write(dir.path().join("onnxruntime.py"), "open('planted-code-ran', 'w').close()\n").unwrap();
    let output = dir.path().join("out.parquet");
    let out = scorer_command()
        .current_dir(dir.path())
        .env_remove("ORT_DYLIB_PATH")
        .args(["score", "--input", sample().to_str().unwrap(), "--output", output.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(read(&output).num_rows(), 18);
    assert!(!dir.path().join("planted-code-ran").exists());
}

#[test]
fn an_output_folder_that_cannot_be_written_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("missing-folder/out.parquet");
    let out = scorer(&["--input", sample().to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert_fails_naming(&out, &["cannot write in", "missing-folder"]);
    // A folder that is a file.
    std::fs::write(dir.path().join("file"), b"").unwrap();
    let output = dir.path().join("file/out.parquet");
    let out = scorer(&["--input", sample().to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert_fails_naming(&out, &["cannot write in"]);
}

/// Starts `scorer` with `args` and returns once a file has appeared in `dir`: the job is writing.
fn spawn_writing(args: &[&str], dir: &Path) -> std::process::Child {
    let child = scorer_command().args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let started = Instant::now();
    while files_in(dir).is_empty() {
        assert!(started.elapsed() < Duration::from_secs(60), "the job never started writing");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Starts scoring IMDB's 50,000 unlabeled reviews into `output` in small batches and returns
/// once the job is writing its temporary file.
fn start_long_job(output: &Path) -> std::process::Child {
    let (input, output_arg) = (imdb("unsup"), output.to_str().unwrap());
    let args = ["--input", input.to_str().unwrap(), "--output", output_arg, "--batch-size", "256"];
    let child = spawn_writing(&args, output.parent().unwrap());
    std::thread::sleep(Duration::from_millis(300));
    child
}

#[test]
fn sigint_and_sigterm_stop_cleanly_with_exit_130() {
    for signal in ["INT", "TERM"] {
        let (scored, copied) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        interrupt(start_long_job(&scored.path().join("out.parquet")), signal);
        // A COPY, whose files DataFusion stages as `copy.parquet#1`.
        let query = format!(
            "COPY (SELECT review, sentiment(review, 'attention') AS s FROM reviews) TO '{}' STORED AS PARQUET",
            copied.path().join("copy.parquet").display()
        );
        let unsup = imdb("unsup");
        let sql = ["sql", "--input", unsup.to_str().unwrap(), &query];
        interrupt(spawn_writing(&sql, copied.path()), signal);
        for dir in [&scored, &copied] {
            assert!(files_in(dir.path()).is_empty(), "SIG{signal}: left {:?}", files_in(dir.path()));
        }
    }
}

#[test]
fn an_output_another_run_wrote_meanwhile_is_not_replaced_without_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.parquet");
    let child = start_long_job(&output);
    // Another run to the same new output finishes first.
    std::fs::write(&output, b"the other run's file").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("was written by another run while this one scored"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&output).unwrap(), b"the other run's file");
    assert_eq!(files_in(dir.path()), ["out.parquet"], "no temporary file is left");
}

#[test]
fn after_sigkill_nothing_is_at_the_output_and_a_rerun_completes_and_tidies_up() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.parquet");
    let mut child = start_long_job(&output);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!output.exists());
    assert_eq!(files_in(dir.path()).len(), 1, "the killed run's temporary file");
    let out = scorer(&["--input", imdb("unsup").to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(files_in(dir.path()), ["out.parquet"], "the rerun removed the orphaned temporary file");
    assert_eq!(read(&output).num_rows(), 50_000);
}

// Models.

/// A models folder holding the shipped `gru` (its files linked, so that each test may break one).
fn models_copy(dir: &Path) -> std::path::PathBuf {
    let models = dir.join("models");
    std::fs::create_dir(&models).unwrap();
    for file in ["vocab.txt", "glove.f32", "gru.onnx", "gru.json"] {
        std::os::unix::fs::symlink(common::repo().join("models").join(file), models.join(file)).unwrap();
    }
    models
}

/// Scores the sample with the models of `models`; the input is checked only after the model.
fn score_with_models(models: &Path, model: &str) -> Output {
    let out_dir = tempfile::tempdir().unwrap();
    let output = out_dir.path().join("out.parquet");
    let out = scorer(&[
        "--input",
        "/no/such/input.parquet",
        "--output",
        output.to_str().unwrap(),
        "--models-dir",
        models.to_str().unwrap(),
        "--model",
        model,
    ]);
    assert!(files_in(out_dir.path()).is_empty());
    out
}

#[test]
fn a_missing_model_file_stops_the_job_before_any_data_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let models = models_copy(dir.path());
    std::fs::remove_file(models.join("gru.onnx")).unwrap();
    assert_fails_naming(&score_with_models(&models, "gru"), &["gru.json", "has no model file", "gru.onnx"]);
    let out = scorer(&["--input", "/no/such/input.parquet", "--model", "/no/such/model.onnx"]);
    assert_fails_naming(&out, &["/no/such"]);
}

#[test]
fn a_corrupt_model_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let models = models_copy(dir.path());
    std::fs::remove_file(models.join("gru.onnx")).unwrap();
    std::fs::write(models.join("gru.onnx"), b"\x08\x07garbage, not a protobuf").unwrap();
    assert_fails_naming(&score_with_models(&models, "gru"), &["cannot load model", "gru.onnx"]);
}

#[test]
fn a_card_that_does_not_match_its_model_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let models = models_copy(dir.path());
    let card = std::fs::read_to_string(models.join("gru.json")).unwrap();
    let mut card: serde_json::Value = serde_json::from_str(&card).unwrap();
    card["contract"]["outputs"].as_array_mut().unwrap().push("token_weights".into());
    std::fs::remove_file(models.join("gru.json")).unwrap();
    std::fs::write(models.join("gru.json"), card.to_string()).unwrap();
    assert_fails_naming(&score_with_models(&models, "gru"), &["does not match its card", "token_weights"]);
    // A model file under another model's name: the same check catches it.
    let models = dir.path().join("swapped");
    std::fs::create_dir(&models).unwrap();
    for (from, to) in [("vocab.txt", "vocab.txt"), ("glove.f32", "glove.f32"), ("mlp.json", "mlp.json")] {
        std::os::unix::fs::symlink(common::repo().join("models").join(from), models.join(to)).unwrap();
    }
    std::os::unix::fs::symlink(common::repo().join("models/gru.onnx"), models.join("mlp.onnx")).unwrap();
    assert_fails_naming(&score_with_models(&models, "mlp"), &["does not match its card"]);
}

/// Contracts 2 and 3 are the n-gram models': a card that claims another contract than its file
/// follows, a contract this scorer does not run, or an n-gram card whose number of buckets or
/// longest n-gram is missing or not its file's is refused by name.
#[test]
fn a_model_of_another_contract_or_hashing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let models = models_copy(dir.path());
    std::os::unix::fs::symlink(common::repo().join("models/ngram.onnx"), models.join("ngram.onnx")).unwrap();
    let write_card = |name: &str, contract: serde_json::Value| {
        let card = std::fs::read_to_string(common::repo().join(format!("models/{name}.json"))).unwrap();
        let mut card: serde_json::Value = serde_json::from_str(&card).unwrap();
        card["contract"] = contract;
        let path = models.join(format!("{name}.json"));
        let _ = std::fs::remove_file(&path);
        std::fs::write(path, card.to_string()).unwrap();
    };
    let contract = |version: u32, buckets: Option<u32>| {
        let mut contract = serde_json::json!({ "version": version, "opset": 17, "outputs": ["probability"] });
        if let Some(buckets) = buckets {
            contract["ngram_buckets"] = buckets.into();
        }
        contract
    };
    write_card("gru", contract(2, Some(1 << 18)));
    assert_fails_naming(&score_with_models(&models, "gru"), &["gru.onnx", "follows model contract 1", "contract 2"]);
    write_card("gru", contract(4, None));
    assert_fails_naming(&score_with_models(&models, "gru"), &["states model contract 4", "contracts 1, 2 and 3"]);
    let shipped = std::fs::read_to_string(common::repo().join("models/ngram.json")).unwrap();
    let shipped: serde_json::Value = serde_json::from_str(&shipped).unwrap();
    let file_says = format!("{} buckets", shipped["contract"]["ngram_buckets"]);
    write_card("ngram", contract(2, Some(1000)));
    assert_fails_naming(&score_with_models(&models, "ngram"), &["ngram.onnx", &file_says, "loaded for 1000"]);
    write_card("ngram", contract(2, None));
    assert_fails_naming(&score_with_models(&models, "ngram"), &["contract 2 but no ngram_buckets"]);
    // Contract 3 states the longest n-gram; a file of pairs is not read as one of triples.
    let buckets = shipped["contract"]["ngram_buckets"].as_u64().map(|b| b as u32);
    write_card("ngram", contract(3, buckets));
    assert_fails_naming(&score_with_models(&models, "ngram"), &["contract 3 but no ngram_max_n"]);
    let mut triples = contract(3, buckets);
    triples["ngram_max_n"] = 3.into();
    write_card("ngram", triples);
    assert_fails_naming(
        &score_with_models(&models, "ngram"),
        &["ngram.onnx", "follows model contract 2, but was loaded for contract 3", "up to 3 words"],
    );
}

#[test]
fn an_unknown_model_name_lists_the_models() {
    let out = scorer(&["--input", sample().to_str().unwrap(), "--model", "bert"]);
    assert_fails_naming(&out, &["unknown model \"bert\"", "attention", "gru"]);
}

// Streaming.

fn stream(input: &[u8]) -> Output {
    let mut child = common::spawn_scorer(&["stream"]);
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

fn stream_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8(out.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn stream_reports_bad_lines_by_number_and_goes_on() {
    let out =
        stream(b"{\"review\": \"Superb\"}\n{\"review\": \nnot \xff utf-8\n{\"id\": 3}\n{\"review\": \"\"}\nDull\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = stream_lines(&out);
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert_eq!(lines[0]["sentiment_label"], "positive");
    assert!(lines[1]["sentiment_score"].is_null() && lines[1]["sentiment_label"].is_null(), "no words, no score");
    assert_eq!(lines[2]["sentiment_label"], "negative");
    let err = stderr(&out);
    for expected in ["line 2: malformed JSON", "line 3: cannot read stdin", "line 4: no \"review\" field"] {
        assert!(err.contains(expected), "{expected:?} not in: {err}");
    }
}

#[test]
fn stream_scores_a_last_line_cut_off_by_the_end_of_input() {
    let out = stream(b"{\"id\": 1, \"review\": \"Superb\"}\nA truly dreadful fil");
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = stream_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["review"], "A truly dreadful fil");
    assert_eq!(lines[1]["sentiment_label"], "negative");
}

#[test]
fn stream_scores_a_null_review_null_skips_a_mark_and_refuses_a_field_it_would_overwrite() {
    let out = stream(b"\xef\xbb\xbf{\"review\": \"Superb\"}\n{\"id\": 2, \"review\": null}\n{\"review\": \"Dull\", \"sentiment_score\": 9}\n");
    assert!(out.status.success(), "{}", stderr(&out));
    let lines = stream_lines(&out);
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["review"], "Superb", "the byte-order mark is not part of the line");
    assert_eq!(lines[1]["id"], 2);
    assert!(lines[1]["sentiment_score"].is_null() && lines[1]["sentiment_label"].is_null());
    let err = stderr(&out);
    assert!(err.contains("line 3: the line has a field \"sentiment_score\" already"), "{err}");
}

// Text files.

/// Writes `content` to `dir/name` and scores it into `dir/out-<name>`: the run and its output.
fn score_text(dir: &Path, name: &str, content: &[u8]) -> (Output, std::path::PathBuf) {
    let (input, output) = (dir.join(name), dir.join(format!("out-{name}")));
    std::fs::write(&input, content).unwrap();
    (scorer(&["score", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]), output)
}

#[test]
fn csv_a_header_only_file_gives_a_header_only_output_and_an_open_quote_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (out, output) = score_text(dir.path(), "header.csv", b"id,review\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&output).unwrap(), "id,review,sentiment_score,sentiment_label\n");

    let (out, output) = score_text(dir.path(), "open.csv", b"id,review\n1,\"Good film\n2,Bad film\n3,Fine\n");
    assert_fails_naming(&out, &["open.csv", "the quoted field opened on line 2 is never closed"]);
    assert!(!output.exists());
}

#[test]
fn text_files_may_open_with_a_byte_order_mark() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("r.csv", "id,review\n1,Superb\n"), ("r.jsonl", "{\"id\":1,\"review\":\"Superb\"}\n")] {
        let (out, output) = score_text(dir.path(), name, &[&b"\xef\xbb\xbf"[..], text.as_bytes()].concat());
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let batch = common::read_any(&output);
        assert_eq!(batch.schema().field(0).name(), "id", "{name}");
        assert_eq!(common::score_column(&batch).len(), 1);
    }
}

#[test]
fn ndjson_a_field_first_seen_late_or_a_bad_line_is_named_by_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = "{\"review\":\"Superb\"}\n".repeat(10_001);
    text.push_str("{\"review\":\"Dull\",\"extra\":1}\n");
    let (out, output) = score_text(dir.path(), "late.jsonl", text.as_bytes());
    assert_fails_naming(&out, &["late.jsonl", "line 10002", "extra"]);
    assert!(!output.exists(), "the field is not silently dropped");

    let mut text = "{\"review\":\"Superb\"}\n".repeat(5_000);
    text.push_str("{\"review\": oops}\n");
    let (out, _) = score_text(dir.path(), "bad.jsonl", text.as_bytes());
    assert_fails_naming(&out, &["bad.jsonl line 5001 is not JSON"]);
}

#[test]
fn two_columns_named_like_the_review_column_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = score_text(dir.path(), "two.csv", b"review,review\nSuperb,Dull\n");
    assert_fails_naming(&out, &["2 columns are named \"review\""]);
}

#[test]
fn eval_of_a_file_with_nothing_to_judge_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("empty.csv");
    std::fs::write(&input, "review,label\n").unwrap();
    let out = scorer(&["eval", "--input", input.to_str().unwrap()]);
    assert_fails_naming(&out, &["empty.csv: no labeled review with words to judge"]);
    assert!(out.stdout.is_empty(), "no metrics of nothing");
}

// Signals for every long-running subcommand.

/// Sends `signal` to `child` and returns its output, asserting that it stopped with exit 130
/// within 10 s.
fn interrupt(child: std::process::Child, signal: &str) -> Output {
    let status = std::process::Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status();
    assert!(status.unwrap().success());
    let sent = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "SIG{signal}: {}", stderr(&out));
    assert!(sent.elapsed() < Duration::from_secs(10), "stopped after {:?}", sent.elapsed());
    assert!(stderr(&out).contains("interrupted"), "{}", stderr(&out));
    out
}

#[test]
fn stream_and_eval_stop_on_a_signal() {
    // A stream whose input stays open.
    let mut child = common::spawn_scorer(&["stream"]);
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(b"{\"review\": \"Superb\"}\n").unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    interrupt(child, "TERM");
    drop(stdin);

    // The slowest model, a few seconds over IMDB train; its handler is installed within
    // milliseconds of the start.
    let child = scorer_command()
        .args(["eval", "--input", imdb("train").to_str().unwrap(), "--model", "rnn"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let out = interrupt(child, "INT");
    assert!(out.stdout.is_empty(), "no metrics of part of the file");
}
