//! The n-gram model's ids (contract version 2): the words and word pairs of whole reviews, hashed
//! into a fixed number of buckets, so that the model needs no list of n-grams beside it.
//!
//! A review's n-grams come from the exercise's text pipeline without its 100-word cut (rules 1 to
//! 3 of [`crate::text`]): every word, and every pair of neighbouring words written with one space
//! between them (`"not good"`). An n-gram's id is `1 + FNV-1a-64(its bytes) mod buckets`; id 0 is
//! padding. The model reads each distinct id of the review once (binarised counts), in the order
//! the n-grams first appear; n-grams that share a bucket share its weight.

use anyhow::{Result, bail};
use rustc_hash::FxHashSet;

use crate::text::for_each_word;

/// The longest n-gram: words and pairs of words.
pub const MAX_N: usize = 2;

/// How n-grams become ids: the number of buckets they are hashed into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NgramHashing {
    buckets: u32,
}

impl NgramHashing {
    /// Hashing into `buckets` buckets (ids 1 to `buckets`).
    pub fn new(buckets: u32) -> Result<Self> {
        if buckets == 0 {
            bail!("n-gram hashing needs at least one bucket");
        }
        Ok(Self { buckets })
    }

    /// The number of buckets; valid ids are `1..=buckets()`, and 0 for padding.
    pub fn buckets(&self) -> u32 {
        self.buckets
    }

    /// The id of an n-gram given as its lowercase bytes (`b"not good"`).
    pub fn id(&self, ngram: &[u8]) -> i64 {
        // FNV-1a, 64 bits: simple enough to reproduce in any language.
        let hash =
            ngram.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
        1 + (hash % u64::from(self.buckets)) as i64
    }

    /// Appends to `out` the distinct ids of the n-grams of the whole of `text`, in the order they
    /// first appear (a word's pair with the word before it comes just before the word), and
    /// returns how many words the review has.
    pub fn encode_into(&self, text: &[u8], out: &mut Vec<i64>) -> usize {
        self.for_each_distinct(text, |_, id| out.push(id))
    }

    /// The n-grams that [`NgramHashing::encode_into`] gives the ids of, in the same order: for
    /// each distinct id, the n-gram that first had it.
    pub fn ngrams(&self, text: &[u8]) -> Vec<String> {
        let mut ngrams = Vec::new();
        self.for_each_distinct(text, |ngram, _| {
            ngrams.push(String::from_utf8(ngram.to_vec()).expect("n-grams are ASCII letters"))
        });
        ngrams
    }

    /// Calls `emit` with each n-gram of `text` whose id no n-gram before it had, and that id;
    /// returns how many words the review has.
    fn for_each_distinct(&self, text: &[u8], mut emit: impl FnMut(&[u8], i64)) -> usize {
        let mut seen = FxHashSet::default();
        for_each_ngram(text, |ngram| {
            let id = self.id(ngram);
            if seen.insert(id) {
                emit(ngram, id);
            }
        })
    }
}

/// Calls `emit` with each n-gram of the whole of `text` in reading order, as lowercase bytes (a
/// word's pair with the word before it just before the word), and returns how many words it has.
pub fn for_each_ngram(text: &[u8], mut emit: impl FnMut(&[u8])) -> usize {
    let mut key = Vec::new();
    let mut previous_len = 0;
    for_each_word(text, usize::MAX, |word| {
        let word_start = if previous_len > 0 {
            key.push(b' ');
            previous_len + 1
        } else {
            0
        };
        key.extend(word.iter().map(u8::to_ascii_lowercase));
        if previous_len > 0 {
            emit(&key);
        }
        emit(&key[word_start..]);
        key.drain(..word_start);
        previous_len = key.len();
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reviews_become_their_ngrams_in_reading_order() {
        let mut ngrams = Vec::new();
        // The exercise's rules apply: the single letter between words is dropped, so "good" and
        // "movie" become neighbours; the whole review is read, past any 100-word cut.
        let long = format!("{}Not good, a MOVIE!", "word ".repeat(300));
        let words = for_each_ngram(long.as_bytes(), |n| ngrams.push(String::from_utf8(n.to_vec()).unwrap()));
        assert_eq!(words, 303);
        assert_eq!(ngrams[ngrams.len() - 5..], ["word not", "not", "not good", "good", "good movie", "movie"][1..]);
    }

    #[test]
    fn ids_are_fnv1a_buckets_and_distinct_in_first_appearance_order() {
        let hashing = NgramHashing::new(1 << 20).unwrap();
        // FNV-1a-64 of "a" is 0xaf63dc4c8601ec8c.
        assert_eq!(hashing.id(b"a"), 1 + (0xaf63_dc4c_8601_ec8c_u64 % (1 << 20)) as i64);
        let mut ids = Vec::new();
        assert_eq!(hashing.encode_into(b"Not good. Not good!", &mut ids), 4);
        let expected: Vec<i64> =
            ["not", "not good", "good", "good not"].iter().map(|n| hashing.id(n.as_bytes())).collect();
        assert_eq!(ids, expected);
        assert_eq!(hashing.ngrams(b"Not good. Not good!"), ["not", "not good", "good", "good not"]);
        // One bucket: every n-gram shares it, so a review reads one id.
        let one = NgramHashing::new(1).unwrap();
        ids.clear();
        one.encode_into(b"many different words", &mut ids);
        assert_eq!(ids, [1]);
        assert!(NgramHashing::new(0).is_err());
    }
}
