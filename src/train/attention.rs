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
    ///
    /// Exported by blocks of [`BLOCK`] words: a block's queries meet, in one small matrix
    /// product, the keys of the [`SPAN`] padded positions that its words' windows
    /// cover, and the positions outside each word's window are masked out before the softmax.
    /// That is the windows' arithmetic in a tenth as many matrix products as one per word, with
    /// no window gathered, which ONNX Runtime runs far faster.
    pub fn export(&self, g: &mut Graph, x: &str) -> (String, String) {
        let (t, d) = (MAX_TOKENS_I64, self.dim);
        let blocks = t / BLOCK;
        let pads = g.ints("pads", &[6], &[0, RADIUS, 0, 0, RADIUS, 0]);
        let time = g.ints("time_axis", &[1], &[1]);
        let halves = [(0, t), (BLOCK, BLOCK + t)]
            .map(|(start, end)| (g.ints("span_start", &[1], &[start]), g.ints("span_end", &[1], &[end])));
        // [batch, blocks, SPAN, d]: the keys (values) of the padded positions each block's windows
        // cover: the block's own and the next block's.
        let spans = |g: &mut Graph, layer: &nn::Linear| {
            let y = g.linear(x, layer);
            let padded = g.op("Pad", &[&y, &pads], vec![]);
            let parts = halves.clone().map(|(start, end)| {
                let part = g.op("Slice", &[&padded, &start, &end, &time], vec![]);
                g.reshape(&part, &[0, blocks, BLOCK, d])
            });
            g.op("Concat", &[&parts[0], &parts[1]], vec![Attr::Int("axis", 2)])
        };
        let keys = spans(g, &self.key);
        let values = spans(g, &self.value);
        let query = g.linear(x, &self.query);
        let query = g.reshape(&query, &[0, blocks, BLOCK, d]);
        let keys_t = g.op("Transpose", &[&keys], vec![Attr::Ints("perm", vec![0, 1, 3, 2])]);
        let scores = g.op("MatMul", &[&query, &keys_t], vec![]);
        let scale = g.floats("scale", &[], &[(1.0 / (d as f64).sqrt()) as f32]);
        let scores = g.op("Mul", &[&scores, &scale], vec![]);
        let outside = g.floats("outside_window", &[BLOCK, SPAN], &outside_window());
        let scores = g.op("Add", &[&scores, &outside], vec![]);
        let weights = g.op("Softmax", &[&scores], vec![Attr::Int("axis", -1)]);
        let attended = g.op("MatMul", &[&weights, &values], vec![]);
        let attended = g.reshape(&attended, &[0, t, d]);
        // Word r of a block has its window at columns r..r+WINDOW of its row: with the rows
        // laid end to end and padded by BLOCK, rows of SPAN + 1 start at the windows.
        let flat = g.reshape(&weights, &[0, blocks, BLOCK * SPAN]);
        let skew = g.ints("skew_pads", &[6], &[0, 0, 0, 0, 0, BLOCK]);
        let flat = g.op("Pad", &[&flat, &skew], vec![]);
        let skewed = g.reshape(&flat, &[0, blocks, BLOCK, SPAN + 1]);
        let (start, end) = (g.ints("window_start", &[1], &[0]), g.ints("window_end", &[1], &[WINDOW]));
        let last = g.ints("column_axis", &[1], &[3]);
        let windows = g.op("Slice", &[&skewed, &start, &end, &last], vec![]);
        let weights = g.reshape(&windows, &[0, t, WINDOW]);
        (attended, weights)
    }
}

/// Words per block of the exported attention: `2 * RADIUS`, so that the padded positions a block's
/// windows cover are its own and the next block's (and it divides [`MAX_TOKENS_I64`]).
const BLOCK: i64 = 2 * RADIUS;
/// Padded positions that a block's windows cover.
const SPAN: i64 = BLOCK + 2 * RADIUS;

/// `[BLOCK, SPAN]`: 0 where a block's word `r` attends (columns `r..r + WINDOW` of
/// its block's span), and a large negative number, whose softmax weight is 0, elsewhere.
fn outside_window() -> Vec<f32> {
    (0..BLOCK).flat_map(|r| (0..SPAN).map(move |c| if (r..r + WINDOW).contains(&c) { 0.0 } else { -1e9 })).collect()
}
