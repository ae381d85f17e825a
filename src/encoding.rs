//! Reviews turned into model inputs: the ids a model reads and how many there are.
//!
//! The five word models (contract version 1) read the ids of a review's first [`MAX_TOKENS`]
//! words, padded to [`MAX_TOKENS`]; the n-gram model (contract version 2) reads the ids of the
//! distinct n-grams of the whole review, as many as it has. An [`Encoder`] is either.

use std::borrow::Cow;
use std::sync::Arc;

use rayon::prelude::*;

use crate::contract::{NGRAMS_CONTRACT, NGRAMS_MAX_N_CONTRACT, WORDS_CONTRACT};
use crate::ngrams::{CONTRACT_2_MAX_N, NgramHashing};
use crate::text::{MAX_TOKENS, for_each_token};
use crate::vocab::{UNKNOWN_ID, Vocabulary};

/// How a model's inputs are made from text: the vocabulary whose ids it reads.
#[derive(Debug, Clone)]
pub enum Encoder {
    /// The first [`MAX_TOKENS`] words of a review, as ids of the word vocabulary (`token_ids`).
    Words(Arc<Vocabulary>),
    /// The distinct words and word pairs of the whole review, as hashed n-gram ids
    /// (`ngram_ids`).
    Ngrams(NgramHashing),
}

impl Encoder {
    /// Encodes `texts` in parallel; `None` (a NULL review) encodes as an empty review.
    pub fn encode<T>(&self, texts: &[T]) -> EncodedBatch
    where
        T: AsTextBytes + Sync,
    {
        match self {
            Encoder::Words(vocabulary) => EncodedBatch::encode(vocabulary, texts),
            Encoder::Ngrams(hashing) => EncodedBatch::encode_ngrams(hashing, texts),
        }
    }

    /// The contract version of the models that read these inputs.
    pub fn contract_version(&self) -> u32 {
        match self {
            Encoder::Words(_) => WORDS_CONTRACT,
            Encoder::Ngrams(hashing) if hashing.max_n() == CONTRACT_2_MAX_N => NGRAMS_CONTRACT,
            Encoder::Ngrams(_) => NGRAMS_MAX_N_CONTRACT,
        }
    }
}

/// Most ids per row, on average, in the padded matrix of one n-gram model call
/// ([`EncodedBatch::calls`]): a call of the CPU's 128 rows holds at most 262,144 ids (2 MB), and
/// the larger calls of a GPU as many more as they have rows. A call's rows are padded to its
/// longest review, so one long review among short ones would otherwise widen every row of its
/// call (a 3.9 MB review beside 127 empty ones took 431 MB).
pub const MAX_IDS_PER_ROW: usize = 1 << 11;

/// Most ids in the padded matrix of one n-gram model call, however many rows it may have:
/// 16,777,216 (128 MB), twice what a GPU's default call of 4,096 rows may hold, so that a
/// `--rows-per-call` of many thousands does not pad many reviews to one long review's length.
pub const MAX_IDS_PER_CALL: usize = 1 << 24;

/// Reviews in one run of a ragged batch ([`Layout::Ragged`]): a thread's share of the encoding.
pub const RAGGED_RUN_ROWS: usize = 64;

/// A batch's ids, and how they are laid out.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    /// Every review has `width` ids, padded with [`UNKNOWN_ID`] past its length, row-major in `ids`.
    Fixed { ids: Vec<i64>, width: usize },
    /// Each review has as many ids as its length. The reviews are in runs of [`RAGGED_RUN_ROWS`],
    /// each run's ids back to back in a vector of its own, as the thread that encoded it wrote
    /// them: joining them would copy every id into one large new block, whose pages fault in
    /// afresh for every batch. Review `i`'s ids start at `starts[i]` in `runs[i / RAGGED_RUN_ROWS]`.
    Ragged { runs: Vec<Vec<i64>>, starts: Vec<usize> },
}

/// A batch of encoded reviews: the ids a model reads, and each review's number of them.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedBatch {
    /// Number of ids of each review: its words (0 to [`MAX_TOKENS`]) or its known n-grams.
    pub lengths: Vec<i64>,
    /// The reviews' ids.
    pub layout: Layout,
}

