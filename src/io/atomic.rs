//! Output files that appear whole or not at all: written to a temporary file beside the target,
//! then renamed over it. A temporary file left by a killed run is removed by the next run.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A file being written; it takes its final name only on [`AtomicFile::commit`], and is removed
/// if dropped before.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    file: File,
    committed: bool,
}

impl AtomicFile {
    /// Starts writing `target` through a hidden temporary file in the same folder.
    pub fn create(target: &Path) -> Result<Self> {
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = target.file_name().with_context(|| format!("{} is not a file path", target.display()))?;
        let name = name.to_string_lossy();
        remove_orphans(&dir, &name);
        let temp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&temp)
            .with_context(|| format!("cannot write in {} (for {})", dir.display(), target.display()))?;
        Ok(Self { target: target.to_owned(), temp, file, committed: false })
    }

    /// The path the file takes when committed.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// The temporary file's path, for writers that open it themselves.
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    /// A handle to write through.
    pub fn handle(&self) -> Result<File> {
        self.file.try_clone().context("cannot duplicate the output file handle")
    }

    /// Flushes the file to disk and gives it its final name, only if no file has that name: a
    /// file that another run wrote there meanwhile is left as it is, and this one is removed.
    pub fn commit_new(mut self) -> Result<()> {
        self.file.sync_all().with_context(|| format!("cannot flush {}", self.temp.display()))?;
        // A hard link fails where the name is taken, atomically; then the temporary name goes.
        std::fs::hard_link(&self.temp, &self.target).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => anyhow::anyhow!(
                "{} was written by another run while this one scored; it is left as it is (pass --overwrite to replace it)",
                self.target.display()
            ),
            _ => anyhow::Error::new(e).context(format!("cannot name {} {}", self.temp.display(), self.target.display())),
        })?;
        self.committed = true;
        std::fs::remove_file(&self.temp).with_context(|| format!("cannot remove {}", self.temp.display()))
    }

    /// Flushes the file to disk and gives it its final name, replacing any file of that name.
    pub fn commit(mut self) -> Result<()> {
        self.file.sync_all().with_context(|| format!("cannot flush {}", self.temp.display()))?;
        std::fs::rename(&self.temp, &self.target)
            .with_context(|| format!("cannot move {} to {}", self.temp.display(), self.target.display()))?;
        self.committed = true;
        Ok(())
    }
}

/// Removes the temporary files `.<name>.<pid>.tmp` in `dir` whose process no longer runs: what a
/// run killed with SIGKILL, or by a power cut, leaves behind.
fn remove_orphans(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name();
        let pid = file
            .to_str()
            .and_then(|f| f.strip_prefix('.'))
            .and_then(|f| f.strip_prefix(name))
            .and_then(|f| f.strip_prefix('.'))
            .and_then(|f| f.strip_suffix(".tmp"))
            .and_then(|pid| pid.parse::<u32>().ok());
        if let Some(pid) = pid
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            tracing::info!("removing {}, left by an earlier run that was killed", entry.path().display());
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
