//! Parquet files read on many threads, their rows kept in order. Every row group of every file is
//! cut into parts of about [`PART_BYTES`] decoded, whole batches each; a job on the file-work pool
//! ([`super::file_jobs`]) decodes a part (arrow-rs skips the pages before it) and hands on each
//! batch as it is decoded, while the caller takes the batches of the parts before it. Parts in
//! flight are bounded by count and by their decoded size (from the footer), so memory stays
//! bounded however large the row groups are; a part too large for that budget alone is read on
//! the caller's thread, batch by batch, as a single-threaded reader would.

use std::collections::VecDeque;
use std::fs::File;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use anyhow::{Context, Result, anyhow};
use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder, RowSelection, RowSelectionPolicy,
    RowSelector,
};

/// Decoded bytes of a part of a row group, about: a row group is cut into parts of as many whole
/// batches as come nearest above this (8,192 IMDB reviews at the default batch size), so that a
/// file written with large row groups is still decoded on many threads in little memory. Each
/// part decodes its column chunks' dictionary pages again: parts of 16 MB (and a budget of 64 MB)
/// made mlp on two pinned cores 4% faster, but raised the peak RSS at `--threads 16` over issue
/// 33's bound of 600 MB (rnn 585 -> 656 MB; docs/performance.md).
pub const PART_BYTES: u64 = 8 << 20;

/// Decoded bytes of the parts in flight at the most (one larger part is read alone) on up to 9
/// threads: four parts, so four decode side by side. On more, half a part per thread
/// ([`RowGroupReader::new`]).
pub const READ_BUDGET: u64 = 4 * PART_BYTES;

/// One Parquet file's footer, read once and shared by every job that decodes a part of it.
#[derive(Debug, Clone)]
pub struct ParquetFile {
    /// The file.
    pub path: Arc<Path>,
    /// Its footer and Arrow schema.
    pub metadata: ArrowReaderMetadata,
}

impl ParquetFile {
    /// Reads the footer of `path`.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let metadata = ArrowReaderMetadata::load(&file, Default::default())
            .with_context(|| format!("{} is not a readable Parquet file", path.display()))?;
        Ok(Self { path: path.into(), metadata })
    }

    /// Rows in the file.
    pub fn rows(&self) -> u64 {
        self.metadata.metadata().file_metadata().num_rows().max(0) as u64
    }

    /// The footer with the file's string columns read as `Utf8View`: each value points into the
    /// decoded page instead of being copied into a buffer of its own, whose fresh pages fault in
    /// (`scorer score --model mlp` on 1,000,000 reviews: 10% faster on one core and two). For
    /// reading alone: a file written from these batches would declare the view type.
    fn with_string_views(&self) -> Result<ArrowReaderMetadata> {
        let schema = self.metadata.schema();
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|field| match field.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 => field.as_ref().clone().with_data_type(DataType::Utf8View),
                _ => field.as_ref().clone(),
            })
            .collect();
        let schema = Schema::new_with_metadata(fields, schema.metadata().clone());
        let options = ArrowReaderOptions::new().with_schema(Arc::new(schema));
        ArrowReaderMetadata::try_new(self.metadata.metadata().clone(), options)
            .with_context(|| format!("{}: cannot read its strings as views", self.path.display()))
    }

    /// Rows in row group `index`.
    fn row_group_rows(&self, index: usize) -> usize {
        self.metadata.metadata().row_group(index).num_rows().max(0) as usize
    }

    /// The decoded size of row group `index` in bytes, as the footer gives it, for `columns`.
    fn decoded_bytes(&self, index: usize, columns: Option<&[usize]>) -> u64 {
        let row_group = self.metadata.metadata().row_group(index);
        let size = |leaf: usize| row_group.column(leaf).uncompressed_size().max(0) as u64;
        match columns {
            None => (0..row_group.num_columns()).map(size).sum(),
            Some(columns) => {
                let schema = self.metadata.metadata().file_metadata().schema_descr();
                (0..row_group.num_columns())
                    .filter(|&leaf| columns.contains(&schema.get_column_root_idx(leaf)))
                    .map(size)
                    .sum()
            }
        }
    }

    /// Row group `index` cut into parts of whole batches, each of about `part_bytes` decoded (none
    /// for a row group of no rows).
    fn parts(&self, index: usize, batch_size: usize, part_bytes: u64, columns: Option<&[usize]>) -> Vec<Part> {
        let (rows, bytes) = (self.row_group_rows(index), self.decoded_bytes(index, columns));
        let batch_bytes = bytes.div_ceil(rows.div_ceil(batch_size).max(1) as u64).max(1);
        let rows_per_part = batch_size * part_bytes.div_ceil(batch_bytes).max(1) as usize;
        (0..rows)
            .step_by(rows_per_part)
            .map(|start| {
                let end = (start + rows_per_part).min(rows);
                let part_bytes = bytes * (end - start) as u64 / rows as u64;
                Part { file: self.clone(), row_group: index, rows: start..end, bytes: part_bytes }
            })
            .collect()
    }
}