impl EncodedBatch {
    /// Encodes `texts` as the word models read them, in parallel: row-major `[batch, 100]`
    /// ids; `None` (a NULL review) encodes as an empty review.
    pub fn encode<T>(vocab: &Vocabulary, texts: &[T]) -> Self
    where
        T: AsTextBytes + Sync,
    {
        let mut ids = vec![UNKNOWN_ID; texts.len() * MAX_TOKENS];
        let mut lengths = vec![0i64; texts.len()];
        ids.par_chunks_mut(MAX_TOKENS)
            .zip(lengths.par_iter_mut())
            .zip(texts.par_iter())
            .with_min_len(64)
            .for_each(|((row, length), text)| *length = encode_into(vocab, text.text_bytes(), row) as i64);
        Self { lengths, layout: Layout::Fixed { ids, width: MAX_TOKENS } }
    }

    /// Encodes `texts` as the n-gram model reads them, in parallel: each review's distinct
    /// n-gram ids ([`NgramHashing::encode_into`]), back to back.
    pub fn encode_ngrams<T>(hashing: &NgramHashing, texts: &[T]) -> Self
    where
        T: AsTextBytes + Sync,
    {
        // Each run of reviews is encoded by one thread into a vector of its own, so that no
        // review allocates and no id is copied again.
        let (runs, lengths): (Vec<Vec<i64>>, Vec<Vec<i64>>) = texts
            .par_chunks(RAGGED_RUN_ROWS)
            .map(|run| {
                let (mut ids, mut lengths) = (Vec::new(), Vec::with_capacity(run.len()));
                for text in run {
                    let start = ids.len();
                    hashing.encode_into(text.text_bytes(), &mut ids);
                    lengths.push((ids.len() - start) as i64);
                }
                (ids, lengths)
            })
            .unzip();
        let starts = lengths
            .iter()
            .flat_map(|run| {
                run.iter().scan(0, |at, &length| {
                    let start = *at;
                    *at += length as usize;
                    Some(start)
                })
            })
            .collect();
        Self { lengths: lengths.concat(), layout: Layout::Ragged { runs, starts } }
    }

