//! The throughput benchmark behind `docs/performance.md`: `bench/run` (or
//! `cargo bench --bench throughput -- [--quick] [--models gru,mlp] [--chart PATH] [--json PATH]`).
//! `--from-json PATH` measures nothing: it prints the tables of a run's JSON and draws its chart.
//!
//! For each model, on this machine, with the same thread count and the same `.onnx` file:
//! (a) `scorer score`, Parquet in and out, on IMDB test (25,000 reviews), and on 100,000 and
//!     1,000,000 reviews built by repeating IMDB's (in a temporary folder), with peak RSS;
//! (b) the Python way (`bench/python_way.py`: pyarrow, the loader's regular expressions, a dict of
//!     words, Python onnxruntime, pyarrow) on IMDB test;
//! (c) the model-only ceiling: ONNX Runtime on reviews already turned into token ids;
//! (d) `COPY (SELECT *, sentiment(review) ...) TO ...` through `scorer sql`, on IMDB test and on
//!     the largest file, with peak RSS;
//! (e) the floor: the library's `scorer score` loop (Parquet in, tokens and ids, Parquet out) with
//!     the model call taken out and a constant score, in-process, on every file of (a), the
//!     fastest of three runs on each before the models and three after; and on the largest file
//!     once just before and once just after each model's run there, for that model's share;
//! (f) the Flight function server: IMDB test's reviews streamed through one `DoExchange` of a
//!     running `scorer serve` (models loaded) from a client in this process, 8,192 a batch;
//! and `scorer score` with 1 thread against all threads, on IMDB test and on the smallest large
//! file. Also the tokenizer's speed on one core.
//! `--scaling [--rows N]` measures instead what 2 cores can show about 16 (`bench/scaling.rs`):
//! the busiest thread's share, pinned 1 → 2 core gains, and DuckDB side by side. `SCORER=PATH`
//! runs another `scorer` build in place of this one's (an earlier commit's, for before and after).
//! Every run of (a), (b) and (d) is a separate process, timed from start to exit, loading
//! included, the fastest of three on IMDB test; peak RSS is that process's `VmHWM`, sampled
//! every 10 ms. (f) is timed from the
//! first batch sent to the last answer read, as a streaming database sees a server it keeps.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, anyhow, bail};
use arrow::array::{ArrayRef, AsArray, Float32Array, Int64Array, RecordBatch, StringArray};
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::{FlightClient, FlightDescriptor};
use futures::TryStreamExt;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use plotters::prelude::*;
use sentiment::batch::text_values;
use sentiment::catalog::Catalog;
use sentiment::encoding::EncodedBatch;
use sentiment::io::{FileFormat, Input};
use sentiment::runtime::Provider;
use sentiment::scoring::{BATCH_SIZE, Columns, FileScorer};
use sentiment::vocab::Vocabulary;
use serde::{Deserialize, Serialize};

mod scaling;

const ALL_MODELS: [&str; 6] = ["rnn", "gru", "mlp", "weighted-mlp", "attention", "ngram"];

/// One process's run: wall-clock seconds and peak resident memory.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Run {
    seconds: f64,
    peak_rss_mb: f64,
}

/// Everything measured for one model.
#[derive(Debug, Serialize, Deserialize)]
struct ModelResult {
    model: String,
    /// (a) on IMDB test, all threads; then with one thread.
    scorer: Run,
    scorer_one_thread: Run,
    /// (b), (c) and (d) on IMDB test.
    python: Run,
    /// Share of reviews whose Python score is within 1e-5 of the scorer's.
    python_agrees: f64,
    ceiling_seconds: f64,
    sql: Run,
    /// (f) seconds through the Flight server, and the share of its scores within 1e-5 of (a)'s.
    flight_seconds: f64,
    flight_agrees: f64,
    /// (a) on the large files, by rows.
    large: Vec<(usize, Run)>,
    /// (e) on the largest file, run once just before and once just after this model's run there;
    /// the faster stands: the floor of the same minutes, for the share of the floor.
    floor_beside_seconds: f64,
    /// (d) on the largest file, run just after the floor beside (a) there.
    sql_largest: Run,
    /// (a) with one thread on the smallest large file, against its run with all threads in
    /// `large`: the gain from threads without process start and model loading, which no thread
    /// count speeds up and which weigh on IMDB test's few seconds.
    scorer_one_thread_large: Run,
}

