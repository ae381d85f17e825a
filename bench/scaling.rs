//! What a 2-core machine can show about 16 cores (`cargo bench --bench throughput -- --scaling`,
//! run by `bench/run`), on the largest input file (1,000,000 reviews unless `--rows` says less):
//!
//! - **serial share**: each run at `--threads 8` with every thread's CPU time sampled from
//!   `/proc/PID/task/*/stat` every 20 ms; the busiest thread's share of the process's CPU time.
//!   By Amdahl, a share s caps the gain from more cores near 1/s;
//! - **pinned scaling**: one core (`taskset -c 0`, `--threads 1`) against two (`taskset -c 0,1`,
//!   `--threads 2`): nothing runs on a core the run was not given;
//! - **the machine's ceiling**: two copies of the one-core run at once, one pinned to each core,
//!   each writing its own output. They share nothing but the machine (memory bandwidth, caches,
//!   the hypervisor), so their combined rate is the most one process could make of two cores on
//!   that work, and the pinned gain is read against it;
//! - **the peer**: DuckDB (`bench/duckdb_copy.py`) copying the same file with a number appended
//!   per review, Snappy row groups of 16,384, measured the same ways; each rate as its share.
//!
//! For the floor (the scoring loop with no model, a process of this benchmark), `scorer score` and
//! `scorer sql`'s `COPY` with each model. Every output goes to memory (`/dev/shm`, where there is
//! one): a run writes about 800 MB, and a disk that takes it slower than two cores make it caps
//! every workload alike, the peer's too, which says nothing about the cores.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// Threads of the serial-share runs.
pub const SHARE_THREADS: usize = 8;

/// One workload measured every way.
#[derive(Debug, Serialize, Deserialize)]
pub struct Scaled {
    /// `floor`, `duckdb`, `score MODEL` or `sql MODEL`.
    pub workload: String,
    /// Reviews/s on one pinned core and on two.
    pub one_core: f64,
    pub two_cores: f64,
    /// Reviews/s with [`SHARE_THREADS`] threads, and the busiest thread's share of the CPU time.
    pub threads_8: f64,
    pub busiest_share: f64,
    /// Reviews/s of two one-core runs at once, one on each core (0 in reports from before it was
    /// measured).
    #[serde(default)]
    pub two_copies: f64,
}

/// The scaling measurements of one run.
#[derive(Debug, Serialize, Deserialize)]
pub struct ScalingReport {
    pub machine: String,
    pub rows: usize,
    /// The folder the outputs went to.
    #[serde(default)]
    pub output_folder: String,
    pub workloads: Vec<Scaled>,
}

/// A process's run: seconds from start to exit, and its threads' CPU seconds by thread id.
struct Sampled {
    seconds: f64,
    cpu_by_thread: HashMap<u32, f64>,
}

/// Runs `command` to its end, sampling each of its threads' CPU time; fails with its stderr.
fn sampled(command: &mut Command) -> Result<Sampled> {
    let stderr = tempfile::NamedTempFile::new()?;
    let ticks = 100.0; // USER_HZ, the unit of /proc's times on Linux.
    let started = Instant::now();
    let mut child =
        command.stdout(Stdio::null()).stderr(stderr.reopen()?).spawn().with_context(|| format!("{command:?}"))?;
    let tasks = PathBuf::from(format!("/proc/{}/task", child.id()));
    let mut cpu_by_thread = HashMap::new();
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        for task in std::fs::read_dir(&tasks).into_iter().flatten().flatten() {
            let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else { continue };
            // The fields after the command name, which is in parentheses and may hold spaces.
            let Some((_, fields)) = stat.rsplit_once(')') else { continue };
            let fields: Vec<&str> = fields.split_whitespace().collect();
            // utime and stime: fields 14 and 15 of stat(5), 12 and 13 after the name.
            let time = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
            if let Ok(tid) = task.file_name().to_string_lossy().parse::<u32>() {
                cpu_by_thread.insert(tid, (time(11) + time(12)) / ticks);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("{command:?} failed: {}", std::fs::read_to_string(stderr.path())?);
    }
    Ok(Sampled { seconds, cpu_by_thread })
}

/// A workload: the command that runs it with a given thread count and output file, to be pinned
/// or not.
type Workload<'a> = Box<dyn Fn(usize, &Path) -> Command + 'a>;

/// `command` run under `taskset -c cores`.
fn pinned(cores: &str, command: Command) -> Command {
    let mut pinned = Command::new("taskset");
    pinned.args(["-c", cores]).arg(command.get_program()).args(command.get_args());
    pinned.envs(command.get_envs().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))));
    pinned
}

