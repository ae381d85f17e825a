//! The n-gram model's ids (model contracts 2 and 3): the words, word pairs and (contract 3, up to
//! the model's `ngram_max_n`) word triples of whole reviews, hashed into a fixed number of buckets,
//! so that the model needs no list of n-grams beside it.
//!
//! A review's n-grams come from the exercise's text pipeline without its 100-word cut (rules 1 to
//! 3 of [`crate::text`]): every word, and every run of up to `max_n` neighbouring words written
//! with one space between them (`"not good"`, `"not very good"`). An n-gram's id is
//! `1 + FNV-1a-64(its bytes) mod buckets`; id 0 is padding. The model reads each distinct id of the
//! review once (binarised counts), in the order the n-grams first appear; n-grams that share a
//! bucket share its weight.

use std::cell::RefCell;

use anyhow::{Result, bail};

use crate::text::for_each_word;

/// The longest n-gram a model may read: three words.
pub const MAX_N: usize = 3;

/// The longest n-gram of model contract 2, which states none: word pairs.
pub const CONTRACT_2_MAX_N: usize = 2;

/// How n-grams become ids: the longest n-gram read and the number of buckets they are hashed into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NgramHashing {
    buckets: u32,
    max_n: usize,
}

impl NgramHashing {
    /// Hashing the n-grams of 1 to `max_n` words into `buckets` buckets (ids 1 to `buckets`).
    pub fn new(buckets: u32, max_n: usize) -> Result<Self> {
        if buckets == 0 {
            bail!("n-gram hashing needs at least one bucket");
        }
        if !(1..=MAX_N).contains(&max_n) {
            bail!("n-grams are 1 to {MAX_N} words long, so the longest cannot be {max_n}");
        }
        Ok(Self { buckets, max_n })
    }

    /// The number of buckets; valid ids are `1..=buckets()`, and 0 for padding.
    pub fn buckets(&self) -> u32 {
        self.buckets
    }

    /// The longest n-gram read, in words.
    pub fn max_n(&self) -> usize {
        self.max_n
    }

    /// The id of an n-gram given as its lowercase bytes (`b"not good"`).
    pub fn id(&self, ngram: &[u8]) -> i64 {
        self.bucket(fnv1a(FNV_OFFSET_BASIS, ngram))
    }

    /// The id of an n-gram's FNV-1a-64 hash.
    fn bucket(&self, hash: u64) -> i64 {
        let buckets = u64::from(self.buckets);
        // The same remainder; a mask where it can be, since a division costs as much as hashing
        // a word.
        let bucket = if buckets.is_power_of_two() { hash & (buckets - 1) } else { hash % buckets };
        1 + bucket as i64
    }

    /// Appends to `out` the distinct ids of the n-grams of the whole of `text`, in the order they
    /// first appear (the n-grams ending at a word come just before it, longest first), and returns
    /// how many words the review has.
    pub fn encode_into(&self, text: &[u8], out: &mut Vec<i64>) -> usize {
        self.for_each_distinct(text, |_, id| out.push(id))
    }

    /// The n-grams that [`NgramHashing::encode_into`] gives the ids of, in the same order: for
    /// each distinct id, the n-gram that first had it, lowercase, one space between its words.
    pub fn ngrams(&self, text: &[u8]) -> Vec<String> {
        let mut ngrams = Vec::new();
        self.for_each_distinct(text, |words, _| ngrams.push(joined(words)));
        ngrams
    }

    /// Calls `emit` with each n-gram of `text` (its words) whose id no n-gram before it had, and
    /// that id; returns how many words the review has.
    fn for_each_distinct(&self, text: &[u8], mut emit: impl FnMut(&[&[u8]], i64)) -> usize {
        SEEN.with_borrow_mut(|seen| {
            // Cleared before, not after: a review whose caller panicked leaves no ids behind.
            seen.clear();
            for_each_ngram(text, self.max_n, |ngram, hash| {
                let id = self.bucket(hash);
                if seen.insert(id) {
                    emit(ngram, id);
                }
            })
        })
    }
}

