//! The batch scoring loop behind `scorer score`: every row of an [`Input`], a batch at a time,
//! written out with a score column and a label column appended, in a file that appears whole or
//! not at all.

use std::path::Path;
use std::sync::Arc;

use anyhow::Result;
use arrow::array::{Array, ArrayRef, Float32Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use crate::batch::{label_array, score_array};
use crate::io::{FileFormat, Input, OutputFile};
use crate::metrics::THRESHOLD;
use crate::model::SentimentModel;
use crate::vocab::Vocabulary;

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
    /// The output schema: the input's columns, then the score and the label. Fails when the text
    /// column is missing or not text, or with a [`ColumnClash`].
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
        Ok(Arc::new(Schema::new_with_metadata(fields, input.schema().metadata().clone())))
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
}

/// A model's scoring of a batch of reviews, for [`FileScorer::score`].
pub fn model_scores<'a>(
    model: &'a SentimentModel,
    vocabulary: &'a Vocabulary,
) -> impl Fn(&dyn Array) -> Result<Float32Array> + Sync + 'a {
    move |reviews| score_array(model, vocabulary, reviews)
}

impl FileScorer<'_> {
    /// Scores every row of `input` and writes `output` in `format`. `after_batch` sees the rows
    /// of each batch once it is written, and may stop the run with an error; a run that fails
    /// leaves nothing at `output`.
    pub fn score_file(
        &self,
        input: &Input,
        output: &Path,
        format: FileFormat,
        mut after_batch: impl FnMut(u64) -> Result<()>,
    ) -> Result<Totals> {
        let schema = self.columns.output_schema(input)?;
        let text = input.text_column(&self.columns.text)?;
        let mut file = OutputFile::create(output, format, schema.clone(), &self.metadata)?;
        let mut totals = Totals::default();
        for batch in input.batches(self.batch_size) {
            let batch = batch?;
            let scores = (self.score)(batch.column(text))?;
            let labels = label_array(&scores);
            totals.scored += (scores.len() - scores.null_count()) as u64;
            totals.positive += scores.iter().flatten().filter(|&p| p > THRESHOLD).count() as u64;
            let mut values: Vec<ArrayRef> = batch.columns().to_vec();
            values.push(Arc::new(scores));
            values.push(Arc::new(labels));
            file.write(&RecordBatch::try_new(schema.clone(), values)?)?;
            totals.rows += batch.num_rows() as u64;
            after_batch(batch.num_rows() as u64)?;
        }
        file.finish()?;
        Ok(totals)
    }
}
