//! Record batches written to a Parquet, CSV or NDJSON file that appears whole or not at all.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::copying_writer::{CopyPlan, CopyingWriter};
use super::row_group_writer::RowGroupWriter;
use super::{AtomicFile, FileFormat, Input};

/// Rows per Parquet row group written (unless the input's columns are copied, see
/// [`OutputFile::create_copying`], and the input's row groups kept): several per file, so that
/// readers can split the work, and each one a job for a thread of the writer ([`RowGroupWriter`]).
/// A row group being encoded holds its rows and its compressed pages, about 32 MB for 16,384 IMDB
/// reviews with their scores.
/// Pages are Snappy-compressed, as Spark writes them: a fraction of the size of plain pages for
/// review text, and cheap enough that compression stays a small share of a scoring run.
pub const ROW_GROUP_SIZE: usize = 16_384;

/// An output file being written; it takes its name only when [`OutputFile::finish`] succeeds.
pub struct OutputFile {
    file: AtomicFile,
    writer: Writer,
    /// The schema of the batches [`OutputFile::write`] takes.
    batch_schema: SchemaRef,
}

enum Writer {
    Parquet(Box<RowGroupWriter>),
    CopyingParquet(Box<CopyingWriter>),
    Csv(Box<arrow::csv::Writer<BufWriter<File>>>),
    Ndjson(arrow::json::LineDelimitedWriter<BufWriter<File>>),
}

impl OutputFile {
    /// Starts writing batches of `schema` to `path` in `format`; a Parquet file's footer gets
    /// `metadata`'s key-value pairs (CSV and NDJSON have no place for them). Parquet row groups are
    /// encoded side by side on the thread pool, as many at once as it has threads and one more;
    /// CSV and NDJSON are written by one writer, in order.
    pub fn create(path: &Path, format: FileFormat, schema: SchemaRef, metadata: &[(String, String)]) -> Result<Self> {
        let file = AtomicFile::create(path)?;
        let handle = file.handle()?;
        let writer = Self::writer(handle, format, schema.clone(), metadata)?;
        Ok(Self { file, writer, batch_schema: schema })
    }

    /// [`OutputFile::create`] for a Parquet file of `schema`, the columns of `input` and then
    /// those of `appended`, whose input columns are copied from `input` as they are
    /// ([`CopyingWriter`]); [`OutputFile::write`] then takes batches of the appended columns only.
    /// `None` when the input cannot be copied.
    pub fn create_copying(
        path: &Path,
        input: &Input,
        schema: SchemaRef,
        appended: SchemaRef,
        metadata: &[(String, String)],
    ) -> Result<Option<Self>> {
        let properties = parquet_properties(metadata);
        let Some(plan) = CopyPlan::of(input, &schema, &properties)? else { return Ok(None) };
        let file = AtomicFile::create(path)?;
        let writer = CopyingWriter::try_new(file.handle()?, plan, schema, appended.clone(), properties)?;
        Ok(Some(Self { file, writer: Writer::CopyingParquet(Box::new(writer)), batch_schema: appended }))
    }

    /// The schema of the batches [`OutputFile::write`] takes: the file's, or its appended columns'
    /// when the input's columns are copied.
    pub fn batch_schema(&self) -> &SchemaRef {
        &self.batch_schema
    }

    fn writer(handle: File, format: FileFormat, schema: SchemaRef, metadata: &[(String, String)]) -> Result<Writer> {
        Ok(match format {
            FileFormat::Parquet => {
                let most_encoding = rayon::current_num_threads() + 1;
                let properties = parquet_properties(metadata);
                Writer::Parquet(Box::new(RowGroupWriter::try_new(handle, schema, properties, most_encoding)?))
            }
            FileFormat::Csv => {
                let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(BufWriter::new(handle));
                // The header line goes first, so that an output with no rows still names its columns.
                writer.write(&RecordBatch::new_empty(schema))?;
                Writer::Csv(Box::new(writer))
            }
            // Every line has every column: NULL is written as null, not left out.
            FileFormat::Ndjson => Writer::Ndjson(
                arrow::json::WriterBuilder::new().with_explicit_nulls(true).build(BufWriter::new(handle)),
            ),
        })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match &mut self.writer {
            Writer::Parquet(writer) => writer.write(batch)?,
            Writer::CopyingParquet(writer) => writer.write(batch)?,
            Writer::Csv(writer) => writer.write(batch)?,
            Writer::Ndjson(writer) => writer.write(batch)?,
        }
        Ok(())
    }

    /// Finishes the format's footer, flushes, and gives the file its name, replacing a file of
    /// that name only if `replace` ([`AtomicFile::commit`], else [`AtomicFile::commit_new`]).
    pub fn finish(self, replace: bool) -> Result<()> {
        let context = || format!("cannot finish {}", self.file.target().display());
        match self.writer {
            Writer::Parquet(writer) => writer.finish().with_context(context)?,
            Writer::CopyingParquet(writer) => writer.finish().with_context(context)?,
            Writer::Csv(writer) => writer.into_inner().flush().with_context(context)?,
            Writer::Ndjson(mut writer) => {
                writer.finish().with_context(context)?;
                writer.into_inner().flush().with_context(context)?;
            }
        }
        if replace { self.file.commit() } else { self.file.commit_new() }
    }
}

/// Snappy pages in row groups of [`ROW_GROUP_SIZE`] rows, `metadata` in the footer.
fn parquet_properties(metadata: &[(String, String)]) -> WriterProperties {
    WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROW_GROUP_SIZE))
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata(Some(
            metadata.iter().map(|(key, value)| KeyValue::new(key.clone(), value.clone())).collect(),
        ))
        .build()
}