thread_local! {
    /// The ids the review being encoded on this thread has had so far.
    static SEEN: RefCell<SeenIds> = RefCell::default();
}

/// A set of ids as one bit per bucket, kept from review to review on a thread: testing and
/// setting a bit is a fraction of a hash set's insert, and clearing only the bits that were set
/// leaves it ready for the next review without allocating. It takes a thirty-second of the
/// memory of the model's own table of one float per bucket (128 KB for 2^20 buckets).
#[derive(Debug, Default)]
struct SeenIds {
    bits: Vec<u64>,
    set: Vec<i64>,
}

impl SeenIds {
    /// Adds `id`; false when it was already in.
    fn insert(&mut self, id: i64) -> bool {
        let (word, bit) = (id as usize / 64, 1u64 << (id % 64));
        if word >= self.bits.len() {
            self.bits.resize(word + 1, 0);
        }
        let had = self.bits[word] & bit != 0;
        if !had {
            self.bits[word] |= bit;
            self.set.push(id);
        }
        !had
    }

    /// Empties the set.
    fn clear(&mut self) {
        for &id in &self.set {
            self.bits[id as usize / 64] = 0;
        }
        self.set.clear();
    }
}

/// An n-gram's words as its text: lowercase, one space between them.
fn joined(words: &[&[u8]]) -> String {
    let text = words.join(&b' ').to_ascii_lowercase();
    String::from_utf8(text).expect("words are ASCII letters")
}

/// FNV-1a's starting state, the hash of no bytes.
const FNV_OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a, 64 bits, continued from `state` over `bytes`: simple enough to reproduce in any
/// language, and a pair's hash continues from its first word's.
fn fnv1a(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3))
}

/// Calls `emit` with each n-gram of 1 to `max_n` words of the whole of `text` in reading order
/// (the longer n-grams ending at a word just before the word, longest first), as its words (slices
/// of `text`, as written), and the FNV-1a-64 hash of its lowercase bytes, one space between words;
/// returns how many words the text has.
pub fn for_each_ngram(text: &[u8], max_n: usize, emit: impl FnMut(&[&[u8]], u64)) -> usize {
    // One loop per order, so that the words held and the hashes carried are fixed-size arrays the
    // compiler unrolls: the order-2 loop runs as fast as one written for pairs alone.
    match max_n {
        1 => ngrams_up_to::<1>(text, emit),
        2 => ngrams_up_to::<2>(text, emit),
        _ => ngrams_up_to::<MAX_N>(text, emit),
    }
}

