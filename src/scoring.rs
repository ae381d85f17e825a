//! The batch scoring loop behind `scorer score`: every row of an [`Input`], a batch at a time,
//! written out with a score column and a label column appended, in a file that appears whole or
//! not at all.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::sync_channel;

use anyhow::Result;
use arrow::array::{Array, ArrayRef, Float32Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::batch::{label_array, score_array};
use crate::io::{FileFormat, Input, OutputFile};
use crate::metrics::THRESHOLD;
use crate::model::SentimentModel;
use crate::provenance::KEY_PREFIX;

/// Rows read, scored and written at a time unless the caller says otherwise. Reading, scoring
/// and writing run side by side, so about three batches are in memory at once: at 1,000,000
/// reviews the GRU peaked at 265 MB with 4,096 rows and 314 MB with 8,192, at the same speed
/// (docs/performance.md).
pub const BATCH_SIZE: usize = 4096;

/// Which column is read and what the appended columns are called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Columns {
    /// The review text column of the input.
    pub text: String,
    /// The appended P(positive) column.
    pub score: String,
    /// The appended `positive`/`negative` column.
    pub label: String,
}

impl Default for Columns {
    fn default() -> Self {
        Self { text: "review".into(), score: "sentiment_score".into(), label: "sentiment_label".into() }
    }
}

impl Columns {
    /// The output schema: the input's columns, then the score and the label, with the input's
    /// schema metadata but for the `sentiment.*` keys of an earlier scoring (the output's footer
    /// says what scored it now). Fails when the text column is missing or not text, or with a
    /// [`ColumnClash`].
    pub fn output_schema(&self, input: &Input) -> Result<SchemaRef> {
        input.text_column(&self.text)?;
        for name in [&self.score, &self.label] {
            if input.schema().field_with_name(name).is_ok() {
                return Err(ColumnClash::Taken(name.clone()).into());
            }
        }
        if self.score == self.label {
            return Err(ColumnClash::Same(self.score.clone()).into());
        }
        let mut fields = input.schema().fields().to_vec();
        fields.push(Arc::new(Field::new(&self.score, DataType::Float32, true)));
        fields.push(Arc::new(Field::new(&self.label, DataType::Utf8, true)));
        let mut metadata = input.schema().metadata().clone();
        metadata.retain(|key, _| !key.starts_with(KEY_PREFIX));
        Ok(Arc::new(Schema::new_with_metadata(fields, metadata)))
    }
}

/// An appended column's name that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ColumnClash {
    /// The input has a column of that name already.
    #[error("the input already has a column {0:?}")]
    Taken(String),
    /// The score and the label column have the same name.
    #[error("the score and the label column are both named {0:?}")]
    Same(String),
}

/// What a scoring run counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Rows written.
    pub rows: u64,
    /// Rows that got a score (a review with words).
    pub scored: u64,
    /// Scored rows labeled positive.
    pub positive: u64,
}

/// Turns a batch's review column into P(positive) per row (NULL for no score).
pub type ScoreFn<'a> = dyn Fn(&dyn Array) -> Result<Float32Array> + Sync + 'a;

/// What scores files, and the settings it scores them with.
pub struct FileScorer<'a> {
    /// The scoring of one batch's reviews: a model's (see [`model_scores`]), or any other,
    /// such as the benchmark's floor, which encodes the reviews and scores nothing.
    pub score: &'a ScoreFn<'a>,
    /// The column read and the columns appended.
    pub columns: Columns,
    /// Rows read and scored at a time.
    pub batch_size: usize,
    /// Key-value pairs for a Parquet output's footer: the run's [`crate::provenance::Provenance`].
    pub metadata: Vec<(String, String)>,
    /// Whether the output may replace a file of its name; if not, a file another run wrote there
    /// while this one scored is kept and this run fails.
    pub replace: bool,
}

/// Batches scored at once by [`FileScorer::score_file`]. With one, the cores idled about an eighth
/// of a run at the end of each batch: while the batch's last model calls finished, and while its
/// scores were handed on and the next batch taken. A second batch fills that time.
pub const BATCHES_SCORED_AT_ONCE: usize = 2;

/// Scored batches that may wait for the writer when the input's columns are copied
/// ([`crate::io::copying_writer`]): the writer then copies a whole input row group at once (about
/// 50 MB of IMDB reviews in row groups of 65,536, 8 to 17 ms), and without room for the batches
/// scored meanwhile the scoring stopped until it was done. Such batches hold the score and the
/// label alone, about 50 KB at 4,096 rows. Batches of every column hand over without a queue.
pub const BATCHES_WAITING_FOR_A_COPY: usize = 16;

/// A batch ready for the writer, and what it counted.
struct Scored {
    batch: RecordBatch,
    scored: u64,
    positive: u64,
}

/// A model's scoring of a batch of reviews, for [`FileScorer::score`].
pub fn model_scores(model: &SentimentModel) -> impl Fn(&dyn Array) -> Result<Float32Array> + Sync + '_ {
    move |reviews| score_array(model, reviews)
}

