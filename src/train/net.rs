//! The five architectures as one trainable model type: word vectors, then one of the networks.

use std::path::Path;

use anyhow::Result;
use onnx_protobuf::tensor_proto::DataType;
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor, nn};

use super::MAX_TOKENS_I64;
use super::onnx::{Dimension, Graph};
use super::recurrent::{Cell, Readout, Recurrent};
use super::token_wise::{Pooling, TokenWise, Weighting};
use super::word_vectors::WordVectors;
use crate::contract::{
    INPUT_LENGTHS, INPUT_TOKEN_IDS, OUTPUT_ATTENTION, OUTPUT_PROBABILITY, OUTPUT_TOKEN_SCORES, OUTPUT_TOKEN_WEIGHTS,
};

/// The five architectures of the exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Architecture {
    /// Elman RNN; an MLP reads its last state.
    Rnn,
    /// GRU; an MLP reads its last state.
    Gru,
    /// Token-wise MLP; the review's score is the mean of the words' sub-scores.
    Mlp,
    /// Token-wise MLP; sub-scores summed with learned per-word weights.
    WeightedMlp,
    /// Token-wise MLP behind restricted (±5 words) single-head self-attention.
    Attention,
}

impl Architecture {
    /// Every architecture, in the exercise's order.
    pub const ALL: [Architecture; 5] = [Self::Rnn, Self::Gru, Self::Mlp, Self::WeightedMlp, Self::Attention];

    /// The shipped model's name (and file stem).
    pub fn name(self) -> &'static str {
        match self {
            Self::Rnn => "rnn",
            Self::Gru => "gru",
            Self::Mlp => "mlp",
            Self::WeightedMlp => "weighted-mlp",
            Self::Attention => "attention",
        }
    }

    /// The exercise's test accuracy for this architecture.
    pub fn seed_accuracy(self) -> f64 {
        match self {
            Self::Rnn => 0.746,
            Self::Gru => 0.850,
            Self::Mlp => 0.808,
            Self::WeightedMlp => 0.806,
            Self::Attention => 0.842,
        }
    }
}

/// What a network computes for a batch; `T` is a tensor in training, a value name in export.
#[derive(Debug)]
pub struct NetOutput<T = Tensor> {
    /// Log-odds of positive, `[batch]`.
    pub logit: T,
    /// Per-word sub-scores `[batch, 100]`, zero past the length.
    pub token_scores: T,
    /// Per-word weights in the logit `[batch, 100]`, for token-wise models.
    pub token_weights: Option<T>,
    /// Attention over each word's window `[batch, 100, 11]`, for the attention model.
    pub attention: Option<T>,
}

/// A network over word vectors `x` `[batch, 100, dim]` with `lengths` `[batch]` and the float
/// `mask` `[batch, 100]` (1 on the review's words).
pub trait Net: std::fmt::Debug {
    /// The forward pass; `train` switches dropout on.
    fn forward(&self, x: &Tensor, lengths: &Tensor, mask: &Tensor, train: bool) -> NetOutput;
    /// A recurrent network's forward states after each word, `[batch, 100, hidden]`, for
    /// pretraining it as a language model ([`super::language_model`]); `None` (the default) for a
    /// network without a state.
    fn states(&self, _x: &Tensor, _train: bool) -> Option<Tensor> {
        None
    }
    /// The width of [`Net::states`], when the network has them.
    fn state_width(&self) -> Option<i64> {
        None
    }
    /// The same computation as ONNX nodes.
    fn export(&self, g: &mut Graph, x: &str, lengths: &str, mask: &str) -> NetOutput<String>;
    /// The same computation as lookups of values precomputed for every word, where each word's
    /// values depend on that word alone: `vectors` holds every id's word vector
    /// (`[vocab + 1, dim]`) and `ids` is the graph's token-id input. `None` (the default) when the
    /// network looks across words.
    fn export_folded(
        &self,
        _g: &mut Graph,
        _vectors: &Tensor,
        _ids: &str,
        _lengths: &str,
        _mask: &str,
    ) -> Option<NetOutput<String>> {
        None
    }
}

/// What [`SentimentNet::export`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// The names of the file's outputs.
    pub outputs: Vec<String>,
    /// True when the network was folded into per-word lookups (no GloVe table in the file).
    pub folded: bool,
}

