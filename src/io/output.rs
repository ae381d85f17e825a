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

use super::row_group_writer::RowGroupWriter;
use super::{AtomicFile, FileFormat};

/// Rows per Parquet row group written: several per file, so that readers can split the work, and
/// each one a job for a thread of the writer ([`RowGroupWriter`]). A row group being encoded holds
/// its rows and its compressed pages, about 32 MB for 16,384 IMDB reviews with their scores.
/// Pages are Snappy-compressed, as Spark writes them: a fraction of the size of plain pages for
/// review text, and cheap enough that compression stays a small share of a scoring run.
pub const ROW_GROUP_SIZE: usize = 16_384;

/// An output file being written; it takes its name only when [`OutputFile::finish`] succeeds.
pub struct OutputFile {
    file: AtomicFile,
    writer: Writer,
}

enum Writer {
    Parquet(Box<RowGroupWriter>),
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
        let writer = match format {
            FileFormat::Parquet => {
                let properties = WriterProperties::builder()
                    .set_max_row_group_row_count(Some(ROW_GROUP_SIZE))
                    .set_compression(Compression::SNAPPY)
                    .set_key_value_metadata(Some(
                        metadata.iter().map(|(key, value)| KeyValue::new(key.clone(), value.clone())).collect(),
                    ))
                    .build();
                let most_encoding = rayon::current_num_threads() + 1;
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
        };
        Ok(Self { file, writer })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match &mut self.writer {
            Writer::Parquet(writer) => writer.write(batch)?,
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
            Writer::Csv(writer) => writer.into_inner().flush().with_context(context)?,
            Writer::Ndjson(mut writer) => {
                writer.finish().with_context(context)?;
                writer.into_inner().flush().with_context(context)?;
            }
        }
        if replace { self.file.commit() } else { self.file.commit_new() }
    }
}
