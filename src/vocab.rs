//! The word list shared by the five word models: a token's position in it is the token id the
//! models take as input.
//!
//! Id 0 is reserved: it stands for padding and for every word outside the list, and its word
//! vector is zero, as in the exercise. The list is GloVe's most frequent words, in GloVe's order,
//! so id `i` is GloVe's word of rank `i - 1`.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use rustc_hash::FxHashMap;

/// The longest word the word vocabulary may hold; longer tokens are out of vocabulary.
pub const MAX_WORD_LEN: usize = 64;

/// Id of padding and of out-of-vocabulary words (their vector is zero).
pub const UNKNOWN_ID: i64 = 0;

/// The longest word looked up by its [`packed`] key; almost every English word is this short.
const PACKED_LETTERS: usize = 12;

/// A word of up to [`PACKED_LETTERS`] letters in any case as one number, five bits a letter (`a`
/// is 1, `z` is 26, so no two words share a key), or `None` when it is longer or holds anything
/// but letters.
/// Hashing and comparing a number, stored in the table itself, spares the lookup the pointer to
/// the word's bytes and the comparison of them: the lookup of every token is most of the text
/// work of scoring (docs/performance.md).
fn packed(word: &[u8]) -> Option<u64> {
    if word.len() > PACKED_LETTERS {
        return None;
    }
    word.iter().try_fold(0u64, |key, &byte| {
        // Setting bit 5 lowercases a letter, and turns no other byte into a lowercase letter.
        let lower = byte | 0x20;
        lower.is_ascii_lowercase().then(|| key << 5 | u64::from(lower - b'a' + 1))
    })
}

/// Lowercase words and their ids (1-based, in file order).
#[derive(Debug, Clone)]
pub struct Vocabulary {
    words: Vec<String>,
    /// Ids of the words of up to [`PACKED_LETTERS`] letters, by [`packed`] key.
    short: FxHashMap<u64, u32>,
    /// Ids of the longer words.
    long: FxHashMap<Box<[u8]>, u32>,
}

impl Vocabulary {
    /// Builds a vocabulary from words in id order; the first word gets id 1.
    pub fn from_words(words: Vec<String>) -> Result<Self> {
        let mut short = FxHashMap::default();
        let mut long = FxHashMap::default();
        short.reserve(words.len());
        for (i, word) in words.iter().enumerate() {
            if word.is_empty() || word.len() > MAX_WORD_LEN || !word.bytes().all(|b| b.is_ascii_lowercase()) {
                bail!("vocabulary word {} ({word:?}) is not 1 to {MAX_WORD_LEN} lowercase ASCII letters", i + 1);
            }
            let id = i as u32 + 1;
            let taken = match packed(word.as_bytes()) {
                Some(key) => short.insert(key, id),
                None => long.insert(word.as_bytes().into(), id),
            };
            if taken.is_some() {
                bail!("vocabulary word {word:?} appears twice");
            }
        }
        Ok(Self { words, short, long })
    }

    /// Reads a vocabulary file: one word per line, the line number is the id.
    pub fn load(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).with_context(|| format!("cannot open vocabulary {}", path.display()))?;
        let words = BufReader::new(file)
            .lines()
            .collect::<std::io::Result<Vec<_>>>()
            .with_context(|| format!("cannot read vocabulary {}", path.display()))?;
        Self::from_words(words).with_context(|| format!("bad vocabulary {}", path.display()))
    }

    /// Writes the vocabulary in the format [`Vocabulary::load`] reads.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut out =
            BufWriter::new(std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?);
        for word in &self.words {
            writeln!(out, "{word}")?;
        }
        out.flush().with_context(|| format!("cannot write {}", path.display()))
    }

    /// Number of words; valid ids are `1..=len()`, plus [`UNKNOWN_ID`].
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when the vocabulary holds no word.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// The words in id order (id 1 first).
    pub fn words(&self) -> &[String] {
        &self.words
    }

    /// The id of a token given in any case, or [`UNKNOWN_ID`].
    pub fn id(&self, token: &[u8]) -> i64 {
        let id = if token.len() <= PACKED_LETTERS {
            packed(token).and_then(|key| self.short.get(&key))
        } else if token.len() <= MAX_WORD_LEN {
            let mut lower = [0u8; MAX_WORD_LEN];
            let lower = &mut lower[..token.len()];
            lower.copy_from_slice(token);
            lower.make_ascii_lowercase();
            self.long.get(&*lower)
        } else {
            None
        };
        id.map_or(UNKNOWN_ID, |&id| i64::from(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_one_based_and_case_blind() {
        let vocab = Vocabulary::from_words(vec!["the".into(), "movie".into()]).unwrap();
        assert_eq!(vocab.id(b"the"), 1);
        assert_eq!(vocab.id(b"MoViE"), 2);
        assert_eq!(vocab.id(b"film"), UNKNOWN_ID);
        assert_eq!(vocab.id(&[b'a'; 200]), UNKNOWN_ID);
    }

    #[test]
    fn short_and_long_words_alike_are_found_and_nothing_else() {
        let words = ["a", "ab", "ba", "z", "zz", "abcdefghijkl", "abcdefghijklm", "unquestionably"];
        let vocab = Vocabulary::from_words(words.iter().map(|w| w.to_string()).collect()).unwrap();
        for (i, word) in words.iter().enumerate() {
            assert_eq!(vocab.id(word.as_bytes()), i as i64 + 1, "{word}");
            assert_eq!(vocab.id(word.to_uppercase().as_bytes()), i as i64 + 1, "{word} in capitals");
        }
        // Prefixes, extensions and bytes that lowercase into no letter are not words of the list.
        for token in ["", "abc", "abcdefghijk", "unquestionabl", "zzz", "a\u{1}", "@", "`b", "[", "{"] {
            assert_eq!(vocab.id(token.as_bytes()), UNKNOWN_ID, "{token:?}");
        }
    }

    #[test]
    fn rejects_bad_words() {
        assert!(Vocabulary::from_words(vec!["Movie".into()]).is_err());
        assert!(Vocabulary::from_words(vec!["a".into(), "a".into()]).is_err());
    }
}
