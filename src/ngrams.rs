//! The n-gram model's vocabulary (contract version 2): the words and word pairs of whole reviews
//! that the model has a weight for. An n-gram's line number in its file is its id.
//!
//! A review's n-grams come from the exercise's text pipeline without its 100-word cut (rules 1 to
//! 3 of [`crate::text`]): every word, and every pair of neighbouring words written with one space
//! between them (`"not good"`). The model reads each distinct n-gram of the review once
//! (binarised counts), so a review becomes the ids of its distinct n-grams that are in the
//! vocabulary, in the order they first appear; n-grams outside it are left out.

use std::path::Path;

use anyhow::{Context, Result, bail};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::lines::{read_lines, write_lines};
use crate::text::for_each_word;

/// The longest n-gram: words and pairs of words.
pub const MAX_N: usize = 2;

/// N-grams and their ids (1-based, in file order); id 0 is padding.
#[derive(Debug, Clone)]
pub struct NgramVocabulary {
    ngrams: Vec<String>,
    ids: FxHashMap<Box<[u8]>, u32>,
}

impl NgramVocabulary {
    /// Builds a vocabulary from n-grams in id order; the first gets id 1. Each is one or two
    /// words of lowercase ASCII letters, separated by one space.
    pub fn from_ngrams(ngrams: Vec<String>) -> Result<Self> {
        let mut ids = FxHashMap::default();
        ids.reserve(ngrams.len());
        for (i, ngram) in ngrams.iter().enumerate() {
            let words: Vec<&str> = ngram.split(' ').collect();
            let well_formed = words.len() <= MAX_N
                && words.iter().all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()));
            if !well_formed {
                bail!(
                    "n-gram {} ({ngram:?}) is not 1 to {MAX_N} words of lowercase ASCII letters separated by one space",
                    i + 1
                );
            }
            if ids.insert(ngram.as_bytes().into(), i as u32 + 1).is_some() {
                bail!("n-gram {ngram:?} appears twice");
            }
        }
        Ok(Self { ngrams, ids })
    }

    /// Reads a vocabulary file: one n-gram per line, the line number is the id.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_ngrams(read_lines(path, "n-gram vocabulary")?)
            .with_context(|| format!("bad n-gram vocabulary {}", path.display()))
    }

    /// Writes the vocabulary in the format [`NgramVocabulary::load`] reads.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_lines(path, &self.ngrams)
    }

    /// Number of n-grams; valid ids are `1..=len()`, and 0 for padding.
    pub fn len(&self) -> usize {
        self.ngrams.len()
    }

    /// True when the vocabulary holds no n-gram.
    pub fn is_empty(&self) -> bool {
        self.ngrams.is_empty()
    }

    /// The n-gram of id `id` (1-based).
    pub fn ngram(&self, id: i64) -> &str {
        &self.ngrams[id as usize - 1]
    }

    /// Appends to `out` the ids of the distinct n-grams of the whole of `text` that the vocabulary
    /// holds, in the order they first appear (a word's pair with the word before it comes just
    /// before the word), and returns how many words the review has (known or not).
    pub fn encode_into(&self, text: &[u8], out: &mut Vec<i64>) -> usize {
        let mut seen = FxHashSet::default();
        let mut key = Vec::new();
        let mut previous_len = 0;
        for_each_word(text, usize::MAX, |word| {
            let mut push = |key: &[u8]| {
                if let Some(&id) = self.ids.get(key)
                    && seen.insert(id)
                {
                    out.push(i64::from(id));
                }
            };
            let word_start = if previous_len > 0 {
                key.push(b' ');
                previous_len + 1
            } else {
                0
            };
            key.extend(word.iter().map(u8::to_ascii_lowercase));
            if previous_len > 0 {
                push(&key);
            }
            push(&key[word_start..]);
            key.drain(..word_start);
            previous_len = key.len();
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocabulary(ngrams: &[&str]) -> NgramVocabulary {
        NgramVocabulary::from_ngrams(ngrams.iter().map(|s| (*s).to_owned()).collect()).unwrap()
    }

    #[test]
    fn reviews_become_their_distinct_known_ngrams_in_reading_order() {
        let vocab = vocabulary(&["movie", "good", "good movie", "not good", "not"]);
        let mut ids = Vec::new();
        // 7 words: not, (not good), good, (good movie), movie; then repeats and the unknown "bad".
        assert_eq!(vocab.encode_into(b"Not good, MOVIE! Not good... bad movie", &mut ids), 7);
        assert_eq!(ids, [5, 4, 2, 3, 1]);
        assert_eq!(vocab.ngram(4), "not good");
        // The exercise's rules apply: the single letter between words is dropped, so "good" and
        // "movie" become neighbours; the whole review is read, past any 100-word cut.
        let long = format!("{} good a movie", "word ".repeat(300));
        ids.clear();
        assert_eq!(vocab.encode_into(long.as_bytes(), &mut ids), 302);
        assert_eq!(ids, [2, 3, 1]);
    }

    #[test]
    fn rejects_malformed_ngrams() {
        for bad in [&["Good"][..], &["good  movie"], &["a b c"], &["movie", "movie"], &[""]] {
            let ngrams = bad.iter().map(|s| (*s).to_owned()).collect();
            assert!(NgramVocabulary::from_ngrams(ngrams).is_err(), "{bad:?}");
        }
    }
}
