//! The exercise's recurrent models: an Elman RNN or a GRU reads the words in order, and an MLP
//! turns what it read into the two-class logits: the hidden state after the review's last word
//! (the exercise's readout), or the mean or the element-wise maximum of its states over all the
//! words.
//!
//! The recurrence stops at each review's true length: what is read out never includes a state
//! that has stepped over padding.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor, nn};

use super::mlp::{Mlp, export_positive_logit, positive_logit};
use super::net::{Net, NetOutput};
use super::onnx::{Attr, Graph};
use onnx_protobuf::tensor_proto::DataType;

/// Which recurrent cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// `h' = tanh(W x + U h + b)`.
    Elman,
    /// The gated recurrent unit, PyTorch's formulation (reset gate applied after `U h`).
    Gru,
}

impl Cell {
    fn gates(self) -> i64 {
        match self {
            Cell::Elman => 1,
            Cell::Gru => 3,
        }
    }
}

/// What the MLP head of a recurrent model reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum Readout {
    /// The state after the last word, as in the exercise.
    #[default]
    Last,
    /// The mean of the states after each word: every word's state has a direct path to the
    /// output, so early words are not forgotten.
    Mean,
    /// The element-wise maximum of the states after each word: each unit reports the strongest
    /// evidence it saw anywhere in the review.
    Max,
}

/// One direction's weights of a recurrent layer, in PyTorch's layout.
#[derive(Debug)]
struct Weights {
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
}

impl Weights {
    fn new(vs: &nn::Path, gates: i64, input: i64, hidden: i64) -> Self {
        let bound = 1.0 / (hidden as f64).sqrt();
        let init = nn::Init::Uniform { lo: -bound, up: bound };
        Self {
            w_ih: vs.var("weight_ih", &[gates, input], init),
            w_hh: vs.var("weight_hh", &[gates, hidden], init),
            b_ih: vs.var("bias_ih", &[gates], init),
            b_hh: vs.var("bias_hh", &[gates], init),
        }
    }

    /// The states after each step of `x` `[batch, time, input]`, from a zero state.
    fn run(&self, cell: Cell, x: &Tensor, hidden: i64, train: bool) -> Tensor {
        let h0 = Tensor::zeros([1, x.size()[0], hidden], (Kind::Float, x.device()));
        let params = [&self.w_ih, &self.w_hh, &self.b_ih, &self.b_hh];
        let (states, _) = match cell {
            Cell::Elman => x.rnn_tanh(&h0, &params, true, 1, 0.0, train, false, true),
            Cell::Gru => x.gru(&h0, &params, true, 1, 0.0, train, false, true),
        };
        states
    }
}

/// A one-layer recurrent network with an MLP head on its last state or on the mean of its states.
/// A bidirectional one also reads each review from its last word back to its first, and the head
/// reads both directions' states side by side.
#[derive(Debug)]
pub struct Recurrent {
    cell: Cell,
    readout: Readout,
    hidden: i64,
    forward: Weights,
    backward: Option<Weights>,
    head: Mlp,
}

impl Recurrent {
    /// A network reading `input`-wide word vectors into a `hidden`-wide state (per direction), in
    /// both directions when `bidirectional`, read out by `readout`.
    pub fn new(
        vs: &nn::Path,
        cell: Cell,
        readout: Readout,
        bidirectional: bool,
        input: i64,
        hidden: i64,
        dropout: f64,
    ) -> Self {
        let gates = cell.gates() * hidden;
        let directions = if bidirectional { 2 } else { 1 };
        Self {
            cell,
            readout,
            hidden,
            forward: Weights::new(vs, gates, input, hidden),
            backward: bidirectional.then(|| Weights::new(&(vs / "backward"), gates, input, hidden)),
            head: Mlp::new(&(vs / "head"), directions * hidden, hidden, 2, dropout),
        }
    }

    /// PyTorch orders GRU gates (r, z, n); ONNX wants (z, r, h).
    fn onnx_gate_order(&self, t: &Tensor) -> Tensor {
        match self.cell {
            Cell::Elman => t.shallow_clone(),
            Cell::Gru => {
                let h = self.hidden;
                Tensor::cat(&[t.narrow(0, h, h), t.narrow(0, 0, h), t.narrow(0, 2 * h, h)], 0)
            }
        }
    }

