//! The exercise's recurrent models: an Elman RNN or a GRU reads the words in order, and an MLP
//! turns what it read into the two-class logits: the hidden state after the review's last word
//! (the exercise's readout) or the mean of its states over all the words.
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
}

/// A one-layer recurrent network with an MLP head on its last state or on the mean of its states.
#[derive(Debug)]
pub struct Recurrent {
    cell: Cell,
    readout: Readout,
    hidden: i64,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    head: Mlp,
}

impl Recurrent {
    /// A network reading `input`-wide word vectors into a `hidden`-wide state, read out by `readout`.
    pub fn new(vs: &nn::Path, cell: Cell, readout: Readout, input: i64, hidden: i64, dropout: f64) -> Self {
        let g = cell.gates() * hidden;
        let bound = 1.0 / (hidden as f64).sqrt();
        let init = nn::Init::Uniform { lo: -bound, up: bound };
        Self {
            cell,
            readout,
            hidden,
            w_ih: vs.var("weight_ih", &[g, input], init),
            w_hh: vs.var("weight_hh", &[g, hidden], init),
            b_ih: vs.var("bias_ih", &[g], init),
            b_hh: vs.var("bias_hh", &[g], init),
            head: Mlp::new(&(vs / "head"), hidden, hidden, 2, dropout),
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
}

impl Net for Recurrent {
    fn forward(&self, x: &Tensor, lengths: &Tensor, mask: &Tensor, train: bool) -> NetOutput {
        let batch = x.size()[0];
        let h0 = Tensor::zeros([1, batch, self.hidden], (Kind::Float, x.device()));
        let params = [&self.w_ih, &self.w_hh, &self.b_ih, &self.b_hh];
        let (states, _) = match self.cell {
            Cell::Elman => x.rnn_tanh(&h0, &params, true, 1, 0.0, train, false, true),
            Cell::Gru => x.gru(&h0, &params, true, 1, 0.0, train, false, true),
        };
        // What the head reads after each prefix of the review.
        let read = match self.readout {
            Readout::Last => states,
            Readout::Mean => {
                let steps = states.size()[1];
                let counts = Tensor::arange_start(1, steps + 1, (Kind::Float, x.device())).view([1, steps, 1]);
                states.cumsum(1, Kind::Float) / counts
            }
        };
        // The review's: after its last word (an empty review reads one zero vector).
        let last = (lengths.clamp_min(1) - 1).view([batch, 1, 1]).expand([batch, 1, self.hidden], false);
        let final_read = read.gather(1, &last, false).squeeze_dim(1);
        let logit = positive_logit(&self.head.forward(&final_read, train));
        let token_scores = positive_logit(&self.head.forward(&read, false)) * mask;
        NetOutput { logit, token_scores, token_weights: None, attention: None }
    }

    fn export(&self, g: &mut Graph, x: &str, lengths: &str, mask: &str) -> NetOutput<String> {
        let h = self.hidden;
        let time_major = g.op("Transpose", &[x], vec![Attr::Ints("perm", vec![1, 0, 2])]);
        let one = g.ints("one", &[], &[1]);
        let at_least_one = g.op("Max", &[lengths, &one], vec![]);
        let sequence_lens = g.op("Cast", &[&at_least_one], vec![Attr::Int("to", DataType::INT32 as i64)]);
        let w = g.weight("w", &self.onnx_gate_order(&self.w_ih).unsqueeze(0));
        let r = g.weight("r", &self.onnx_gate_order(&self.w_hh).unsqueeze(0));
        let b = g.weight(
            "b",
            &Tensor::cat(&[self.onnx_gate_order(&self.b_ih), self.onnx_gate_order(&self.b_hh)], 0).unsqueeze(0),
        );
        let mut attrs = vec![Attr::Int("hidden_size", h)];
        let op = match self.cell {
            Cell::Elman => "RNN",
            Cell::Gru => {
                attrs.push(Attr::Int("linear_before_reset", 1));
                "GRU"
            }
        };
        let outputs = g.op_n(op, &[&time_major, &w, &r, &b, &sequence_lens], 2, attrs);
        let (all_states, final_state) = (&outputs[0], &outputs[1]);
        // Y is [time, 1, batch, hidden].
        let states = g.reshape(all_states, &[super::MAX_TOKENS_I64, -1, h]);
        let states = g.op("Transpose", &[&states], vec![Attr::Ints("perm", vec![1, 0, 2])]);
        let (read, final_read) = match self.readout {
            Readout::Last => (states, g.reshape(final_state, &[-1, h])),
            Readout::Mean => {
                let axis = g.ints("time_axis", &[], &[1]);
                let sums = g.op("CumSum", &[&states, &axis], vec![]);
                let steps = super::MAX_TOKENS_I64;
                let counts: Vec<f32> = (1..=steps).map(|n| n as f32).collect();
                let counts = g.floats("prefix_lengths", &[1, steps, 1], &counts);
                let means = g.op("Div", &[&sums, &counts], vec![]);
                // The mean after the last word (the first for an empty review), picked by a one-hot
                // over positions.
                let positions = g.ints("positions", &[1, steps], &(0..steps).collect::<Vec<_>>());
                let last = g.op("Sub", &[&at_least_one, &one], vec![]);
                let last = g.reshape(&last, &[-1, 1]);
                let is_last = g.op("Equal", &[&positions, &last], vec![]);
                let is_last = g.op("Cast", &[&is_last], vec![Attr::Int("to", DataType::FLOAT as i64)]);
                let is_last = g.reshape(&is_last, &[-1, steps, 1]);
                let picked = g.op("Mul", &[&means, &is_last], vec![]);
                let time = g.ints("time_axes", &[1], &[1]);
                let final_read = g.op("ReduceSum", &[&picked, &time], vec![Attr::Int("keepdims", 0)]);
                (means, final_read)
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