#[derive(Debug, Serialize, Deserialize)]
struct Report {
    machine: String,
    threads: usize,
    test_reviews: usize,
    tokenizer_mb_per_s: f64,
    encode_reviews_per_s: f64,
    /// (e) seconds on IMDB test, then on each large file by rows.
    floor_test_seconds: f64,
    floor_large: Vec<(usize, f64)>,
    models: Vec<ModelResult>,
}

struct Options {
    quick: bool,
    models: Vec<String>,
    chart: Option<PathBuf>,
    json: Option<PathBuf>,
    /// A run's JSON to report again instead of measuring.
    from_json: Option<PathBuf>,
    /// Measure the scaling (`bench/scaling.rs`) instead, on this many reviews.
    scaling: Option<usize>,
    /// Run the floor once, as a process of its own for the scaling runs: input, output, threads.
    floor_process: Option<(PathBuf, PathBuf, usize)>,
}

fn options() -> Result<Options> {
    let mut options = Options {
        quick: false,
        models: ALL_MODELS.map(String::from).to_vec(),
        chart: None,
        json: None,
        from_json: None,
        scaling: None,
        floor_process: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--models" => {
                options.models = args.next().context("--models NAME,...")?.split(',').map(String::from).collect()
            }
            "--chart" => options.chart = Some(args.next().context("--chart PATH")?.into()),
            "--json" => options.json = Some(args.next().context("--json PATH")?.into()),
            "--from-json" => options.from_json = Some(args.next().context("--from-json PATH")?.into()),
            "--scaling" => options.scaling = Some(options.scaling.unwrap_or(1_000_000)),
            "--rows" => options.scaling = Some(args.next().context("--rows N")?.parse().context("--rows N")?),
            "--floor-process" => {
                let (input, output) = (args.next().context("INPUT")?, args.next().context("OUTPUT")?);
                let threads = args.next().context("THREADS")?.parse().context("THREADS")?;
                options.floor_process = Some((input.into(), output.into(), threads));
            }
            "--bench" => {} // Added by `cargo bench`.
            other => bail!(
                "unknown argument {other:?}; expected --quick, --models, --chart, --json, --from-json, --scaling, --rows"
            ),
        }
    }
    Ok(options)
}

/// The repository root (the benchmark is a target of cli/).
fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("cli/ is in the repository")
}

fn main() -> Result<()> {
    let options = options()?;
    if let Some((input, output, threads)) = &options.floor_process {
        // The file work's jobs run on the global pool, which must have the threads asked for.
        rayon::ThreadPoolBuilder::new().num_threads(*threads).build_global()?;
        Floor::new(*threads, output.clone())?.seconds(input, 1)?;
        return Ok(());
    }
    if let Some(rows) = options.scaling {
        let work = tempfile::tempdir()?;
        let (_, input) = build_large_inputs(work.path(), &[rows])?.remove(0);
        let report = scaling::measure(&input, rows, &options.models, work.path())?;
        scaling::print(&report);
        if let Some(path) = &options.json {
            std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
        }
        return Ok(());
    }
    let report = match &options.from_json {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a report of this benchmark", path.display()))?
        }
        None => measure_all(&options)?,
    };
    print_report(&report);
    if let Some(path) = &options.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    if let Some(path) = &options.chart {
        chart(&report, path)?;
    }
    Ok(())
}