/// Consecutive rows of one row group: the unit a job decodes.
struct Part {
    file: ParquetFile,
    row_group: usize,
    /// The rows, counted from the row group's first.
    rows: Range<usize>,
    /// Their decoded size, estimated from the footer.
    bytes: u64,
}

impl Part {
    /// The batches of this part, `batch_size` rows at a time, with the columns at `columns`, their
    /// strings as views ([`ParquetFile::with_string_views`]); every column as the file has it when
    /// `None`.
    fn read(
        &self,
        batch_size: usize,
        columns: Option<&[usize]>,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send + use<>> {
        let (file, index) = (&self.file, self.row_group);
        let path: PathBuf = file.path.to_path_buf();
        let handle = File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
        let metadata = if columns.is_some() { file.with_string_views()? } else { file.metadata.clone() };
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(handle, metadata)
            .with_row_groups(vec![index])
            .with_batch_size(batch_size);
        if self.rows != (0..file.row_group_rows(index)) {
            // Runs of rows, not a mask: the pages before the part are skipped, not decoded.
            let selection = vec![RowSelector::skip(self.rows.start), RowSelector::select(self.rows.len())];
            builder = builder
                .with_row_selection(RowSelection::from(selection))
                .with_row_selection_policy(RowSelectionPolicy::Selectors);
        }
        if let Some(columns) = columns {
            let mask = ProjectionMask::roots(builder.parquet_schema(), columns.iter().copied());
            builder = builder.with_projection(mask);
        }
        let reader = builder.build().with_context(|| format!("{}: cannot read row group {index}", path.display()))?;
        Ok(reader.map(move |batch| batch.with_context(|| format!("{}: cannot decode a record batch", path.display()))))
    }
}

/// A part decoding, or decoded, on the file-work pool.
struct InFlight {
    bytes: u64,
    batches: Decoded,
}

/// The batches of a part that a job decodes, each as soon as it is: the caller waiting for a part
/// waits for its next batch, not for the whole part. A job that stops before the part's last row
/// (it panicked) is an error, not a part cut short.
struct Decoded {
    batches: Receiver<Result<RecordBatch>>,
    rows_left: usize,
    file: Arc<Path>,
}

impl Iterator for Decoded {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.batches.recv() {
            Ok(batch) => {
                if let Ok(batch) = &batch {
                    self.rows_left = self.rows_left.saturating_sub(batch.num_rows());
                }
                Some(batch)
            }
            Err(_) if self.rows_left > 0 => {
                let rows = std::mem::take(&mut self.rows_left);
                Some(Err(anyhow!("{}: the job decoding it stopped {rows} rows short", self.file.display())))
            }
            Err(_) => None,
        }
    }
}

/// The batches of a list of Parquet files, every row in order, decoded a part of a row group per
/// job.
pub struct RowGroupReader {
    /// Parts not yet started.
    waiting: VecDeque<Part>,
    in_flight: VecDeque<InFlight>,
    bytes_in_flight: u64,
    /// The batches being handed out: of a decoded part, or of one read here.
    current: Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
    most_in_flight: usize,
    budget: u64,
    batch_size: usize,
    columns: Option<Arc<[usize]>>,
}

