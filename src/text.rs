//! The exercise's text pipeline: how a review becomes at most [`MAX_TOKENS`] lowercase words.
//!
//! The rules, applied in this order, are the exercise's loader:
//! 1. every run of characters outside `[A-Za-z]` becomes one space;
//! 2. a single letter with whitespace on both sides is removed (leftmost first, non-overlapping,
//!    so `"a b c d e"` gives `a c e`);
//! 3. whitespace runs collapse, the text is stripped, lowercased and split;
//! 4. the first [`MAX_TOKENS`] tokens are kept.
//!
//! After rule 1 the text is letter runs separated by single spaces, so rule 2 reduces to: a
//! one-letter word is dropped when it neither starts nor ends the text and the word before it was
//! not itself dropped (that match consumed the space between them). The scanner below applies
//! the rules in one pass over the bytes, without allocating, and stops at the 100th kept word.

/// How many tokens of a review the models read; the rest of the review is ignored.
pub const MAX_TOKENS: usize = 100;

/// Calls `emit` with each kept token of `text`, in order, as the original ASCII letters (not yet
/// lowercased), and returns how many tokens there were (at most [`MAX_TOKENS`]).
///
/// Any byte outside `[A-Za-z]` separates words, so the input needs not be valid UTF-8.
pub fn for_each_token(text: &[u8], emit: impl FnMut(&[u8])) -> usize {
    for_each_word(text, MAX_TOKENS, emit)
}

/// The same rules as [`for_each_token`] up to step 3, with at most `limit` tokens instead of
/// [`MAX_TOKENS`]: `usize::MAX` reads the whole review, as the distillation teacher does. Each
/// word is a slice of `text`, so that a caller may hold on to the words before it.
pub fn for_each_word<'t>(text: &'t [u8], limit: usize, mut emit: impl FnMut(&'t [u8])) -> usize {
    let mut kept = 0;
    let mut previous_dropped = false;
    let mut pos = 0;
    let len = text.len();
    while pos < len && kept < limit {
        if !text[pos].is_ascii_alphabetic() {
            pos += 1;
            continue;
        }
        let start = pos;
        while pos < len && text[pos].is_ascii_alphabetic() {
            pos += 1;
        }
        let word = &text[start..pos];
        let space_before = start > 0;
        let space_after = pos < len;
        if word.len() == 1 && space_before && space_after && !previous_dropped {
            previous_dropped = true;
            continue;
        }
        previous_dropped = false;
        emit(word);
        kept += 1;
    }
    kept
}

/// The tokens of `text` as lowercase strings, for display and for the `scorer tokens` interface.
pub fn tokenize(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    for_each_token(text.as_bytes(), |word| {
        tokens.push(String::from_utf8(word.to_ascii_lowercase()).expect("tokens are ASCII letters"))
    });
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_letters_are_removed_leftmost_first_without_overlap() {
        assert_eq!(tokenize("a b c d e"), ["a", "c", "e"]);
    }

    #[test]
    fn non_letters_separate_and_vanish() {
        assert_eq!(tokenize("It's 10/10 -- GREAT!!"), ["it", "great"]);
        assert_eq!(tokenize("café naïve"), ["caf", "na", "ve"]);
        assert!(tokenize("1234 !!!").is_empty());
    }

    #[test]
    fn a_leading_or_trailing_single_letter_stays() {
        assert_eq!(tokenize("I loved it"), ["i", "loved", "it"]);
        assert_eq!(tokenize("grade: A!"), ["grade"]);
        assert_eq!(tokenize("grade: A"), ["grade", "a"]);
        assert_eq!(tokenize(" I loved it"), ["loved", "it"]);
    }

    #[test]
    fn keeps_the_first_hundred_tokens() {
        let text = "word ".repeat(5000);
        assert_eq!(tokenize(&text).len(), MAX_TOKENS);
    }

    #[test]
    fn the_whole_review_has_every_word() {
        let text = "word ".repeat(5000);
        assert_eq!(for_each_word(text.as_bytes(), usize::MAX, |_| {}), 5000);
    }

    #[test]
    fn invalid_utf8_is_only_separators() {
        let mut seen = Vec::new();
        for_each_token(b"good\xff\xfebad", |w| seen.push(w.to_vec()));
        assert_eq!(seen, [b"good".to_vec(), b"bad".to_vec()]);
    }

    /// The exercise's loader as written with regular expressions, the reference the scanner
    /// must agree with.
    fn reference(text: &str) -> Vec<String> {
        let spaced = regex::Regex::new("[^A-Za-z]+").unwrap().replace_all(text, " ");
        let dropped = regex::Regex::new(r"\s[A-Za-z]\s").unwrap().replace_all(&spaced, " ");
        dropped.trim().to_lowercase().split_whitespace().take(MAX_TOKENS).map(str::to_owned).collect()
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_regular_expressions(text in "[a-cA-C .,'!\u{e9}\u{65e5}1]{0,300}") {
            proptest::prop_assert_eq!(tokenize(&text), reference(&text));
        }

        #[test]
        fn agrees_on_any_string(text in proptest::prelude::any::<String>()) {
            proptest::prop_assert_eq!(tokenize(&text), reference(&text));
        }

        #[test]
        fn any_bytes_give_at_most_a_hundred_ascii_words(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4000)) {
            let mut words = 0;
            let counted = for_each_token(&bytes, |word| {
                assert!(!word.is_empty() && word.iter().all(u8::is_ascii_alphabetic));
                words += 1;
            });
            proptest::prop_assert_eq!(counted, words);
            proptest::prop_assert!(words <= MAX_TOKENS);
        }
    }
}