    /// The ONNX `W`, `R` and `B` inputs: one row per direction.
    fn onnx_weights(&self) -> (Tensor, Tensor, Tensor) {
        let directions: Vec<&Weights> = std::iter::once(&self.forward).chain(self.backward.as_ref()).collect();
        let stack = |part: &dyn Fn(&Weights) -> Tensor| {
            Tensor::stack(&directions.iter().map(|d| part(d)).collect::<Vec<_>>(), 0)
        };
        (
            stack(&|d| self.onnx_gate_order(&d.w_ih)),
            stack(&|d| self.onnx_gate_order(&d.w_hh)),
            stack(&|d| Tensor::cat(&[self.onnx_gate_order(&d.b_ih), self.onnx_gate_order(&d.b_hh)], 0)),
        )
    }
}

/// For each review, the positions of its words in reverse order, then its padding in place:
/// `[batch, time]`, its own inverse. An empty review counts as one word, as in the export.
fn reversed_within_length(lengths: &Tensor, steps: i64) -> Tensor {
    let positions = Tensor::arange(steps, (Kind::Int64, lengths.device())).unsqueeze(0);
    let last = (lengths.clamp_min(1) - 1).unsqueeze(1);
    let reversed = &last - &positions;
    reversed.where_self(&positions.le_tensor(&last), &positions)
}

/// `x` `[batch, time, width]` with each row's time steps taken in the order of `order`.
fn take_steps(x: &Tensor, order: &Tensor) -> Tensor {
    let [batch, steps, width] = x.size()[..] else { unreachable!("states are 3-D") };
    x.gather(1, &order.unsqueeze(2).expand([batch, steps, width], false), false)
}

impl Net for Recurrent {
    fn states(&self, x: &Tensor, train: bool) -> Option<Tensor> {
        Some(self.forward.run(self.cell, x, self.hidden, train))
    }

    fn state_width(&self) -> Option<i64> {
        Some(self.hidden)
    }

    fn forward(&self, x: &Tensor, lengths: &Tensor, mask: &Tensor, train: bool) -> NetOutput {
        let batch = x.size()[0];
        let steps = x.size()[1];
        let forward = self.forward.run(self.cell, x, self.hidden, train);
        // The backward direction reads each review's words from its last to its first: the words
        // are reversed within the review's length, read forward, and the states put back in
        // place, so that position t holds the state after reading the words from the last to t.
        let backward = self.backward.as_ref().map(|weights| {
            let order = reversed_within_length(lengths, steps);
            take_steps(&weights.run(self.cell, &take_steps(x, &order), self.hidden, train), &order)
        });
        let states = match &backward {
            Some(backward) => Tensor::cat(&[&forward, backward], 2),
            None => forward.shallow_clone(),
        };
        let width = states.size()[2];
        // What the head reads after each prefix of the review.
        let read = match self.readout {
            Readout::Last => states,
            Readout::Mean => {
                let counts = Tensor::arange_start(1, steps + 1, (Kind::Float, x.device())).view([1, steps, 1]);
                states.cumsum(1, Kind::Float) / counts
            }
            Readout::Max => states.cummax(1).0,
        };
        // The review's: after its last word (an empty review reads one zero vector). With the
        // last-state readout, the backward direction's last state is the one at the first word.
        let last = (lengths.clamp_min(1) - 1).view([batch, 1, 1]).expand([batch, 1, width], false);
        let final_read = read.gather(1, &last, false).squeeze_dim(1);
        let final_read = match (&backward, self.readout) {
            (Some(backward), Readout::Last) => {
                Tensor::cat(&[final_read.narrow(1, 0, self.hidden), backward.select(1, 0)], 1)
            }
            _ => final_read,
        };
        let logit = positive_logit(&self.head.forward(&final_read, train));
        let token_scores = positive_logit(&self.head.forward(&read, false)) * mask;
        NetOutput { logit, token_scores, token_weights: None, attention: None }
    }