impl RowGroupReader {
    /// Reads `files` in order, `batch_size` rows a batch, with the root columns at `columns` (all
    /// when `None`), with at most `most_in_flight` parts decoding ahead of the caller, within
    /// [`READ_BUDGET`] or half a part per part allowed, whichever is more. A batch never spans two
    /// row groups, so the batches are the same however many parts are in flight.
    pub fn new(files: &[ParquetFile], batch_size: usize, columns: Option<Vec<usize>>, most_in_flight: usize) -> Self {
        // Decoding is two fifths of mlp's work (`--threads 8` on the 2-core machine: 2.05 of 5.25
        // CPU-seconds on the file-work threads), so that four parts decoding at once would hold
        // 16 cores to what about 10 make.
        let budget = READ_BUDGET.max(PART_BYTES * (most_in_flight / 2) as u64);
        Self::with_bounds(files, batch_size, columns, most_in_flight, PART_BYTES, budget)
    }

    /// [`Self::new`] with parts of about `part_bytes` and a budget of `budget` decoded bytes.
    fn with_bounds(
        files: &[ParquetFile],
        batch_size: usize,
        columns: Option<Vec<usize>>,
        most_in_flight: usize,
        part_bytes: u64,
        budget: u64,
    ) -> Self {
        let batch_size = batch_size.max(1);
        let waiting = files
            .iter()
            .flat_map(|file| {
                let row_groups = 0..file.metadata.metadata().num_row_groups();
                row_groups.flat_map(|index| file.parts(index, batch_size, part_bytes, columns.as_deref()))
            })
            .collect();
        Self {
            waiting,
            in_flight: VecDeque::new(),
            bytes_in_flight: 0,
            current: Box::new(std::iter::empty()),
            most_in_flight: most_in_flight.max(1),
            budget,
            batch_size,
            columns: columns.map(Into::into),
        }
    }

    /// Starts decoding the parts that fit in the bounds, in order. A part over the budget on its
    /// own is not started: [`Self::next`] reads it here once the ones before are taken. Nor is any
    /// on a thread of a rayon pool, which waiting for a job of its own pool could wait forever:
    /// there every part is read here.
    fn start_more(&mut self) {
        if rayon::current_thread_index().is_some() {
            return;
        }
        while self.in_flight.len() < self.most_in_flight {
            let Some(part) = self.waiting.front() else { return };
            if self.bytes_in_flight + part.bytes > self.budget {
                return;
            }
            let part = self.waiting.pop_front().expect("a part is waiting");
            // Room for every batch of the part: the job never waits for the caller.
            let (send, batches) = sync_channel(part.rows.len().div_ceil(self.batch_size));
            let (batch_size, columns, bytes) = (self.batch_size, self.columns.clone(), part.bytes);
            let batches = Decoded { batches, rows_left: part.rows.len(), file: part.file.path.clone() };
            super::file_jobs::spawn(move || {
                let decode = || -> Result<()> {
                    for batch in part.read(batch_size, columns.as_deref())? {
                        if send.send(Ok(batch?)).is_err() {
                            // The reader stopped after an error; nobody takes the batches.
                            break;
                        }
                    }
                    Ok(())
                };
                if let Err(e) = decode() {
                    let _ = send.send(Err(e));
                }
            });
            self.bytes_in_flight += bytes;
            self.in_flight.push_back(InFlight { bytes, batches });
        }
    }

    /// After an error: nothing more is read.
    fn stop(&mut self) {
        self.waiting.clear();
        self.in_flight.clear();
        self.current = Box::new(std::iter::empty());
    }
}

