//! The files a job reads: one file, a folder of them, or a glob, all of one format and one schema.
//! Parquet carries its schema, and its row groups are decoded side by side on the thread pool
//! ([`super::row_groups`]); CSV's and NDJSON's schemas are inferred from their first records, and
//! each such file is read by one reader, in order.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::FileFormat;
use super::row_groups::{ParquetFile, RowGroupReader};
use crate::batch::is_text_type;
use anyhow::{Context, Result, bail};
use arrow::array::RecordBatch;
use arrow::datatypes::{Schema, SchemaRef};

/// Records of a CSV or NDJSON file read to infer its column types.
pub const INFER_RECORDS: usize = 10_000;

/// The input files of a job, their format and their common schema.
#[derive(Debug)]
pub struct Input {
    spec: String,
    format: FileFormat,
    files: Vec<PathBuf>,
    /// The footers of Parquet files, read once (empty for the other formats).
    parquet: Vec<ParquetFile>,
    schema: SchemaRef,
    rows: Option<u64>,
}

/// A stream of record batches, each read or decoding error naming its file.
pub type Batches<'a> = Box<dyn Iterator<Item = Result<RecordBatch>> + 'a>;

impl Input {
    /// Expands `spec` (file, folder or glob) and checks that every file has the format and the
    /// schema of the first.
    pub fn open(spec: &str) -> Result<Self> {
        let (format, files) = expand(spec)?;
        let mut first: Option<(SchemaRef, &Path)> = None;
        let mut rows = Some(0);
        let mut parquet = Vec::new();
        for file in &files {
            let (schema, file_rows) = match format {
                FileFormat::Parquet => {
                    let footer = ParquetFile::open(file)?;
                    let read = (footer.metadata.schema().clone(), Some(footer.rows()));
                    parquet.push(footer);
                    read
                }
                FileFormat::Csv => (super::csv::infer_schema(file)?, None),
                FileFormat::Ndjson => (super::ndjson::infer_schema(file)?, None),
            };
            rows = rows.zip(file_rows).map(|(a, b)| a + b);
            match &first {
                None => first = Some((schema, file)),
                Some((schema_of_first, first_file)) if schema_of_first.fields() != schema.fields() => bail!(
                    "{} has a different schema from {}:\n  {}\nversus\n  {}",
                    file.display(),
                    first_file.display(),
                    describe(&schema),
                    describe(schema_of_first)
                ),
                Some(_) => {}
            }
        }
        let schema = first.expect("expand returns at least one file").0;
        Ok(Self { spec: spec.to_owned(), format, files, parquet, schema, rows })
    }

    /// The format of every file.
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// The common schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The footers of the Parquet files, in order (none for the other formats).
    pub fn parquet_files(&self) -> &[ParquetFile] {
        &self.parquet
    }

    /// Total rows over all files, where the format records it (Parquet).
    pub fn rows(&self) -> Option<u64> {
        self.rows
    }

    /// The index of column `name`, or an error that lists the columns there are.
    /// Two columns of that name are an error too: which one is meant cannot be told.
    pub fn column(&self, name: &str) -> Result<usize> {
        let names: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
        let indices: Vec<usize> = (0..names.len()).filter(|&i| names[i] == name).collect();
        match indices[..] {
            [index] => Ok(index),
            [] => bail!("{}: no column {name:?}; the columns are {names:?}", self.spec),
            _ => bail!("{}: {} columns are named {name:?}; rename all but one", self.spec, indices.len()),
        }
    }

    /// The index of the review column, which must exist and be text.
    pub fn text_column(&self, name: &str) -> Result<usize> {
        let index = self.column(name)?;
        let data_type = self.schema.field(index).data_type();
        if !is_text_type(data_type) {
            bail!("{}: column {name:?} has type {data_type}, not text", self.spec);
        }
        Ok(index)
    }

    /// `<stem>.scored.<extension>` beside the input (for a folder or glob, beside the folder).
    pub fn default_output(&self, format: FileFormat) -> PathBuf {
        let path = Path::new(&self.spec);
        let base = if path.exists() {
            path.to_owned()
        } else {
            // A glob: name the output after the folder its files are in.
            self.files[0].parent().map(Path::to_owned).unwrap_or_default()
        };
        let stem = base.file_stem().map_or("input".into(), |s| s.to_string_lossy().into_owned());
        base.with_file_name(format!("{stem}.scored.{}", format.extensions()[0]))
    }

    /// The record batches of every file in order, `batch_size` rows at a time, with every column.
    /// A batch never spans two files, nor two row groups of a Parquet file, so the batches are the
    /// same however many threads read them.
    pub fn batches(&self, batch_size: usize) -> Batches<'_> {
        self.read(batch_size, None)
    }

    /// The record batches of every file in order with only the columns at `columns` (indices
    /// into [`Input::schema`], kept in schema order). A Parquet file's string columns come as
    /// `Utf8View`, which points into the decoded pages instead of copying each value.
    pub fn projected_batches(&self, batch_size: usize, columns: &[usize]) -> Batches<'_> {
        let mut columns = columns.to_vec();
        columns.sort_unstable();
        columns.dedup();
        self.read(batch_size, Some(columns))
    }

    fn read(&self, batch_size: usize, columns: Option<Vec<usize>>) -> Batches<'_> {
        let open_batches = match self.format {
            FileFormat::Parquet => {
                // As many row groups decoding ahead as the pool has threads, and one more.
                let most_in_flight = rayon::current_num_threads() + 1;
                return Box::new(RowGroupReader::new(&self.parquet, batch_size, columns, most_in_flight));
            }
            FileFormat::Csv => super::csv::batches,
            FileFormat::Ndjson => super::ndjson::batches,
        };
        Box::new(self.files.iter().flat_map(move |file| {
            let batches: Batches<'_> = match open_batches(file, &self.schema, batch_size, columns.clone()) {
                Ok(reader) => Box::new(reader.map(move |batch| {
                    batch.with_context(|| format!("{}: cannot decode a record batch", file.display()))
                })),
                Err(e) => Box::new(std::iter::once(Err(e))),
            };
            batches
        }))
    }
}