    fn export(&self, g: &mut Graph, x: &str, lengths: &str, mask: &str) -> NetOutput<String> {
        let h = self.hidden;
        let directions = if self.backward.is_some() { 2 } else { 1 };
        let width = directions * h;
        let time_major = g.op("Transpose", &[x], vec![Attr::Ints("perm", vec![1, 0, 2])]);
        let one = g.ints("one", &[], &[1]);
        let at_least_one = g.op("Max", &[lengths, &one], vec![]);
        let sequence_lens = g.op("Cast", &[&at_least_one], vec![Attr::Int("to", DataType::INT32 as i64)]);
        let (w, r, b) = self.onnx_weights();
        let (w, r, b) = (g.weight("w", &w), g.weight("r", &r), g.weight("b", &b));
        let mut attrs = vec![Attr::Int("hidden_size", h)];
        if directions == 2 {
            attrs.push(Attr::Str("direction", "bidirectional"));
        }
        let op = match self.cell {
            Cell::Elman => "RNN",
            Cell::Gru => {
                attrs.push(Attr::Int("linear_before_reset", 1));
                "GRU"
            }
        };
        let outputs = g.op_n(op, &[&time_major, &w, &r, &b, &sequence_lens], 2, attrs);
        let (all_states, final_state) = (&outputs[0], &outputs[1]);
        // Y is [time, directions, batch, hidden]; the head reads [batch, time, directions * hidden].
        let states = g.op("Transpose", &[all_states], vec![Attr::Ints("perm", vec![2, 0, 1, 3])]);
        let states = g.reshape(&states, &[-1, super::MAX_TOKENS_I64, width]);
        let (read, final_read) = match self.readout {
            // Y_h is [directions, batch, hidden]: each direction's state after its last step.
            Readout::Last => {
                let last = g.op("Transpose", &[final_state], vec![Attr::Ints("perm", vec![1, 0, 2])]);
                (states, g.reshape(&last, &[-1, width]))
            }
            Readout::Mean => {
                let axis = g.ints("time_axis", &[], &[1]);
                let sums = g.op("CumSum", &[&states, &axis], vec![]);
                let counts: Vec<f32> = (1..=super::MAX_TOKENS_I64).map(|n| n as f32).collect();
                let counts = g.floats("prefix_lengths", &[1, super::MAX_TOKENS_I64, 1], &counts);
                let means = g.op("Div", &[&sums, &counts], vec![]);
                let final_read = export_at_last_word(g, &means, &at_least_one, &one);
                (means, final_read)
            }
            Readout::Max => {
                let maxima = export_prefix_max(g, &states);
                let final_read = export_at_last_word(g, &maxima, &at_least_one, &one);
                (maxima, final_read)
            }
        };
        let head = self.head.export(g, &final_read);
        let logit = export_positive_logit(g, &head);
        let head = self.head.export(g, &read);
        let prefix = export_positive_logit(g, &head);
        let token_scores = g.op("Mul", &[&prefix, mask], vec![]);
        NetOutput { logit, token_scores, token_weights: None, attention: None }
    }
}

/// Each review's row of `per_step` `[batch, time, width]` after its last word (the first for an
/// empty review; `at_least_one` is the lengths raised to 1), picked by a one-hot over positions.
fn export_at_last_word(g: &mut Graph, per_step: &str, at_least_one: &str, one: &str) -> String {
    let steps = super::MAX_TOKENS_I64;
    let positions = g.ints("positions", &[1, steps], &(0..steps).collect::<Vec<_>>());
    let last = g.op("Sub", &[at_least_one, one], vec![]);
    let last = g.reshape(&last, &[-1, 1]);
    let is_last = g.op("Equal", &[&positions, &last], vec![]);
    let is_last = g.op("Cast", &[&is_last], vec![Attr::Int("to", DataType::FLOAT as i64)]);
    let is_last = g.reshape(&is_last, &[-1, steps, 1]);
    let picked = g.op("Mul", &[per_step, &is_last], vec![]);
    let time = g.ints("time_axes", &[1], &[1]);
    g.op("ReduceSum", &[&picked, &time], vec![Attr::Int("keepdims", 0)])
}

/// The running element-wise maximum of `states` `[batch, time, width]` along time (ONNX has no
/// cumulative maximum): after the round with shift `k`, each position holds the maximum of the
/// `2k` positions ending there, so shifts 1, 2, 4, … 64 cover all 100.
fn export_prefix_max(g: &mut Graph, states: &str) -> String {
    let steps = super::MAX_TOKENS_I64;
    let floor = g.floats("minus_infinity", &[], &[f32::NEG_INFINITY]);
    let axis = g.ints("prefix_axis", &[1], &[1]);
    let start = g.ints("prefix_start", &[1], &[0]);
    let mut maxima = states.to_owned();
    let mut shift = 1;
    while shift < steps {
        // The maxima `shift` positions earlier: the first `steps - shift` moved right, -inf before.
        let end = g.ints(&format!("prefix_end_{shift}"), &[1], &[steps - shift]);
        let kept = g.op("Slice", &[&maxima, &start, &end, &axis], vec![]);
        let pads = g.ints(&format!("prefix_pads_{shift}"), &[6], &[0, shift, 0, 0, 0, 0]);
        let earlier = g.op("Pad", &[&kept, &pads, &floor], vec![]);
        maxima = g.op("Max", &[&maxima, &earlier], vec![]);
        shift *= 2;
    }
    maxima
}