impl Iterator for RowGroupReader {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            // The window is topped up at every batch, not only when a part runs out, so that the
            // jobs keep as far ahead as the bounds allow.
            self.start_more();
            match self.current.next() {
                Some(Ok(batch)) => return Some(Ok(batch)),
                Some(Err(e)) => {
                    self.stop();
                    return Some(Err(e));
                }
                None => {}
            }
            let decoded = match self.in_flight.pop_front() {
                Some(InFlight { bytes, batches }) => {
                    self.bytes_in_flight -= bytes;
                    Ok(Box::new(batches) as Box<dyn Iterator<Item = Result<RecordBatch>> + Send>)
                }
                // Nothing in flight: the next part is over the budget alone, or there is none.
                None => {
                    let part = self.waiting.pop_front()?;
                    let columns = self.columns.clone();
                    part.read(self.batch_size, columns.as_deref())
                        .map(|b| Box::new(b) as Box<dyn Iterator<Item = Result<RecordBatch>> + Send>)
                }
            };
            match decoded {
                Ok(batches) => self.current = batches,
                Err(e) => {
                    self.stop();
                    return Some(Err(e));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{ArrayRef, AsArray, Int64Array, StringArray};
    use arrow::datatypes::Int64Type;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    use super::*;

    /// A file of `rows` consecutive ids from `first`, in row groups of `group` rows and pages of at
    /// most 50 rows, so that a part starts and ends inside pages and skips whole ones.
    fn ids(path: &Path, first: i64, rows: i64, group: usize) -> ParquetFile {
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(first..first + rows));
        let doubled: ArrayRef = Arc::new(Int64Array::from_iter_values((first..first + rows).map(|i| 2 * i)));
        let batch = RecordBatch::try_from_iter([("id", ids), ("doubled", doubled)]).unwrap();
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(group))
            .set_data_page_row_count_limit(50)
            .set_write_batch_size(50)
            .build();
        let mut writer = ArrowWriter::try_new(File::create(path).unwrap(), batch.schema(), Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        ParquetFile::open(path).unwrap()
    }

    fn read_ids(reader: RowGroupReader) -> (Vec<i64>, Vec<usize>) {
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        let sizes = batches.iter().map(RecordBatch::num_rows).collect();
        let ids = batches.iter().flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec()).collect();
        (ids, sizes)
    }

