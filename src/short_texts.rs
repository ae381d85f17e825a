//! The short-text check: one-sentence texts whose sentiment is known, built from IMDB alone.
//!
//! From each review rated 1-2 or 9-10 (its [`RATING_COLUMN`]) it takes the first and the last
//! sentence, labelled by the review's rating: negative for 1-2, positive for 9-10. Built from the
//! test split it is the check that `scorer eval --short-texts` reports beside the whole reviews;
//! built from the training split it is its validation twin, for choices made in training, so that
//! no test label picks anything. A review of one sentence gives it once; a sentence without a word
//! (`10/10`) is left out.
//!
//! Sentences end after `.`, `!` or `?` (with any quotes or brackets closing them) followed by
//! whitespace, and at IMDB's `<br />` line breaks. Abbreviations (`Mr. Smith`) split too: the
//! check wants short texts a reader would call one line, not a parse.

use anyhow::{Result, bail};

use crate::data::{LabeledReviews, RATING_COLUMN};
use crate::text::for_each_word;

/// The label that a review's rating gives its sentences: negative at 1-2, positive at 9-10, none
/// in between (those reviews are left out).
pub fn label_of_rating(rating: i64) -> Option<bool> {
    match rating {
        1 | 2 => Some(false),
        9 | 10 => Some(true),
        _ => None,
    }
}

/// The sentences of `review` in order, trimmed; empty ones are dropped.
pub fn sentences(review: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for block in review.split("<br />") {
        let bytes = block.as_bytes();
        let mut start = 0;
        let mut pos = 0;
        while pos < bytes.len() {
            if matches!(bytes[pos], b'.' | b'!' | b'?') {
                let mut end = pos + 1;
                while end < bytes.len() && matches!(bytes[end], b'.' | b'!' | b'?' | b'"' | b'\'' | b')' | b']') {
                    end += 1;
                }
                if end == bytes.len() || bytes[end].is_ascii_whitespace() {
                    out.push(&block[start..end]);
                    start = end;
                }
                pos = end;
            } else {
                pos += 1;
            }
        }
        out.push(&block[start..]);
    }
    out.into_iter().map(str::trim).filter(|s| !s.is_empty()).collect()
}

/// The first and the last sentence of `review` that hold a word, once when they are the same.
pub fn first_and_last(review: &str) -> Vec<&str> {
    let with_words: Vec<&str> =
        sentences(review).into_iter().filter(|s| for_each_word(s.as_bytes(), 1, |_| ()) > 0).collect();
    match with_words.as_slice() {
        [] => Vec::new(),
        [only] => vec![*only],
        [first, .., last] => vec![*first, *last],
    }
}

/// The check built from `reviews` and their ratings, in order: each review rated 1-2 or 9-10 gives
/// its first and last sentence, labelled by the rating.
pub fn from_rated(reviews: &[String], ratings: &[i64]) -> LabeledReviews {
    let mut check = LabeledReviews::default();
    for (review, &rating) in reviews.iter().zip(ratings) {
        let Some(label) = label_of_rating(rating) else { continue };
        for sentence in first_and_last(review) {
            check.texts.push(sentence.to_owned());
            check.labels.push(label);
        }
    }
    check
}

/// The check built from `reviews`' texts and ratings ([`from_rated`]): an error when they have no
/// ratings, or no review rated 1-2 or 9-10 with a sentence of words.
pub fn of(reviews: &LabeledReviews) -> Result<LabeledReviews> {
    let Some(ratings) = &reviews.ratings else {
        bail!("no integer {RATING_COLUMN:?} column: the check picks reviews by their rating");
    };
    let check = from_rated(&reviews.texts, ratings);
    if check.is_empty() {
        bail!("no review rated 1-2 or 9-10 with a sentence of words, so there are no short texts to judge");
    }
    Ok(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_end_at_stops_followed_by_space_and_at_line_breaks() {
        let review = "Great film! I loved it... Really.<br /><br />The end (\"wow.\") was 10/10. Why?No";
        assert_eq!(
            sentences(review),
            ["Great film!", "I loved it...", "Really.", "The end (\"wow.\")", "was 10/10.", "Why?No"]
        );
        assert_eq!(sentences("  "), Vec::<&str>::new());
        assert_eq!(sentences("No stop at all"), ["No stop at all"]);
    }

    #[test]
    fn the_first_and_last_sentence_with_words_once_each() {
        assert_eq!(first_and_last("Bad. Worse. Worst."), ["Bad.", "Worst."]);
        assert_eq!(first_and_last("Only one sentence here."), ["Only one sentence here."]);
        assert_eq!(first_and_last("10/10. Superb! 9.5."), ["Superb!"]);
        assert!(first_and_last("!!! ... 42.").is_empty());
    }

    #[test]
    fn ratings_pick_the_reviews_and_give_the_labels() {
        let reviews = ["Awful. Truly.", "Fine. Okay.", "Superb. Loved it.", "1/10 !!"].map(String::from);
        let check = from_rated(&reviews, &[1, 5, 10, 2]);
        assert_eq!(check.texts, ["Awful.", "Truly.", "Superb.", "Loved it."]);
        assert_eq!(check.labels, [false, false, true, true]);
        assert_eq!(
            [1, 2, 3, 4, 7, 8, 9, 10].map(label_of_rating),
            [Some(false), Some(false), None, None, None, None, Some(true), Some(true)]
        );
    }
}
