//! The training loop: Adam on binary cross-entropy against hard labels or a teacher's soft
//! targets (or squared error against the teacher's logits), with gradient clipping, a per-epoch
//! learning-rate decay, and early stopping that keeps the weights of the best validation epoch.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor, nn, nn::OptimizerConfig};

use rayon::prelude::*;

use super::net::SentimentNet;
use crate::data::LabeledReviews;
use crate::text::{MAX_TOKENS, for_each_word};
use crate::vocab::{UNKNOWN_ID, Vocabulary};

/// Fewest words a later window of a review needs to become a training example of its own.
pub const MIN_WINDOW_WORDS: usize = MAX_TOKENS / 2;

/// How a model is fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Options {
    /// Reviews per gradient step.
    pub batch_size: i64,
    /// Adam's initial learning rate.
    pub learning_rate: f64,
    /// Factor applied to the learning rate after every epoch (1: constant).
    pub learning_rate_decay: f64,
    /// Most epochs to run.
    pub max_epochs: usize,
    /// Stop after this many epochs without a better validation accuracy.
    pub patience: usize,
    /// Largest L2 norm of the gradient (0: no clipping).
    pub clip_norm: f64,
    /// Seed of the weights' initialisation, the shuffles and dropout.
    pub seed: i64,
    /// Decay per step of an exponential moving average of the weights, which validation reads
    /// and the best epoch keeps (0: off, the weights as trained).
    #[serde(default)]
    pub weight_average: f64,
    /// What the examples that the teacher labeled learn from it.
    #[serde(default)]
    pub distillation_loss: DistillationLoss,
    /// Adversarial training (Miyato et al. 2017): every step also learns each review with its
    /// word vectors moved by this L2 norm, over the whole review, in the direction that raises
    /// its loss the most (0: off).
    #[serde(default)]
    pub adversarial: f64,
}

/// How a student learns the teacher's P(positive) `p` for the reviews the teacher labeled. The
/// labeled reviews learn their targets with binary cross-entropy either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum DistillationLoss {
    /// Binary cross-entropy against `p`, as against a label.
    #[default]
    CrossEntropy,
    /// Squared error between the student's logit and the teacher's, `ln(p / (1 - p))` (Tang et
    /// al. 2019): a confident teacher pulls the student's logit as far as its own.
    LogitSquaredError,
}

/// Encoded reviews and their targets as tensors.
#[derive(Debug)]
pub struct Examples {
    /// Token ids `[n, 100]`.
    pub ids: Tensor,
    /// Lengths `[n]`.
    pub lengths: Tensor,
    /// Targets `[n]`, float: P(positive) to learn, 0 or 1 for a labeled review.
    pub targets: Tensor,
    /// `[n]`, float: 1 where the target is the teacher's, 0 where it is a label's.
    pub from_teacher: Tensor,
}

impl Examples {
    /// Encodes labeled `reviews` with `vocab`; their labels are the targets. `windows` as in
    /// [`Examples::soft`].
    pub fn labeled(vocab: &Vocabulary, reviews: &LabeledReviews, windows: usize) -> Self {
        Self::soft(vocab, &reviews.texts, &reviews.targets(), windows)
    }