    #[test]
    fn a_projected_read_gives_strings_as_views_with_the_same_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("reviews.parquet");
        let reviews: Vec<Option<String>> =
            (0..300).map(|i| (i % 7 != 0).then(|| format!("review {i}: {}", "long words ".repeat(i % 5)))).collect();
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..300));
        let texts: ArrayRef = Arc::new(StringArray::from(reviews.clone()));
        let batch = RecordBatch::try_from_iter([("id", ids), ("review", texts)]).unwrap();
        let properties = WriterProperties::builder()
            .set_max_row_group_row_count(Some(100))
            .set_data_page_row_count_limit(50)
            .build();
        let mut writer = ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), Some(properties)).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
        let file = ParquetFile::open(&path).unwrap();
        // Parts of one batch each, starting inside pages.
        let reader = RowGroupReader::with_bounds(&[file], 32, Some(vec![1]), 3, 1, READ_BUDGET);
        let mut read = Vec::new();
        for batch in reader {
            let batch = batch.unwrap();
            assert_eq!(batch.schema().field(0).data_type(), &DataType::Utf8View);
            read.extend(batch.column(0).as_string_view().iter().map(|v| v.map(str::to_owned)));
        }
        assert_eq!(read, reviews);
    }

    #[test]
    fn every_row_comes_in_order_across_row_groups_and_files() {
        let dir = tempfile::tempdir().unwrap();
        // Row groups of 100 rows with an odd last one, and a second file.
        let files =
            [ids(&dir.path().join("a.parquet"), 0, 1037, 100), ids(&dir.path().join("b.parquet"), 1037, 250, 64)];
        assert_eq!(files[0].metadata.metadata().num_row_groups(), 11);
        // Whole row groups, and parts of one batch each.
        for part_bytes in [PART_BYTES, 1] {
            for most_in_flight in [1, 3, 16] {
                let reader = RowGroupReader::with_bounds(&files, 32, None, most_in_flight, part_bytes, READ_BUDGET);
                let (ids, sizes) = read_ids(reader);
                assert_eq!(ids, (0..1287).collect::<Vec<_>>(), "{most_in_flight} in flight, parts of {part_bytes}");
                // Batches never cross a row group, whatever the parts and the number in flight.
                assert_eq!(sizes[..4], [32, 32, 32, 4]);
                assert_eq!(sizes.iter().sum::<usize>(), 1287);
            }
        }
    }

    #[test]
    fn a_row_group_is_cut_into_parts_of_whole_batches() {
        let dir = tempfile::tempdir().unwrap();
        let file = ids(&dir.path().join("a.parquet"), 0, 1000, 1000);
        let batch_bytes = file.decoded_bytes(0, None) * 64 / 1000;
        // Parts of just over one batch's bytes take two batches.
        let parts = file.parts(0, 64, batch_bytes + 1, None);
        let starts: Vec<usize> = parts.iter().map(|p| p.rows.start).collect();
        assert_eq!(starts, (0..1000).step_by(128).collect::<Vec<_>>());
        assert_eq!(parts.last().unwrap().rows, 896..1000);
        // Each part reads its own rows only, in the batches one reader of the row group gives.
        let (whole, whole_sizes) = read_ids(RowGroupReader::new(std::slice::from_ref(&file), 64, None, 4));
        let in_parts = RowGroupReader::with_bounds(&[file], 64, None, 4, batch_bytes + 1, READ_BUDGET);
        let (ids, sizes) = read_ids(in_parts);
        assert_eq!(ids, (0..1000).collect::<Vec<_>>());
        assert_eq!((ids, sizes), (whole, whole_sizes));
    }

    #[test]
    fn more_threads_decode_more_parts_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = [ids(&dir.path().join("a.parquet"), 0, 100, 100)];
        for (most_in_flight, parts) in [(2, 4), (9, 4), (10, 5), (17, 8), (65, 32)] {
            let reader = RowGroupReader::new(&files, 64, None, most_in_flight);
            assert_eq!(reader.budget, parts * PART_BYTES, "{most_in_flight} in flight");
        }
    }

    #[test]
    fn a_part_over_the_budget_is_read_alone_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let files = [ids(&dir.path().join("a.parquet"), 0, 500, 100)];
        // Every part is over a budget of one byte: each is read here, batch by batch.
        let reader = RowGroupReader::with_bounds(&files, 30, Some(vec![1]), 4, PART_BYTES, 1);
        let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
        assert_eq!(batches[0].num_columns(), 1, "the projection holds");
        let doubled: Vec<i64> =
            batches.iter().flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec()).collect();
        assert_eq!(doubled, (0..500).map(|i| 2 * i).collect::<Vec<_>>());
    }

    #[test]
    fn on_a_thread_of_a_one_thread_pool_every_row_group_is_read_there() {
        let dir = tempfile::tempdir().unwrap();
        let files = [ids(&dir.path().join("a.parquet"), 0, 1000, 100)];
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let (ids, _) = pool.install(|| read_ids(RowGroupReader::new(&files, 64, None, 4)));
        assert_eq!(ids, (0..1000).collect::<Vec<_>>());
    }

    #[test]
    fn a_decoding_job_that_stops_short_is_an_error_not_fewer_rows() {
        let (send, batches) = sync_channel(2);
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..3));
        send.send(Ok(RecordBatch::try_from_iter([("id", ids)]).unwrap())).unwrap();
        // The job ends (it panicked) with 2 of the part's 5 rows not sent.
        drop(send);
        let mut decoded = Decoded { batches, rows_left: 5, file: Path::new("a.parquet").into() };
        assert_eq!(decoded.next().unwrap().unwrap().num_rows(), 3);
        let err = decoded.next().unwrap().unwrap_err();
        assert!(format!("{err:#}").contains("a.parquet: the job decoding it stopped 2 rows short"), "{err:#}");
        assert!(decoded.next().is_none());
    }

    #[test]
    fn a_file_that_goes_bad_after_its_footer_is_read_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.parquet");
        let files = [ids(&path, 0, 1000, 100)];
        // Overwrite the row groups' pages, keeping the footer the reader already has.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[4..2000].fill(0xAB);
        std::fs::write(&path, bytes).unwrap();
        let results: Vec<Result<RecordBatch>> = RowGroupReader::new(&files, 50, None, 4).collect();
        let err = results.iter().find_map(|r| r.as_ref().err()).expect("an error");
        assert!(format!("{err:#}").contains("a.parquet"), "{err:#}");
        assert!(results.last().unwrap().is_err(), "nothing is read after the error");
    }
}