/// Runs every measurement of the module's list for the chosen models.
fn measure_all(options: &Options) -> Result<Report> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let machine = sentiment::machine::describe();
    let work = tempfile::tempdir()?;
    let test = repo().join("../shared/data/imdb/test.parquet");
    let texts = review_texts(&[&test])?;
    eprintln!("bench: {machine}; {threads} threads; work folder {}", work.path().display());

    let (tokenizer_mb_per_s, encode_reviews_per_s) = tokenizer_speed(&texts)?;
    let sizes: &[usize] = if options.quick { &[100_000] } else { &[100_000, 1_000_000] };
    let large = build_large_inputs(work.path(), sizes)?;
    let floor = Floor::new(threads, work.path().join("floor.parquet"))?;
    let floor_test_seconds = floor.seconds(&test, REPEATS)?;
    let mut floor_large = Vec::new();
    for (rows, input) in &large {
        floor_large.push((*rows, floor.seconds(input, REPEATS)?));
    }

    let server = FlightServer::start(threads)?;
    let review_batches = batches_of(&texts, 8192)?;
    let mut models = Vec::new();
    for model in &options.models {
        eprintln!("bench: {model}");
        let out = work.path().join("out.parquet");
        let score = |input: &Path, threads: usize| {
            let mut command = scorer();
            command.args(["score", "--overwrite", "--model", model, "--threads", &threads.to_string()]);
            command.arg("--input").arg(input).arg("--output").arg(&out);
            measure(&mut command)
        };
        let scorer_one_thread = fastest(|| score(&test, 1))?;
        let scorer_all = fastest(|| score(&test, threads))?;
        let from_scorer = score_column(&out)?;
        let mut python = Command::new("python3");
        python.arg(repo().join("bench/python_way.py")).arg(repo().join(format!("models/{model}.onnx")));
        python.arg(&test).arg(&out).arg(threads.to_string()).env("PYTHONPATH", repo().join(".deps/python"));
        let python = fastest(|| measure(&mut python))?;
        let python_agrees = agreement(&from_scorer, &score_column(&out)?);
        let ceiling_seconds = ceiling(model, &texts, threads)?;
        let copy = |input: &Path| {
            let mut command = scorer();
            let query = format!(
                "COPY (SELECT *, sentiment(review, '{model}') AS sentiment_score FROM reviews) TO '{}' STORED AS PARQUET",
                out.display()
            );
            command.args(["sql", "--threads", &threads.to_string(), "--input"]).arg(input).arg(query);
            measure(&mut command)
        };
        let sql = fastest(|| copy(&test))?;
        let (flight_seconds, from_flight) = server.score(model, &review_batches)?;
        let flight_agrees = agreement(&from_scorer, &from_flight);
        // The machine's speed drifts within minutes: on the largest file the floor runs just
        // before and just after the model, as `bench/scorer_ab.sh` alternates two builds, and the
        // faster of the two is this model's floor.
        let ((largest_rows, largest), smaller) = large.split_last().context("no large file")?;
        let mut runs = Vec::new();
        for (rows, input) in smaller {
            runs.push((*rows, score(input, threads)?));
        }
        let (_, smallest) = large.first().context("no large file")?;
        let scorer_one_thread_large = score(smallest, 1)?;
        let before = floor.seconds(largest, 1)?;
        runs.push((*largest_rows, score(largest, threads)?));
        let floor_beside_seconds = before.min(floor.seconds(largest, 1)?);
        let sql_largest = copy(largest)?;
        models.push(ModelResult {
            model: model.clone(),
            scorer: scorer_all,
            scorer_one_thread,
            python,
            python_agrees,
            ceiling_seconds,
            sql,
            flight_seconds,
            flight_agrees,
            large: runs,
            floor_beside_seconds,
            sql_largest,
            scorer_one_thread_large,
        });
    }
    // The machine's speed drifts during a run: the floor is measured again after the models, and
    // the faster of the two stands, so that no model is compared with a floor from a slow spell.
    let floor_test_seconds = floor_test_seconds.min(floor.seconds(&test, REPEATS)?);
    for ((_, seconds), (_, input)) in floor_large.iter_mut().zip(&large) {
        *seconds = seconds.min(floor.seconds(input, REPEATS)?);
    }
    Ok(Report {
        machine,
        threads,
        test_reviews: texts.len(),
        tokenizer_mb_per_s,
        encode_reviews_per_s,
        floor_test_seconds,
        floor_large,
        models,
    })
}

/// The release `scorer` built beside this benchmark, or the one `SCORER` names (another build, to
/// compare side by side).
fn scorer() -> Command {
    let mut command = Command::new(std::env::var_os("SCORER").unwrap_or_else(|| env!("CARGO_BIN_EXE_scorer").into()));
    command.env("SENTIMENT_MODELS", repo().join("models"));
    command
}

/// (f) A `scorer serve` on a free port with every model loaded, and a runtime for its client.
struct FlightServer {
    process: Child,
    address: String,
    runtime: tokio::runtime::Runtime,
}

