//! Reviews turned into model inputs: token ids padded to [`MAX_TOKENS`] and true lengths.

use rayon::prelude::*;

use crate::text::{MAX_TOKENS, for_each_token};
use crate::vocab::{UNKNOWN_ID, Vocabulary};

/// A batch of encoded reviews, laid out as the models' `token_ids` `[batch, 100]` and
/// `lengths` `[batch]` inputs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EncodedBatch {
    /// Row-major `[batch, MAX_TOKENS]` ids; positions past a review's length hold [`UNKNOWN_ID`].
    pub token_ids: Vec<i64>,
    /// Number of tokens of each review, 0 to [`MAX_TOKENS`].
    pub lengths: Vec<i64>,
}

impl EncodedBatch {
    /// Encodes `texts` in parallel; `None` (a NULL review) encodes as an empty review.
    pub fn encode<T>(vocab: &Vocabulary, texts: &[T]) -> Self
    where
        T: AsTextBytes + Sync,
    {
        let mut token_ids = vec![UNKNOWN_ID; texts.len() * MAX_TOKENS];
        let mut lengths = vec![0i64; texts.len()];
        token_ids
            .par_chunks_mut(MAX_TOKENS)
            .zip(lengths.par_iter_mut())
            .zip(texts.par_iter())
            .with_min_len(64)
            .for_each(|((row, length), text)| *length = encode_into(vocab, text.text_bytes(), row) as i64);
        Self { token_ids, lengths }
    }

    /// Number of reviews in the batch.
    pub fn len(&self) -> usize {
        self.lengths.len()
    }

    /// True for a batch of no reviews.
    pub fn is_empty(&self) -> bool {
        self.lengths.is_empty()
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
        assert_eq!(&batch.token_ids[..5], &[1, 2, 0, 0, 0]);
        assert!(batch.token_ids[MAX_TOKENS..2 * MAX_TOKENS].iter().all(|&id| id == UNKNOWN_ID));
        assert_eq!(batch.token_ids[2 * MAX_TOKENS], 2);
    }
}