/// Sizes and regularisation of a model (training settings live in the trainer's options).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    /// Which architecture.
    pub architecture: Architecture,
    /// Width of the recurrent state or of the MLP's hidden layer.
    pub hidden: i64,
    /// Learned word-vector dimensions concatenated to GloVe (0: GloVe only).
    pub learned_dim: i64,
    /// Width of attention's queries, keys and values.
    pub attention_dim: i64,
    /// Dropout on the word vectors and on the MLP's hidden layer.
    pub dropout: f64,
    /// Only words in at least this many training reviews get learned dimensions.
    pub learned_min_reviews: u32,
    /// What a recurrent model's head reads (ignored by the other models).
    #[serde(default)]
    pub readout: Readout,
    /// A recurrent model also reads each review backward, and its head reads both directions
    /// (ignored by the other models).
    #[serde(default)]
    pub bidirectional: bool,
    /// How the weighted MLP pools with its weights (ignored by the other models).
    #[serde(default)]
    pub weighting: Weighting,
}

impl Shape {
    /// A small model without dropout, for unit tests.
    #[cfg(test)]
    pub(crate) fn small(architecture: Architecture) -> Self {
        Self {
            architecture,
            hidden: 16,
            learned_dim: 4,
            attention_dim: 0,
            dropout: 0.0,
            learned_min_reviews: 1,
            readout: Readout::Last,
            bidirectional: false,
            weighting: Weighting::Sum,
        }
    }

    /// A one-line description of the model for cards and listings.
    pub fn description(&self) -> String {
        let recurrent = |cell: &str| {
            let reads = match (self.readout, self.bidirectional) {
                (Readout::Last, false) => "the state after the last word",
                (Readout::Last, true) => "the forward state after the last word and the backward state after the first",
                (Readout::Mean, false) => "the mean of its states over the words",
                (Readout::Mean, true) => "the mean of both directions' states over the words",
                (Readout::Max, false) => "the element-wise maximum of its states over the words",
                (Readout::Max, true) => "the element-wise maximum of both directions' states over the words",
            };
            let direction = if self.bidirectional { "bidirectional " } else { "" };
            format!("{direction}{cell} over the words; an MLP reads {reads}")
        };
        match self.architecture {
            Architecture::Rnn => recurrent("Elman RNN"),
            Architecture::Gru => recurrent("GRU"),
            Architecture::Mlp => "token-wise MLP: every word gets a sub-score; the review's logit is their mean".into(),
            Architecture::WeightedMlp => format!(
                "token-wise MLP: every word gets a sub-score and a sigmoid weight; the review's logit is their weighted {}",
                match self.weighting {
                    Weighting::Sum => "sum",
                    Weighting::Mean => "mean",
                }
            ),
            Architecture::Attention => "restricted self-attention (1 head, learned Q/K/V, ±5 words, zero padding) \
                                        then the token-wise MLP; the review's logit is the mean of the sub-scores"
                .into(),
        }
    }
}

/// A complete model: word vectors and one of the networks.
#[derive(Debug)]
pub struct SentimentNet {
    /// The model's sizes.
    pub shape: Shape,
    words: WordVectors,
    net: Box<dyn Net>,
}

impl SentimentNet {
    /// Builds the model's variables under `vs`, with the frozen GloVe `table`, the words allowed
    /// learned dimensions (`learnable`) and where those start (`start`; see [`WordVectors::new`]).
    pub fn new(vs: &nn::Path, glove: &Tensor, learnable: &Tensor, start: Option<&Tensor>, shape: Shape) -> Self {
        let words = WordVectors::new(&(vs / "words"), glove, shape.learned_dim, learnable, start);
        let input = words.dim();
        let p = vs / shape.architecture.name();
        let net: Box<dyn Net> = match shape.architecture {
            Architecture::Rnn | Architecture::Gru => {
                let cell = if shape.architecture == Architecture::Rnn { Cell::Elman } else { Cell::Gru };
                let (readout, bidirectional) = (shape.readout, shape.bidirectional);
                Box::new(Recurrent::new(&p, cell, readout, bidirectional, input, shape.hidden, shape.dropout))
            }
            Architecture::Mlp => Box::new(TokenWise::new(&p, input, shape.hidden, Pooling::Mean, 0, shape.dropout)),
            Architecture::WeightedMlp => {
                Box::new(TokenWise::new(&p, input, shape.hidden, Pooling::Weighted(shape.weighting), 0, shape.dropout))
            }
            Architecture::Attention => {
                Box::new(TokenWise::new(&p, input, shape.hidden, Pooling::Mean, shape.attention_dim, shape.dropout))
            }
        };
        Self { shape, words, net }
    }

