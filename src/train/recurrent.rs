//! The exercise's recurrent models: an Elman RNN or a GRU reads the words in order, and an MLP
//! turns the hidden state after the review's last word into the two-class logits.
//!
//! The recurrence stops at each review's true length: the state read out is the one after its
//! last word, never one that has stepped over padding.

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

/// A one-layer recurrent network with an MLP head on its last state.
#[derive(Debug)]
pub struct Recurrent {
    cell: Cell,
    hidden: i64,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    head: Mlp,
}

impl Recurrent {
    /// A network reading `input`-wide word vectors into a `hidden`-wide state.
    pub fn new(vs: &nn::Path, cell: Cell, input: i64, hidden: i64, dropout: f64) -> Self {
        let g = cell.gates() * hidden;
        let bound = 1.0 / (hidden as f64).sqrt();
        let init = nn::Init::Uniform { lo: -bound, up: bound };
        Self {
            cell,
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
        // The state after each review's last word (an empty review reads one zero vector).
        let last = (lengths.clamp_min(1) - 1).view([batch, 1, 1]).expand([batch, 1, self.hidden], false);
        let final_state = states.gather(1, &last, false).squeeze_dim(1);
        let logit = positive_logit(&self.head.forward(&final_state, train));
        // What the head says after each prefix of the review.
        let token_scores = positive_logit(&self.head.forward(&states, false)) * mask;
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
        let final_state = g.reshape(final_state, &[-1, h]);
        let head = self.head.export(g, &final_state);
        let logit = export_positive_logit(g, &head);
        // Y is [time, 1, batch, hidden], zero past each length.
        let states = g.reshape(all_states, &[super::MAX_TOKENS_I64, -1, h]);
        let states = g.op("Transpose", &[&states], vec![Attr::Ints("perm", vec![1, 0, 2])]);
        let head = self.head.export(g, &states);
        let prefix = export_positive_logit(g, &head);
        let token_scores = g.op("Mul", &[&prefix, mask], vec![]);
        NetOutput { logit, token_scores, token_weights: None, attention: None }
    }
}
