//! `scorer score --output-dir`: a landing folder scored file by file into an output folder,
//! resumable (a rerun skips what this model already scored, a killed run carries on), one bad file
//! never stopping the rest, and each output the one `scorer score` writes for its file alone.

use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{imdb_head, provenance, read, scorer, scorer_command, stderr};
use serde_json::Value;

/// A landing folder: `files` Parquet files of `rows` IMDB test reviews, some in a subfolder,
/// and a CSV file.
fn landing(dir: &Path, files: usize, rows: usize) -> PathBuf {
    let landing = dir.join("landing");
    std::fs::create_dir_all(landing.join("2026-12-04")).unwrap();
    for i in 0..files {
        let folder = if i % 2 == 0 { landing.clone() } else { landing.join("2026-12-04") };
        imdb_head("test", rows + i, &folder.join(format!("part-{i:02}.parquet")));
    }
    std::fs::write(landing.join("notes.csv"), "id,review\n1,\"A wonderful film\"\n2,\"Dull and long\"\n").unwrap();
    landing
}

/// Runs `scorer score --input LANDING --output-dir OUT` with `extra`; the exit code and the
/// `--json` summary's files by input name.
fn job(landing: &Path, out: &Path, extra: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let args = ["score", "--input", landing.to_str().unwrap(), "--output-dir", out.to_str().unwrap(), "--json"];
    let output = scorer(&[&args[..], extra].concat());
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
    let files = summary["manifest"]["files"].as_array().cloned().unwrap_or_default();
    (output.status.code(), files, stderr(&output))
}

fn states(files: &[Value]) -> Vec<String> {
    files.iter().map(|f| f["state"].as_str().unwrap().to_owned()).collect()
}

/// A Parquet file's bytes with the time it was scored blanked, the one thing two runs differ in.
fn without_time(path: &Path) -> Vec<u8> {
    let scored_at = provenance(path)["sentiment.scored_at"].clone();
    let mut bytes = std::fs::read(path).unwrap();
    let at = bytes.windows(scored_at.len()).position(|w| w == scored_at.as_bytes()).unwrap();
    bytes[at..at + scored_at.len()].fill(b'-');
    bytes
}