    /// The forward pass over token `ids` `[batch, 100]` and `lengths` `[batch]`.
    pub fn forward(&self, ids: &Tensor, lengths: &Tensor, train: bool) -> NetOutput {
        self.forward_vectors(&self.words.forward(ids), lengths, train)
    }

    /// The forward pass over the word vectors `x` `[batch, 100, dim]` of token ids (as
    /// [`WordVectors::forward`] looks them up, before dropout), so that training can move them.
    pub fn forward_vectors(&self, x: &Tensor, lengths: &Tensor, train: bool) -> NetOutput {
        let x = x.dropout(self.shape.dropout, train);
        let positions = Tensor::arange(MAX_TOKENS_I64, (Kind::Int64, x.device())).unsqueeze(0);
        let mask = positions.lt_tensor(&lengths.unsqueeze(1)).to_kind(Kind::Float);
        self.net.forward(&x, lengths, &mask, train)
    }

    /// A recurrent model's forward states after each word of `ids` `[batch, 100]`
    /// ([`Net::states`]); `None` for the other models.
    pub fn states(&self, ids: &Tensor, train: bool) -> Option<Tensor> {
        self.net.states(&self.words.forward(ids).dropout(self.shape.dropout, train), train)
    }

    /// The width of [`SentimentNet::states`], when the model has them.
    pub fn state_width(&self) -> Option<i64> {
        self.net.state_width()
    }

    /// The word-vector part: it writes the shared GloVe file, and looks up the vectors that
    /// [`SentimentNet::forward_vectors`] reads.
    pub fn word_vectors(&self) -> &WordVectors {
        &self.words
    }

    /// Writes the model as ONNX. A network whose words are judged one at a time is folded: its
    /// per-word values are computed here for the whole vocabulary and the file looks them up; any
    /// other reads the GloVe table from the external file beside it.
    pub fn export(&self, path: &Path, metadata: &[(&str, String)]) -> Result<Exported> {
        let batch = Dimension::Named("batch");
        let tokens = Dimension::Fixed(MAX_TOKENS_I64);
        let mut g = Graph::new(self.shape.architecture.name());
        let ids = g.input(INPUT_TOKEN_IDS, DataType::INT64, &[batch, tokens]);
        let lengths = g.input(INPUT_LENGTHS, DataType::INT64, &[batch]);
        let positions = g.ints("positions", &[1, MAX_TOKENS_I64], &(0..MAX_TOKENS_I64).collect::<Vec<_>>());
        let column = g.reshape(&lengths, &[-1, 1]);
        let inside = g.op("Less", &[&positions, &column], vec![]);
        let mask = g.op("Cast", &[&inside], vec![super::onnx::Attr::Int("to", DataType::FLOAT as i64)]);
        let folded = self.net.export_folded(&mut g, &self.words.table(), &ids, &lengths, &mask);
        let is_folded = folded.is_some();
        let out = folded.unwrap_or_else(|| {
            let x = self.words.export(&mut g, &ids);
            self.net.export(&mut g, &x, &lengths, &mask)
        });
        let probability = g.op("Sigmoid", &[&out.logit], vec![]);
        let mut names = vec![OUTPUT_PROBABILITY.to_owned(), OUTPUT_TOKEN_SCORES.to_owned()];
        g.output(&probability, OUTPUT_PROBABILITY, DataType::FLOAT, &[batch]);
        g.output(&out.token_scores, OUTPUT_TOKEN_SCORES, DataType::FLOAT, &[batch, tokens]);
        if let Some(weights) = &out.token_weights {
            g.output(weights, OUTPUT_TOKEN_WEIGHTS, DataType::FLOAT, &[batch, tokens]);
            names.push(OUTPUT_TOKEN_WEIGHTS.to_owned());
        }
        if let Some(attention) = &out.attention {
            let window = Dimension::Fixed(super::attention::WINDOW);
            g.output(attention, OUTPUT_ATTENTION, DataType::FLOAT, &[batch, tokens, window]);
            names.push(OUTPUT_ATTENTION.to_owned());
        }
        g.save(path, &self.shape.description(), metadata)?;
        Ok(Exported { outputs: names, folded: is_folded })
    }
}
