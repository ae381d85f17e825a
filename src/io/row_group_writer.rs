//! A Parquet file written on many threads: rows are gathered into row groups of the size the writer
//! properties set, each row group is encoded and compressed by a job on the file-work pool
//! (arrow-rs's [`ArrowColumnWriter`]s, as DataFusion's parallel writer does), and the encoded row
//! groups are appended to the file in order. The file is the one `ArrowWriter` writes with the same
//! properties, byte for byte: the same row groups, pages and footer.

use std::collections::VecDeque;
use std::fs::File;
use std::sync::mpsc::{Receiver, sync_channel};

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_writer::{ArrowColumnChunk, ArrowColumnWriter, ArrowRowGroupWriterFactory, compute_leaves};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;

/// Bytes of rows in the row groups being encoded at the most (one row group always may be), as
/// their arrays hold them: four row groups of 16,384 IMDB reviews with their scores (about 32 MB
/// each, 21 MB of it text), their compressed pages beside them. Fewer leave the encoding to one
/// thread of the pool at a time: with two, one file-work thread did 31% of the process's work at
/// `--threads 8`. With the reader's budget it bounds the file work's memory whatever the thread
/// count (docs/performance.md, "Memory").
pub const WRITE_BUDGET: usize = 128 << 20;

/// Rows gathered for the next row group, batch by batch.
#[derive(Default)]
pub(super) struct Gathered {
    batches: Vec<RecordBatch>,
    rows: usize,
}

impl Gathered {
    /// Moves the first rows of `rest` in, up to `group_rows` in all; true once that many are here.
    pub(super) fn fill(&mut self, rest: &mut RecordBatch, group_rows: usize) -> bool {
        let take = rest.num_rows().min(group_rows - self.rows);
        self.batches.push(rest.slice(0, take));
        self.rows += take;
        *rest = rest.slice(take, rest.num_rows() - take);
        self.rows == group_rows
    }

    /// Rows gathered so far.
    pub(super) fn rows(&self) -> usize {
        self.rows
    }

    /// The gathered batches, leaving none.
    pub(super) fn take(&mut self) -> Vec<RecordBatch> {
        self.rows = 0;
        std::mem::take(&mut self.batches)
    }
}

/// A row group being encoded on the file-work pool, and the bytes of rows it holds.
struct Encoding {
    bytes: usize,
    chunks: Receiver<Result<Vec<ArrowColumnChunk>>>,
}

/// A Parquet file being written a row group per job; see the module's documentation.
pub struct RowGroupWriter {
    file: SerializedFileWriter<File>,
    factory: ArrowRowGroupWriterFactory,
    schema: SchemaRef,
    /// Rows of the next row group, not yet handed to a job.
    gathered: Gathered,
    rows_per_group: usize,
    encoding: VecDeque<Encoding>,
    bytes_encoding: usize,
    most_encoding: usize,
    row_groups_started: usize,
}

impl RowGroupWriter {
    /// Starts a file of `schema` with `properties`, whose row count per row group it keeps (a
    /// byte limit per row group is not supported), with at most `most_encoding` row groups being
    /// encoded at once.
    pub fn try_new(file: File, schema: SchemaRef, properties: WriterProperties, most_encoding: usize) -> Result<Self> {
        anyhow::ensure!(properties.max_row_group_bytes().is_none(), "row groups are bounded by rows only");
        let rows_per_group = properties.max_row_group_row_count().unwrap_or(usize::MAX);
        // ArrowWriter sets up the file as it would write it (the Arrow schema in the footer too);
        // only its row groups are written here.
        let (file, factory) = ArrowWriter::try_new(file, schema.clone(), Some(properties))?.into_serialized_writer()?;
        Ok(Self {
            file,
            factory,
            schema,
            gathered: Gathered::default(),
            rows_per_group,
            encoding: VecDeque::new(),
            bytes_encoding: 0,
            most_encoding: most_encoding.max(1),
            row_groups_started: 0,
        })
    }

    /// Appends a batch's rows; every full row group goes to a job.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let mut rest = batch.clone();
        while rest.num_rows() > 0 {
            if self.gathered.fill(&mut rest, self.rows_per_group) {
                self.encode_gathered()?;
            }
        }
        Ok(())
    }

    /// Writes the last row group and the footer.
    pub fn finish(mut self) -> Result<()> {
        if self.gathered.rows() > 0 {
            self.encode_gathered()?;
        }
        while !self.encoding.is_empty() {
            self.append_oldest()?;
        }
        self.file.close()?;
        Ok(())
    }

    /// Hands the gathered rows to a job, once the row groups before it leave room in the bounds.
    /// On a thread of a rayon pool, the row group is encoded here instead: that thread waiting for
    /// a job of its own pool could wait forever.
    fn encode_gathered(&mut self) -> Result<()> {
        let batches = self.gathered.take();
        if rayon::current_thread_index().is_some() {
            while !self.encoding.is_empty() {
                self.append_oldest()?;
            }
            let writers = self.factory.create_column_writers(self.row_groups_started)?;
            self.row_groups_started += 1;
            return self.append(encode(writers, &self.schema, &batches)?);
        }
        let bytes: usize = batches.iter().map(RecordBatch::get_array_memory_size).sum();
        while !self.encoding.is_empty()
            && (self.encoding.len() >= self.most_encoding || self.bytes_encoding + bytes > WRITE_BUDGET)
        {
            self.append_oldest()?;
        }
        let writers = self.factory.create_column_writers(self.row_groups_started)?;
        self.row_groups_started += 1;
        let (send, chunks) = sync_channel(1);
        let schema = self.schema.clone();
        super::file_jobs::spawn(move || {
            // The writer may have stopped after an error; then nobody takes the chunks.
            let _ = send.send(encode(writers, &schema, &batches));
        });
        self.bytes_encoding += bytes;
        self.encoding.push_back(Encoding { bytes, chunks });
        Ok(())
    }

    /// Waits for the oldest row group being encoded and appends it to the file.
    fn append_oldest(&mut self) -> Result<()> {
        let Encoding { bytes, chunks } = self.encoding.pop_front().expect("a row group is being encoded");
        self.bytes_encoding -= bytes;
        self.append(chunks.recv().context("a row group's encoding job stopped")??)
    }

    /// Appends an encoded row group to the file.
    fn append(&mut self, chunks: Vec<ArrowColumnChunk>) -> Result<()> {
        let mut row_group = self.file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut row_group)?;
        }
        row_group.close()?;
        Ok(())
    }
}