impl FlightServer {
    fn start(threads: usize) -> Result<FlightServer> {
        let mut command = scorer();
        command.args(["serve", "--port", "0", "--threads", &threads.to_string()]);
        let mut process = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().context("scorer serve")?;
        let mut line = String::new();
        std::io::BufReader::new(process.stdout.take().context("scorer serve's stdout")?).read_line(&mut line)?;
        let address = line.strip_prefix("listening on ").and_then(|rest| rest.split_whitespace().next());
        let Some(address) = address else {
            let _ = process.kill();
            bail!("scorer serve did not start: {line:?}");
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        Ok(FlightServer { address: format!("http://{address}"), process, runtime })
    }

    /// Seconds to stream `batches` through the model's `sentiment` function, after one batch as a
    /// warm-up, and the scores that came back.
    fn score(&self, model: &str, batches: &[RecordBatch]) -> Result<(f64, Vec<Option<f32>>)> {
        let function = format!("sentiment_{}", model.replace('-', "_"));
        self.runtime.block_on(async {
            let channel = tonic::transport::Endpoint::new(self.address.clone())?.connect().await?;
            let mut client = FlightClient::new(channel);
            let mut exchange = async |batches: Vec<RecordBatch>| -> Result<Vec<RecordBatch>> {
                let descriptor = FlightDescriptor::new_path(vec![function.clone()]);
                let input = FlightDataEncoderBuilder::new()
                    .with_flight_descriptor(Some(descriptor))
                    .build(futures::stream::iter(batches.into_iter().map(Ok)));
                Ok(client.do_exchange(input).await?.try_collect().await?)
            };
            exchange(batches[..1].to_vec()).await?;
            let started = Instant::now();
            let answers = exchange(batches.to_vec()).await?;
            let seconds = started.elapsed().as_secs_f64();
            let scores = answers
                .iter()
                .flat_map(|a| a.column(0).as_primitive::<arrow::datatypes::Float32Type>().iter())
                .collect();
            Ok((seconds, scores))
        })
    }
}

impl Drop for FlightServer {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

/// One-column (`review`) batches of `rows` reviews each.
fn batches_of(texts: &[String], rows: usize) -> Result<Vec<RecordBatch>> {
    let batches = texts.chunks(rows).map(|chunk| {
        RecordBatch::try_from_iter([("review", Arc::new(StringArray::from_iter_values(chunk)) as ArrayRef)])
    });
    Ok(batches.collect::<Result<_, _>>()?)
}

/// How many times each process runs on IMDB test: a run of a few seconds is at the mercy of
/// whatever else the machine does, so the fastest of these is kept (the larger files run once).
const REPEATS: usize = 3;

/// The fastest of [`REPEATS`] runs.
fn fastest(mut run: impl FnMut() -> Result<Run>) -> Result<Run> {
    let mut best = run()?;
    for _ in 1..REPEATS {
        let next = run()?;
        if next.seconds < best.seconds {
            best = next;
        }
    }
    Ok(best)
}

/// Runs a process to its end, sampling its peak RSS (`VmHWM`, which starts afresh at `exec`)
/// every 10 ms; fails with its stderr when it fails. (`wait4`'s `ru_maxrss` would not do: it
/// keeps the high-water mark of the forking process, this benchmark, across `exec`.)
fn measure(command: &mut Command) -> Result<Run> {
    let stderr = tempfile::NamedTempFile::new()?;
    let started = Instant::now();
    let mut child =
        command.stdout(Stdio::null()).stderr(stderr.reopen()?).spawn().with_context(|| format!("{command:?}"))?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        let high_water = std::fs::read_to_string(&status_file).ok().and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        });
        peak_kb = peak_kb.max(high_water.unwrap_or(0));
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("{command:?} failed: {}", std::fs::read_to_string(stderr.path())?);
    }
    Ok(Run { seconds, peak_rss_mb: peak_kb as f64 / 1024.0 })
}

/// The `review` column of Parquet files.
fn review_texts(files: &[&Path]) -> Result<Vec<String>> {
    let mut texts = Vec::new();
    for file in files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file)?)?.build()?;
        for batch in reader {
            let batch = batch?;
            let column = batch.column_by_name("review").ok_or_else(|| anyhow!("no review column"))?;
            texts.extend(column.as_string::<i32>().iter().map(|t| t.unwrap_or_default().to_owned()));
        }
    }
    Ok(texts)
}

/// The `sentiment_score` column of a scored file.
fn score_column(path: &Path) -> Result<Vec<Option<f32>>> {
    let mut scores = Vec::new();
    for batch in ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path)?)?.build()? {
        let batch = batch?;
        let column = batch.column_by_name("sentiment_score").ok_or_else(|| anyhow!("no sentiment_score"))?;
        scores.extend(column.as_primitive::<arrow::datatypes::Float32Type>().iter());
    }
    Ok(scores)
}

