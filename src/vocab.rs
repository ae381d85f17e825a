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

/// Lowercase words and their ids (1-based, in file order).
#[derive(Debug, Clone)]
pub struct Vocabulary {
    words: Vec<String>,
    ids: FxHashMap<Box<[u8]>, u32>,
}

impl Vocabulary {
    /// Builds a vocabulary from words in id order; the first word gets id 1.
    pub fn from_words(words: Vec<String>) -> Result<Self> {
        let mut ids = FxHashMap::default();
        ids.reserve(words.len());
        for (i, word) in words.iter().enumerate() {
            if word.is_empty() || word.len() > MAX_WORD_LEN || !word.bytes().all(|b| b.is_ascii_lowercase()) {
                bail!("vocabulary word {} ({word:?}) is not 1 to {MAX_WORD_LEN} lowercase ASCII letters", i + 1);
            }
            if ids.insert(word.as_bytes().into(), i as u32 + 1).is_some() {
                bail!("vocabulary word {word:?} appears twice");
            }
        }
        Ok(Self { words, ids })
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
        if token.len() > MAX_WORD_LEN {
            return UNKNOWN_ID;
        }
        let mut lower = [0u8; MAX_WORD_LEN];
        let lower = &mut lower[..token.len()];
        lower.copy_from_slice(token);
        lower.make_ascii_lowercase();
        self.ids.get(&*lower).map_or(UNKNOWN_ID, |&id| i64::from(id))
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
    fn rejects_bad_words() {
        assert!(Vocabulary::from_words(vec!["Movie".into()]).is_err());
        assert!(Vocabulary::from_words(vec!["a".into(), "a".into()]).is_err());
    }
}
