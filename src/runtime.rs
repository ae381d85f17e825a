//! ONNX Runtime, loaded at run time from a shared library that the scorer finds by itself.
//!
//! The library is looked for only where the user or the install put it, in order: `ORT_DYLIB_PATH`
//! (when set, only there); beside the executable; the copy that `scripts/setup` unpacked from the
//! PyPI `onnxruntime` wheel into the source tree the binary was built from
//! (`.deps/onnxruntime/`); the system's library folders; an installed Python `onnxruntime`
//! package. Never the current folder: running the scorer in a folder someone else controls must
//! not run their code. The first file that exists is loaded once per process.

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
    for candidate in library_candidates() {
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

/// The library files looked for, in order, short of Python's package: beside the executable (an
/// install that ships the library with the binary), in the source tree's `.deps/` (what
/// `scripts/setup` unpacked for a build from source), and in the system's library folders. Every
/// one is an absolute path fixed by the install, none relative to the current folder.
fn library_candidates() -> Vec<PathBuf> {
    let file = format!("libonnxruntime.so.{ORT_VERSION}");
    let beside_executable = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_owned));
    let source_tree = Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps").join("onnxruntime");
    let system = ["/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu"];
    beside_executable
        .into_iter()
        .chain([source_tree])
        .chain(system.into_iter().map(PathBuf::from))
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join(&file))
        .collect()
}

fn python_onnxruntime_library() -> Result<PathBuf> {
    // `python3 -c` puts the current folder first on the module path: take it off before the
    // import, so that an `onnxruntime.py` there is never run.
    const FIND: &str = "import os, sys\n\
        sys.path = [p for p in sys.path if p and os.path.abspath(p) != os.getcwd()]\n\
        import onnxruntime\n\
        print(os.path.dirname(onnxruntime.__file__))";
    let output = Command::new("python3").args(["-c", FIND]).output().context("python3 not runnable")?;
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