/// Share of rows where two runs' scores are within 1e-5 (both NULL counts as agreeing).
fn agreement(a: &[Option<f32>], b: &[Option<f32>]) -> f64 {
    let same = a.iter().zip(b).filter(|(x, y)| match (x, y) {
        (Some(x), Some(y)) => (x - y).abs() <= 1e-5,
        (x, y) => x.is_none() && y.is_none(),
    });
    if a.len() != b.len() { 0.0 } else { same.count() as f64 / a.len().max(1) as f64 }
}

/// Tokenizer MB/s and encoding (tokens and ids) reviews/s, on one core. The bytes counted are
/// those the tokenizer reads: it stops at the 100th word, so a review's tail is not counted.
fn tokenizer_speed(texts: &[String]) -> Result<(f64, f64)> {
    let started = Instant::now();
    let mut bytes = 0;
    for text in texts {
        let mut end = 0;
        let start = text.as_ptr() as usize;
        let tokens =
            sentiment::text::for_each_token(text.as_bytes(), |word| end = word.as_ptr() as usize + word.len() - start);
        bytes += if tokens == sentiment::text::MAX_TOKENS { end } else { text.len() };
    }
    let tokenizer = bytes as f64 / 1e6 / started.elapsed().as_secs_f64();
    let catalog = Catalog::open(&repo().join("models"), 1, Provider::Cpu)?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let vocabulary = catalog.vocabulary()?;
    let started = Instant::now();
    let batch = pool.install(|| EncodedBatch::encode(&vocabulary, texts));
    let encode = texts.len() as f64 / started.elapsed().as_secs_f64();
    std::hint::black_box(batch);
    Ok((tokenizer, encode))
}

/// Seconds ONNX Runtime takes for `texts` already encoded, in the scorer's batches of 8,192.
fn ceiling(model: &str, texts: &[String], threads: usize) -> Result<f64> {
    let catalog = Catalog::open(&repo().join("models"), threads, Provider::Cpu)?;
    let model = catalog.model(model)?;
    let batches: Vec<EncodedBatch> = texts.chunks(8192).map(|chunk| model.encode(chunk)).collect();
    model.probabilities(&batches[0])?; // Warm-up.
    let started = Instant::now();
    for batch in &batches {
        std::hint::black_box(model.probabilities(batch)?);
    }
    Ok(started.elapsed().as_secs_f64())
}

/// (e) The library's file scoring loop with the model call taken out: read, tokens and ids, a
/// constant score, write. Built once (the vocabulary and the thread pool), measured many times.
struct Floor {
    vocabulary: Arc<Vocabulary>,
    pool: rayon::ThreadPool,
    output: PathBuf,
}

impl Floor {
    /// The loop on `threads` cores, writing to `output`.
    fn new(threads: usize, output: PathBuf) -> Result<Self> {
        let vocabulary = Catalog::open(&repo().join("models"), 1, Provider::Cpu)?.vocabulary()?;
        Ok(Self { vocabulary, pool: rayon::ThreadPoolBuilder::new().num_threads(threads).build()?, output })
    }

    /// Seconds on `input`, the fastest of `runs` runs, as it stands for the fastest `scorer score`
    /// could be on this machine.
    fn seconds(&self, input: &Path, runs: usize) -> Result<f64> {
        let no_model = |reviews: &dyn arrow::array::Array| -> Result<Float32Array> {
            let batch = EncodedBatch::encode(&self.vocabulary, &text_values(reviews)?);
            Ok(batch.lengths.iter().map(|&words| (words > 0).then_some(0.5)).collect())
        };
        let mut fastest = f64::INFINITY;
        for _ in 0..runs {
            let started = Instant::now();
            self.pool.install(|| {
                let input = Input::open(&input.display().to_string())?;
                let scorer = FileScorer {
                    score: &no_model,
                    columns: Columns::default(),
                    batch_size: BATCH_SIZE,
                    metadata: Vec::new(),
                    replace: true,
                };
                scorer.score_file(&input, &self.output, FileFormat::Parquet, |_| Ok(()))
            })?;
            fastest = fastest.min(started.elapsed().as_secs_f64());
        }
        Ok(fastest)
    }
}

/// Rows per row group of the large inputs.
const INPUT_ROW_GROUP: usize = 65_536;