impl FileScorer<'_> {
    /// `batch` scored: its review column (at `review`) scored, and the batch of `schema` that the
    /// writer takes, of the score and label columns alone when the other columns are `copied`,
    /// else of every column of the batch with those two after them.
    fn scored(&self, batch: &RecordBatch, review: usize, copied: bool, schema: &SchemaRef) -> Result<Scored> {
        let scores = (self.score)(batch.column(review))?;
        let labels = label_array(&scores);
        let scored = (scores.len() - scores.null_count()) as u64;
        let positive = scores.iter().flatten().filter(|&p| p > THRESHOLD).count() as u64;
        let mut values: Vec<ArrayRef> = if copied { Vec::new() } else { batch.columns().to_vec() };
        values.push(Arc::new(scores));
        values.push(Arc::new(labels));
        Ok(Scored { batch: RecordBatch::try_new(schema.clone(), values)?, scored, positive })
    }

    /// Scores every row of `input` and writes `output` in `format`. `after_batch` sees the rows
    /// of each batch once they are scored and handed to the writer, and may stop the run with an
    /// error; a run that fails leaves nothing at `output`.
    ///
    /// Reading, scoring and writing run side by side: one thread decodes the next batches and
    /// another writes the last one while [`BATCHES_SCORED_AT_ONCE`] are scored, so that the cores
    /// the model leaves idle between batches do the file work. The threads hand batches over
    /// without a queue (rendezvous channels), but for [`BATCHES_WAITING_FOR_A_COPY`]: a queue of
    /// one batch each way bought no speed and cost about 20 MB of peak memory at 1,000,000 rows.
    /// Batches reach the writer, and `after_batch`, in the input's order.
    ///
    /// From Parquet to Parquet, the input's columns are copied as they are where they can be
    /// ([`crate::io::copying_writer`]): only the review column is decoded, and only the score and
    /// the label are encoded. The output then has the input's row groups.
    pub fn score_file(
        &self,
        input: &Input,
        output: &Path,
        format: FileFormat,
        mut after_batch: impl FnMut(u64) -> Result<()>,
    ) -> Result<Totals> {
        let schema = self.columns.output_schema(input)?;
        let text = input.text_column(&self.columns.text)?;
        let appended = Arc::new(Schema::new(schema.fields()[input.schema().fields().len()..].to_vec()));
        // A Parquet input's columns are copied into a Parquet output where they can be; then only
        // the reviews are read, and only the appended columns are written.
        let copying = match format {
            FileFormat::Parquet => OutputFile::create_copying(output, input, schema.clone(), appended, &self.metadata)?,
            _ => None,
        };
        let copies = copying.is_some();
        let mut file = match copying {
            Some(file) => file,
            None => OutputFile::create(output, format, schema.clone(), &self.metadata)?,
        };
        let schema = file.batch_schema().clone();
        let (scored, written) = std::thread::scope(|scope| {
            // Each scoring thread takes every BATCHES_SCORED_AT_ONCE-th batch and hands it on in
            // turn, so that the batches stay in order and no more than that many are in flight,
            // however long one of them takes.
            let (to_score, from_scoring): (Vec<_>, Vec<_>) = (0..BATCHES_SCORED_AT_ONCE)
                .map(|_| {
                    let (read, batches) = sync_channel::<Result<RecordBatch>>(0);
                    let (done, results) = sync_channel::<Result<Scored>>(0);
                    let schema = schema.clone();
                    scope.spawn(move || {
                        let review = if copies { 0 } else { text };
                        for batch in batches {
                            let scored = batch.and_then(|batch| self.scored(&batch, review, copies, &schema));
                            if done.send(scored).is_err() {
                                // The run has stopped taking scored batches.
                                break;
                            }
                        }
                    });
                    (read, results)
                })
                .unzip();
            scope.spawn(move || {
                let batches = if copies {
                    input.projected_batches(self.batch_size, &[text])
                } else {
                    input.batches(self.batch_size)
                };
                // Stops when the scoring threads have stopped taking batches.
                batches.zip(to_score.iter().cycle()).try_for_each(|(batch, lane)| lane.send(batch)).ok();
            });
            let (send, to_write) = sync_channel::<RecordBatch>(if copies { BATCHES_WAITING_FOR_A_COPY } else { 0 });
            let writer = scope.spawn(move || to_write.iter().try_for_each(|batch| file.write(&batch)).map(|()| file));
            let scored = (move || {
                let mut totals = Totals::default();
                // The input is done when the next batch's scoring thread has no more.
                for batch in from_scoring.iter().cycle().map_while(|lane| lane.recv().ok()) {
                    let Scored { batch, scored, positive } = batch?;
                    let rows = batch.num_rows() as u64;
                    if send.send(batch).is_err() {
                        // The writer failed; its error is the run's.
                        break;
                    }
                    totals.rows += rows;
                    totals.scored += scored;
                    totals.positive += positive;
                    after_batch(rows)?;
                }
                Ok::<_, anyhow::Error>(totals)
            })();
            (scored, writer.join().expect("the writer thread does not panic"))
        });
        let file = written?;
        let totals = scored?;
        file.finish(self.replace)?;
        Ok(totals)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{ListArray, StringArray};
    use arrow::datatypes::Int32Type;

    use super::*;

    /// A Parquet file of `rows` short reviews with a list column beside them, which CSV cannot hold.
    fn reviews_with_a_list_column(path: &Path, rows: usize) {
        let reviews = StringArray::from_iter_values((0..rows).map(|i| format!("review number {i}")));
        let tags = ListArray::from_iter_primitive::<Int32Type, _, _>((0..rows).map(|i| Some(vec![Some(i as i32)])));
        let batch = RecordBatch::try_from_iter([
            ("review", Arc::new(reviews) as ArrayRef),
            ("tags", Arc::new(tags) as ArrayRef),
        ])
        .unwrap();
        let mut writer =
            parquet::arrow::ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
        writer.write(&batch).unwrap();
        writer.close().unwrap();
    }

    fn constant(reviews: &dyn Array) -> Result<Float32Array> {
        Ok(Float32Array::from(vec![0.75; reviews.len()]))
    }

    /// A temporary folder with 1,000 such reviews in `in.parquet`, the input over them, the path
    /// `out.<extension>` beside it, and a scorer that gives every review 0.75, 64 rows a batch.
    fn setup(extension: &str) -> (tempfile::TempDir, Input, std::path::PathBuf, FileScorer<'static>) {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("in.parquet");
        reviews_with_a_list_column(&source, 1000);
        let input = Input::open(source.to_str().unwrap()).unwrap();
        let output = dir.path().join(format!("out.{extension}"));
        let scorer = FileScorer {
            score: &constant,
            columns: Columns::default(),
            batch_size: 64,
            metadata: Vec::new(),
            replace: false,
        };
        (dir, input, output, scorer)
    }

    #[test]
    fn every_batch_is_written_in_order() {
        let (_dir, input, output, scorer) = setup("ndjson");
        let mut seen = 0;
        let count = |rows| {
            seen += rows;
            Ok(())
        };
        let totals = scorer.score_file(&input, &output, FileFormat::Ndjson, count).unwrap();
        assert_eq!((totals.rows, totals.scored, totals.positive, seen), (1000, 1000, 1000, 1000));
        let lines: Vec<String> = std::fs::read_to_string(&output).unwrap().lines().map(str::to_owned).collect();
        assert_eq!(lines.len(), 1000);
        assert!(lines.iter().enumerate().all(|(i, l)| l.contains(&format!("\"review number {i}\""))), "in order");
    }

    #[test]
    fn the_next_batch_is_scored_while_one_is_in_the_model() {
        // A model on CUDA has one session: the GPU is kept busy only if the next batch is read and
        // tokenised while a batch's calls run. The first batch's scoring waits for the second's.
        let (_dir, input, output, scorer) = setup("parquet");
        let (started, second) = std::sync::mpsc::channel::<()>();
        let second = std::sync::Mutex::new(second);
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let overlapping = |reviews: &dyn Array| {
            if calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 0 {
                let wait = second.lock().unwrap().recv_timeout(std::time::Duration::from_secs(60));
                wait.map_err(|_| anyhow::anyhow!("no second batch was scored while the first was"))?;
            } else {
                let _ = started.send(());
            }
            constant(reviews)
        };
        let scorer = FileScorer { score: &overlapping, ..scorer };
        let totals = scorer.score_file(&input, &output, FileFormat::Parquet, |_| Ok(())).unwrap();
        assert_eq!(totals.rows, 1000);
    }

    #[test]
    fn a_batch_the_writer_refuses_fails_the_run_and_leaves_nothing() {
        let (dir, input, output, scorer) = setup("csv");
        let err = scorer.score_file(&input, &output, FileFormat::Csv, |_| Ok(())).unwrap_err();
        assert!(format!("{err:#}").contains("List"), "{err:#}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the input is left");
    }

    #[test]
    fn a_scorer_that_panics_fails_the_run_and_leaves_nothing() {
        let (dir, input, output, scorer) = setup("parquet");
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let breaking = |reviews: &dyn Array| {
            if calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed) == 5 {
                panic!("scoring broke");
            }
            constant(reviews)
        };
        let scorer = FileScorer { score: &breaking, ..scorer };
        let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            scorer.score_file(&input, &output, FileFormat::Parquet, |_| Ok(()))
        }));
        assert!(run.is_err(), "the panic is the run's");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the input is left");
    }

    #[test]
    fn an_error_after_a_batch_stops_the_run_and_leaves_nothing() {
        let (dir, input, output, scorer) = setup("parquet");
        let mut batches = 0;
        let err = scorer
            .score_file(&input, &output, FileFormat::Parquet, |_| {
                batches += 1;
                if batches == 3 { anyhow::bail!("stopped after three batches") } else { Ok(()) }
            })
            .unwrap_err();
        assert_eq!(err.to_string(), "stopped after three batches");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "only the input is left");
    }
}
