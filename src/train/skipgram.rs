//! In-domain word vectors for the learned dimensions: skip-gram with negative sampling
//! (word2vec, Mikolov et al. 2013) over the reviews a model trains on, labeled and unlabeled, so
//! that the learned dimensions start from what these reviews say of a word instead of from zero.
//!
//! Only the words that get learned dimensions take part (see [`super::word_vectors`]); the
//! others keep zeros. The vectors are scaled so that their spread matches GloVe's.

use rand::{Rng, SeedableRng, rngs::StdRng, seq::SliceRandom};
use serde::{Deserialize, Serialize};
use tch::{Kind, Tensor, nn, nn::OptimizerConfig};

/// How the vectors are trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkipGramOptions {
    /// The widest context on each side; each centre word draws its width from 1 to this.
    pub window: usize,
    /// Negative samples per (word, context) pair, drawn from the unigram distribution to the 3/4.
    pub negatives: i64,
    /// Passes over the reviews.
    pub epochs: usize,
    /// Pairs per gradient step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Frequent words are kept with probability `sqrt(t / f) + t / f` for frequency `f`.
    pub subsample: f64,
    /// Seed of the sampling and initialisation.
    pub seed: u64,
}

impl Default for SkipGramOptions {
    fn default() -> Self {
        Self { window: 4, negatives: 5, epochs: 2, batch_size: 4096, learning_rate: 0.01, subsample: 1e-4, seed: 7 }
    }
}

/// Trains `dim`-wide vectors for the rows of a `[rows, dim]` table from the token `ids`
/// (`[n, 100]`, 0 for unknown and padding); only rows where `learnable` (`[rows]`, 0/1) is 1 take
/// part, and those that never occur and all others stay zero. Returns the table scaled so that its values' standard deviation
/// is `scale`.
pub fn train(ids: &Tensor, learnable: &Tensor, dim: i64, scale: f64, options: &SkipGramOptions) -> Tensor {
    let rows = learnable.size()[0];
    let learnable: Vec<bool> =
        Vec::<u8>::try_from(learnable.to_kind(Kind::Uint8)).expect("0/1 mask").into_iter().map(|l| l == 1).collect();
    let reviews = Vec::<i64>::try_from(ids.flatten(0, -1)).expect("int64 ids");
    let reviews: Vec<Vec<u32>> = reviews
        .chunks(crate::text::MAX_TOKENS)
        .map(|row| row.iter().filter(|&&id| learnable[id as usize]).map(|&id| id as u32).collect())
        .collect();
    let mut counts = vec![0f64; rows as usize];
    for &id in reviews.iter().flatten() {
        counts[id as usize] += 1.0;
    }
    let total: f64 = counts.iter().sum();
    let keep: Vec<f64> = counts
        .iter()
        .map(|&c| {
            let ratio = options.subsample * total / c.max(1.0);
            (ratio.sqrt() + ratio).min(1.0)
        })
        .collect();
    let noise = Tensor::from_slice(&counts.iter().map(|c| c.powf(0.75) as f32).collect::<Vec<_>>());

    tch::manual_seed(options.seed as i64);
    let mut rng = StdRng::seed_from_u64(options.seed);
    let vs = nn::VarStore::new(tch::Device::Cpu);
    let bound = 0.5 / dim as f64;
    let input = vs.root().var("input", &[rows, dim], nn::Init::Uniform { lo: -bound, up: bound });
    let output = vs.root().zeros("output", &[rows, dim]);
    let mut optimizer = nn::Adam::default().build(&vs, options.learning_rate).expect("an optimizer");
    for epoch in 1..=options.epochs {
        let mut pairs = Vec::new();
        for review in &reviews {
            let kept: Vec<u32> = review.iter().copied().filter(|&id| rng.random::<f64>() < keep[id as usize]).collect();
            for (i, &centre) in kept.iter().enumerate() {
                let width = rng.random_range(1..=options.window);
                let (first, last) = (i.saturating_sub(width), (i + width).min(kept.len() - 1));
                pairs.extend((first..=last).filter(|&j| j != i).map(|j| (centre, kept[j])));
            }
        }
        pairs.shuffle(&mut rng);
        let mut total_loss = 0.0;
        for batch in pairs.chunks(options.batch_size) {
            let n = batch.len() as i64;
            let centres = Tensor::from_slice(&batch.iter().map(|p| i64::from(p.0)).collect::<Vec<_>>());
            let contexts = Tensor::from_slice(&batch.iter().map(|p| i64::from(p.1)).collect::<Vec<_>>());
            let negatives = noise.multinomial(n * options.negatives, true).view([n, options.negatives]);
            let u = input.index_select(0, &centres);
            let positive = (&u * output.index_select(0, &contexts)).sum_dim_intlist(-1, false, Kind::Float);
            let sampled = output.index_select(0, &negatives.flatten(0, -1)).view([n, options.negatives, dim]);
            let negative = sampled.matmul(&u.unsqueeze(-1)).squeeze_dim(-1);
            let loss = negative_sampling_loss(&positive, &negative);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            total_loss += loss.double_value(&[]) * n as f64;
        }
        tracing::info!(epoch, pairs = pairs.len(), loss = total_loss / pairs.len().max(1) as f64, "skip-gram epoch");
    }
    // Rows never seen keep zeros, like the words that are not learnable.
    let seen: Vec<f32> = counts.iter().map(|&c| f32::from(u8::from(c > 0.0))).collect();
    let learned_rows = seen.iter().sum::<f32>().max(1.0) as f64;
    let vectors = input.detach() * Tensor::from_slice(&seen).view([-1, 1]);
    let spread = (vectors.square().sum(Kind::Float).double_value(&[]) / (learned_rows * dim as f64)).sqrt();
    vectors * (scale / spread.max(f64::MIN_POSITIVE))
}

