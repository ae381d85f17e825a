//! Record batches written to a Parquet, CSV or NDJSON file that appears whole or not at all.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

use super::{AtomicFile, FileFormat};

/// Rows per Parquet row group written: several per file, so that readers can split the work.
/// The writer holds a row group's compressed pages until it is complete, about 11 MB for
/// 16,384 IMDB reviews with their scores (65,536 rows cost about 40 MB more at the peak).
/// Pages are Snappy-compressed, as Spark writes them: a fraction of the size of plain pages for
/// review text, and cheap enough that compression stays a small share of a scoring run.
pub const ROW_GROUP_SIZE: usize = 16_384;

/// An output file being written; it takes its name only when [`OutputFile::finish`] succeeds.
pub struct OutputFile {
    file: AtomicFile,
    writer: Writer,
}

enum Writer {
    Parquet(Box<ArrowWriter<File>>),
    Csv(Box<arrow::csv::Writer<BufWriter<File>>>),
    Ndjson(arrow::json::LineDelimitedWriter<BufWriter<File>>),
}

impl OutputFile {
    /// Starts writing batches of `schema` to `path` in `format`; a Parquet file's footer gets
    /// `metadata`'s key-value pairs (CSV and NDJSON have no place for them).
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
                Writer::Parquet(Box::new(ArrowWriter::try_new(handle, schema, Some(properties))?))
            }
            FileFormat::Csv => {
                Writer::Csv(Box::new(arrow::csv::WriterBuilder::new().with_header(true).build(BufWriter::new(handle))))
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

    /// Finishes the format's footer, flushes, and gives the file its name.
    pub fn finish(self) -> Result<()> {
        let context = || format!("cannot finish {}", self.file.target().display());
        match self.writer {
            Writer::Parquet(writer) => {
                writer.close().with_context(context)?;
            }
            Writer::Csv(writer) => writer.into_inner().flush().with_context(context)?,
            Writer::Ndjson(mut writer) => {
                writer.finish().with_context(context)?;
                writer.into_inner().flush().with_context(context)?;
            }
        }
        self.file.commit()
    }
}
