//! The models' first layer: frozen GloVe vectors, optionally concatenated with small word vectors
//! learned from the training reviews.

use tch::{Kind, Tensor, nn};

use super::onnx::Graph;

/// File name of the shared GloVe table in `models/`, referenced by every exported model.
pub const GLOVE_FILE: &str = "glove.f32";

/// Word vectors of a model: `[ids] -> [batch, tokens, dim]`.
#[derive(Debug)]
pub struct WordVectors {
    glove: Tensor,
    learned: Option<Tensor>,
    learnable: Tensor,
}

impl WordVectors {
    /// `glove` is the frozen `[vocab + 1, 50]` table (row 0 zero); `learned_dim > 0` adds that
    /// many trainable dimensions per word, starting at `start` (`[vocab + 1, learned_dim]`, as
    /// [`super::skipgram::train`] makes) or else at zero. Only the words where `learnable`
    /// (`[vocab + 1]`, 0 or 1) is 1 ever leave zero, so rare words cannot be memorised.
    pub fn new(vs: &nn::Path, glove: &Tensor, learned_dim: i64, learnable: &Tensor, start: Option<&Tensor>) -> Self {
        let learned = (learned_dim > 0).then(|| match start {
            Some(start) => vs.var_copy("learned_word_vectors", start),
            None => vs.zeros("learned_word_vectors", &[glove.size()[0], learned_dim]),
        });
        Self { glove: glove.shallow_clone(), learned, learnable: learnable.to_kind(Kind::Float).view([-1, 1]) }
    }

    /// Width of a word's vector.
    pub fn dim(&self) -> i64 {
        self.glove.size()[1] + self.learned.as_ref().map_or(0, |l| l.size()[1])
    }

    /// Number of ids, the vocabulary and the padding/unknown row 0.
    pub fn rows(&self) -> i64 {
        self.glove.size()[0]
    }

    /// Looks up `ids` (`[batch, tokens]`, int64).
    pub fn forward(&self, ids: &Tensor) -> Tensor {
        let glove = Tensor::embedding(&self.glove, ids, 0, false, false);
        match &self.learned {
            Some(learned) => {
                // Rows that are not learnable get no gradient, so they stay zero, as exported.
                let learnable = Tensor::embedding(&self.learnable, ids, 0, false, false);
                Tensor::cat(&[glove, Tensor::embedding(learned, ids, 0, false, false) * learnable], 2)
            }
            None => glove,
        }
    }

    /// Every id's vector, `[vocab + 1, dim]`, without gradients.
    pub fn table(&self) -> Tensor {
        let _no_grad = tch::no_grad_guard();
        let ids = Tensor::arange(self.rows(), (Kind::Int64, self.glove.device())).unsqueeze(0);
        self.forward(&ids).squeeze_dim(0)
    }

    /// Writes the lookup into `g`: GloVe from the shared external file, learned vectors inline.
    pub fn export(&self, g: &mut Graph, ids: &str) -> String {
        let [rows, dim] = self.glove.size()[..] else { unreachable!("the table is 2-D") };
        let bytes = (rows * dim) as u64 * 4;
        let table = g.external_floats("glove", &[rows, dim], GLOVE_FILE, 0, bytes);
        let glove = g.op("Gather", &[&table, ids], vec![]);
        match &self.learned {
            Some(learned) => {
                let table = g.weight("learned_word_vectors", learned);
                let learned = g.op("Gather", &[&table, ids], vec![]);
                g.op("Concat", &[&glove, &learned], vec![super::onnx::Attr::Int("axis", 2)])
            }
            None => glove,
        }
    }

    /// Number of trainable values (the frozen GloVe table is not counted).
    pub fn trainable_parameters(&self) -> i64 {
        self.learned.as_ref().map_or(0, |l| l.numel() as i64)
    }

    /// The frozen table as raw little-endian bytes, the content of [`GLOVE_FILE`].
    pub fn glove_bytes(&self) -> Vec<u8> {
        let values = Vec::<f32>::try_from(self.glove.to_kind(Kind::Float).flatten(0, -1)).expect("float table");
        values.iter().flat_map(|v| v.to_le_bytes()).collect()
    }
}
