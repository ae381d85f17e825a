//! Options shared by the subcommands that run a model.

use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use sentiment::catalog::{Catalog, DEFAULT_MODEL};
use sentiment::runtime::Provider;

/// Which model runs, and where.
#[derive(Debug, Clone, Args)]
pub struct ModelOptions {
    /// A shipped model's name (rnn, gru, mlp, weighted-mlp, attention), or the path of an .onnx
    /// file with its card, vocab.txt and glove.f32 beside it.
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub model: String,
    /// The folder of shipped models [default: $SENTIMENT_MODELS, else models/ of the source tree].
    #[arg(long)]
    pub models_dir: Option<PathBuf>,
    /// Where the model runs: cpu, cuda, or auto (CUDA when available).
    #[arg(long, value_enum, default_value_t = Provider::Cpu)]
    pub provider: Provider,
    /// Threads for tokenising and for ONNX Runtime [default: all cores].
    #[arg(long)]
    pub threads: Option<usize>,
}

impl ModelOptions {
    /// Thread count to use.
    pub fn threads(&self) -> usize {
        self.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    }

    /// Opens the catalog holding the chosen model, and the model's name in it.
    pub fn open(&self) -> Result<(Catalog, String)> {
        let as_path = PathBuf::from(&self.model);
        let (dir, name) = if self.model.ends_with(".onnx") || self.model.contains('/') {
            let dir = as_path.parent().map(PathBuf::from).unwrap_or_default();
            let name = as_path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
            (if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir }, name)
        } else {
            (self.models_dir.clone().unwrap_or_else(Catalog::default_dir), self.model.clone())
        };
        let catalog = Catalog::open(&dir, self.threads(), self.provider)?;
        catalog.card(&name)?;
        Ok((catalog, name))
    }

    /// Sets the size of the thread pool that tokenises.
    pub fn configure_threads(&self) {
        // The global pool can be built once; a second call (tests) keeps the first.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(self.threads()).build_global();
    }
}