#[test]
fn a_folder_is_scored_file_by_file_and_a_rerun_skips_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let landing = landing(dir.path(), 4, 50);
    let out = dir.path().join("scored");
    let (code, files, err) = job(&landing, &out, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(states(&files), ["scored"; 5]);
    // Each output at its input's relative path, the file `scorer score` writes for it alone.
    for (input, output) in
        [("part-00.parquet", "part-00.parquet"), ("2026-12-04/part-03.parquet", "2026-12-04/part-03.parquet")]
    {
        let alone = dir.path().join("alone.parquet");
        let input = landing.join(input);
        let args = ["score", "--input", input.to_str().unwrap(), "--output", alone.to_str().unwrap()];
        assert!(scorer(&[&args[..], &["--overwrite"]].concat()).status.success());
        assert!(without_time(&out.join(output)) == without_time(&alone), "{output} differs from scoring it alone");
    }
    assert_eq!(read(&out.join("2026-12-04/part-03.parquet")).num_rows(), 53);
    assert!(
        std::fs::read_to_string(out.join("notes.csv"))
            .unwrap()
            .starts_with("id,review,sentiment_score,sentiment_label\n")
    );
    let manifest: Value = serde_json::from_slice(&std::fs::read(out.join("_scorer_manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["model"], "ngram");
    assert_eq!(manifest["files"].as_array().unwrap().len(), 5);

    // A rerun with nothing new reads footers (and the manifest, for CSV) and scores nothing.
    let before = std::fs::metadata(out.join("part-00.parquet")).unwrap().modified().unwrap();
    let (code, files, err) = job(&landing, &out, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(states(&files), ["skipped"; 5]);
    assert_eq!(std::fs::metadata(out.join("part-00.parquet")).unwrap().modified().unwrap(), before);
    // --rescore scores them all again.
    let (_, files, _) = job(&landing, &out, &["--rescore"]);
    assert_eq!(states(&files), ["rescored"; 5]);
}

#[test]
fn a_changed_model_rescores_and_the_output_format_can_change() {
    let dir = tempfile::tempdir().unwrap();
    let landing = landing(dir.path(), 2, 20);
    let out = dir.path().join("scored");
    assert_eq!(job(&landing, &out, &[]).0, Some(0));
    let (code, files, err) = job(&landing, &out, &["--model", "mlp"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(states(&files), ["rescored"; 3]);
    assert_eq!(provenance(&out.join("part-00.parquet"))["sentiment.model"], "mlp");
    assert_eq!(states(&job(&landing, &out, &["--model", "mlp"]).1), ["skipped"; 3]);
    let ndjson = dir.path().join("ndjson");
    let (code, files, _) = job(&landing, &ndjson, &["--output-format", "ndjson"]);
    assert_eq!((code, states(&files)), (Some(0), vec!["scored".to_owned(); 3]));
    assert!(ndjson.join("2026-12-04/part-01.ndjson").is_file() && ndjson.join("notes.ndjson").is_file());
}

#[test]
fn a_corrupt_file_is_reported_while_the_others_are_scored() {
    let dir = tempfile::tempdir().unwrap();
    let landing = landing(dir.path(), 19, 10);
    std::fs::write(landing.join("2026-12-04/part-07.parquet"), b"PAR1 not really").unwrap();
    std::fs::write(landing.join("no-review.csv"), "id,text\n1,hello\n").unwrap();
    let out = dir.path().join("scored");
    let (code, files, err) = job(&landing, &out, &[]);
    assert_eq!(code, Some(1), "{err}");
    let failed: Vec<&str> =
        files.iter().filter(|f| f["state"] == "failed").map(|f| f["input"].as_str().unwrap()).collect();
    assert_eq!(failed.len(), 2, "{failed:?}");
    assert!(failed[0].ends_with("2026-12-04/part-07.parquet") && failed[1].ends_with("no-review.csv"), "{failed:?}");
    assert!(err.contains("part-07.parquet is not a readable Parquet file"), "{err}");
    assert!(err.contains("no-review.csv: no column \"review\""), "{err}");
    assert_eq!(files.iter().filter(|f| f["state"] == "scored").count(), 19);
    assert!(!out.join("2026-12-04/part-07.parquet").exists());

    // --fail-fast stops at the first failure (the files already being scored finish).
    let fast = dir.path().join("fast");
    let (code, files, _) = job(&landing, &fast, &["--fail-fast", "--threads", "1"]);
    assert_eq!(code, Some(1));
    assert_eq!(states(&files).last().map(String::as_str), Some("failed"));
    assert!(files.len() < 21, "{} files", files.len());
}

#[test]
fn a_killed_job_resumes_and_scores_no_file_twice() {
    let dir = tempfile::tempdir().unwrap();
    let landing = landing(dir.path(), 12, 1_500);
    let out = dir.path().join("scored");
    let manifest = out.join("_scorer_manifest.json");
    let args = ["score", "--input", landing.to_str().unwrap(), "--output-dir", out.to_str().unwrap()];
    let mut child = scorer_command().args(args).args(["--threads", "1"]).spawn().unwrap();
    // Killed once the manifest records some files done and others not yet.
    let deadline = Instant::now() + Duration::from_secs(120);
    let done_before = loop {
        let files = std::fs::read(&manifest).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok());
        let files = files.map(|m| m["files"].as_array().unwrap().len()).unwrap_or(0);
        if files >= 2 || Instant::now() > deadline {
            break files;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!((2..13).contains(&done_before), "{done_before} files done when killed");
    let recorded: Value = serde_json::from_slice(&std::fs::read(&manifest).unwrap()).unwrap();
    let finished: Vec<String> =
        recorded["files"].as_array().unwrap().iter().map(|f| f["input"].as_str().unwrap().to_owned()).collect();

    let (code, files, err) = job(&landing, &out, &[]);
    assert_eq!(code, Some(0), "{err}");
    for file in &files {
        let input = file["input"].as_str().unwrap();
        // A file the killed run recorded is not scored again; one it finished in the instant
        // before it could record it may be skipped too, by its output's footer.
        let state = file["state"].as_str().unwrap();
        let recorded = finished.iter().any(|f| f == input);
        assert!(state == "skipped" || (!recorded && state == "scored"), "{input}: {state}");
        if input.ends_with(".parquet") {
            let rows = read(Path::new(file["output"].as_str().unwrap())).num_rows();
            assert_eq!(rows, read(Path::new(input)).num_rows(), "{input}: every row");
        }
    }
    // No temporary file of the killed run is left.
    let leftovers: Vec<_> = walk(&out).into_iter().filter(|p| p.to_string_lossy().ends_with(".tmp")).collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { found.extend(walk(&path)) } else { found.push(path) }
    }
    found
}

#[test]
fn sql_copies_into_a_folder_partitioned_by_label_or_by_a_date_column() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("landed.csv");
    std::fs::write(
        &input,
        "day,review\n2026-12-03,A wonderful film\n2026-12-03,Dull and far too long\n2026-12-04,Great acting\n",
    )
    .unwrap();
    for (by, expected) in [
        ("sentiment_label", vec!["sentiment_label=negative", "sentiment_label=positive"]),
        ("day", vec!["day=2026-12-03", "day=2026-12-04"]),
    ] {
        let out = dir.path().join(by);
        let query = format!(
            "COPY (SELECT *, sentiment(review) AS sentiment_score, sentiment_label(review) AS sentiment_label \
             FROM reviews) TO '{}/' STORED AS PARQUET PARTITIONED BY ({by})",
            out.display()
        );
        let output = scorer(&["sql", "--input", input.to_str().unwrap(), &query]);
        assert!(output.status.success(), "{}", stderr(&output));
        let mut partitions: Vec<String> =
            std::fs::read_dir(&out).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        partitions.sort();
        assert_eq!(partitions, expected);
        let files = walk(&out);
        let rows: usize = files.iter().map(|f| read(f).num_rows()).sum();
        assert_eq!(rows, 3);
        assert!(files.iter().all(|f| provenance(f)["sentiment.model"] == "ngram"), "each file says what scored it");
    }
}