    /// Encodes `texts` with `vocab`, each to be taught the probability in `targets`. Each text
    /// gives its first [`MAX_TOKENS`] words, as the models read it, and with `windows` above 1
    /// also the windows of [`MAX_TOKENS`] words that follow, up to `windows` examples in all
    /// (a last window under [`MIN_WINDOW_WORDS`] words is left out), each with the text's target.
    pub fn soft(vocab: &Vocabulary, texts: &[String], targets: &[f32], windows: usize) -> Self {
        assert_eq!(texts.len(), targets.len(), "one target per text");
        assert!(windows >= 1, "every text gives at least its first window");
        let rows: Vec<(Vec<i64>, f32)> = texts
            .par_iter()
            .zip(targets)
            .flat_map_iter(|(text, &target)| {
                let mut ids = Vec::new();
                for_each_word(text.as_bytes(), MAX_TOKENS * windows, |word| ids.push(vocab.id(word)));
                let later = ids.get(MAX_TOKENS..).unwrap_or_default();
                let first = ids[..ids.len().min(MAX_TOKENS)].to_vec();
                std::iter::once(first)
                    .chain(later.chunks(MAX_TOKENS).filter(|w| w.len() >= MIN_WINDOW_WORDS).map(<[i64]>::to_vec))
                    .map(move |window| (window, target))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut ids = vec![UNKNOWN_ID; rows.len() * MAX_TOKENS];
        for (row, (window, _)) in ids.chunks_mut(MAX_TOKENS).zip(&rows) {
            row[..window.len()].copy_from_slice(window);
        }
        let lengths: Vec<i64> = rows.iter().map(|(window, _)| window.len() as i64).collect();
        let targets: Vec<f32> = rows.iter().map(|&(_, target)| target).collect();
        Self {
            ids: Tensor::from_slice(&ids).view([rows.len() as i64, super::MAX_TOKENS_I64]),
            lengths: Tensor::from_slice(&lengths),
            from_teacher: Tensor::zeros([rows.len() as i64], (Kind::Float, tch::Device::Cpu)),
            targets: Tensor::from_slice(&targets),
        }
    }

    /// These examples, their targets marked as the teacher's.
    pub fn from_the_teacher(self) -> Self {
        Self { from_teacher: self.from_teacher.ones_like(), ..self }
    }

    /// These examples followed by `more`.
    pub fn concat(&self, more: &Examples) -> Self {
        Self {
            ids: Tensor::cat(&[&self.ids, &more.ids], 0),
            lengths: Tensor::cat(&[&self.lengths, &more.lengths], 0),
            targets: Tensor::cat(&[&self.targets, &more.targets], 0),
            from_teacher: Tensor::cat(&[&self.from_teacher, &more.from_teacher], 0),
        }
    }

    /// The examples at `rows` (indices into these), in that order.
    pub fn rows(&self, rows: &Tensor) -> Self {
        Self {
            ids: self.ids.index_select(0, rows),
            lengths: self.lengths.index_select(0, rows),
            targets: self.targets.index_select(0, rows),
            from_teacher: self.from_teacher.index_select(0, rows),
        }
    }

    /// Number of reviews.
    pub fn len(&self) -> i64 {
        self.lengths.size()[0]
    }

    /// True when there is no review.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One epoch's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Epoch {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Validation accuracy after the epoch.
    pub validation_accuracy: f64,
}

/// The result of [`fit`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fitted {
    /// Every epoch run.
    pub history: Vec<Epoch>,
    /// The epoch whose weights were kept.
    pub best_epoch: usize,
}

/// The mean loss of the model on `batch` ([`objective`]).
pub fn loss(net: &SentimentNet, batch: &Examples, distillation: DistillationLoss, train: bool) -> Tensor {
    objective(&net.forward(&batch.ids, &batch.lengths, train).logit, batch, distillation)
}

/// The loss that a training step minimises on `batch`: [`loss`], plus with
/// [`Options::adversarial`] the same loss on adversarially moved word vectors.
fn training_loss(net: &SentimentNet, batch: &Examples, options: &Options) -> Tensor {
    if options.adversarial <= 0.0 {
        return loss(net, batch, options.distillation_loss, true);
    }
    let mut x = net.word_vectors().forward(&batch.ids);
    if !x.requires_grad() {
        // GloVe alone: the vectors are constants, but their gradient is still needed.
        x = x.detach().set_requires_grad(true);
    }
    let objective_at =
        |x: &Tensor| objective(&net.forward_vectors(x, &batch.lengths, true).logit, batch, options.distillation_loss);
    let clean = objective_at(&x);
    let gradient = Tensor::run_backward(&[&clean], &[&x], true, false).remove(0);
    let norm = gradient.square().sum_dim_intlist([1, 2].as_slice(), true, Kind::Float).sqrt().clamp_min(1e-12);
    let push = (gradient / norm * options.adversarial).detach();
    clean + objective_at(&(x + push))
}

/// The mean loss of `logit` (one per example of `batch`): binary cross-entropy against each
/// target (P(positive), hard or soft), except that with [`DistillationLoss::LogitSquaredError`]
/// the teacher's targets are learned as logits.
fn objective(logit: &Tensor, batch: &Examples, distillation: DistillationLoss) -> Tensor {
    let entropy = |reduction| logit.binary_cross_entropy_with_logits::<Tensor>(&batch.targets, None, None, reduction);
    match distillation {
        DistillationLoss::CrossEntropy => entropy(Reduction::Mean),
        DistillationLoss::LogitSquaredError => {
            // Clamped so that a teacher's P(positive) rounded to 0 or 1 gives a finite logit (±13.8).
            let teacher_logit = batch.targets.clamp(1e-6, 1.0 - 1e-6).logit(None::<f64>);
            let squared = (logit - teacher_logit).square();
            let taught = &batch.from_teacher;
            (entropy(Reduction::None) * (taught.ones_like() - taught) + squared * taught).mean(Kind::Float)
        }
    }
}

/// P(positive) for every example, in batches, without gradients.
pub fn probabilities(net: &SentimentNet, examples: &Examples) -> Vec<f32> {
    let _guard = tch::no_grad_guard();
    let mut out = Vec::with_capacity(examples.len() as usize);
    let step = 1024;
    for start in (0..examples.len()).step_by(step) {
        let n = step.min((examples.len() - start) as usize) as i64;
        let logit = net.forward(&examples.ids.narrow(0, start, n), &examples.lengths.narrow(0, start, n), false).logit;
        out.extend(Vec::<f32>::try_from(logit.sigmoid().to_kind(Kind::Float)).expect("float probabilities"));
    }
    out
}

/// Share of `examples` on the side of 0.5 that their targets are on.
fn accuracy(net: &SentimentNet, examples: &Examples) -> f64 {
    let labels = Vec::<f32>::try_from(&examples.targets).expect("float targets");
    let threshold = crate::metrics::THRESHOLD;
    let right =
        probabilities(net, examples).iter().zip(&labels).filter(|&(&p, &l)| (p > threshold) == (l > threshold)).count();
    right as f64 / labels.len().max(1) as f64
}

/// Trains `net` (whose variables live in `vs`) on `train`, stopping early on `validation`, and
/// leaves it with the weights of its best validation epoch. `on_epoch` sees each epoch's record.
pub fn fit(
    net: &SentimentNet,
    vs: &nn::VarStore,
    train: &Examples,
    validation: &Examples,
    options: &Options,
    mut on_epoch: impl FnMut(&Epoch),
) -> anyhow::Result<Fitted> {
    let mut optimizer = nn::Adam::default().build(vs, options.learning_rate)?;
    let mut history = Vec::new();
    let mut stopping = EarlyStopping::new(options.patience);
    let mut learning_rate = options.learning_rate;
    let mut average = (options.weight_average > 0.0).then(|| WeightAverage::new(vs, options.weight_average));
    for epoch in 1..=options.max_epochs {
        let order = Tensor::randperm(train.len(), (Kind::Int64, tch::Device::Cpu));
        let (mut total, mut steps) = (0.0, 0);
        for start in (0..train.len()).step_by(options.batch_size as usize) {
            let n = options.batch_size.min(train.len() - start);
            let loss = training_loss(net, &train.rows(&order.narrow(0, start, n)), options);
            optimizer.zero_grad();
            loss.backward();
            if options.clip_norm > 0.0 {
                optimizer.clip_grad_norm(options.clip_norm);
            }
            optimizer.step();
            if let Some(average) = &mut average {
                average.update();
            }
            total += loss.double_value(&[]);
            steps += 1;
        }
        if let Some(average) = &mut average {
            average.swap();
        }
        let record =
            Epoch { epoch, train_loss: total / steps.max(1) as f64, validation_accuracy: accuracy(net, validation) };
        on_epoch(&record);
        let stop = stopping.should_stop(vs, epoch, record.validation_accuracy);
        if let Some(average) = &mut average {
            average.swap();
        }
        history.push(record);
        if stop {
            break;
        }
        learning_rate *= options.learning_rate_decay;
        optimizer.set_lr(learning_rate);
    }
    let best_epoch = stopping.restore_best(vs).ok_or_else(|| anyhow::anyhow!("no epoch was run"))?;
    Ok(Fitted { history, best_epoch })
}

/// An exponential moving average of the trainable weights (Polyak averaging). A model that peaks
/// after one to three epochs swings by most of a point of validation accuracy from epoch to
/// epoch; the average of its last steps' weights smooths those swings.
struct WeightAverage {
    decay: f64,
    updates: u32,
    /// Each trainable variable (sharing its storage) and its average.
    weights: Vec<(Tensor, Tensor)>,
}

impl WeightAverage {
    /// Starts the average at the weights of `vs`.
    fn new(vs: &nn::VarStore, decay: f64) -> Self {
        let weights = vs
            .trainable_variables()
            .into_iter()
            .map(|weight| {
                let average = weight.detach().copy();
                (weight, average)
            })
            .collect();
        Self { decay, updates: 0, weights }
    }

