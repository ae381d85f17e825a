//! Parquet files read on many threads, their rows kept in order: every row group of every file is a
//! unit that a job on the file-work pool ([`super::file_jobs`]) decodes whole, while the caller
//! takes the batches of the units before it. Units in flight are bounded by count and by their
//! decoded size (from the footer), so memory stays bounded; a row group too large for that budget
//! alone is read on the caller's thread, batch by batch, as a single-threaded reader would.

use std::collections::VecDeque;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use anyhow::{Context, Result};
use arrow::array::RecordBatch;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ParquetRecordBatchReaderBuilder};

/// Decoded bytes of the row groups in flight at the most (one larger row group is read alone):
/// three row groups of 65,536 IMDB reviews, so that files written with large row groups are still
/// decoded several at a time.
pub const READ_BUDGET: u64 = 256 << 20;

/// One Parquet file's footer, read once and shared by every job that decodes one of its row groups.
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

    /// The batches of row group `index`, `batch_size` rows at a time, with the columns at `columns`
    /// (all when `None`).
    fn row_group(
        &self,
        index: usize,
        batch_size: usize,
        columns: Option<&[usize]>,
    ) -> Result<impl Iterator<Item = Result<RecordBatch>> + Send + use<>> {
        let file = File::open(&self.path).with_context(|| format!("cannot open {}", self.path.display()))?;
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, self.metadata.clone())
            .with_row_groups(vec![index])
            .with_batch_size(batch_size);
        if let Some(columns) = columns {
            let mask = ProjectionMask::roots(builder.parquet_schema(), columns.iter().copied());
            builder = builder.with_projection(mask);
        }
        let path: PathBuf = self.path.to_path_buf();
        let reader = builder.build().with_context(|| format!("{}: cannot read row group {index}", path.display()))?;
        Ok(reader.map(move |batch| batch.with_context(|| format!("{}: cannot decode a record batch", path.display()))))
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
}

/// A row group decoding, or decoded, on the file-work pool.
struct InFlight {
    bytes: u64,
    batches: Receiver<Result<Vec<RecordBatch>>>,
}

/// The batches of a list of Parquet files, every row in order, decoded a row group per job.
pub struct RowGroupReader {
    /// Row groups not yet started: the file and the row group's index in it.
    waiting: VecDeque<(ParquetFile, usize)>,
    in_flight: VecDeque<InFlight>,
    bytes_in_flight: u64,
    /// The batches being handed out: of a decoded row group, or of one read here.
    current: Box<dyn Iterator<Item = Result<RecordBatch>> + Send>,
    most_in_flight: usize,
    budget: u64,
    batch_size: usize,
    columns: Option<Arc<[usize]>>,
}

impl RowGroupReader {
    /// Reads `files` in order, `batch_size` rows a batch, with the root columns at `columns` (all
    /// when `None`), with at most `most_in_flight` row groups decoding ahead of the caller.
    pub fn new(files: &[ParquetFile], batch_size: usize, columns: Option<Vec<usize>>, most_in_flight: usize) -> Self {
        let waiting = files
            .iter()
            .flat_map(|file| (0..file.metadata.metadata().num_row_groups()).map(move |index| (file.clone(), index)))
            .collect();
        Self {
            waiting,
            in_flight: VecDeque::new(),
            bytes_in_flight: 0,
            current: Box::new(std::iter::empty()),
            most_in_flight: most_in_flight.max(1),
            budget: READ_BUDGET,
            batch_size,
            columns: columns.map(Into::into),
        }
    }

    /// Starts decoding the row groups that fit in the bounds, in order. A row group over the
    /// budget on its own is not started: [`Self::next`] reads it here once the ones before are
    /// taken. Nor is any on a thread of a rayon pool, which waiting for a job of its own pool
    /// could wait forever: there every row group is read here.
    fn start_more(&mut self) {
        if rayon::current_thread_index().is_some() {
            return;
        }
        while self.in_flight.len() < self.most_in_flight {
            let Some((file, index)) = self.waiting.front() else { return };
            let bytes = file.decoded_bytes(*index, self.columns.as_deref());
            if self.bytes_in_flight + bytes > self.budget {
                return;
            }
            let (file, index) = self.waiting.pop_front().expect("a row group is waiting");
            let (send, batches) = sync_channel(1);
            let (batch_size, columns) = (self.batch_size, self.columns.clone());
            super::file_jobs::spawn(move || {
                let decoded = file.row_group(index, batch_size, columns.as_deref()).and_then(|b| b.collect());
                // The reader may have stopped after an error; then nobody takes the batches.
                let _ = send.send(decoded);
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
            // The window is topped up at every batch, not only when a row group runs out, so
            // that the jobs keep as far ahead as the bounds allow.
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
                    batches.recv().expect("a decoding job answers").map(|b| {
                        Box::new(b.into_iter().map(Ok)) as Box<dyn Iterator<Item = Result<RecordBatch>> + Send>
                    })
                }
                // Nothing in flight: the next row group is over the budget alone, or there is none.
                None => {
                    let (file, index) = self.waiting.pop_front()?;
                    let columns = self.columns.clone();
                    file.row_group(index, self.batch_size, columns.as_deref())
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
    use arrow::array::{ArrayRef, AsArray, Int64Array};
    use arrow::datatypes::Int64Type;
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    use super::*;

    /// A file of `rows` consecutive ids from `first`, in row groups of `group` rows.
    fn ids(path: &Path, first: i64, rows: i64, group: usize) -> ParquetFile {
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(first..first + rows));
        let doubled: ArrayRef = Arc::new(Int64Array::from_iter_values((first..first + rows).map(|i| 2 * i)));
        let batch = RecordBatch::try_from_iter([("id", ids), ("doubled", doubled)]).unwrap();
        let properties = WriterProperties::builder().set_max_row_group_row_count(Some(group)).build();
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
    fn every_row_comes_in_order_across_row_groups_and_files() {
        let dir = tempfile::tempdir().unwrap();
        // Row groups of 100 rows with an odd last one, and a second file.
        let files =
            [ids(&dir.path().join("a.parquet"), 0, 1037, 100), ids(&dir.path().join("b.parquet"), 1037, 250, 64)];
        assert_eq!(files[0].metadata.metadata().num_row_groups(), 11);
        for most_in_flight in [1, 3, 16] {
            let (ids, sizes) = read_ids(RowGroupReader::new(&files, 32, None, most_in_flight));
            assert_eq!(ids, (0..1287).collect::<Vec<_>>(), "{most_in_flight} in flight");
            // Batches never cross a row group, whatever the number in flight.
            assert_eq!(sizes[..4], [32, 32, 32, 4]);
            assert_eq!(sizes.iter().sum::<usize>(), 1287);
        }
    }

    #[test]
    fn a_row_group_over_the_budget_is_read_alone_and_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let files = [ids(&dir.path().join("a.parquet"), 0, 500, 100)];
        let mut reader = RowGroupReader::new(&files, 30, Some(vec![1]), 4);
        // Every row group is over a budget of one byte: each is read here, batch by batch.
        reader.budget = 1;
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
