//! Helpers shared by the integration tests: the repository's paths, running the `scorer` binary,
//! and reading and writing Parquet files.
#![allow(dead_code)] // Each area uses its own subset.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// The repository root.
pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("cli/, whose tests these are, is in the repository")
}

/// The sample reviews that ship with the repository (18 rows, one NULL, one empty).
pub fn sample() -> PathBuf {
    repo().join("tests/data/reviews.parquet")
}

/// One of the IMDB splits in `../shared`: `train`, `test` or `unsup`.
pub fn imdb(split: &str) -> PathBuf {
    repo().join(format!("../shared/data/imdb/{split}.parquet"))
}

/// The `scorer` binary, ready to be given arguments.
pub fn scorer_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scorer"))
}

/// Starts `scorer` with `args`, its stdin, stdout and stderr piped to the test.
pub fn spawn_scorer(args: &[&str]) -> std::process::Child {
    use std::process::Stdio;
    let piped = || Stdio::piped();
    scorer_command().args(args).stdin(piped()).stdout(piped()).stderr(piped()).spawn().unwrap()
}

/// Runs `scorer` with `args` to its end.
pub fn scorer(args: &[&str]) -> Output {
    scorer_command().args(args).output().expect("scorer runs")
}

/// What a run printed on stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A whole Parquet file as one batch.
pub fn read(path: &Path) -> RecordBatch {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let batches: Vec<_> = reader.map(Result::unwrap).collect();
    let schema = batches.first().map(|b| b.schema()).unwrap_or_else(|| {
        let file = std::fs::File::open(path).unwrap();
        ParquetRecordBatchReaderBuilder::try_new(file).unwrap().schema().clone()
    });
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

/// Writes `batch` as a Parquet file.
pub fn write_batch(path: &Path, batch: &RecordBatch) {
    let mut writer = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), batch.schema(), None).unwrap();
    writer.write(batch).unwrap();
    writer.close().unwrap();
}

/// Writes `columns` as a Parquet file.
pub fn write(path: &Path, columns: Vec<(&str, ArrayRef)>) {
    write_batch(path, &RecordBatch::try_from_iter(columns).unwrap());
}

/// Writes one Utf8 column `review` (and an `id` column counting from 0) as a Parquet file.
pub fn write_reviews(path: &Path, reviews: &[Option<&str>]) {
    let ids = arrow::array::Int64Array::from_iter_values(0..reviews.len() as i64);
    let texts = arrow::array::StringArray::from(reviews.to_vec());
    write(path, vec![("id", Arc::new(ids) as ArrayRef), ("review", Arc::new(texts) as ArrayRef)]);
}

/// The first `n` rows of an IMDB split, `id` and `review` only, written to `path`.
pub fn imdb_head(split: &str, n: usize, path: &Path) {
    let batch = read(&imdb(split));
    let batch = batch.project(&[batch.schema().index_of("id").unwrap(), batch.schema().index_of("review").unwrap()]);
    write_batch(path, &batch.unwrap().slice(0, n));
}

/// The `sentiment_score` column of a scored file, `None` for NULL.
pub fn scores(path: &Path) -> Vec<Option<f32>> {
    use arrow::array::AsArray;
    let batch = read(path);
    let column = batch.column_by_name("sentiment_score").expect("a sentiment_score column");
    column.as_primitive::<arrow::datatypes::Float32Type>().iter().collect()
}

/// Writes `batch` as CSV (with a header line) or NDJSON, by `path`'s extension, with arrow's own
/// writers, as another tool would.
pub fn write_text_format(path: &Path, batch: &RecordBatch) {
    let file = std::fs::File::create(path).unwrap();
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => arrow::csv::WriterBuilder::new().with_header(true).build(file).write(batch).unwrap(),
        Some("ndjson" | "jsonl" | "json") => {
            let mut writer = arrow::json::LineDelimitedWriter::new(file);
            writer.write(batch).unwrap();
            writer.finish().unwrap();
        }
        _ => panic!("{} is neither CSV nor NDJSON", path.display()),
    }
}

/// A whole Parquet, CSV or NDJSON file as one batch, read as the scorer reads its inputs.
pub fn read_any(path: &Path) -> RecordBatch {
    let input = sentiment::io::Input::open(path.to_str().unwrap()).unwrap();
    let batches: Vec<RecordBatch> = input.batches(1024).map(Result::unwrap).collect();
    arrow::compute::concat_batches(input.schema(), &batches).unwrap()
}

/// The `sentiment_score` column of a batch, `None` for NULL.
pub fn score_column(batch: &RecordBatch) -> Vec<Option<f32>> {
    use arrow::array::AsArray;
    let column = batch.column_by_name("sentiment_score").expect("a sentiment_score column");
    let column = arrow::compute::cast(column, &arrow::datatypes::DataType::Float32).unwrap();
    column.as_primitive::<arrow::datatypes::Float32Type>().iter().collect()
}

/// The `sentiment.*` key-value pairs of a Parquet file's footer: what scored it.
pub fn provenance(path: &Path) -> std::collections::BTreeMap<String, String> {
    let reader = parquet::file::reader::SerializedFileReader::new(File::open(path).unwrap()).unwrap();
    let metadata = parquet::file::reader::FileReader::metadata(&reader).file_metadata().key_value_metadata().cloned();
    let pairs = metadata.unwrap_or_default().into_iter().filter(|kv| kv.key.starts_with("sentiment."));
    pairs.map(|kv| (kv.key, kv.value.unwrap_or_default())).collect()
}