    /// Whether each review has a word to judge: false for NULL and for text without
    /// `[A-Za-z]` words, which get no score. A review whose words are all unknown has words, and
    /// a review with a word has an n-gram: a review has words where it has ids.
    pub fn has_words(&self) -> impl Iterator<Item = bool> + '_ {
        self.lengths.iter().map(|&length| length > 0)
    }

    /// Number of reviews in the batch.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    /// True for a batch of no reviews.
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
    }

    /// The ids of review `row`, without padding.
    pub fn row(&self, row: usize) -> &[i64] {
        let length = self.lengths[row] as usize;
        match &self.layout {
            Layout::Fixed { ids, width } => &ids[row * width..][..length],
            Layout::Ragged { runs, starts } => &runs[row / RAGGED_RUN_ROWS][starts[row]..][..length],
        }
    }

    /// The rows of each model call. A fixed layout's calls are runs of at most `most_rows` rows,
    /// in order. A ragged layout's rows are taken longest first, so that each call's rows are
    /// about as long as each other and its matrix is little padding (on IMDB, padding consecutive
    /// reviews to the longest of 128 made 4.1 times the ids; longest first, 1.14), and the last
    /// calls of a batch, which the threads finish last, are the shortest. A ragged call is also of
    /// at most `most_rows` × [`MAX_IDS_PER_ROW`] ids once padded, and [`MAX_IDS_PER_CALL`] at the
    /// most, so that a long review is called with few others or alone, and memory does not grow
    /// with one review's length times the call's rows.
    pub fn calls(&self, most_rows: usize) -> Vec<Vec<usize>> {
        let most_rows = most_rows.max(1);
        let mut rows: Vec<usize> = (0..self.len()).collect();
        if matches!(self.layout, Layout::Fixed { .. }) {
            return rows.chunks(most_rows).map(<[usize]>::to_vec).collect();
        }
        let most_ids = most_rows.saturating_mul(MAX_IDS_PER_ROW).min(MAX_IDS_PER_CALL);
        rows.sort_by_key(|&row| std::cmp::Reverse(self.lengths[row]));
        let mut calls = Vec::new();
        let mut rest = &rows[..];
        while let Some(&longest) = rest.first() {
            let width = (self.lengths[longest] as usize).max(1);
            let (call, after) = rest.split_at(rest.len().min(most_rows).min((most_ids / width).max(1)));
            calls.push(call.to_vec());
            rest = after;
        }
        calls
    }

    /// The ids of reviews `rows` as the row-major matrix a model call takes, and its width:
    /// for a fixed layout its own width, and the batch's own ids where the rows follow each other;
    /// for a ragged one, each review padded with [`UNKNOWN_ID`] to the longest of them (at least
    /// one id wide).
    pub fn matrix(&self, rows: &[usize]) -> (Cow<'_, [i64]>, usize) {
        let width = match &self.layout {
            Layout::Fixed { ids, width } => {
                let first = rows.first().copied().unwrap_or(0);
                if rows.iter().enumerate().all(|(at, &row)| row == first + at) {
                    return (Cow::Borrowed(&ids[first * width..(first + rows.len()) * width]), *width);
                }
                *width
            }
            Layout::Ragged { .. } => rows.iter().map(|&row| self.lengths[row] as usize).max().unwrap_or(0).max(1),
        };
        let mut matrix = vec![UNKNOWN_ID; rows.len() * width];
        for (padded, &row) in matrix.chunks_mut(width).zip(rows) {
            let ids = self.row(row);
            padded[..ids.len()].copy_from_slice(ids);
        }
        (Cow::Owned(matrix), width)
    }

    /// The ids of every review, as [`EncodedBatch::matrix`] gives them.
    pub fn whole_matrix(&self) -> (Cow<'_, [i64]>, usize) {
        self.matrix(&(0..self.len()).collect::<Vec<_>>())
    }
}

/// Writes the ids of `text`'s tokens into `row` (at least [`MAX_TOKENS`] long, pre-filled with
/// [`UNKNOWN_ID`]) and returns the number of tokens.
pub fn encode_into(vocab: &Vocabulary, text: &[u8], row: &mut [i64]) -> usize {
    let mut n = 0;
    for_each_token(text, |word| {
        row[n] = vocab.id(word);
        n += 1;
    })
}

/// Text that can be encoded: string slices, owned strings, raw bytes, and NULLs as `None`.
pub trait AsTextBytes {
    /// The text's bytes; empty for a NULL.
    fn text_bytes(&self) -> &[u8];
}

