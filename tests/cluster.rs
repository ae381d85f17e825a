//! A Ballista cluster on loopback: a scheduler and two executors, each a `scorer` process on its
//! own port, answer as a local run does (scores to 1e-6) for an aggregate over IMDB test, an
//! UNNEST of `sentiment_explain`, and a COPY over a folder of Parquet files. Bad configurations
//! fail with clear errors. Every process a test starts is killed when it ends, pass or fail.

use crate::common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float32Type};
use common::{read, scorer_command, stderr};

/// Processes that are killed when dropped.
struct Cluster {
    processes: Vec<Child>,
    url: String,
    work: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.kill();
            let _ = process.wait();
        }
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn wait_for_port(port: u16, process: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(process.try_wait().unwrap().is_none(), "the process listening on {port} exited");
        assert!(Instant::now() < deadline, "nothing listens on {port} after 60 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

impl Cluster {
    /// A scheduler and `executors` executors, each over `models` (the shipped ones by default).
    fn start(executors: usize, models: Option<&Path>) -> Self {
        let work = tempfile::tempdir().unwrap();
        let port = free_port();
        let logs = work.path().to_owned();
        let log = move |name: &str| Stdio::from(std::fs::File::create(logs.join(name)).unwrap());
        // Each process joins the cluster before anything can fail, so that Drop stops it.
        let mut cluster = Cluster { processes: Vec::new(), url: format!("df://127.0.0.1:{port}"), work };
        cluster.processes.push(
            scorer_command()
                .args(["scheduler", "--bind", "127.0.0.1", "--port", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(log("scheduler.log"))
                .spawn()
                .unwrap(),
        );
        wait_for_port(port, &mut cluster.processes[0]);
        for i in 0..executors {
            let (flight, grpc) = (free_port(), free_port());
            let dir = cluster.work.path().join(format!("executor-{i}"));
            std::fs::create_dir(&dir).unwrap();
            let mut command = scorer_command();
            command.args(["executor", "--scheduler", &format!("127.0.0.1:{port}"), "--bind", "127.0.0.1"]);
            command.args(["--port", &flight.to_string(), "--grpc-port", &grpc.to_string(), "--concurrent-tasks", "2"]);
            command.arg("--work-dir").arg(&dir);
            if let Some(models) = models {
                command.arg("--models-dir").arg(models);
            }
            cluster
                .processes
                .push(command.stdout(Stdio::null()).stderr(log(&format!("executor-{i}.log"))).spawn().unwrap());
            wait_for_port(flight, cluster.processes.last_mut().unwrap());
        }
        cluster
    }

    /// `scorer sql` on the cluster.
    fn sql(&self, args: &[&str]) -> Output {
        let mut all = vec!["sql", "--cluster", &self.url];
        all.extend_from_slice(args);
        run(&all)
    }

    fn logs(&self) -> String {
        let mut logs = String::new();
        for entry in std::fs::read_dir(self.work.path()).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "log") {
                logs += &format!("--- {}\n{}", entry.path().display(), std::fs::read_to_string(entry.path()).unwrap());
            }
        }
        logs
    }
}

/// Runs `scorer`, failing it after ten minutes. The deadline only catches a hang: a debug build
/// on 2 cores busy with other tests has taken over two minutes for a query that takes 85 s alone.
fn run(args: &[&str]) -> Output {
    let mut child = scorer_command().args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(600);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("scorer {args:?} ran over ten minutes: {}", stderr(&child.wait_with_output().unwrap()));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// JSON rows of a successful `scorer sql --format json` run.
fn rows(out: &Output, what: &str) -> Vec<serde_json::Value> {
    assert!(out.status.success(), "{what}: {}", stderr(out));
    String::from_utf8(out.stdout.clone()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

/// Asserts that two result sets hold the same rows, numbers within 1e-6.
fn assert_same(local: &[serde_json::Value], remote: &[serde_json::Value], what: &str) {
    assert_eq!(local.len(), remote.len(), "{what}: row counts");
    for (l, r) in local.iter().zip(remote) {
        for (key, lv) in l.as_object().unwrap() {
            let rv = &r[key];
            match (lv.as_f64(), rv.as_f64()) {
                (Some(a), Some(b)) => assert!((a - b).abs() <= 1e-6, "{what}: {key}: {a} vs {b}"),
                _ => assert_eq!(lv, rv, "{what}: {key}"),
            }
        }
    }
}

fn imdb_test() -> String {
    common::imdb("test").display().to_string()
}

/// (review, score) pairs of a batch, sorted.
fn pairs(batch: &RecordBatch, score: &str) -> Vec<(String, f32)> {
    let reviews = arrow::compute::cast(batch.column_by_name("review").unwrap(), &DataType::Utf8).unwrap();
    let reviews = reviews.as_string::<i32>();
    let scores = batch.column_by_name(score).unwrap().as_primitive::<Float32Type>();
    assert_eq!(reviews.null_count() + scores.null_count(), 0);
    let mut pairs: Vec<_> = (0..batch.num_rows()).map(|i| (reviews.value(i).to_owned(), scores.value(i))).collect();
    pairs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    pairs
}

/// (review, score) pairs of every Parquet file of a folder, sorted.
fn copied(dir: &Path, score: &str) -> Vec<(String, f32)> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        all.extend(pairs(&read(&entry.path()), score));
    }
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    all
}

#[test]
fn a_two_executor_cluster_answers_as_a_local_run() {
    let cluster = Cluster::start(2, None);
    let test = imdb_test();
    let queries = [
        (
            "aggregate",
            "SELECT sentiment_label(review, 'mlp') AS verdict, count(*) AS n, avg(sentiment(review, 'mlp')) AS mean \
             FROM reviews GROUP BY verdict ORDER BY verdict",
        ),
        (
            "explain",
            "SELECT word['token'] AS token, count(*) AS n, avg(word['score']) AS mean \
             FROM (SELECT unnest(sentiment_explain(review, 'attention')) AS word FROM reviews) \
             GROUP BY word['token'] HAVING count(*) >= 500 ORDER BY token",
        ),
        ("version", "SELECT sentiment_version() AS v"),
    ];
    for (what, query) in queries {
        let local = rows(&run(&["sql", "--input", &test, "--format", "json", query]), what);
        let remote =
            rows(&cluster.sql(&["--input", &test, "--format", "json", query]), &format!("{what}\n{}", cluster.logs()));
        assert!(!local.is_empty(), "{what}");
        assert_same(&local, &remote, what);
    }

    // COPY over a folder of three Parquet files, written by the executors.
    let landing = cluster.work.path().join("landing");
    std::fs::create_dir(&landing).unwrap();
    let batch = read(&common::imdb("test"));
    for (i, start) in [0, 9_000, 17_000].into_iter().enumerate() {
        let end = [9_000, 17_000, 25_000][i];
        common::write_batch(&landing.join(format!("part-{i}.parquet")), &batch.slice(start, end - start));
    }
    let (local_out, remote_out) = (cluster.work.path().join("local-out"), cluster.work.path().join("remote-out"));
    let copy = |out: &PathBuf| {
        format!(
            "COPY (SELECT review, sentiment(review, 'gru') AS s FROM reviews) TO '{}/' STORED AS PARQUET",
            out.display()
        )
    };
    let landing = landing.to_str().unwrap();
    let out = run(&["sql", "--input", landing, &copy(&local_out)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = cluster.sql(&["--input", landing, &copy(&remote_out)]);
    assert!(out.status.success(), "{}\n{}", stderr(&out), cluster.logs());
    let local = copied(&local_out, "s");
    assert_eq!(local.len(), 25_000);
    assert_same_scores(&local, &copied(&remote_out, "s"));

    // `scorer score --cluster`: one output file, renamed into place once the executors are done.
    let scored = cluster.work.path().join("scored");
    std::fs::create_dir(&scored).unwrap();
    let (local_file, remote_file) = (scored.join("local.parquet"), scored.join("remote.parquet"));
    let out = run(&["score", "--input", landing, "--output", local_file.to_str().unwrap(), "--model", "attention"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&[
        "score",
        "--cluster",
        &cluster.url,
        "--input",
        landing,
        "--output",
        remote_file.to_str().unwrap(),
        "--model",
        "attention",
        "--json",
    ]);
    assert!(out.status.success(), "{}\n{}", stderr(&out), cluster.logs());
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["rows"], 25_000);
    let (local, remote) = (read(&local_file), read(&remote_file));
    assert_eq!(local.schema().fields().len(), remote.schema().fields().len());
    assert_same_scores(&pairs(&local, "sentiment_score"), &pairs(&remote, "sentiment_score"));
    let names: Vec<String> =
        std::fs::read_dir(&scored).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    assert_eq!(names.len(), 2, "no temporary file is left: {names:?}");
}

fn assert_same_scores(local: &[(String, f32)], remote: &[(String, f32)]) {
    assert_eq!(local.len(), remote.len());
    for ((lr, ls), (rr, rs)) in local.iter().zip(remote) {
        assert_eq!(lr, rr);
        assert!((ls - rs).abs() <= 1e-6, "{ls} vs {rs}");
    }
}

#[test]
fn no_scheduler_at_the_address_is_a_clear_error() {
    let url = format!("df://127.0.0.1:{}", free_port());
    let out = run(&["sql", "--cluster", &url, "SELECT 1"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(&format!("no Ballista scheduler at {url}")), "{}", stderr(&out));
}

#[test]
fn an_executor_without_the_models_stops_at_once() {
    let out = run(&["executor", "--models-dir", "/nonexistent/models", "--port", &free_port().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/models"), "{}", stderr(&out));
}

#[test]
fn executors_with_other_models_are_a_version_mismatch() {
    // The same models, but one card claims another accuracy: another model, as far as a client
    // can tell.
    let models = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(common::repo().join("models")).unwrap().flatten() {
        std::os::unix::fs::symlink(entry.path(), models.path().join(entry.file_name())).unwrap();
    }
    let card_path = models.path().join("mlp.json");
    let mut card: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&card_path).unwrap()).unwrap();
    card["test"]["accuracy"] = serde_json::json!(0.5);
    std::fs::remove_file(&card_path).unwrap();
    std::fs::write(&card_path, card.to_string()).unwrap();

    let cluster = Cluster::start(1, Some(models.path()));
    let out = cluster.sql(&["SELECT 1"]);
    assert_eq!(out.status.code(), Some(1), "{}", cluster.logs());
    let err = stderr(&out);
    assert!(err.contains("version mismatch") && err.contains("mlp@0.5000"), "{err}");
}
