//! Every subcommand reads Parquet, CSV and NDJSON alike, told apart by extension, and `score`
//! writes the input's format unless `--output` names another.

use std::path::{Path, PathBuf};

use crate::common::{self, read_any, sample, score_column, scorer, stderr};

/// The sample reviews written as `reviews.<extension>` in `dir`.
fn sample_as(dir: &Path, extension: &str) -> PathBuf {
    let path = dir.join(format!("reviews.{extension}"));
    common::write_text_format(&path, &common::read(&sample()));
    path
}

/// The sample's scores as `scorer score` gives them for the Parquet file.
fn parquet_scores(dir: &Path) -> Vec<Option<f32>> {
    let output = dir.join("from-parquet.parquet");
    let out = scorer(&["score", "--input", sample().to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    score_column(&read_any(&output))
}

fn assert_same_scores(got: &[Option<f32>], want: &[Option<f32>], what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: rows");
    for (row, (g, w)) in got.iter().zip(want).enumerate() {
        match (g, w) {
            (Some(g), Some(w)) => assert!((g - w).abs() < 1e-6, "{what}: row {row}: {g} vs {w}"),
            _ => assert_eq!(g, w, "{what}: row {row}"),
        }
    }
}

#[test]
fn score_writes_csv_and_ndjson_in_their_own_format() {
    let dir = tempfile::tempdir().unwrap();
    let want = parquet_scores(dir.path());
    for extension in ["csv", "ndjson"] {
        let input = sample_as(dir.path(), extension);
        let out = scorer(&["score", "--input", input.to_str().unwrap()]);
        assert!(out.status.success(), "{extension}: {}", stderr(&out));
        let output = dir.path().join(format!("reviews.scored.{extension}"));
        let scored = read_any(&output);
        for column in ["id", "movie_id", "review", "label", "sentiment_score", "sentiment_label"] {
            assert!(scored.column_by_name(column).is_some(), "{extension}: no column {column}");
        }
        assert_same_scores(&score_column(&scored), &want, extension);
    }
}

#[test]
fn the_output_extension_names_the_output_format() {
    let dir = tempfile::tempdir().unwrap();
    let input = sample_as(dir.path(), "csv");
    let output = dir.path().join("scored.parquet");
    let out = scorer(&["score", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(common::read(&output).num_rows(), 18, "a Parquet file");

    let unknown = dir.path().join("scored.txt");
    let out = scorer(&["score", "--input", input.to_str().unwrap(), "--output", unknown.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("scored.txt is neither Parquet, CSV nor NDJSON"), "{}", stderr(&out));
    assert!(!unknown.exists());
}

#[test]
fn an_input_of_no_known_format_is_named_by_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reviews.txt");
    std::fs::write(&path, "review\nfine\n").unwrap();
    let path = path.to_str().unwrap();
    let table = format!("r={path}");
    for args in [
        vec!["score", "--input", path],
        vec!["sql", "--table", &table, "SELECT * FROM r"],
        vec!["eval", "--input", path],
    ] {
        let out = scorer(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(stderr(&out).contains("reviews.txt is neither Parquet, CSV nor NDJSON"), "{args:?}: {}", stderr(&out));
    }
}

#[test]
fn sql_queries_csv_and_ndjson_tables() {
    let dir = tempfile::tempdir().unwrap();
    let want = parquet_scores(dir.path());
    for extension in ["csv", "ndjson"] {
        let input = sample_as(dir.path(), extension);
        let out = scorer(&[
            "sql",
            "--table",
            &format!("r={}", input.display()),
            "--format",
            "json",
            "SELECT id, sentiment(review) AS s FROM r ORDER BY id",
        ]);
        assert!(out.status.success(), "{extension}: {}", stderr(&out));
        let got: Vec<Option<f32>> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["s"].as_f64().map(|s| s as f32))
            .collect();
        assert_same_scores(&got, &want, extension);
    }
}

#[test]
fn eval_reads_csv_and_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let report = |input: &Path| {
        let out = scorer(&["eval", "--input", input.to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{}: {}", input.display(), stderr(&out));
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let want = report(&sample());
    for extension in ["csv", "ndjson"] {
        let got = report(&sample_as(dir.path(), extension));
        for key in ["n", "accuracy", "f1", "no_words"] {
            assert_eq!(got[key], want[key], "{extension}: {key}");
        }
    }
}