/// Parquet files of `id` and `review` with `rows` reviews each, IMDB's 100,000 repeated, in
/// Snappy-compressed row groups of 65,536 rows, as a data pipeline would hand them over (one row
/// group of 1,000,000 uncompressed reviews, the writer's default, is 1.3 GB that a reader must
/// hold whole to split it).
fn build_large_inputs(dir: &Path, sizes: &[usize]) -> Result<Vec<(usize, PathBuf)>> {
    let data = repo().join("../shared/data/imdb");
    let splits = ["train", "test", "unsup"].map(|s| data.join(format!("{s}.parquet")));
    let texts = review_texts(&splits.iter().map(PathBuf::as_path).collect::<Vec<_>>())?;
    let mut files = Vec::new();
    for &rows in sizes {
        let path = dir.join(format!("reviews-{rows}.parquet"));
        eprintln!("bench: writing {}", path.display());
        let ids = Arc::new(Int64Array::from_iter_values(0..0)) as ArrayRef;
        let empty = RecordBatch::try_from_iter([
            ("id", ids),
            ("review", Arc::new(StringArray::from(Vec::<String>::new())) as ArrayRef),
        ])?;
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(INPUT_ROW_GROUP))
            .set_compression(Compression::SNAPPY)
            .build();
        let mut writer = ArrowWriter::try_new(std::fs::File::create(&path)?, empty.schema(), Some(properties))?;
        for start in (0..rows).step_by(INPUT_ROW_GROUP) {
            let end = (start + INPUT_ROW_GROUP).min(rows);
            let ids = Int64Array::from_iter_values(start as i64..end as i64);
            let reviews = StringArray::from_iter_values((start..end).map(|i| &texts[i % texts.len()]));
            writer.write(&RecordBatch::try_new(empty.schema(), vec![Arc::new(ids), Arc::new(reviews)])?)?;
        }
        writer.close()?;
        files.push((rows, path));
    }
    Ok(files)
}

fn per_second(rows: usize, seconds: f64) -> f64 {
    rows as f64 / seconds
}

