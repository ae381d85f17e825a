//! Files of one entry per line, whose line number is the entry's id: the word vocabulary
//! (`vocab.txt`) and the n-gram model's (`ngram.vocab.txt`).

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};

/// The lines of the file at `path`, which holds a `what` (named in the errors).
pub fn read_lines(path: &Path, what: &str) -> Result<Vec<String>> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {what} {}", path.display()))?;
    BufReader::new(file)
        .lines()
        .collect::<std::io::Result<Vec<_>>>()
        .with_context(|| format!("cannot read {what} {}", path.display()))
}

/// Writes `entries` to `path`, one per line.
pub fn write_lines(path: &Path, entries: &[String]) -> Result<()> {
    let mut out =
        BufWriter::new(std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?);
    for entry in entries {
        writeln!(out, "{entry}")?;
    }
    out.flush().with_context(|| format!("cannot write {}", path.display()))
}
