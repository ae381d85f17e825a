//! The two-layer perceptron the exercise uses everywhere: `Linear -> ReLU -> Dropout -> Linear`.

use tch::{Tensor, nn, nn::Module};

use super::onnx::{Attr, Graph};

/// A two-layer perceptron over the last axis.
#[derive(Debug)]
pub struct Mlp {
    hidden: nn::Linear,
    out: nn::Linear,
    dropout: f64,
}

impl Mlp {
    /// `input -> hidden -> outputs`, with dropout on the hidden layer while training.
    pub fn new(vs: &nn::Path, input: i64, hidden: i64, outputs: i64, dropout: f64) -> Self {
        Self {
            hidden: nn::linear(vs / "hidden", input, hidden, Default::default()),
            out: nn::linear(vs / "out", hidden, outputs, Default::default()),
            dropout,
        }
    }

    /// Applies the perceptron to `x` (`[..., input]`).
    pub fn forward(&self, x: &Tensor, train: bool) -> Tensor {
        self.out.forward(&self.hidden.forward(x).relu().dropout(self.dropout, train))
    }

    /// Writes the perceptron into `g` and returns its output.
    pub fn export(&self, g: &mut Graph, x: &str) -> String {
        let hidden = g.linear(x, &self.hidden);
        let hidden = g.op("Relu", &[&hidden], vec![]);
        g.linear(&hidden, &self.out)
    }
}

/// The logit toward positive from two-class logits `[..., 2+]`: `logits[..., 1] - logits[..., 0]`.
pub fn positive_logit(logits: &Tensor) -> Tensor {
    logits.select(-1, 1) - logits.select(-1, 0)
}

/// [`positive_logit`] in the graph: `[..., 2+]` to `[...]`.
pub fn export_positive_logit(g: &mut Graph, logits: &str) -> String {
    let positive = select_last(g, logits, 1);
    let negative = select_last(g, logits, 0);
    g.op("Sub", &[&positive, &negative], vec![])
}

/// Element `index` of the last axis of `x`, dropping that axis.
pub fn select_last(g: &mut Graph, x: &str, index: i64) -> String {
    let index = g.ints("index", &[], &[index]);
    g.op("Gather", &[x, &index], vec![Attr::Int("axis", -1)])
}
