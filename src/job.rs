//! A nightly job: every file of a landing folder (or glob) scored into a folder of outputs, one
//! output per input at the same relative path. It is resumable and idempotent: an input whose
//! output already says it was scored by the same model file (SHA-256) and contract is skipped,
//! reading only that output's footer (Parquet) or the last run's manifest (CSV, NDJSON). One bad
//! file never stops the rest unless asked to. Files are scored side by side, sharing the thread
//! pool, and the run's record is kept in [`MANIFEST`] in the output folder, rewritten atomically
//! after every file, so that a job killed at any point leaves a manifest of what it finished.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::io::row_groups::ParquetFile;
use crate::io::{AtomicFile, FileFormat, Input};
use crate::provenance::{KEY_PREFIX, ModelIdentity, PACKAGE, VERSION};
use crate::scoring::{FileScorer, Totals};

/// The manifest's file name in the output folder: the record of the last run, for the next step
/// of a pipeline and for the next run.
pub const MANIFEST: &str = "_scorer_manifest.json";

/// What became of one input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileState {
    /// Scored; it had no output before.
    Scored,
    /// Its output was already scored by this model file and contract.
    Skipped,
    /// Scored again: its output was scored by another model, or `rescore` was asked.
    Rescored,
    /// It could not be scored; the error says why. Its output, if any, is left as it was.
    Failed,
}

/// One input file's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileOutcome {
    /// The input file.
    pub input: PathBuf,
    /// Its output file.
    pub output: PathBuf,
    /// What became of it.
    pub state: FileState,
    /// Rows written (for a skipped file, none).
    pub rows: u64,
    /// Seconds spent on it.
    pub seconds: f64,
    /// Why it failed.
    pub error: Option<String>,
    /// The SHA-256 of the model file whose scores its output holds, when it holds any.
    pub model_sha256: Option<String>,
}

/// The record of a run: what scored, and every file's outcome in input order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// This package's name.
    pub package: String,
    /// This package's version.
    pub version: String,
    /// The model's name.
    pub model: String,
    /// The SHA-256 of the model's file.
    pub model_sha256: String,
    /// The model's contract version.
    pub contract_version: u32,
    /// Every input file's outcome so far, in input order.
    pub files: Vec<FileOutcome>,
}

impl Manifest {
    /// How many files ended in `state`.
    pub fn count(&self, state: FileState) -> usize {
        self.files.iter().filter(|f| f.state == state).count()
    }
}

/// How a folder is scored.
pub struct FolderJob<'a> {
    /// What scores each file, with its settings.
    pub scorer: &'a FileScorer<'a>,
    /// The model whose scores the outputs hold.
    pub model: &'a ModelIdentity,
    /// The folder the outputs go to.
    pub output_dir: PathBuf,
    /// The outputs' format; `None` keeps each input's.
    pub output_format: Option<FileFormat>,
    /// Score every file again, whatever its output says.
    pub rescore: bool,
    /// Stop at the first file that fails (the files being scored finish first).
    pub fail_fast: bool,
    /// Files scored at once.
    pub files_at_once: usize,
}

/// The input files of `spec` (a folder, searched recursively, or a glob) with the folder their
/// relative paths start from. Hidden files and folders are passed over.
pub fn input_files(spec: &str) -> Result<(PathBuf, Vec<PathBuf>)> {
    let path = Path::new(spec);
    let (base, mut files) = if path.is_dir() {
        let mut files = Vec::new();
        list(path, &mut files)?;
        (path.to_owned(), files)
    } else if path.is_file() {
        bail!("--output-dir scores a folder or a glob of files; for one file, use --output");
    } else if spec.contains(['*', '?', '[']) {
        // The glob's folder: its components before the first with a glob character.
        let base: PathBuf =
            path.components().take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '['])).collect();
        let files = glob::glob(spec)
            .with_context(|| format!("bad glob {spec:?}"))?
            .filter_map(|p| p.ok())
            .filter(|p| p.is_file() && FileFormat::from_extension(p).is_some())
            .collect();
        (base, files)
    } else {
        bail!("input {spec} does not exist");
    };
    if files.is_empty() {
        bail!("no Parquet, CSV or NDJSON files in {spec}");
    }
    files.sort();
    Ok((base, files))
}

