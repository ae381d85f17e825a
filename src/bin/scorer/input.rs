//! The Parquet files a job reads: one file, a folder of them, or a glob, all of one schema.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sentiment::batch::is_text_type;

/// The input files of a job and their common schema.
#[derive(Debug)]
pub struct ParquetInput {
    spec: String,
    files: Vec<PathBuf>,
    schema: SchemaRef,
    rows: u64,
}

impl ParquetInput {
    /// Expands `spec` (file, folder or glob), and checks that every file is Parquet with the
    /// schema of the first.
    pub fn open(spec: &str) -> Result<Self> {
        let files = expand(spec)?;
        let mut schema: Option<(SchemaRef, &Path)> = None;
        let mut rows = 0;
        for file in &files {
            let builder = reader(file)?;
            rows += builder.metadata().file_metadata().num_rows() as u64;
            let this = builder.schema().clone();
            match &schema {
                None => schema = Some((this, file)),
                Some((first, first_file)) if first.fields() != this.fields() => bail!(
                    "{} has a different schema from {}:\n  {}\nversus\n  {}",
                    file.display(),
                    first_file.display(),
                    describe(&this),
                    describe(first)
                ),
                Some(_) => {}
            }
        }
        let schema = schema.expect("expand returns at least one file").0;
        Ok(Self { spec: spec.to_owned(), files, schema, rows })
    }

    /// The common schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Total rows over all files.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The index of the review column, which must exist and be text.
    pub fn text_column(&self, name: &str) -> Result<usize> {
        let index = self.schema.index_of(name).map_err(|_| {
            let names: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
            anyhow::anyhow!("{}: no column {name:?}; the columns are {names:?} (choose one with --column)", self.spec)
        })?;
        let data_type = self.schema.field(index).data_type();
        if !is_text_type(data_type) {
            bail!("{}: column {name:?} has type {data_type}, not text", self.spec);
        }
        Ok(index)
    }

    /// `<stem>.scored.parquet` beside the input (for a folder or glob, beside the folder).
    pub fn default_output(&self) -> PathBuf {
        let path = Path::new(&self.spec);
        let base = if path.exists() {
            path.to_owned()
        } else {
            // A glob: name the output after the folder its files are in.
            self.files[0].parent().map(Path::to_owned).unwrap_or_default()
        };
        let stem = base.file_stem().map_or("input".into(), |s| s.to_string_lossy().into_owned());
        base.with_file_name(format!("{stem}.scored.parquet"))
    }

    /// The record batches of every file in order, `batch_size` rows at a time.
    pub fn batches(&self, batch_size: usize) -> Result<impl Iterator<Item = Result<RecordBatch>> + '_> {
        Ok(self.files.iter().flat_map(move |file| {
            let batches: Box<dyn Iterator<Item = Result<RecordBatch>>> =
                match reader(file).and_then(|b| Ok(b.with_batch_size(batch_size).build()?)) {
                    Ok(reader) => Box::new(reader.map(move |batch| {
                        batch.with_context(|| format!("{}: cannot decode a record batch", file.display()))
                    })),
                    Err(e) => Box::new(std::iter::once(Err(e))),
                };
            batches
        }))
    }
}

fn reader(file: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let handle = File::open(file).with_context(|| format!("cannot open {}", file.display()))?;
    ParquetRecordBatchReaderBuilder::try_new(handle)
        .with_context(|| format!("{} is not a readable Parquet file", file.display()))
}

fn describe(schema: &SchemaRef) -> String {
    schema.fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect::<Vec<_>>().join(", ")
}

/// The Parquet files `spec` names, sorted: itself, the `*.parquet` files of a folder, or a glob's
/// matches.
pub fn expand(spec: &str) -> Result<Vec<PathBuf>> {
    let path = Path::new(spec);
    let mut files: Vec<PathBuf> = if path.is_file() {
        vec![path.to_owned()]
    } else if path.is_dir() {
        std::fs::read_dir(path)
            .with_context(|| format!("cannot list {}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "parquet"))
            .collect()
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
        bail!("no Parquet files in {spec}");
    }
    files.sort();
    Ok(files)
}
