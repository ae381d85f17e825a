//! Options shared by the subcommands, declared once and flattened into each: the models folder,
//! the execution provider and the thread count, with their defaults and the async runtime.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use sentiment::catalog::{Catalog, DEFAULT_MODEL};
use sentiment::runtime::Provider;
pub use sentiment::runtime::default_threads;

/// Stack of each of the runtime's threads. DataFusion plans and optimises an expression by
/// recursion, and grows its stack on the heap where it can (its `recursive_protection`), but not
/// everywhere: a `WHERE` of 4,000 `OR`ed terms overflowed the default 2 MiB and aborted the
/// process. The stack is reserved, not used, until a query needs it.
const STACK_BYTES: usize = 256 << 20;

/// The tokio runtime every async subcommand runs on, with `workers` threads.
pub fn runtime(workers: usize) -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .thread_stack_size(STACK_BYTES)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// The most rows a `--batch-size` may name: batches are held in memory, a few at a time.
pub const MAX_BATCH_SIZE: usize = 1 << 20;

/// Parses a `--batch-size`: a row count from 1 to [`MAX_BATCH_SIZE`]. Zero would read nothing and
/// write an empty output as if the input were empty.
pub fn batch_size(value: &str) -> Result<usize, String> {
    row_count(value, "a batch")
}

/// Parses a `--rows-per-call`: a row count from 1 to [`MAX_BATCH_SIZE`].
pub fn rows_per_call(value: &str) -> Result<usize, String> {
    row_count(value, "a model call")
}

/// `value` as a row count from 1 to [`MAX_BATCH_SIZE`] that `holder` holds, or why it is not one.
fn row_count(value: &str, holder: &str) -> Result<usize, String> {
    let rows: usize = value.parse().map_err(|_| format!("{value:?} is not a row count"))?;
    if (1..=MAX_BATCH_SIZE).contains(&rows) {
        Ok(rows)
    } else {
        Err(format!("{holder} holds 1 to {MAX_BATCH_SIZE} rows, not {rows}"))
    }
}

/// `--models-dir`: where the shipped models are.
#[derive(Debug, Clone, Args)]
pub struct ModelsDir {
    /// The folder of shipped models [default: $SENTIMENT_MODELS, else models/ of the source tree].
    #[arg(long = "models-dir", value_name = "DIR")]
    dir: Option<PathBuf>,
}

impl ModelsDir {
    /// The folder given, or the default one.
    pub fn path(&self) -> PathBuf {
        self.dir.clone().unwrap_or_else(Catalog::default_dir)
    }
}

/// Where the models are and how they run: flattened into every subcommand that runs one.
#[derive(Debug, Clone, Args)]
pub struct RuntimeOptions {
    #[command(flatten)]
    pub models_dir: ModelsDir,
    /// Where the models run: cpu, cuda, or auto (CUDA when available).
    #[arg(long, value_enum, default_value_t = Provider::Cpu)]
    pub provider: Provider,
    /// Threads for tokenising, query partitions and ONNX Runtime; `score` decodes and encodes
    /// Parquet row groups on as many threads again, beside them (pin the process, as `taskset`
    /// does, to bound the cores) [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
    /// Most reviews in one model call, for tuning a machine (bench/device/measure) [default: 4096
    /// on CUDA; on the CPU 32 for rnn, gru and attention, else 128].
    #[arg(long, value_name = "ROWS", value_parser = rows_per_call)]
    pub rows_per_call: Option<usize>,
}

impl RuntimeOptions {
    /// Thread count to use.
    pub fn threads(&self) -> usize {
        self.threads.unwrap_or_else(default_threads)
    }

    /// The models of the folder, to run with [`Self::threads`] on the provider.
    pub fn catalog(&self) -> Result<Catalog> {
        self.open(&self.models_dir.path())
    }

    /// The models of `dir`, to run with [`Self::threads`] on the provider, in calls of
    /// `--rows-per-call` where given.
    fn open(&self, dir: &std::path::Path) -> Result<Catalog> {
        Ok(Catalog::open(dir, self.threads(), self.provider)?.with_rows_per_call(self.rows_per_call))
    }
}

/// Which model runs, and where.
#[derive(Debug, Clone, Args)]
pub struct ModelOptions {
    /// A shipped model's name (ngram, rnn, gru, mlp, weighted-mlp, attention), or the path of an
    /// .onnx file with its card beside it (and for a word model vocab.txt and glove.f32).
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: String,
    #[command(flatten)]
    pub runtime: RuntimeOptions,
}

impl ModelOptions {
    /// Thread count to use.
    pub fn threads(&self) -> usize {
        self.runtime.threads()
    }

    /// Opens the catalog holding the chosen model, and the model's name in it.
    pub fn open(&self) -> Result<(Catalog, String)> {
        let as_path = PathBuf::from(&self.model);
        let (catalog, name) = if self.model.ends_with(".onnx") || self.model.contains('/') {
            let dir = as_path.parent().map(PathBuf::from).unwrap_or_default();
            let name = as_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            let dir = if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir };
            (self.runtime.open(&dir)?, name)
        } else {
            (self.runtime.catalog()?, self.model.clone())
        };
        catalog.card(&name)?;
        Ok((catalog, name))
    }

    /// Sets the size of the thread pool that tokenises.
    pub fn configure_threads(&self) {
        // The global pool can be built once; a second call (tests) keeps the first.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(self.threads()).build_global();
    }
}
