//! The exercise's token-wise models: an MLP gives every word a sub-score (its logit toward
//! positive), and the review's logit is the words' sub-scores pooled:
//! - `Mean`: their average (the plain token-wise MLP);
//! - `Weighted`: the MLP also gives every word a weight `sigmoid(a)`, and the sub-scores are
//!   summed with those weights ([`Weighting::Sum`]) or averaged with them ([`Weighting::Mean`]:
//!   each weight divided by the review's total).
//!
//! With a [`WindowAttention`] layer in front, the MLP reads each word's vector together with what
//! the word attended to in its window.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor, nn};

use super::attention::WindowAttention;
use super::mlp::{Mlp, export_positive_logit, positive_logit, select_last};
use super::net::{Net, NetOutput};
use super::onnx::{Attr, Graph};
use onnx_protobuf::tensor_proto::DataType;

/// How sub-scores become the review's logit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// The mean over the review's words.
    Mean,
    /// Weighted by a learned per-word weight in (0, 1), as [`Weighting`] says.
    Weighted(Weighting),
}

/// How the weighted token-wise MLP uses its per-word weights `sigmoid(a)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Weighting {
    /// The review's logit is the weighted sum of the sub-scores: it grows with the review's length.
    #[default]
    Sum,
    /// The weighted mean: each weight is divided by the sum of the review's weights, so the
    /// weights of a review sum to 1, as the plain MLP's do.
    Mean,
}

/// A token-wise MLP, optionally behind windowed self-attention.
#[derive(Debug)]
pub struct TokenWise {
    attention: Option<WindowAttention>,
    mlp: Mlp,
    pooling: Pooling,
}

impl TokenWise {
    /// A token-wise model over `input`-wide word vectors; `attention_dim > 0` adds attention.
    pub fn new(vs: &nn::Path, input: i64, hidden: i64, pooling: Pooling, attention_dim: i64, dropout: f64) -> Self {
        let attention = (attention_dim > 0).then(|| WindowAttention::new(&(vs / "attention"), input, attention_dim));
        let features = input + attention_dim.max(0);
        let outputs = match pooling {
            Pooling::Mean => 2,
            Pooling::Weighted(_) => 3,
        };
        Self { attention, mlp: Mlp::new(&(vs / "mlp"), features, hidden, outputs, dropout), pooling }
    }
}

impl Net for TokenWise {
    fn forward(&self, x: &Tensor, lengths: &Tensor, mask: &Tensor, train: bool) -> NetOutput {
        let (features, attention) = match &self.attention {
            Some(layer) => {
                let (attended, weights) = layer.forward(x);
                (Tensor::cat(&[x.shallow_clone(), attended], 2), Some(weights))
            }
            None => (x.shallow_clone(), None),
        };
        let out = self.mlp.forward(&features, train);
        let token_scores = positive_logit(&out) * mask;
        let token_weights = match self.pooling {
            Pooling::Mean => mask / lengths.clamp_min(1).to_kind(Kind::Float).unsqueeze(1),
            Pooling::Weighted(weighting) => {
                let weights = out.select(-1, 2).sigmoid() * mask;
                match weighting {
                    Weighting::Sum => weights,
                    Weighting::Mean => {
                        // An empty review has no weights: divide its zeros by 1.
                        let total = weights.sum_dim_intlist(1, true, Kind::Float)
                            + lengths.eq(0).to_kind(Kind::Float).unsqueeze(1);
                        weights / total
                    }
                }
            }
        };
        let logit = (&token_scores * &token_weights).sum_dim_intlist(1, false, Kind::Float);
        NetOutput { logit, token_scores, token_weights: Some(token_weights), attention }
    }

    fn export(&self, g: &mut Graph, x: &str, lengths: &str, mask: &str) -> NetOutput<String> {
        let (features, attention) = match &self.attention {
            Some(layer) => {
                let (attended, weights) = layer.export(g, x);
                (g.op("Concat", &[x, &attended], vec![Attr::Int("axis", 2)]), Some(weights))
            }
            None => (x.to_owned(), None),
        };
        let out = self.mlp.export(g, &features);
        let logit = export_positive_logit(g, &out);
        let weight = matches!(self.pooling, Pooling::Weighted(_)).then(|| {
            let raw = select_last(g, &out, 2);
            g.op("Sigmoid", &[&raw], vec![])
        });
        NetOutput { attention, ..self.export_pooling(g, &logit, weight.as_deref(), lengths, mask) }
    }

    /// Without attention every word's sub-score and weight depend on that word alone: they are
    /// computed here for every id of the vocabulary, and the graph only looks them up.
    fn export_folded(
        &self,
        g: &mut Graph,
        vectors: &Tensor,
        ids: &str,
        lengths: &str,
        mask: &str,
    ) -> Option<NetOutput<String>> {
        if self.attention.is_some() {
            return None;
        }
        let _no_grad = tch::no_grad_guard();
        let out = self.mlp.forward(vectors, false);
        let scores = g.weight("word_scores", &positive_logit(&out));
        let logit = g.op("Gather", &[&scores, ids], vec![]);
        let weight = matches!(self.pooling, Pooling::Weighted(_)).then(|| {
            let weights = g.weight("word_weights", &out.select(-1, 2).sigmoid());
            g.op("Gather", &[&weights, ids], vec![])
        });
        Some(self.export_pooling(g, &logit, weight.as_deref(), lengths, mask))
    }
}

impl TokenWise {
    /// The pooling of per-word `logit`s `[batch, 100]` (and, for weighted pooling, per-word
    /// `weight`s in (0, 1)) into the review's logit, as graph nodes.
    fn export_pooling(
        &self,
        g: &mut Graph,
        logit: &str,
        weight: Option<&str>,
        lengths: &str,
        mask: &str,
    ) -> NetOutput<String> {
        let token_scores = g.op("Mul", &[logit, mask], vec![]);
        let token_weights = match weight {
            None => {
                let one = g.ints("one", &[], &[1]);
                let at_least_one = g.op("Max", &[lengths, &one], vec![]);
                let count = g.op("Cast", &[&at_least_one], vec![Attr::Int("to", DataType::FLOAT as i64)]);
                let count = g.reshape(&count, &[-1, 1]);
                g.op("Div", &[mask, &count], vec![])
            }
            Some(weight) => {
                let weights = g.op("Mul", &[weight, mask], vec![]);
                match self.pooling {
                    Pooling::Weighted(Weighting::Mean) => {
                        let axes = g.ints("axes", &[1], &[1]);
                        let total = g.op("ReduceSum", &[&weights, &axes], vec![Attr::Int("keepdims", 1)]);
                        let zero = g.ints("zero", &[], &[0]);
                        let empty = g.op("Equal", &[lengths, &zero], vec![]);
                        let empty = g.op("Cast", &[&empty], vec![Attr::Int("to", DataType::FLOAT as i64)]);
                        let empty = g.reshape(&empty, &[-1, 1]);
                        let total = g.op("Add", &[&total, &empty], vec![]);
                        g.op("Div", &[&weights, &total], vec![])
                    }
                    _ => weights,
                }
            }
        };
        let weighted = g.op("Mul", &[&token_scores, &token_weights], vec![]);
        let axes = g.ints("axes", &[1], &[1]);
        let logit = g.op("ReduceSum", &[&weighted, &axes], vec![Attr::Int("keepdims", 0)]);
        NetOutput { logit, token_scores, token_weights: Some(token_weights), attention: None }
    }
}