/// Encodes one row group's batches: each column's leaves through its writer, in order.
pub(super) fn encode(
    mut writers: Vec<ArrowColumnWriter>,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<Vec<ArrowColumnChunk>> {
    for batch in batches {
        let mut writers = writers.iter_mut();
        for (field, column) in schema.fields().iter().zip(batch.columns()) {
            for leaf in compute_leaves(field, column)? {
                writers.next().context("a column writer for every leaf")?.write(&leaf)?;
            }
        }
    }
    writers.into_iter().map(|writer| writer.close().map_err(Into::into)).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int32Array, ListArray, StringArray};
    use arrow::datatypes::Int32Type;
    use parquet::basic::Compression;
    use parquet::file::metadata::KeyValue;

    use super::*;

    /// Batches of uneven sizes over `rows` rows: a string, a nullable int and a list column.
    fn batches(rows: usize) -> Vec<RecordBatch> {
        let mut out = Vec::new();
        let mut start = 0;
        for size in [1, 5000, 16_384, 3, 20_000].into_iter().cycle() {
            if start >= rows {
                break;
            }
            let end = rows.min(start + size);
            let text =
                StringArray::from_iter_values((start..end).map(|i| format!("review {i} {}", "x".repeat(i % 50))));
            let ints = Int32Array::from_iter((start..end).map(|i| (i % 7 != 0).then_some(i as i32)));
            let lists = ListArray::from_iter_primitive::<Int32Type, _, _>(
                (start..end).map(|i| Some(vec![Some(i as i32); i % 3])),
            );
            out.push(
                RecordBatch::try_from_iter([
                    ("review", Arc::new(text) as ArrayRef),
                    ("n", Arc::new(ints) as ArrayRef),
                    ("tags", Arc::new(lists) as ArrayRef),
                ])
                .unwrap(),
            );
            start = end;
        }
        out
    }

    /// Row groups of this many rows in the tests.
    const GROUP: usize = 16_384;

    fn properties() -> WriterProperties {
        WriterProperties::builder()
            .set_max_row_group_row_count(Some(GROUP))
            .set_compression(Compression::SNAPPY)
            .set_key_value_metadata(Some(vec![KeyValue::new("k".into(), "v".to_owned())]))
            .build()
    }

    #[test]
    fn the_file_is_arrow_writers_byte_for_byte() {
        let dir = tempfile::tempdir().unwrap();
        let input = batches(70_001);
        let schema = input[0].schema();
        let expected = dir.path().join("expected.parquet");
        let mut writer =
            ArrowWriter::try_new(File::create(&expected).unwrap(), schema.clone(), Some(properties())).unwrap();
        for batch in &input {
            writer.write(batch).unwrap();
        }
        writer.close().unwrap();
        for most_encoding in [1, 2, 16] {
            let path = dir.path().join(format!("parallel-{most_encoding}.parquet"));
            let mut writer =
                RowGroupWriter::try_new(File::create(&path).unwrap(), schema.clone(), properties(), most_encoding)
                    .unwrap();
            for batch in &input {
                writer.write(batch).unwrap();
            }
            writer.finish().unwrap();
            assert_eq!(std::fs::read(&path).unwrap(), std::fs::read(&expected).unwrap(), "{most_encoding} at once");
        }
        // Five row groups, the last one odd.
        let reader = parquet::file::reader::SerializedFileReader::new(File::open(&expected).unwrap()).unwrap();
        let groups: Vec<i64> =
            parquet::file::reader::FileReader::metadata(&reader).row_groups().iter().map(|g| g.num_rows()).collect();
        assert_eq!(groups, [GROUP as i64, GROUP as i64, GROUP as i64, GROUP as i64, 4_465]);
    }

    #[test]
    fn a_thread_of_a_one_thread_pool_finishes_the_file_itself() {
        // Row groups begun on another thread, the file finished on the pool's only thread.
        let dir = tempfile::tempdir().unwrap();
        let input = batches(40_000);
        let path = dir.path().join("pool.parquet");
        let mut writer =
            RowGroupWriter::try_new(File::create(&path).unwrap(), input[0].schema(), properties(), 4).unwrap();
        for batch in &input {
            writer.write(batch).unwrap();
        }
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        pool.install(|| writer.finish()).unwrap();
        let rows: usize =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap())
                .unwrap()
                .build()
                .unwrap()
                .map(|b| b.unwrap().num_rows())
                .sum();
        assert_eq!(rows, 40_000);
    }

    #[test]
    fn an_empty_file_has_its_schema_and_no_row_group() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.parquet");
        let schema = batches(1)[0].schema();
        RowGroupWriter::try_new(File::create(&path).unwrap(), schema.clone(), properties(), 4)
            .unwrap()
            .finish()
            .unwrap();
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.schema().fields(), schema.fields());
        assert_eq!(reader.metadata().num_row_groups(), 0);
    }
}
