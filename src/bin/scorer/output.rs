//! Output files that appear whole or not at all: written to a temporary file beside the target,
//! then renamed over it.

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
        let temp = dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), std::process::id()));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&temp)
            .with_context(|| format!("cannot write in {} (for {})", dir.display(), target.display()))?;
        Ok(Self { target: target.to_owned(), temp, file, committed: false })
    }

    /// A handle to write through.
    pub fn handle(&self) -> Result<File> {
        self.file.try_clone().context("cannot duplicate the output file handle")
    }

    /// Flushes the file to disk and gives it its final name.
    pub fn commit(mut self) -> Result<()> {
        self.file.sync_all().with_context(|| format!("cannot flush {}", self.temp.display()))?;
        std::fs::rename(&self.temp, &self.target)
            .with_context(|| format!("cannot move {} to {}", self.temp.display(), self.target.display()))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}