/// Measures `workload` on `rows` reviews every way, writing to `outputs` (the second for the
/// second of two copies): the fastest of `repeats` for each rate.
fn measure_workload(
    name: &str,
    rows: usize,
    repeats: usize,
    outputs: [&Path; 2],
    workload: &Workload<'_>,
) -> Result<Scaled> {
    eprintln!("bench: scaling {name}");
    let rate = |seconds: f64| rows as f64 / seconds;
    // Each run writes a new file: replacing the last run's (800 MB) frees its pages within the
    // run, 50 ms on one thread that a fresh output, a nightly job's, never costs.
    let fresh = || -> Result<()> {
        for out in outputs {
            match std::fs::remove_file(out) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("cannot remove {}", out.display()));
                }
                _ => {}
            }
        }
        Ok(())
    };
    let fastest = |make: &dyn Fn() -> Command| -> Result<Sampled> {
        let mut best: Option<Sampled> = None;
        for _ in 0..repeats {
            fresh()?;
            let run = sampled(&mut make())?;
            if best.as_ref().is_none_or(|b| run.seconds < b.seconds) {
                best = Some(run);
            }
        }
        Ok(best.expect("at least one run"))
    };
    let [out, second_out] = outputs;
    let one = fastest(&|| pinned("0", workload(1, out)))?;
    let two = fastest(&|| pinned("0,1", workload(2, out)))?;
    let eight = fastest(&|| workload(SHARE_THREADS, out))?;
    // The two copies are done when the slower is.
    let mut copies_seconds = f64::INFINITY;
    for _ in 0..repeats {
        fresh()?;
        let (mut first, mut second) = (pinned("0", workload(1, out)), pinned("1", workload(1, second_out)));
        let (first, second) = std::thread::scope(|scope| {
            let first = scope.spawn(|| sampled(&mut first));
            let second = sampled(&mut second);
            (first.join().expect("a sampling thread does not panic"), second)
        });
        copies_seconds = copies_seconds.min(first?.seconds.max(second?.seconds));
    }
    let total: f64 = eight.cpu_by_thread.values().sum();
    let busiest = eight.cpu_by_thread.values().copied().fold(0.0, f64::max);
    Ok(Scaled {
        workload: name.to_owned(),
        one_core: rate(one.seconds),
        two_cores: rate(two.seconds),
        threads_8: rate(eight.seconds),
        busiest_share: if total > 0.0 { busiest / total } else { 0.0 },
        two_copies: 2.0 * rate(copies_seconds),
    })
}

/// Every scaling measurement on `input` (`rows` reviews) for the floor, the peer and `models`.
pub fn measure(input: &Path, rows: usize, models: &[String], work: &Path) -> Result<ScalingReport> {
    let memory = tempfile::tempdir_in("/dev/shm").ok();
    let folder = memory.as_ref().map_or(work, |memory| memory.path());
    let (out, second_out) = (folder.join("scaling-out.parquet"), folder.join("scaling-out-2.parquet"));
    let outputs = [out.as_path(), second_out.as_path()];
    let repeats = 2;
    let mut workloads = Vec::new();
    // Another build's scorer (SCORER) is measured alone, by `scorer score`: the floor is this
    // build's library, and DuckDB and `scorer sql` do not change with the build.
    let another_build = std::env::var_os("SCORER").is_some();
    let floor: Workload<'_> = Box::new(|threads, out| {
        let mut command = Command::new(std::env::current_exe().expect("the benchmark's own path"));
        command.arg("--floor-process").arg(input).arg(out).arg(threads.to_string());
        command
    });
    if !another_build {
        workloads.push(measure_workload("floor", rows, repeats, outputs, &floor)?);
    }
    let duckdb: Workload<'_> = Box::new(|threads, out| {
        let mut command = Command::new("python3");
        command.arg(super::repo().join("bench/duckdb_copy.py")).arg(input).arg(out).arg(threads.to_string());
        command.env("PYTHONPATH", super::repo().join(".deps/python"));
        command
    });
    if !another_build {
        workloads.push(measure_workload("duckdb", rows, repeats, outputs, &duckdb)?);
    }
    for model in models {
        let score: Workload<'_> = Box::new(|threads, out| {
            let mut command = super::scorer();
            command.args(["score", "--overwrite", "--model", model, "--threads", &threads.to_string()]);
            command.arg("--input").arg(input).arg("--output").arg(out);
            command
        });
        workloads.push(measure_workload(&format!("score {model}"), rows, repeats, outputs, &score)?);
        if another_build {
            continue; // `scorer sql` is DataFusion's scan and writer in either build.
        }
        let copy: Workload<'_> = Box::new(|threads, out| {
            let mut command = super::scorer();
            let query = format!(
                "COPY (SELECT *, sentiment(review, '{model}') AS sentiment_score FROM reviews) TO '{}' STORED AS PARQUET",
                out.display()
            );
            command.args(["sql", "--threads", &threads.to_string(), "--input"]).arg(input).arg(query);
            command
        });
        workloads.push(measure_workload(&format!("sql {model}"), rows, repeats, outputs, &copy)?);
    }
    let output_folder = out.parent().map(|folder| folder.display().to_string()).unwrap_or_default();
    Ok(ScalingReport { machine: sentiment::machine::describe(), rows, output_folder, workloads })
}

/// Prints the scaling table: each workload's rates, its pinned gain and the machine's ceiling on
/// it (two one-core copies at once), its busiest thread's share, and its two-core rate as a share
/// of DuckDB's.
pub fn print(report: &ScalingReport) {
    println!("\nscaling on {} reviews, output to {}; {}\n", report.rows, report.output_folder, report.machine);
    let duckdb = report.workloads.iter().find(|w| w.workload == "duckdb").map_or(f64::NAN, |w| w.two_cores);
    println!(
        "| workload | 1 core | 2 cores | 1 → 2 cores | two 1-core copies at once | ceiling: copies / 1 core | {SHARE_THREADS} threads | busiest thread at {SHARE_THREADS} threads | 2 cores, share of DuckDB |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for w in &report.workloads {
        let (copies, ceiling) = if w.two_copies > 0.0 {
            (format!("{:.0}", w.two_copies), format!("{:.2}×", w.two_copies / w.one_core))
        } else {
            ("–".to_owned(), "–".to_owned())
        };
        println!(
            "| {} | {:.0} | {:.0} | {:.2}× | {copies} | {ceiling} | {:.0} | {:.1}% | {:.0}% |",
            w.workload,
            w.one_core,
            w.two_cores,
            w.two_cores / w.one_core,
            w.threads_8,
            100.0 * w.busiest_share,
            100.0 * w.two_cores / duckdb
        );
    }
}
