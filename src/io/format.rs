//! The file formats reviews are read from and written to, named by extension.

use std::path::Path;

use anyhow::{Result, bail};

/// A file format the scorer reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// Apache Parquet (`.parquet`).
    Parquet,
    /// Comma-separated values with a header line (`.csv`).
    Csv,
    /// One JSON object per line (`.ndjson`, `.jsonl` or `.json`).
    Ndjson,
}

impl FileFormat {
    /// Every format, in the order they are tried when a folder is listed.
    pub const ALL: [FileFormat; 3] = [FileFormat::Parquet, FileFormat::Csv, FileFormat::Ndjson];

    /// The format a file's extension names (in any case), if any.
    pub fn from_extension(path: &Path) -> Option<Self> {
        let extension = path.extension()?.to_str()?.to_ascii_lowercase();
        Self::ALL.into_iter().find(|format| format.extensions().contains(&extension.as_str()))
    }

    /// The format of `path`, or an error that names the file and the extensions known.
    pub fn of_path(path: &Path) -> Result<Self> {
        match Self::from_extension(path) {
            Some(format) => Ok(format),
            None => bail!(
                "{} is neither Parquet, CSV nor NDJSON: name it .parquet, .csv, or .ndjson/.jsonl/.json",
                path.display()
            ),
        }
    }

    /// The extensions of the format, the usual one first.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            FileFormat::Parquet => &["parquet"],
            FileFormat::Csv => &["csv"],
            FileFormat::Ndjson => &["ndjson", "jsonl", "json"],
        }
    }

    /// The format's name, as error messages say it.
    pub fn name(self) -> &'static str {
        match self {
            FileFormat::Parquet => "Parquet",
            FileFormat::Csv => "CSV",
            FileFormat::Ndjson => "NDJSON",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_name_formats_in_any_case() {
        assert_eq!(FileFormat::from_extension(Path::new("a/b.PARQUET")), Some(FileFormat::Parquet));
        assert_eq!(FileFormat::from_extension(Path::new("IMDB Dataset.csv")), Some(FileFormat::Csv));
        assert_eq!(FileFormat::from_extension(Path::new("x.jsonl")), Some(FileFormat::Ndjson));
        assert_eq!(FileFormat::from_extension(Path::new("x.txt")), None);
        let err = FileFormat::of_path(Path::new("reviews.txt")).unwrap_err().to_string();
        assert!(err.contains("reviews.txt") && err.contains(".csv"), "{err}");
    }
}
