//! The exercise's restricted self-attention: one head with learned query, key and value maps;
//! each word attends to the 11-word window around it (5 neighbours on each side and itself),
//! zero vectors standing beyond the ends of the review.

use tch::{Kind, Tensor, nn, nn::Module};

use super::MAX_TOKENS_I64;
use super::onnx::{Attr, Graph};

/// Neighbours on each side of a word that it attends to.
pub const RADIUS: i64 = 5;
/// Words in each attention window.
pub const WINDOW: i64 = 2 * RADIUS + 1;

/// A single-head windowed self-attention layer.
#[derive(Debug)]
pub struct WindowAttention {
    query: nn::Linear,
    key: nn::Linear,
    value: nn::Linear,
    dim: i64,
}

impl WindowAttention {
    /// Maps `input`-wide word vectors to `dim`-wide queries, keys and values. The maps have no
    /// bias, so zero padding and padding words give zero keys and values.
    pub fn new(vs: &nn::Path, input: i64, dim: i64) -> Self {
        let config = nn::LinearConfig { bias: false, ..Default::default() };
        Self {
            query: nn::linear(vs / "query", input, dim, config),
            key: nn::linear(vs / "key", input, dim, config),
            value: nn::linear(vs / "value", input, dim, config),
            dim,
        }
    }

    /// For `x` `[batch, 100, input]`: the attended values `[batch, 100, dim]` and the attention
    /// weights `[batch, 100, 11]` (position `RADIUS` is the word itself).
    ///
    /// Computed as 11 shifted dot products, which trains much faster on a CPU than gathering the
    /// windows; the export gathers them, which is the same arithmetic.
    pub fn forward(&self, x: &Tensor) -> (Tensor, Tensor) {
        let t = MAX_TOKENS_I64;
        let query = self.query.forward(x);
        let keys = self.key.forward(x).constant_pad_nd([0, 0, RADIUS, RADIUS]);
        let values = self.value.forward(x).constant_pad_nd([0, 0, RADIUS, RADIUS]);
        let scale = 1.0 / (self.dim as f64).sqrt();
        let scores: Vec<Tensor> = (0..WINDOW)
            .map(|j| (&query * keys.narrow(1, j, t)).sum_dim_intlist(-1, true, Kind::Float) * scale)
            .collect();
        let weights = Tensor::cat(&scores, -1).softmax(-1, Kind::Float);
        let attended = (0..WINDOW)
            .map(|j| weights.narrow(-1, j, 1) * values.narrow(1, j, t))
            .reduce(|a, b| a + b)
            .expect("the window is not empty");
        (attended, weights)
    }

    /// The same computation in the graph; returns (attended, weights).
    pub fn export(&self, g: &mut Graph, x: &str) -> (String, String) {
        let (t, d, w) = (MAX_TOKENS_I64, self.dim, WINDOW);
        let index = g.ints("window_index", &[t, w], &window_index());
        let pads = g.ints("pads", &[6], &[0, RADIUS, 0, 0, RADIUS, 0]);
        let windows = |g: &mut Graph, layer: &nn::Linear| {
            let y = g.linear(x, layer);
            let padded = g.op("Pad", &[&y, &pads], vec![]);
            g.op("Gather", &[&padded, &index], vec![Attr::Int("axis", 1)])
        };
        let keys = windows(g, &self.key);
        let values = windows(g, &self.value);
        let query = g.linear(x, &self.query);
        let query = g.reshape(&query, &[0, 0, 1, d]);
        let keys_t = g.op("Transpose", &[&keys], vec![Attr::Ints("perm", vec![0, 1, 3, 2])]);
        let scores = g.op("MatMul", &[&query, &keys_t], vec![]);
        let scale = g.floats("scale", &[], &[(1.0 / (d as f64).sqrt()) as f32]);
        let scores = g.op("Mul", &[&scores, &scale], vec![]);
        let weights = g.op("Softmax", &[&scores], vec![Attr::Int("axis", -1)]);
        let attended = g.op("MatMul", &[&weights, &values], vec![]);
        let attended = g.reshape(&attended, &[0, 0, d]);
        let weights = g.reshape(&weights, &[0, 0, w]);
        (attended, weights)
    }
}

/// For each position, the indices of its window in the sequence padded by `RADIUS` on each side.
fn window_index() -> Vec<i64> {
    (0..MAX_TOKENS_I64).flat_map(|t| (0..WINDOW).map(move |j| t + j)).collect()
}