    /// Moves the average towards the current weights. The first steps use a smaller decay,
    /// `(1 + n) / (10 + n)` after `n` steps, so that the starting weights fade quickly.
    fn update(&mut self) {
        self.updates += 1;
        let n = f64::from(self.updates);
        let decay = self.decay.min((1.0 + n) / (10.0 + n));
        let _guard = tch::no_grad_guard();
        for (weight, average) in &mut self.weights {
            let _ = average.lerp_(&*weight, 1.0 - decay);
        }
    }

    /// Exchanges the weights in the store with their averages (twice restores them).
    fn swap(&mut self) {
        let _guard = tch::no_grad_guard();
        for (weight, average) in &mut self.weights {
            let live = weight.detach().copy();
            weight.copy_(average);
            average.copy_(&live);
        }
    }
}

/// Early stopping on validation accuracy: remembers the weights of the best epoch, says when
/// `patience` epochs have passed without a better one, and puts the best weights back.
pub(crate) struct EarlyStopping {
    patience: usize,
    best: Option<(f64, usize, HashMap<String, Tensor>)>,
}

impl EarlyStopping {
    /// Stops after `patience` epochs without a better validation accuracy.
    pub(crate) fn new(patience: usize) -> Self {
        Self { patience, best: None }
    }

    /// Records the validation `accuracy` of `epoch` (1-based), whose weights are in `vs`;
    /// true when training should stop.
    pub(crate) fn should_stop(&mut self, vs: &nn::VarStore, epoch: usize, accuracy: f64) -> bool {
        if self.best.as_ref().is_none_or(|(best, _, _)| accuracy > *best) {
            self.best = Some((accuracy, epoch, snapshot(vs)));
        }
        self.best.as_ref().is_some_and(|(_, best_epoch, _)| epoch - best_epoch >= self.patience)
    }

