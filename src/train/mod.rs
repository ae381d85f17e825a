//! The companion trainer (feature `train`): the five architectures in tch, their training loop,
//! and their export to ONNX files that the scorer runs without libtorch; and the sixth, n-gram
//! model ([`ngram`]), the distillation teacher shipped.

pub mod attention;
pub mod glove;
pub mod language_model;
pub mod mlp;
pub mod net;
pub mod ngram;
pub mod onnx;
pub mod pipeline;
pub mod recurrent;
pub mod skipgram;
pub mod teacher;
pub mod token_wise;
pub mod trainer;
pub mod word_vectors;

/// [`crate::text::MAX_TOKENS`] as tch and ONNX sizes are typed.
pub const MAX_TOKENS_I64: i64 = crate::text::MAX_TOKENS as i64;