/// [`for_each_ngram`] for n-grams of 1 to `N` words.
fn ngrams_up_to<const N: usize>(text: &[u8], mut emit: impl FnMut(&[&[u8]], u64)) -> usize {
    // The last words read, at most `N`, oldest first; the word being read is the last.
    let (mut words, mut held): ([&[u8]; N], usize) = ([&[]; N], 0);
    // The hashes of the n-grams ending at the word before, shortest first: an n-gram's hash
    // continues from that of the n-gram one word shorter ending at the word before, over a space
    // and this word. No n-gram's bytes are gathered: every length's hash is carried along the
    // word's bytes at once.
    let mut before = [0u64; N];
    for_each_word(text, usize::MAX, |word| {
        if held == N {
            words.rotate_left(1);
            held -= 1;
        }
        words[held] = word;
        held += 1;
        let mut hashes = [FNV_OFFSET_BASIS; N];
        for k in 1..N {
            hashes[k] = fnv1a(before[k - 1], b" ");
        }
        for &byte in word {
            for hash in &mut hashes {
                *hash = fnv1a(*hash, &[byte.to_ascii_lowercase()]);
            }
        }
        for k in (0..held).rev() {
            emit(&words[held - 1 - k..held], hashes[k]);
        }
        before = hashes;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reviews_become_their_ngrams_in_reading_order() {
        let read = |text: &str, max_n: usize| {
            let mut ngrams = Vec::new();
            let words = for_each_ngram(text.as_bytes(), max_n, |words, hash| {
                let ngram = joined(words);
                assert_eq!(hash, fnv1a(FNV_OFFSET_BASIS, ngram.as_bytes()), "{ngram:?}: the hash of its text");
                ngrams.push(ngram)
            });
            (words, ngrams)
        };
        // The exercise's rules apply: the single letter between words is dropped, so "good" and
        // "movie" become neighbours; the whole review is read, past any 100-word cut.
        let long = format!("{}Not good, a MOVIE!", "word ".repeat(300));
        let (words, pairs) = read(&long, 2);
        assert_eq!(words, 303);
        assert_eq!(pairs[pairs.len() - 5..], ["not", "not good", "good", "good movie", "movie"]);
        let (_, triples) = read(&long, 3);
        assert_eq!(triples.len(), 303 + 302 + 301);
        assert_eq!(
            triples[triples.len() - 7..],
            ["not", "word not good", "not good", "good", "not good movie", "good movie", "movie"]
        );
        assert_eq!(
            read(&long, 1),
            (303, [vec!["word".to_owned(); 300], vec!["not".into(), "good".into(), "movie".into()]].concat())
        );
        assert_eq!(read("Brilliant", 3), (1, vec!["brilliant".to_owned()]));
        assert_eq!(read("", 3), (0, vec![]));
    }

    #[test]
    fn ids_are_fnv1a_buckets_and_distinct_in_first_appearance_order() {
        let hashing = NgramHashing::new(1 << 20, 2).unwrap();
        // FNV-1a-64 of "a" is 0xaf63dc4c8601ec8c.
        assert_eq!(hashing.id(b"a"), 1 + (0xaf63_dc4c_8601_ec8c_u64 % (1 << 20)) as i64);
        assert_eq!(NgramHashing::new(1000, 2).unwrap().id(b"a"), 1 + (0xaf63_dc4c_8601_ec8c_u64 % 1000) as i64);
        let mut ids = Vec::new();
        assert_eq!(hashing.encode_into(b"Not good. Not good!", &mut ids), 4);
        let expected: Vec<i64> =
            ["not", "not good", "good", "good not"].iter().map(|n| hashing.id(n.as_bytes())).collect();
        assert_eq!(ids, expected);
        assert_eq!(hashing.ngrams(b"Not good. Not good!"), ["not", "not good", "good", "good not"]);
        // One bucket: every n-gram shares it, so a review reads one id.
        let one = NgramHashing::new(1, 2).unwrap();
        ids.clear();
        one.encode_into(b"many different words", &mut ids);
        assert_eq!(ids, [1]);
        assert!(NgramHashing::new(0, 2).is_err());
        assert!(NgramHashing::new(1 << 20, 0).is_err() && NgramHashing::new(1 << 20, MAX_N + 1).is_err());
        // Triples: each n-gram once, the longest ending at a word first.
        let triples = NgramHashing::new(1 << 20, 3).unwrap();
        assert_eq!(
            triples.ngrams(b"not good, not good"),
            ["not", "not good", "good", "not good not", "good not", "good not good"]
        );
    }

    #[test]
    fn each_review_on_a_thread_starts_with_no_ids_seen() {
        let hashing = NgramHashing::new(1 << 20, 2).unwrap();
        let alone = |text: &[u8]| {
            let mut ids = Vec::new();
            std::thread::scope(|s| s.spawn(|| hashing.encode_into(text, &mut ids)).join().unwrap());
            ids
        };
        let (first, second) = (b"good film, good cast".as_slice(), b"a good film".as_slice());
        let mut ids = Vec::new();
        hashing.encode_into(first, &mut ids);
        assert_eq!(ids, alone(first));
        ids.clear();
        hashing.encode_into(second, &mut ids);
        assert_eq!(ids, alone(second), "the ids of the review before are forgotten");
        // A larger number of buckets on the same thread.
        let wider = NgramHashing::new(1 << 24, 2).unwrap();
        ids.clear();
        wider.encode_into(second, &mut ids);
        let expected: Vec<i64> =
            ["a", "a good", "good", "good film", "film"].iter().map(|n| wider.id(n.as_bytes())).collect();
        assert_eq!(ids, expected);
    }
}