    /// Puts the best epoch's weights back into `vs` and returns that epoch; `None` when no
    /// epoch was recorded.
    pub(crate) fn restore_best(self, vs: &nn::VarStore) -> Option<usize> {
        let (_, epoch, weights) = self.best?;
        restore(vs, &weights);
        Some(epoch)
    }
}

/// A copy of every variable of `vs`, by name.
fn snapshot(vs: &nn::VarStore) -> HashMap<String, Tensor> {
    vs.variables().into_iter().map(|(name, t)| (name, t.detach().copy())).collect()
}

/// Puts a [`snapshot`] back into `vs`.
fn restore(vs: &nn::VarStore, weights: &HashMap<String, Tensor>) {
    let _guard = tch::no_grad_guard();
    for (name, mut var) in vs.variables() {
        var.copy_(&weights[&name]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::EncodedBatch;
    use crate::train::net::{Architecture, Shape};

    fn words(n: usize) -> String {
        (0..n).map(|i| if i % 2 == 0 { "good" } else { "film" }).collect::<Vec<_>>().join(" ")
    }

    #[test]
    fn one_window_is_what_the_scorer_reads() {
        let vocab = Vocabulary::from_words(vec!["good".into(), "film".into()]).unwrap();
        let texts = vec![words(230), String::new(), "a film, a good one".to_owned()];
        let examples = Examples::soft(&vocab, &texts, &[1.0, 0.0, 0.5], 1);
        let scored = EncodedBatch::encode(&vocab, &texts);
        assert_eq!(Vec::<i64>::try_from(examples.ids.flatten(0, -1)).unwrap(), *scored.whole_matrix().0);
        assert_eq!(Vec::<i64>::try_from(&examples.lengths).unwrap(), scored.lengths);
    }

    #[test]
    fn the_weight_average_fades_the_start_and_swaps_back() {
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let mut weight = vs.root().zeros("w", &[2]);
        let mut average = WeightAverage::new(&vs, 0.999);
        tch::no_grad(|| {
            let _ = weight.fill_(1.0);
        });
        average.update();
        // After one step the decay is 2/11, not 0.999: the average is 9/11 of the way to 1.
        average.swap();
        assert!((weight.double_value(&[0]) - 9.0 / 11.0).abs() < 1e-6, "{weight}");
        average.swap();
        assert_eq!(weight.double_value(&[1]), 1.0, "swapping twice restores the trained weights");
    }

    #[test]
    fn the_teachers_targets_can_be_learned_as_logits() {
        let vocab = Vocabulary::from_words(vec!["good".into()]).unwrap();
        let texts = vec!["good".to_owned(); 2];
        let teacher_p = 1.0 / (1.0 + (-2.0f32).exp());
        let labeled = Examples::soft(&vocab, &texts[..1], &[1.0], 1);
        let batch = labeled.concat(&Examples::soft(&vocab, &texts[1..], &[teacher_p], 1).from_the_teacher());
        let logit = Tensor::from_slice(&[0.0f32, 0.0]);
        let value = |kind| objective(&logit, &batch, kind).double_value(&[]);
        // At logit 0 the label costs ln 2; the teacher's logit, 2, costs (0 - 2)^2 as squared error.
        let ln2 = std::f64::consts::LN_2;
        assert!((value(DistillationLoss::LogitSquaredError) - (ln2 + 4.0) / 2.0).abs() < 1e-5);
        // Cross-entropy at logit 0 is ln 2 against any target.
        assert!((value(DistillationLoss::CrossEntropy) - ln2).abs() < 1e-5);
    }

    #[test]
    fn the_adversarial_push_adds_a_higher_loss_with_or_without_learned_dimensions() {
        let vocab = Vocabulary::from_words(["good", "bad"].map(String::from).to_vec()).unwrap();
        let texts = ["good good bad", "bad bad good"].map(String::from);
        let batch = Examples::soft(&vocab, &texts, &[1.0, 0.0], 1);
        let glove = Tensor::randn([3, 3], (Kind::Float, tch::Device::Cpu));
        let learnable = Tensor::ones([3], (Kind::Uint8, tch::Device::Cpu));
        for learned_dim in [0, 4] {
            tch::manual_seed(1);
            let vs = nn::VarStore::new(tch::Device::Cpu);
            let shape = Shape { learned_dim, ..Shape::small(Architecture::Mlp) };
            let net = SentimentNet::new(&vs.root(), &glove, &learnable, None, shape);
            let options = |adversarial| Options {
                batch_size: 2,
                learning_rate: 1e-3,
                learning_rate_decay: 1.0,
                max_epochs: 1,
                patience: 1,
                clip_norm: 0.0,
                seed: 1,
                weight_average: 0.0,
                distillation_loss: DistillationLoss::CrossEntropy,
                adversarial,
            };
            let clean = loss(&net, &batch, DistillationLoss::CrossEntropy, true).double_value(&[]);
            assert_eq!(training_loss(&net, &batch, &options(0.0)).double_value(&[]), clean, "off: the plain loss");
            let pushed = training_loss(&net, &batch, &options(0.5)).double_value(&[]) - clean;
            assert!(pushed > clean, "learned {learned_dim}: the pushed loss {pushed} is above the clean {clean}");
        }
    }

    #[test]
    fn later_windows_repeat_the_target_and_drop_a_short_tail() {
        let vocab = Vocabulary::from_words(vec!["good".into(), "film".into()]).unwrap();
        let texts = vec![words(230), words(260), words(20), String::new()];
        let examples = Examples::soft(&vocab, &texts, &[1.0, 0.25, 0.5, 0.0], 3);
        assert_eq!(Vec::<i64>::try_from(&examples.lengths).unwrap(), [100, 100, 100, 100, 60, 20, 0]);
        assert_eq!(Vec::<f32>::try_from(&examples.targets).unwrap(), [1.0, 1.0, 0.25, 0.25, 0.25, 0.5, 0.0]);
        let second_window = examples.ids.get(1);
        assert_eq!(second_window.int64_value(&[0]), vocab.id(b"good"), "the 101st word is the second window's first");
    }
}