fn list(dir: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry.with_context(|| format!("cannot list {}", dir.display()))?.path();
        if path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            list(&path, files)?;
        } else if FileFormat::from_extension(&path).is_some() {
            files.push(path);
        }
    }
    Ok(())
}

impl FolderJob<'_> {
    /// Scores `files` (relative to `base`) into the output folder; returns the run's manifest,
    /// also written there. `after_batch` sees every batch's rows, of every file, and may stop the
    /// run with an error (an interrupt): that error is the run's, not a file's.
    pub fn run(
        &self,
        base: &Path,
        files: &[PathBuf],
        after_batch: &(dyn Fn(u64) -> Result<()> + Sync),
    ) -> Result<Manifest> {
        if files.iter().any(|f| f.starts_with(&self.output_dir)) || self.output_dir == base {
            bail!(
                "the output folder {} is among the inputs; choose one outside {}",
                self.output_dir.display(),
                base.display()
            );
        }
        std::fs::create_dir_all(&self.output_dir)
            .with_context(|| format!("cannot create the output folder {}", self.output_dir.display()))?;
        let manifest_path = self.output_dir.join(MANIFEST);
        let previous = read_manifest(&manifest_path);
        let outcomes: Mutex<Vec<Option<FileOutcome>>> = Mutex::new(vec![None; files.len()]);
        let next = AtomicUsize::new(0);
        let stop = AtomicBool::new(false);
        let stopped: Mutex<Option<anyhow::Error>> = Mutex::new(None);
        std::thread::scope(|scope| {
            for _ in 0..self.files_at_once.clamp(1, files.len()) {
                scope.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        let at = next.fetch_add(1, Ordering::Relaxed);
                        let Some(input) = files.get(at) else { return };
                        let started = Instant::now();
                        let output = self.output_path(base, input);
                        let result = self.score_one(input, &output, previous.as_ref(), after_batch);
                        let outcome = match result {
                            Ok((state, rows)) => FileOutcome {
                                input: input.clone(),
                                output,
                                state,
                                rows,
                                seconds: started.elapsed().as_secs_f64(),
                                error: None,
                                model_sha256: Some(self.model.sha256.clone()),
                            },
                            Err(e) if e.is::<Stopped>() => {
                                stop.store(true, Ordering::Relaxed);
                                let cause = e.downcast::<Stopped>().expect("checked").0;
                                stopped.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(cause);
                                return;
                            }
                            Err(e) => {
                                if self.fail_fast {
                                    stop.store(true, Ordering::Relaxed);
                                }
                                FileOutcome {
                                    input: input.clone(),
                                    output,
                                    state: FileState::Failed,
                                    rows: 0,
                                    seconds: started.elapsed().as_secs_f64(),
                                    error: Some(crate::errors::describe(&e)),
                                    model_sha256: None,
                                }
                            }
                        };
                        let mut outcomes = outcomes.lock().unwrap_or_else(|p| p.into_inner());
                        outcomes[at] = Some(outcome);
                        // A record of every file finished so far, so that a killed run leaves one.
                        if let Err(e) = self.write_manifest(&manifest_path, &outcomes) {
                            tracing::warn!("{e:#}");
                        }
                    }
                });
            }
        });
        if let Some(cause) = stopped.into_inner().unwrap_or_else(|p| p.into_inner()) {
            return Err(cause);
        }
        let outcomes = outcomes.into_inner().unwrap_or_else(|p| p.into_inner());
        let manifest = self.manifest(&outcomes);
        self.write_manifest(&manifest_path, &outcomes)?;
        Ok(manifest)
    }

    /// Where `input`'s output goes: its path relative to `base`, under the output folder, with
    /// the output format's extension.
    fn output_path(&self, base: &Path, input: &Path) -> PathBuf {
        let relative = input.strip_prefix(base).unwrap_or(input);
        let path = self.output_dir.join(relative);
        match self.output_format {
            Some(format) if FileFormat::from_extension(&path) != Some(format) => {
                path.with_extension(format.extensions()[0])
            }
            _ => path,
        }
    }

    /// Scores one file unless its output is already this model's; its state and rows written.
    fn score_one(
        &self,
        input: &Path,
        output: &Path,
        previous: Option<&Manifest>,
        after_batch: &(dyn Fn(u64) -> Result<()> + Sync),
    ) -> Result<(FileState, u64)> {
        let state = match self.scored_by(output, previous) {
            None => FileState::Scored,
            Some(Some(sha256)) if sha256 == self.model.sha256 && !self.rescore => return Ok((FileState::Skipped, 0)),
            Some(_) => FileState::Rescored,
        };
        // An existing file is opened as itself, whatever glob characters its name holds.
        let opened = Input::open(&input.display().to_string())?;
        let format = self.output_format.unwrap_or(opened.format());
        if let Some(folder) = output.parent() {
            std::fs::create_dir_all(folder).with_context(|| format!("cannot create {}", folder.display()))?;
        }
        let Totals { rows, .. } =
            self.scorer.score_file(&opened, output, format, |rows| after_batch(rows).map_err(|e| Stopped(e).into()))?;
        Ok((state, rows))
    }

    /// `None` when `output` does not exist; else the SHA-256 of the model whose scores it holds
    /// with this contract, where it says so: a Parquet output's footer; for CSV and NDJSON, the
    /// last run's manifest. An output that says nothing of the kind is scored again.
    fn scored_by(&self, output: &Path, previous: Option<&Manifest>) -> Option<Option<String>> {
        if !output.is_file() {
            return None;
        }
        let contract = self.model.contract_version.to_string();
        if FileFormat::from_extension(output) == Some(FileFormat::Parquet) {
            let footer = ParquetFile::open(output).ok();
            let metadata = footer.as_ref().and_then(|f| f.metadata.metadata().file_metadata().key_value_metadata());
            let value = |key: &str| {
                let key = format!("{KEY_PREFIX}{key}");
                metadata?.iter().find(|kv| kv.key == key).and_then(|kv| kv.value.clone())
            };
            return Some(value("model_sha256").filter(|_| value("contract_version") == Some(contract)));
        }
        let entry = previous
            .filter(|m| m.contract_version == self.model.contract_version)
            .and_then(|m| m.files.iter().find(|f| f.output == output && f.state != FileState::Failed));
        Some(entry.and_then(|f| f.model_sha256.clone()))
    }

    fn manifest(&self, outcomes: &[Option<FileOutcome>]) -> Manifest {
        Manifest {
            package: PACKAGE.to_owned(),
            version: VERSION.to_owned(),
            model: self.model.name.clone(),
            model_sha256: self.model.sha256.clone(),
            contract_version: self.model.contract_version,
            files: outcomes.iter().flatten().cloned().collect(),
        }
    }

    fn write_manifest(&self, path: &Path, outcomes: &[Option<FileOutcome>]) -> Result<()> {
        let file = AtomicFile::create(path)?;
        let mut text = serde_json::to_string_pretty(&self.manifest(outcomes))?;
        text.push('\n');
        std::io::Write::write_all(&mut file.handle()?, text.as_bytes())
            .with_context(|| format!("cannot write {}", path.display()))?;
        file.commit()
    }
}

/// The manifest a run left, if it is there and readable.
fn read_manifest(path: &Path) -> Option<Manifest> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// An error that stops the whole run (an interrupt), not just one file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Stopped(anyhow::Error);