/// Record batches as arrow's readers give them.
pub(super) type ArrowBatches = Box<dyn Iterator<Item = std::result::Result<RecordBatch, arrow::error::ArrowError>>>;

/// `file` opened for reading text, past a UTF-8 byte-order mark if it starts with one.
pub(super) fn open_text(file: &Path) -> Result<BufReader<File>> {
    let mut reader = BufReader::new(File::open(file).with_context(|| format!("cannot open {}", file.display()))?);
    let start = reader.fill_buf().with_context(|| format!("cannot read {}", file.display()))?;
    if start.starts_with(b"\xef\xbb\xbf") {
        reader.consume(3);
    }
    Ok(reader)
}

fn describe(schema: &Schema) -> String {
    schema.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>().join(", ")
}

/// The files `spec` names, sorted, and their common format: itself, the files of a folder in
/// one format, or a glob's matches.
pub fn expand(spec: &str) -> Result<(FileFormat, Vec<PathBuf>)> {
    let path = Path::new(spec);
    let mut files: Vec<PathBuf> = if path.is_file() {
        vec![path.to_owned()]
    } else if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && FileFormat::from_extension(p).is_some())
            .collect();
        // A folder of mixed files is read in the first format of FileFormat::ALL it holds.
        let format =
            FileFormat::ALL.into_iter().find(|f| files.iter().any(|p| FileFormat::from_extension(p) == Some(*f)));
        files.retain(|p| FileFormat::from_extension(p) == format);
        files
    } else if spec.contains(['*', '?', '[']) {
        glob::glob(spec)
            .with_context(|| format!("bad glob {spec:?}"))?
            .filter_map(|p| p.ok())
            .filter(|p| p.is_file())
            .collect()
    } else {
        bail!("input {spec} does not exist");
    };
    if files.is_empty() {
        bail!("no Parquet, CSV or NDJSON files in {spec}");
    }
    files.sort();
    let format = FileFormat::of_path(&files[0])?;
    if let Some(other) = files.iter().find(|f| FileFormat::from_extension(f) != Some(format)) {
        bail!("{spec} mixes formats: {} is {}, {} is not", files[0].display(), format.name(), other.display());
    }
    Ok((format, files))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(input: &Input, column: &str) -> Vec<Option<String>> {
        let index = input.text_column(column).unwrap();
        let mut out = Vec::new();
        for batch in input.projected_batches(2, &[index]) {
            let batch = batch.unwrap();
            let values = crate::batch::text_values(batch.column(0).as_ref()).unwrap();
            out.extend(values.into_iter().map(|v| v.map(|b| String::from_utf8(b.to_vec()).unwrap())));
        }
        out
    }

    #[test]
    fn csv_and_ndjson_read_with_inferred_schemas() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("r.csv");
        std::fs::write(&csv, "id,review\n1,\"Great, really\"\n2,Dull\n3,Fine\n").unwrap();
        let input = Input::open(csv.to_str().unwrap()).unwrap();
        assert_eq!(input.format(), FileFormat::Csv);
        assert_eq!(input.rows(), None);
        assert_eq!(texts(&input, "review"), [Some("Great, really".into()), Some("Dull".into()), Some("Fine".into())]);
        let err = input.text_column("id").unwrap_err().to_string();
        assert!(err.contains("not text"), "{err}");

        let ndjson = dir.path().join("r.jsonl");
        std::fs::write(&ndjson, "{\"id\":1,\"review\":\"Loved it\"}\n{\"id\":2,\"review\":null}\n").unwrap();
        let input = Input::open(ndjson.to_str().unwrap()).unwrap();
        assert_eq!(input.format(), FileFormat::Ndjson);
        assert_eq!(texts(&input, "review"), [Some("Loved it".into()), None]);
        assert_eq!(input.default_output(FileFormat::Ndjson), dir.path().join("r.scored.ndjson"));
    }

    #[test]
    fn names_a_file_of_no_known_format() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reviews.txt");
        std::fs::write(&path, "hello\n").unwrap();
        let err = Input::open(path.to_str().unwrap()).unwrap_err().to_string();
        assert!(err.contains("reviews.txt") && err.contains("neither Parquet, CSV nor NDJSON"), "{err}");
    }

    #[test]
    fn a_glob_may_not_mix_formats() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.csv"), "review\nx\n").unwrap();
        std::fs::write(dir.path().join("b.jsonl"), "{\"review\":\"y\"}\n").unwrap();
        let err = expand(&format!("{}/*", dir.path().display())).unwrap_err().to_string();
        assert!(err.contains("mixes formats"), "{err}");
        // A folder is read in one format.
        let (format, files) = expand(dir.path().to_str().unwrap()).unwrap();
        assert_eq!((format, files.len()), (FileFormat::Csv, 1));
    }
}