/// Negative sampling's loss (Mikolov et al. 2013), `-(ln σ(p) + Σ ln σ(-n))` averaged over the
/// pairs: `positive` `[pairs]` scores each true pair, `negative` `[pairs, k]` its pairs with words
/// drawn at random.
pub fn negative_sampling_loss(positive: &Tensor, negative: &Tensor) -> Tensor {
    -(positive.log_sigmoid().mean(Kind::Float)
        + (-negative).log_sigmoid().sum_dim_intlist(-1, false, Kind::Float).mean(Kind::Float))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_in_the_same_contexts_end_up_close_and_others_stay_zero() {
        // Words 1 and 2 always stand between 3 and 4; words 5 and 6 between 7 and 8.
        let mut rows = Vec::new();
        for i in 0..400 {
            let (a, b) = if i % 2 == 0 { (1, 2) } else { (2, 1) };
            rows.extend([3, a, 4, 7, 5 + (i % 2), 8, 3, b, 4]);
            rows.extend(std::iter::repeat_n(0, crate::text::MAX_TOKENS - 9));
        }
        let ids = Tensor::from_slice(&rows).view([400, crate::text::MAX_TOKENS as i64]);
        let learnable = Tensor::from_slice(&[0u8, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
        let options = SkipGramOptions { subsample: 1.0, epochs: 30, window: 1, batch_size: 256, ..Default::default() };
        let vectors = train(&ids, &learnable, 4, 1.0, &options);
        let cosine = |a: i64, b: i64| {
            let (x, y) = (vectors.get(a), vectors.get(b));
            (&x * &y).sum(Kind::Float).double_value(&[]) / (x.norm().double_value(&[]) * y.norm().double_value(&[]))
        };
        assert!(cosine(1, 2) > cosine(1, 5), "{} vs {}", cosine(1, 2), cosine(1, 5));
        assert_eq!(vectors.get(9).abs().sum(Kind::Float).double_value(&[]), 0.0, "an unseen word stays zero");
        assert_eq!(vectors.get(0).abs().sum(Kind::Float).double_value(&[]), 0.0, "padding stays zero");
    }
}
