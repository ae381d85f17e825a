//! The contracts the `.onnx` files follow: the names of a model's inputs and outputs, the metadata
//! keys of its file, and the contract versions. Both the text encoding (which fills the inputs) and
//! the model (which checks a file against them) read them from here.
//!
//! Version 1, the five word models: inputs `token_ids` int64 `[batch, 100]` (ids from
//! `models/vocab.txt`, 0 for padding and unknown words) and `lengths` int64 `[batch]`; outputs
//! `probability` float `[batch]` (P(positive)), `token_scores` float `[batch, 100]`,
//! `token_weights` float `[batch, 100]` for the token-wise models, `attention` float
//! `[batch, 100, 11]` for the attention model. Version 2, the n-gram model: inputs `ngram_ids`
//! int64 `[batch, n]` (a review's distinct hashed n-grams, [`crate::ngrams`], padded with 0) and
//! `lengths`; outputs `probability`, `token_scores` `[batch, n]` (each n-gram's sub-score) and
//! `token_weights` `[batch, n]` (1, and 0 for padding); its n-grams are words and word pairs.
//! Version 3: version 2 with n-grams of 1 to the file's `ngram_max_n` words (word triples). The
//! full description is `models/README.md`.

/// Input of the word models: token ids, int64 `[batch, 100]`.
pub const INPUT_TOKEN_IDS: &str = "token_ids";
/// Input of the n-gram model: each review's distinct n-gram ids, int64 `[batch, n]`.
pub const INPUT_NGRAM_IDS: &str = "ngram_ids";
/// Input: number of tokens per review, int64 `[batch]`.
pub const INPUT_LENGTHS: &str = "lengths";
/// Output: P(positive), float `[batch]`.
pub const OUTPUT_PROBABILITY: &str = "probability";
/// Output: each word's (or n-gram's) sub-score, its logit toward positive, float `[batch, 100]`
/// (`[batch, n]` for the n-gram model).
pub const OUTPUT_TOKEN_SCORES: &str = "token_scores";
/// Output: each word's (or n-gram's) weight in the review's logit, float `[batch, 100]`
/// (`[batch, n]` for the n-gram model).
pub const OUTPUT_TOKEN_WEIGHTS: &str = "token_weights";
/// Output: each word's attention over its 11-word window, float `[batch, 100, 11]`.
pub const OUTPUT_ATTENTION: &str = "attention";
/// The contract of the word models, whose input is [`INPUT_TOKEN_IDS`].
pub const WORDS_CONTRACT: u32 = 1;
/// The contract of the n-gram model over words and word pairs, whose input is [`INPUT_NGRAM_IDS`].
pub const NGRAMS_CONTRACT: u32 = 2;
/// The contract of an n-gram model that states its longest n-gram ([`METADATA_NGRAM_MAX_N`]), so
/// that a scorer reading only pairs refuses it instead of scoring it wrong.
pub const NGRAMS_MAX_N_CONTRACT: u32 = 3;
/// Metadata key of the exported file that holds its contract version.
pub const METADATA_CONTRACT_VERSION: &str = "contract_version";
/// Metadata key of an n-gram model's file that holds the number of buckets its n-grams are hashed
/// into.
pub const METADATA_NGRAM_BUCKETS: &str = "ngram_buckets";
/// Metadata key of a contract 3 file that holds its longest n-gram, in words.
pub const METADATA_NGRAM_MAX_N: &str = "ngram_max_n";
/// Metadata key of the exported file that names its architecture (`rnn`, `gru`, ...).
pub const METADATA_MODEL: &str = "model";
