//! Pretraining a recurrent model as a language model (Dai & Le 2015, "Semi-supervised Sequence
//! Learning"): before it learns sentiment, the network reads the training and unlabeled reviews
//! and learns, from its state after each word, to tell the next word from words drawn at random
//! (negative sampling, as word2vec does). Its recurrent weights and learned word dimensions then
//! start the sentiment training already holding what a review has said so far.
//!
//! The output vectors that score the next word are thrown away afterwards: the model that is
//! exported has exactly the architecture it had without pretraining.

use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor, nn, nn::OptimizerConfig};

use super::net::SentimentNet;
use super::skipgram::negative_sampling_loss;
use super::trainer::Examples;
use crate::vocab::UNKNOWN_ID;

/// How the language model is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PretrainOptions {
    /// Passes over the reviews.
    pub epochs: usize,
    /// Words drawn at random per next word, from the unigram distribution to the 3/4.
    pub negatives: i64,
    /// Reviews per gradient step.
    pub batch_size: i64,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Largest L2 norm of the network's gradient (0: no clipping).
    pub clip_norm: f64,
}

impl Default for PretrainOptions {
    fn default() -> Self {
        Self { epochs: 2, negatives: 5, batch_size: 64, learning_rate: 1e-3, clip_norm: 1.0 }
    }
}

/// Trains `net` (whose variables live in `vs`) to predict each next word of `examples`' reviews
/// from its recurrent state; returns each epoch's mean loss. Only the words GloVe knows are
/// predicted (an unknown word, id 0, is neither a target nor drawn).
pub fn pretrain(
    net: &SentimentNet,
    vs: &nn::VarStore,
    examples: &Examples,
    options: &PretrainOptions,
) -> anyhow::Result<Vec<f64>> {
    let ids = &examples.ids;
    let rows = net.word_vectors().rows();
    let counts = ids.flatten(0, -1).bincount::<Tensor>(None, rows).to_kind(Kind::Float);
    let _ = counts.get(UNKNOWN_ID).fill_(0.0);
    anyhow::ensure!(counts.sum(Kind::Float).double_value(&[]) > 0.0, "the reviews hold no known word to predict");
    let noise = counts.pow_tensor_scalar(0.75);

    let head_vs = nn::VarStore::new(tch::Device::Cpu);
    let hidden = net
        .state_width()
        .ok_or_else(|| anyhow::anyhow!("only a recurrent model (rnn, gru) can be pretrained as a language model"))?;
    let output = head_vs.root().zeros("output", &[rows, hidden]);
    let bias = head_vs.root().zeros("bias", &[rows]);
    let mut optimizer = nn::Adam::default().build(vs, options.learning_rate)?;
    let mut head_optimizer = nn::Adam::default().build(&head_vs, options.learning_rate)?;
    let steps = ids.size()[1];
    let mut losses = Vec::new();
    for epoch in 1..=options.epochs {
        let order = Tensor::randperm(examples.len(), (Kind::Int64, tch::Device::Cpu));
        let (mut total, mut batches) = (0.0, 0);
        for start in (0..examples.len()).step_by(options.batch_size as usize) {
            let n = options.batch_size.min(examples.len() - start);
            let batch = examples.rows(&order.narrow(0, start, n));
            let states = net.states(&batch.ids, true).expect("a recurrent model has states");
            // The state after word t predicts word t + 1, where that is a known word of the review.
            let next = batch.ids.narrow(1, 1, steps - 1);
            let positions = Tensor::arange_start(1, steps, (Kind::Int64, tch::Device::Cpu)).unsqueeze(0);
            let predicted = positions.lt_tensor(&batch.lengths.unsqueeze(1)).logical_and(&next.ne(UNKNOWN_ID));
            let at = predicted.flatten(0, -1).nonzero().squeeze_dim(1);
            let m = at.size()[0];
            if m == 0 {
                continue;
            }
            let h = states.narrow(1, 0, steps - 1).reshape([-1, hidden]).index_select(0, &at);
            let words = next.flatten(0, -1).index_select(0, &at);
            let drawn = noise.multinomial(m * options.negatives, true);
            let positive = (&h * output.index_select(0, &words)).sum_dim_intlist(-1, false, Kind::Float)
                + bias.index_select(0, &words);
            let negative = output
                .index_select(0, &drawn)
                .view([m, options.negatives, hidden])
                .matmul(&h.unsqueeze(-1))
                .squeeze_dim(-1)
                + bias.index_select(0, &drawn).view([m, options.negatives]);
            let loss = negative_sampling_loss(&positive, &negative);
            optimizer.zero_grad();
            head_optimizer.zero_grad();
            loss.backward();
            if options.clip_norm > 0.0 {
                optimizer.clip_grad_norm(options.clip_norm);
            }
            optimizer.step();
            head_optimizer.step();
            total += loss.double_value(&[]);
            batches += 1;
        }
        let loss = total / f64::from(batches.max(1));
        tracing::info!(epoch, loss, "language-model epoch");
        losses.push(loss);
    }
    Ok(losses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::net::{Architecture, Shape};
    use crate::vocab::Vocabulary;

    #[test]
    fn the_next_word_becomes_predictable_and_only_recurrent_models_pretrain() {
        // Each word is always followed by the same word, and of 16 words a drawn negative is
        // rarely the next one: a language model learns to tell it (with 4 words a quarter of the
        // negatives would be the next word itself, and the loss could not halve).
        let words = [
            "good", "film", "bad", "plot", "great", "acting", "weak", "script", "fine", "music", "dull", "story",
            "nice", "cast", "poor", "ending",
        ];
        let vocab = Vocabulary::from_words(words.map(String::from).to_vec()).unwrap();
        let texts: Vec<String> = (0..64)
            .map(|i| (0..words.len()).map(|j| words[(i + j) % words.len()]).collect::<Vec<_>>().join(" "))
            .collect();
        let examples = Examples::soft(&vocab, &texts, &vec![0.5; texts.len()], 1);
        let glove = Tensor::randn([words.len() as i64 + 1, 3], (Kind::Float, tch::Device::Cpu));
        let _ = glove.get(0).fill_(0.0);
        let learnable = Tensor::ones([words.len() as i64 + 1], (Kind::Uint8, tch::Device::Cpu));
        tch::manual_seed(1);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let net = SentimentNet::new(&vs.root(), &glove, &learnable, None, Shape::small(Architecture::Gru));
        let before = vs.trainable_variables().iter().map(|t| t.detach().copy()).collect::<Vec<_>>();
        let options = PretrainOptions { epochs: 30, batch_size: 16, learning_rate: 0.01, ..PretrainOptions::default() };
        let losses = pretrain(&net, &vs, &examples, &options).unwrap();
        assert!(losses[29] < losses[0] / 2.0, "{losses:?}");
        let changed = vs
            .trainable_variables()
            .iter()
            .zip(&before)
            .filter(|(now, was)| !now.allclose(was, 0.0, 0.0, false))
            .count();
        assert!(changed > 0, "the network's own weights learned");

        let vs = nn::VarStore::new(tch::Device::Cpu);
        let mlp = SentimentNet::new(&vs.root(), &glove, &learnable, None, Shape::small(Architecture::Mlp));
        let error = pretrain(&mlp, &vs, &examples, &options).unwrap_err().to_string();
        assert!(error.contains("only a recurrent model"), "{error}");
    }
}