fn print_report(r: &Report) {
    let n = r.test_reviews;
    println!("machine: {}; {} threads", r.machine, r.threads);
    println!(
        "tokenizer: {:.0} MB/s per core; tokens + ids: {:.0} reviews/s per core\n",
        r.tokenizer_mb_per_s, r.encode_reviews_per_s
    );
    println!("IMDB test, {n} reviews, reviews/s (process start to exit, model loading included, except (c)):\n");
    println!("(e) floor, no model: {:.0} reviews/s\n", per_second(n, r.floor_test_seconds));
    println!(
        "| model | (a) scorer score | (b) Python way | (c) model only | (d) SQL | (f) Flight | a/b | a/c | d/a | a/e | f/a | 1 → {} threads | Python agrees | Flight agrees |",
        r.threads
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for m in &r.models {
        let (a, b, c, d, f) = (
            per_second(n, m.scorer.seconds),
            per_second(n, m.python.seconds),
            per_second(n, m.ceiling_seconds),
            per_second(n, m.sql.seconds),
            per_second(n, m.flight_seconds),
        );
        println!(
            "| {} | {a:.0} | {b:.0} | {c:.0} | {d:.0} | {f:.0} | {:.1}× | {:.0}% | {:.0}% | {:.0}% | {:.0}% | {:.2}× | {:.2}% | {:.2}% |",
            m.model,
            a / b,
            100.0 * a / c,
            100.0 * d / a,
            100.0 * r.floor_test_seconds / m.scorer.seconds,
            100.0 * f / a,
            m.scorer_one_thread.seconds / m.scorer.seconds,
            100.0 * m.python_agrees,
            100.0 * m.flight_agrees
        );
    }
    println!("\n`scorer score` on larger files: reviews/s, and peak RSS:\n");
    let sizes: Vec<usize> =
        r.models.first().map(|m| m.large.iter().map(|(rows, _)| *rows).collect()).unwrap_or_default();
    let header: Vec<String> = sizes.iter().map(|rows| format!("{rows} rows: reviews/s | peak RSS")).collect();
    println!(
        "| model | IMDB test peak RSS | {} | a/c at the largest | (e) beside it: reviews/s | a/e at the largest | (d) SQL at the largest: reviews/s | peak RSS | d/a at the largest | 1 → {} threads at the smallest |",
        header.join(" | "),
        r.threads
    );
    println!("|---|---:|{}---:|---:|---:|---:|---:|---:|---:|", "---:|---:|".repeat(sizes.len()));
    // The floor's row: its rate under each size, no RSS (it runs inside the benchmark), no ratios.
    let floor_cells: Vec<String> =
        r.floor_large.iter().map(|(rows, seconds)| format!("{:.0} | ", per_second(*rows, *seconds))).collect();
    println!("| (e) floor, no model | | {}| | | | | | | |", floor_cells.join(" | "));
    for m in &r.models {
        let cells: Vec<String> = m
            .large
            .iter()
            .map(|(rows, run)| format!("{:.0} | {:.0} MB", per_second(*rows, run.seconds), run.peak_rss_mb))
            .collect();
        let (largest, floor_beside, sql) = m.large.last().map_or((f64::NAN, f64::NAN, f64::NAN), |(rows, run)| {
            let per_second = |seconds| per_second(*rows, seconds);
            (per_second(run.seconds), per_second(m.floor_beside_seconds), per_second(m.sql_largest.seconds))
        });
        println!(
            "| {} | {:.0} MB | {} | {:.0}% | {:.0} | {:.0}% | {sql:.0} | {:.0} MB | {:.0}% | {:.2}× |",
            m.model,
            m.scorer.peak_rss_mb,
            cells.join(" | "),
            100.0 * largest / per_second(n, m.ceiling_seconds),
            floor_beside,
            100.0 * largest / floor_beside,
            m.sql_largest.peak_rss_mb,
            100.0 * sql / largest,
            m.scorer_one_thread_large.seconds / m.large.first().map_or(f64::NAN, |(_, run)| run.seconds)
        );
    }
}

/// A chart's series: its label, its colour, and the seconds a model took on the test reviews.
type Series = (&'static str, RGBColor, fn(&ModelResult) -> f64);

/// Grouped bars of reviews/s: (a), (b), (c), (d) and (f) for each model, on a logarithmic axis
/// (the folded MLPs' model-only rate is a hundred times the recurrent models' scorer rate).
fn chart(r: &Report, path: &Path) -> Result<()> {
    let n = r.test_reviews;
    let series: [Series; 5] = [
        ("(a) scorer score", BLUE, |m| m.scorer.seconds),
        ("(b) Python way", RED, |m| m.python.seconds),
        ("(c) model only", GREEN, |m| m.ceiling_seconds),
        ("(d) SQL", MAGENTA, |m| m.sql.seconds),
        ("(f) Flight", CYAN, |m| m.flight_seconds),
    ];
    let rates = || r.models.iter().flat_map(|m| series.iter().map(move |(_, _, f)| per_second(n, f(m))));
    let top = 10f64.powf(rates().fold(1.0, f64::max).log10().ceil());
    let bottom = 10f64.powf(rates().fold(f64::INFINITY, f64::min).log10().floor());
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = BitMapBackend::new(path, (900, 520)).into_drawing_area();
        root.fill(&WHITE)?;
        let title = format!("reviews/s on IMDB test ({n} reviews), {} threads", r.threads);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(16)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..r.models.len() as f64, (bottom..top).log_scale())?;
        let names: Vec<String> = r.models.iter().map(|m| m.model.clone()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(names.len() * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - i as f64 - 0.5).abs() < 1e-9 {
                    names.get(i).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_label_formatter(&|&y| match y {
                y if y >= 1e6 => format!("{}M", y / 1e6),
                y if y >= 1e3 => format!("{}k", y / 1e3),
                y => format!("{y}"),
            })
            .y_desc("reviews/s")
            .draw()?;
        for (k, (label, color, seconds)) in series.iter().enumerate() {
            let bars = r.models.iter().enumerate().map(|(i, m)| {
                let x0 = i as f64 + 0.1 + 0.16 * k as f64;
                Rectangle::new([(x0, bottom), (x0 + 0.14, per_second(n, seconds(m)))], color.filled())
            });
            chart
                .draw_series(bars)?
                .label(*label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], color.filled()));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()?;
        root.draw(&Text::new(r.machine.clone(), (20, 500), ("sans-serif", 13)))?;
        root.present()?;
        Ok(())
    };
    draw().map_err(|e| anyhow!("{e}")).with_context(|| format!("cannot draw {}", path.display()))
}