impl AsTextBytes for &str {
    fn text_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsTextBytes for String {
    fn text_bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsTextBytes for &[u8] {
    fn text_bytes(&self) -> &[u8] {
        self
    }
}

impl<T: AsTextBytes> AsTextBytes for Option<T> {
    fn text_bytes(&self) -> &[u8] {
        self.as_ref().map_or(&[], |t| t.text_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_with_unknown_and_counts_tokens() {
        let vocab = Vocabulary::from_words(vec!["good".into(), "movie".into()]).unwrap();
        let batch = EncodedBatch::encode(&vocab, &["Good movie, great cast", "", "movie"]);
        assert_eq!(batch.lengths, [4, 0, 1]);
        let (ids, _) = batch.whole_matrix();
        assert_eq!(&ids[..5], &[1, 2, 0, 0, 0]);
        assert!(ids[MAX_TOKENS..2 * MAX_TOKENS].iter().all(|&id| id == UNKNOWN_ID));
        assert_eq!(ids[2 * MAX_TOKENS], 2);
        assert_eq!(batch.row(0), [1, 2, 0, 0]);
        let (matrix, width) = batch.matrix(&[1, 2]);
        assert_eq!((matrix.len(), width), (2 * MAX_TOKENS, MAX_TOKENS));
        assert!(matches!(matrix, Cow::Borrowed(_)), "rows that follow each other are not copied");
        let (matrix, _) = batch.matrix(&[2, 0]);
        assert_eq!((&matrix[..2], &matrix[MAX_TOKENS..MAX_TOKENS + 5]), (&[2, 0][..], &[1, 2, 0, 0, 0][..]));
    }

    #[test]
    fn ngram_batches_are_ragged_and_padded_per_call() {
        let hashing = NgramHashing::new(1 << 20, 2).unwrap();
        let id = |ngram: &str| hashing.id(ngram.as_bytes());
        let texts = [Some("Good movie"), None, Some("movie, movie"), Some("!!!")];
        let batch = Encoder::Ngrams(hashing).encode(&texts);
        assert_eq!(batch.lengths, [3, 0, 2, 0]);
        assert_eq!(batch.has_words().collect::<Vec<_>>(), [true, false, true, false]);
        let Layout::Ragged { runs, starts } = &batch.layout else { panic!("a ragged batch") };
        assert_eq!((runs.len(), &starts[..]), (1, &[0, 3, 3, 5][..]));
        assert_eq!(batch.row(2), [id("movie"), id("movie movie")]);
        let (matrix, width) = batch.matrix(&[1, 2]);
        assert_eq!((&*matrix, width), (&[0, 0, id("movie"), id("movie movie")][..], 2));
        assert_eq!(&*batch.matrix(&[1]).0, &[0]);
        assert_eq!(&*batch.matrix(&[0]).0, &[id("good"), id("good movie"), id("movie")]);
        // Longest first, ties in order.
        assert_eq!(batch.calls(3), [vec![0, 2, 1], vec![3]]);
    }

    #[test]
    fn each_row_of_a_batch_of_many_runs_is_its_reviews_ids() {
        let hashing = NgramHashing::new(1 << 20, 2).unwrap();
        let texts: Vec<String> =
            (0..2 * RAGGED_RUN_ROWS + 3).map(|i| format!("film {}good", "very ".repeat(i % 5))).collect();
        let batch = Encoder::Ngrams(hashing).encode(&texts);
        for (row, text) in texts.iter().enumerate() {
            let mut alone = Vec::new();
            hashing.encode_into(text.as_bytes(), &mut alone);
            assert_eq!(batch.row(row), alone, "row {row}");
        }
    }

    #[test]
    fn a_long_review_is_called_apart_from_short_ones() {
        // Words of letters only (the text pipeline drops digits): "xa", "xb", ..., each a new n-gram.
        let word = |mut i: usize| {
            let mut word = String::from("x");
            while i > 0 || word.len() == 1 {
                word.push((b'a' + (i % 26) as u8) as char);
                i /= 26;
            }
            word + " "
        };
        let most_ids = 128 * MAX_IDS_PER_ROW;
        let long: String = (0..most_ids / 2).map(word).collect();
        let mut texts = vec!["good film".to_owned(); 200];
        texts[70] = long;
        let batch = Encoder::Ngrams(NgramHashing::new(1 << 20, 2).unwrap()).encode(&texts);
        let calls = batch.calls(128);
        let mut rows: Vec<usize> = calls.concat();
        rows.sort_unstable();
        assert_eq!(rows, (0..200).collect::<Vec<_>>(), "every row in one call");
        assert!(batch.lengths[70] as usize > MAX_IDS_PER_ROW);
        assert_eq!(calls[0], [70], "the long review first, alone");
        for call in &calls {
            let (matrix, _) = batch.matrix(call);
            assert!(call.len() <= 128);
            assert!(call == &[70] || matrix.len() <= most_ids, "{call:?}: {}", matrix.len());
        }
        // However large the calls may be, the padded matrix stays within MAX_IDS_PER_CALL.
        let huge = batch.calls(1 << 20);
        assert!(huge.len() > 1, "the long review is not called with all the others");
        assert!(huge.iter().all(|call| batch.matrix(call).0.len() <= MAX_IDS_PER_CALL));
        let words = EncodedBatch::encode(&Vocabulary::from_words(vec!["good".into()]).unwrap(), &texts);
        let (first, second) = ((0..128).collect::<Vec<_>>(), (128..200).collect::<Vec<_>>());
        assert_eq!(words.calls(128), [first, second]);
    }
}
