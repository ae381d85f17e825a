//! ONNX Runtime, loaded at run time from a shared library that the scorer finds by itself.
//!
//! The library is looked for, in order: `ORT_DYLIB_PATH` (when set, only there); the project-local copy that
//! `scripts/setup` unpacks from the PyPI `onnxruntime` wheel into `.deps/onnxruntime/`; an
//! installed Python `onnxruntime` package. The first file that exists is loaded once per process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result, anyhow};

/// The ONNX Runtime release the project is built and tested against.
pub const ORT_VERSION: &str = "1.31.1";

/// The environment variable that names the library file, overriding every other place.
pub const DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// Why ONNX Runtime could not be started. The process keeps the first answer, so it is `Clone`;
/// ONNX Runtime's own error stays reachable as the source.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    /// No library file was found; the message says where the scorer looked.
    #[error("{0}")]
    NotFound(String),
    /// The library was found but would not load.
    #[error("cannot load ONNX Runtime from {}", library.display())]
    Load {
        /// The library file.
        library: PathBuf,
        /// Why it would not load.
        #[source]
        source: Arc<ort::LoadDynamicError>,
    },
    /// The library loaded but its environment would not start.
    #[error("cannot start ONNX Runtime")]
    Start(#[source] Arc<ort::Error>),
}

/// The process-wide ONNX Runtime environment; sessions are created from it.
pub fn environment() -> Result<&'static ort::environment::Environment> {
    static ENVIRONMENT: OnceLock<std::result::Result<ort::environment::Environment, RuntimeError>> = OnceLock::new();
    let environment = ENVIRONMENT.get_or_init(|| {
        let library = locate_library().map_err(|e| RuntimeError::NotFound(format!("{e:#}")))?;
        tracing::debug!(library = %library.display(), "loading ONNX Runtime");
        let builder = ort::init_from(&library)
            .map_err(|source| RuntimeError::Load { library: library.clone(), source: Arc::new(source) })?;
        builder.with_name("sentiment").build().map_err(|source| RuntimeError::Start(Arc::new(source)))
    });
    environment.as_ref().map_err(|e| e.clone().into())
}

/// All cores of this machine: the default thread count of the command line and of the Python
/// package.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Where a model runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    /// ONNX Runtime's CPU execution provider.
    #[default]
    Cpu,
    /// The CUDA execution provider; an error where it is unavailable.
    Cuda,
    /// CUDA when the loaded ONNX Runtime has it, else the CPU (said once in the log).
    Auto,
}

impl std::fmt::Display for Provider {
    /// `cpu`, `cuda` or `auto`, as the command line and the model files' provenance spell them.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Provider::Cpu => "cpu",
            Provider::Cuda => "cuda",
            Provider::Auto => "auto",
        })
    }
}

impl std::str::FromStr for Provider {
    type Err = anyhow::Error;

    /// `cpu`, `cuda` or `auto`, as the command line spells them.
    fn from_str(name: &str) -> Result<Self> {
        match name {
            "cpu" => Ok(Provider::Cpu),
            "cuda" => Ok(Provider::Cuda),
            "auto" => Ok(Provider::Auto),
            other => Err(anyhow!("unknown provider {other:?}: choose cpu, cuda or auto")),
        }
    }
}

impl Provider {
    /// The provider sessions will actually use: resolves `Auto`, and fails for `Cuda` when the
    /// loaded ONNX Runtime has no CUDA execution provider.
    pub fn resolve(self) -> Result<Provider> {
        use ort::ep::ExecutionProvider;
        let cuda = ort::ep::CUDA::is_available().context("cannot query ONNX Runtime's providers")?;
        match (self, cuda) {
            (Provider::Cpu, _) => Ok(Provider::Cpu),
            (Provider::Cuda | Provider::Auto, true) => Ok(Provider::Cuda),
            (Provider::Cuda, false) => Err(anyhow!(
                "--provider cuda: the loaded ONNX Runtime ({}) has no CUDA execution provider; install \
                 onnxruntime-gpu and point {DYLIB_ENV} at its libonnxruntime.so, or use --provider cpu",
                locate_library().map_or_else(|_| "unknown".to_owned(), |p| p.display().to_string())
            )),
            (Provider::Auto, false) => {
                static ONCE: std::sync::Once = std::sync::Once::new();
                ONCE.call_once(|| tracing::warn!("CUDA is not available; scoring on the CPU"));
                Ok(Provider::Cpu)
            }
        }
    }
}

/// Finds the ONNX Runtime shared library, or says everywhere it looked and how to fix it.
pub fn locate_library() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(DYLIB_ENV) {
        // An explicit choice is never silently replaced by another library.
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        return Err(anyhow!(
            "ONNX Runtime library not found: {DYLIB_ENV} names {}, which is not a file",
            path.display()
        ));
    }
    let mut looked = Vec::new();
    for dir in project_dependency_dirs() {
        let candidate = dir.join("onnxruntime").join(format!("libonnxruntime.so.{ORT_VERSION}"));
        if candidate.is_file() {
            return Ok(candidate);
        }
        looked.push(candidate.display().to_string());
    }
    match python_onnxruntime_library() {
        Ok(path) => return Ok(path),
        Err(e) => looked.push(format!("python3's onnxruntime package ({e})")),
    }
    Err(anyhow!(
        "ONNX Runtime library not found; looked in:\n  {}\nRun scripts/setup to fetch onnxruntime=={ORT_VERSION}, \
         or set {DYLIB_ENV} to a libonnxruntime.so",
        looked.join("\n  ")
    ))
}

/// Folders where `scripts/setup` may have unpacked dependencies: `.deps` in the current directory
/// and in the source tree this binary was built from.
pub fn project_dependency_dirs() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(".deps"), Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps")];
    dirs.dedup_by(|a, b| a.canonicalize().ok().is_some_and(|a| Some(a) == b.canonicalize().ok()));
    dirs
}

fn python_onnxruntime_library() -> Result<PathBuf> {
    let output = Command::new("python3")
        .args(["-c", "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))"])
        .output()
        .context("python3 not runnable")?;
    if !output.status.success() {
        return Err(anyhow!("not installed"));
    }
    let capi = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()).join("capi");
    std::fs::read_dir(&capi)
        .with_context(|| format!("cannot list {}", capi.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("libonnxruntime.so")))
        .with_context(|| format!("no libonnxruntime.so in {}", capi.display()))
}
