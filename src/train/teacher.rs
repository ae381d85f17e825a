//! The distillation teacher: logistic regression over naive-Bayes-weighted unigrams and bigrams
//! of the *whole* review (the features of NBSVM, Wang & Manning 2012).
//!
//! It reads every word of a review where the students read the first 100, trains in seconds on a
//! CPU, and is far more accurate than any of them. Its probabilities on reviews without labels
//! become soft targets for the students ([`super::trainer::Examples::soft`]). Exported
//! ([`Teacher::export`]), it is also the sixth shipped model, `ngram`: a lookup of each n-gram's
//! weight in the review's logit (model contract 2).
//!
//! A review's features are the set of its n-grams (binarised counts); feature `f` enters with the
//! value `r_f = ln((p_f / |p|) / (q_f / |q|))`, where `p` and `q` count the positive and negative
//! training reviews holding `f`, plus one. The logistic regression on those values is fitted with
//! Adam and L2, stopping on validation accuracy.

use std::path::Path;
use std::time::Instant;

use onnx_protobuf::tensor_proto::DataType;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use tch::{Kind, Reduction, Tensor, nn, nn::OptimizerConfig};

use super::onnx::{Attr, Dimension, Graph};
use super::trainer::EarlyStopping;
use crate::card::TeacherSummary;
use crate::contract::{INPUT_LENGTHS, INPUT_NGRAM_IDS, OUTPUT_PROBABILITY, OUTPUT_TOKEN_SCORES, OUTPUT_TOKEN_WEIGHTS};
use crate::data::LabeledReviews;
use crate::metrics::Metrics;
use crate::ngrams::NgramHashing;
use crate::text::for_each_word;

/// How the teacher is built and fitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeacherOptions {
    /// The longest n-gram (1: words only, 2: words and bigrams, 3 (hashed only): and trigrams).
    pub max_n: usize,
    /// L2 penalty on the weights, added to the mean loss of a batch.
    pub l2: f64,
    /// Adam's learning rate.
    pub learning_rate: f64,
    /// Most epochs.
    pub max_epochs: usize,
    /// Stop after this many epochs without a better validation accuracy.
    pub patience: usize,
    /// Reviews per gradient step.
    pub batch_size: usize,
    /// Seed of the shuffles.
    pub seed: i64,
    /// Hash the n-grams into this many buckets (the n-gram model's features, [`NgramHashing`])
    /// instead of numbering every distinct n-gram of the training reviews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buckets: Option<u32>,
    /// Also learn from this many random spans of [`SPAN_WORDS`] words of each training review,
    /// labelled by the review, so that short texts are not left to the intercept and a handful of
    /// weights; 0: whole reviews only. The naive-Bayes ratios are counted on whole reviews.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub short_spans: usize,
    /// The spans fit only an intercept that depends on the text's length, `b0 + b1 ln(1 + n)`
    /// with `n` its distinct n-grams, once the n-gram weights are fitted on whole reviews and
    /// frozen; without it, the spans join the whole reviews in the main fit.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub length_intercept: bool,
    /// NBSVM's interpolation (Wang & Manning 2012): the fitted weights become
    /// `beta * w + (1 - beta) * mean(|w|)`, so that 0 leaves the naive-Bayes ratios alone and 1
    /// (the default) the fitted weights.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub beta: f64,
    /// Platt scaling (Platt 1999): once the weights are fitted (and interpolated), a scale of the
    /// n-gram sum and the intercept are fitted to the validation reviews, the weights held, and
    /// the scale folded into them. Weights are surer of the reviews they learned from than of
    /// others, so without it P(positive) says more than the model knows.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub calibrate: bool,
}

/// The longest n-gram the teacher numbers instead of hashing: a pair.
const NUMBERED_MAX_N: usize = 2;

/// Full-batch steps of a fit with the n-gram weights held ([`FrozenWeightsFit`]).
const FROZEN_WEIGHTS_STEPS: usize = 500;

/// What a fit with the n-gram weights held adjusts in the logit.
#[derive(Debug, Clone, Copy)]
enum FrozenWeightsFit {
    /// A scale of the n-gram sum, and the intercept ([`TeacherOptions::calibrate`]).
    Scale,
    /// The intercept and its slope in the log of the length ([`TeacherOptions::length_intercept`]).
    LengthIntercept,
}

/// How many words a span of [`TeacherOptions::short_spans`] has: drawn evenly from this range.
pub const SPAN_WORDS: std::ops::RangeInclusive<usize> = 5..=30;

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn one() -> f64 {
    1.0
}

fn is_one(x: &f64) -> bool {
    *x == 1.0
}

impl Default for TeacherOptions {
    fn default() -> Self {
        Self {
            max_n: 2,
            l2: 1e-6,
            learning_rate: 0.02,
            max_epochs: 20,
            patience: 2,
            batch_size: 64,
            seed: 7,
            buckets: None,
            short_spans: 0,
            length_intercept: false,
            beta: 1.0,
            calibrate: false,
        }
    }
}

/// A teacher's P(positive) `p` with its logit divided by `temperature` (Hinton et al. 2015):
/// above 1, closer to 1/2, for a student that cannot see all that the teacher saw.
pub fn soften(p: f32, temperature: f64) -> f32 {
    if temperature == 1.0 {
        return p;
    }
    // Clamped as the logit loss clamps, so that a P(positive) rounded to 0 or 1 stays finite.
    let p = f64::from(p.clamp(1e-6, 1.0 - 1e-6));
    let logit = (p / (1.0 - p)).ln();
    (1.0 / (1.0 + (-logit / temperature).exp())) as f32
}

/// The temperature that leaves the teacher's P(positive) as it is, [`soften`]'s 1.
pub fn unsoftened() -> f64 {
    1.0
}

/// Numbers the words and n-grams of the training reviews, or hashes them into buckets.
#[derive(Debug, Default)]
struct NgramIndex {
    words: FxHashMap<Box<[u8]>, u32>,
    ngrams: FxHashMap<(u32, u32), u32>,
    hashing: Option<NgramHashing>,
}

impl NgramIndex {
    /// Marks an n-gram of one word (the second id is `u32::MAX`).
    const UNIGRAM: u32 = u32::MAX;

    /// The sorted, distinct feature ids of `text`; with `grow`, unseen n-grams get new ids,
    /// otherwise they are left out.
    fn features(&mut self, text: &str, max_n: usize, grow: bool) -> Vec<u32> {
        if let Some(hashing) = &self.hashing {
            let mut ids = Vec::new();
            hashing.encode_into(text.as_bytes(), &mut ids);
            let mut features: Vec<u32> = ids.into_iter().map(|id| id as u32 - 1).collect();
            features.sort_unstable();
            return features;
        }
        let mut words = Vec::new();
        for_each_word(text.as_bytes(), usize::MAX, |word| {
            let word = word.to_ascii_lowercase();
            let next = self.words.len() as u32;
            let id = match self.words.get(word.as_slice()) {
                Some(&id) => Some(id),
                None if grow => Some(*self.words.entry(word.into_boxed_slice()).or_insert(next)),
                None => None,
            };
            words.push(id);
        });
        let mut out = Vec::with_capacity(words.len() * max_n);
        for (i, &word) in words.iter().enumerate() {
            let Some(word) = word else { continue };
            let mut keys = vec![(word, Self::UNIGRAM)];
            if max_n >= 2
                && let Some(&Some(next)) = words.get(i + 1)
            {
                keys.push((word, next));
            }
            for key in keys {
                let next = self.ngrams.len() as u32;
                match self.ngrams.get(&key) {
                    Some(&id) => out.push(id),
                    None if grow => out.push(*self.ngrams.entry(key).or_insert(next)),
                    None => {}
                }
            }
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn len(&self) -> usize {
        self.hashing.map_or(self.ngrams.len(), |h| h.buckets() as usize)
    }
}

/// A fitted teacher.
#[derive(Debug)]
pub struct Teacher {
    index: NgramIndex,
    options: TeacherOptions,
    ratios: Tensor,
    weights: Tensor,
    bias: Tensor,
    /// The intercept's slope in `ln(1 + n)`, `n` the text's distinct n-grams: 0 unless
    /// [`TeacherOptions::length_intercept`] fitted it.
    slope: Tensor,
}

impl Teacher {
    /// Fits the teacher on `train`, keeping the epoch with the best accuracy on `validation`,
    /// and reports its metrics there and, when given, on `test`.
    pub fn fit(
        train: &LabeledReviews,
        validation: &LabeledReviews,
        test: Option<&LabeledReviews>,
        options: &TeacherOptions,
    ) -> anyhow::Result<(Self, TeacherSummary)> {
        let started = Instant::now();
        tch::manual_seed(options.seed);
        let hashing = options.buckets.map(|buckets| NgramHashing::new(buckets, options.max_n)).transpose()?;
        anyhow::ensure!(
            hashing.is_some() || options.max_n <= NUMBERED_MAX_N,
            "numbered n-grams are words and word pairs: n-grams of {} words are hashed (give a number of buckets)",
            options.max_n
        );
        let mut index = NgramIndex { hashing, ..NgramIndex::default() };
        anyhow::ensure!((0.0..=1.0).contains(&options.beta), "beta must be within 0 and 1, not {}", options.beta);
        let mut train_features: Vec<Vec<u32>> =
            train.texts.iter().map(|t| index.features(t, options.max_n, true)).collect();
        let ratios = Tensor::from_slice(&log_count_ratios(&train_features, &train.labels, index.len()));
        let mut targets = train.targets();
        // The spans' n-grams are the reviews' (grow: false keeps the ids within the ratios).
        let (mut span_features, mut span_targets) = (Vec::new(), Vec::new());
        for (span, target) in short_spans(train, options.short_spans, options.seed as u64) {
            span_features.push(index.features(&span, options.max_n, false));
            span_targets.push(target);
        }
        if !options.length_intercept {
            train_features.append(&mut span_features);
            targets.append(&mut span_targets);
        }
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let root = vs.root();
        let mut teacher = Self {
            weights: root.zeros("weights", &[index.len() as i64, 1]),
            bias: root.zeros("bias", &[1]),
            slope: Tensor::zeros([1], (Kind::Float, tch::Device::Cpu)),
            index,
            options: options.clone(),
            ratios,
        };
        let validation_features = teacher.encode(&validation.texts);
        let mut optimizer = nn::Adam::default().build(&vs, options.learning_rate)?;
        let mut stopping = EarlyStopping::new(options.patience);
        let mut epochs_run = 0;
        for epoch in 1..=options.max_epochs {
            epochs_run = epoch;
            let permutation = Tensor::randperm(train_features.len() as i64, (Kind::Int64, tch::Device::Cpu));
            let order: Vec<usize> =
                Vec::<i64>::try_from(permutation).expect("int64 permutation").iter().map(|&i| i as usize).collect();
            for rows in order.chunks(options.batch_size) {
                let batch: Vec<&[u32]> = rows.iter().map(|&i| train_features[i].as_slice()).collect();
                let target = Tensor::from_slice(&rows.iter().map(|&i| targets[i]).collect::<Vec<_>>());
                let loss = teacher.logits(&batch).binary_cross_entropy_with_logits::<Tensor>(
                    &target,
                    None,
                    None,
                    Reduction::Mean,
                ) + teacher.weights.square().sum(Kind::Float) * options.l2;
                optimizer.zero_grad();
                loss.backward();
                optimizer.step();
            }
            let accuracy =
                Metrics::compute(&teacher.probabilities_of(&validation_features), &validation.labels).accuracy;
            tracing::info!(epoch, validation_accuracy = accuracy, "teacher epoch");
            if stopping.should_stop(&vs, epoch, accuracy) {
                break;
            }
        }
        let best_epoch = stopping.restore_best(&vs).ok_or_else(|| anyhow::anyhow!("the teacher ran no epoch"))?;
        if options.beta < 1.0 {
            let _guard = tch::no_grad_guard();
            let mean = teacher.weights.abs().mean(Kind::Float);
            let interpolated = &teacher.weights * options.beta + mean * (1.0 - options.beta);
            teacher.weights.copy_(&interpolated);
        }
        if options.calibrate {
            teacher.fit_with_weights_frozen(&validation_features, &validation.targets(), FrozenWeightsFit::Scale)?;
        }
        if options.length_intercept {
            train_features.append(&mut span_features);
            targets.append(&mut span_targets);
            teacher.fit_with_weights_frozen(&train_features, &targets, FrozenWeightsFit::LengthIntercept)?;
        }
        let validation_metrics = Metrics::compute(&teacher.probabilities_of(&validation_features), &validation.labels);
        let test_metrics = test.map(|t| Metrics::compute(&teacher.probabilities(&t.texts), &t.labels));
        let mut after_the_fit = Vec::new();
        if options.beta < 1.0 {
            after_the_fit.push(format!(", interpolated with beta {}", options.beta));
        }
        if options.calibrate {
            after_the_fit.push(", scaled to the validation reviews".to_owned());
        }
        if options.length_intercept {
            after_the_fit.push(", an intercept fitted to the length".to_owned());
        }
        let report = TeacherSummary {
            description: format!(
                "logistic regression over naive-Bayes-weighted n-grams (n <= {}{}) of the whole review{}; \
                 weights of epoch {best_epoch} (best validation accuracy){}",
                options.max_n,
                options.buckets.map_or_else(String::new, |b| format!(", hashed into {b} buckets")),
                match options.short_spans {
                    0 => String::new(),
                    n => format!(" and {n} spans of {}-{} words of each", SPAN_WORDS.start(), SPAN_WORDS.end()),
                },
                after_the_fit.concat()
            ),
            hyperparameters: serde_json::to_value(options)?,
            features: teacher.index.len(),
            epochs_run,
            best_epoch,
            validation: validation_metrics,
            test: test_metrics,
            seconds: started.elapsed().as_secs_f64(),
        };
        Ok((teacher, report))
    }

    /// P(positive) of each review.
    pub fn probabilities(&mut self, texts: &[String]) -> Vec<f32> {
        let features = self.encode(texts);
        self.probabilities_of(&features)
    }

    /// The n-gram model: each n-gram's sub-score in a review's logit (its learned weight times its
    /// naive-Bayes ratio, entering with weight 1) and the intercept, written as an ONNX file of
    /// model contract 2 or 3 at `path` with `metadata`, which states the contract and the hashing
    /// (feature `f` is id `f + 1`; id 0, padding, weighs 0). Returns the file's outputs; a teacher
    /// over numbered n-grams, which need their list to be read, cannot be exported.
    pub fn export(&self, path: &Path, metadata: &[(&str, String)]) -> anyhow::Result<Vec<String>> {
        anyhow::ensure!(self.index.hashing.is_some(), "only a teacher over hashed n-grams (buckets) exports");
        let weights = Tensor::cat(
            &[Tensor::zeros([1], (Kind::Float, tch::Device::Cpu)), self.weights.squeeze_dim(1) * &self.ratios],
            0,
        );
        let batch = Dimension::Named("batch");
        let mut g = Graph::new("ngram");
        let ids = g.input(INPUT_NGRAM_IDS, DataType::INT64, &[batch, Dimension::Named("ngrams")]);
        let lengths = g.input(INPUT_LENGTHS, DataType::INT64, &[batch]);
        let table = g.weight("ngram_weights", &weights);
        let scores = g.op("Gather", &[&table, &ids], vec![]);
        let axis = g.ints("axis", &[1], &[1]);
        let sum = g.op("ReduceSum", &[&scores, &axis], vec![Attr::Int("keepdims", 0)]);
        // Each n-gram of the review enters the logit once: weight 1, and 0 for padding.
        let padding = g.ints("padding", &[], &[0]);
        let present = g.op("Greater", &[&ids, &padding], vec![]);
        let ones = g.op("Cast", &[&present], vec![Attr::Int("to", DataType::FLOAT as i64)]);
        // The intercept: `intercept + slope * ln(1 + n)`, n the review's distinct n-grams, which
        // is the row's length input (counting the ids in the graph would cost another pass over them).
        let count = g.op("Cast", &[&lengths], vec![Attr::Int("to", DataType::FLOAT as i64)]);
        let one = g.floats("one", &[1], &[1.0]);
        let count_and_one = g.op("Add", &[&count, &one], vec![]);
        let log_length = g.op("Log", &[&count_and_one], vec![]);
        let slope = g.weight("intercept_slope", &self.slope);
        let bias = g.weight("intercept", &self.bias);
        let length_term = g.op("Mul", &[&log_length, &slope], vec![]);
        let intercept = g.op("Add", &[&length_term, &bias], vec![]);
        let logit = g.op("Add", &[&sum, &intercept], vec![]);
        let probability = g.op("Sigmoid", &[&logit], vec![]);
        let ngrams = Dimension::Named("ngrams");
        g.output(&probability, OUTPUT_PROBABILITY, DataType::FLOAT, &[batch]);
        g.output(&scores, OUTPUT_TOKEN_SCORES, DataType::FLOAT, &[batch, ngrams]);
        g.output(&ones, OUTPUT_TOKEN_WEIGHTS, DataType::FLOAT, &[batch, ngrams]);
        let description = format!(
            "a linear model over the distinct n-grams (n <= {}) of the whole review: the logit is the intercept plus \
             each n-gram's weight",
            self.options.max_n
        );
        g.save(path, &description, metadata)?;
        let outputs = [OUTPUT_PROBABILITY, OUTPUT_TOKEN_SCORES, OUTPUT_TOKEN_WEIGHTS];
        Ok(outputs.map(str::to_owned).to_vec())
    }

    /// How the teacher hashes its n-grams into ids, the exported file's inputs; `None` for a
    /// teacher that numbers them.
    pub fn hashing(&self) -> Option<NgramHashing> {
        self.index.hashing
    }

    /// The sorted, distinct feature ids of each review.
    pub fn encode(&mut self, texts: &[String]) -> Vec<Vec<u32>> {
        texts.iter().map(|t| self.index.features(t, self.options.max_n, false)).collect()
    }

    fn probabilities_of(&self, features: &[Vec<u32>]) -> Vec<f32> {
        let _guard = tch::no_grad_guard();
        let mut out = Vec::with_capacity(features.len());
        for chunk in features.chunks(1024) {
            let rows: Vec<&[u32]> = chunk.iter().map(Vec::as_slice).collect();
            out.extend(Vec::<f32>::try_from(self.logits(&rows).sigmoid()).expect("float probabilities"));
        }
        out
    }

    /// The logits `[batch]` of reviews given as feature ids.
    fn logits(&self, rows: &[&[u32]]) -> Tensor {
        self.weighted_sums(rows) + &self.bias + &self.slope * log_lengths(rows.iter().map(|r| r.len()))
    }

    /// Each review's sum of its n-grams' weights times their naive-Bayes ratios, `[batch]`.
    fn weighted_sums(&self, rows: &[&[u32]]) -> Tensor {
        let ids: Vec<i64> = rows.iter().flat_map(|r| r.iter().map(|&f| i64::from(f))).collect();
        let mut offsets = Vec::with_capacity(rows.len());
        let mut start = 0;
        for row in rows {
            offsets.push(start);
            start += row.len() as i64;
        }
        let ids = Tensor::from_slice(&ids);
        let values = self.ratios.index_select(0, &ids);
        let (sums, _, _, _) = Tensor::embedding_bag(
            &self.weights,
            &ids,
            &Tensor::from_slice(&offsets),
            false,
            0,
            false,
            Some(values),
            false,
        );
        sums.squeeze_dim(1)
    }

    /// Fits what `fit` names of the logit `scale * sum + b0 + b1 ln(1 + n)` to `examples`
    /// (feature ids) and their `targets`, the n-gram weights held as they are: full-batch Adam on
    /// those numbers. A fitted scale is folded into the weights.
    fn fit_with_weights_frozen(
        &mut self,
        examples: &[Vec<u32>],
        targets: &[f32],
        fit: FrozenWeightsFit,
    ) -> anyhow::Result<()> {
        let weighted_sums = {
            let _guard = tch::no_grad_guard();
            let chunks: Vec<Tensor> = examples
                .chunks(1024)
                .map(|chunk| self.weighted_sums(&chunk.iter().map(Vec::as_slice).collect::<Vec<_>>()))
                .collect();
            Tensor::cat(&chunks, 0)
        };
        let log_lengths = log_lengths(examples.iter().map(Vec::len));
        let target = Tensor::from_slice(targets);
        let vs = nn::VarStore::new(tch::Device::Cpu);
        let intercept = vs.root().var_copy("intercept", &self.bias.detach());
        let (scale, slope) = match fit {
            FrozenWeightsFit::Scale => (vs.root().ones("scale", &[1]), self.slope.detach()),
            FrozenWeightsFit::LengthIntercept => {
                (Tensor::ones([1], (Kind::Float, tch::Device::Cpu)), vs.root().zeros("slope", &[1]))
            }
        };
        let mut optimizer = nn::Adam::default().build(&vs, 0.05)?;
        for _ in 0..FROZEN_WEIGHTS_STEPS {
            let logits = &weighted_sums * &scale + &intercept + &slope * &log_lengths;
            let loss = logits.binary_cross_entropy_with_logits::<Tensor>(&target, None, None, Reduction::Mean);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
        }
        let _guard = tch::no_grad_guard();
        self.bias.copy_(&intercept);
        self.slope = slope.detach().copy();
        let scaled = &self.weights * &scale;
        self.weights.copy_(&scaled);
        tracing::info!(
            ?fit,
            scale = f64::try_from(&scale)?,
            intercept = f64::try_from(&intercept)?,
            slope = f64::try_from(&slope)?,
            "fitted with the n-gram weights held"
        );
        Ok(())
    }
}

/// Out-of-fold probabilities: deals `train` into `folds` folds (whole movies where it has them),
/// fits a teacher on all folds but one (stopped on `validation`) and lets it judge the fold it did
/// not see, for each fold in turn. Returns each review's P(positive) from the teacher that did not
/// learn from it, and each fold teacher's validation accuracy.
pub fn cross_fitted(
    train: &LabeledReviews,
    validation: &LabeledReviews,
    folds: usize,
    options: &TeacherOptions,
) -> anyhow::Result<(Vec<f32>, Vec<f64>)> {
    anyhow::ensure!(folds >= 2, "cross-fitting the teacher needs at least 2 folds, not {folds}");
    let mut probabilities = vec![0.0f32; train.len()];
    let mut accuracies = Vec::with_capacity(folds);
    for held_out in train.folds(folds, options.seed as u64) {
        let mut is_held = vec![false; train.len()];
        held_out.iter().for_each(|&i| is_held[i] = true);
        let rest: Vec<usize> = (0..train.len()).filter(|&i| !is_held[i]).collect();
        let (mut teacher, summary) = Teacher::fit(&train.select(&rest), validation, None, options)?;
        let judged = teacher.probabilities(&train.select(&held_out).texts);
        held_out.iter().zip(judged).for_each(|(&i, p)| probabilities[i] = p);
        tracing::info!(validation_accuracy = summary.validation.accuracy, "fold teacher fitted");
        accuracies.push(summary.validation.accuracy);
    }
    Ok((probabilities, accuracies))
}

/// `ln(1 + n)` of each review's number of distinct n-grams `n`: what the length-aware intercept's
/// slope multiplies, `[batch]`.
fn log_lengths(lengths: impl Iterator<Item = usize>) -> Tensor {
    Tensor::from_slice(&lengths.map(|n| (1.0 + n as f32).ln()).collect::<Vec<_>>())
}

/// `per_review` random spans of [`SPAN_WORDS`] words (fewer in a shorter review) of each review,
/// with the review's label as their target; the same `seed`, the same spans.
fn short_spans(reviews: &LabeledReviews, per_review: usize, seed: u64) -> Vec<(String, f32)> {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut spans = Vec::with_capacity(reviews.len() * per_review);
    if per_review == 0 {
        return spans;
    }
    for (text, target) in reviews.texts.iter().zip(reviews.targets()) {
        let mut words = Vec::new();
        for_each_word(text.as_bytes(), usize::MAX, |w| {
            words.push(std::str::from_utf8(w).expect("ASCII letters").to_owned())
        });
        if words.is_empty() {
            continue;
        }
        for _ in 0..per_review {
            let len = rng.random_range(SPAN_WORDS).min(words.len());
            let start = rng.random_range(0..=words.len() - len);
            spans.push((words[start..start + len].join(" "), target));
        }
    }
    spans
}

/// The naive-Bayes log-count ratio of each feature, from binarised counts with add-one smoothing.
fn log_count_ratios(features: &[Vec<u32>], labels: &[bool], n: usize) -> Vec<f32> {
    let (mut positive, mut negative) = (vec![1.0f64; n], vec![1.0f64; n]);
    for (row, &label) in features.iter().zip(labels) {
        let counts = if label { &mut positive } else { &mut negative };
        for &f in row {
            counts[f as usize] += 1.0;
        }
    }
    let (p, q): (f64, f64) = (positive.iter().sum(), negative.iter().sum());
    positive.iter().zip(&negative).map(|(a, b)| ((a / p) / (b / q)).ln() as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softening_divides_the_logit() {
        let p = 1.0 / (1.0 + (-4.0f32).exp());
        assert_eq!(soften(p, 1.0), p);
        assert!((soften(p, 2.0) - 1.0 / (1.0 + (-2.0f32).exp())).abs() < 1e-6);
        assert!((soften(1.0 - p, 2.0) - 1.0 / (1.0 + 2.0f32.exp())).abs() < 1e-6, "symmetric about 1/2");
        assert!((soften(0.5, 3.0) - 0.5).abs() < 1e-7);
        assert!(soften(1.0, 2.0) < 1.0 && soften(0.0, 2.0) > 0.0, "finite at a rounded 0 or 1");
    }

    #[test]
    fn ngrams_are_distinct_and_unseen_ones_are_left_out() {
        let mut index = NgramIndex::default();
        let first = index.features("Good good movie", 2, true);
        // good, (good good), movie, (good movie): the repeated "good" counts once.
        assert_eq!(first.len(), 4);
        assert_eq!(index.features("good movie", 2, false).len(), 3);
        assert_eq!(index.features("bad movie", 2, false).len(), 1);
        assert_eq!(index.features("good movie", 1, false).len(), 2);
    }

    #[test]
    fn every_review_is_judged_by_a_teacher_that_did_not_learn_it() {
        // Each review says its label in a word of its own (w0, w1, ...) besides a shared one, so a
        // teacher that learned a review knows it, and one that did not can only guess.
        let reviews = |range: std::ops::Range<usize>| LabeledReviews {
            texts: range.clone().map(|i| format!("w{i} {}", if i % 2 == 0 { "good" } else { "bad" })).collect(),
            labels: range.map(|i| i % 2 == 0).collect(),
            ..LabeledReviews::default()
        };
        let options = TeacherOptions { max_epochs: 5, patience: 5, ..TeacherOptions::default() };
        let (probabilities, accuracies) = cross_fitted(&reviews(0..40), &reviews(40..60), 4, &options).unwrap();
        assert_eq!((probabilities.len(), accuracies.len()), (40, 4));
        // The shared words still carry the label, so every fold teacher is right.
        assert!(probabilities.iter().enumerate().all(|(i, &p)| (p > 0.5) == (i % 2 == 0)), "{probabilities:?}");
        let (mut full, _) = Teacher::fit(&reviews(0..40), &reviews(40..60), None, &options).unwrap();
        let seen = full.probabilities(&reviews(0..40).texts);
        let confidence = |p: &[f32]| p.iter().map(|p| (p - 0.5).abs()).sum::<f32>();
        assert!(confidence(&probabilities) < confidence(&seen), "out-of-fold judgements are less sure");
        assert!(cross_fitted(&reviews(0..40), &reviews(40..60), 1, &options).is_err());
    }

    #[test]
    fn calibration_makes_the_probabilities_of_unseen_reviews_mean_what_they_say() {
        // Each review has a word of its own, which the fit learns by heart, and a shared word that
        // agrees with its label four times in five: on reviews it did not learn from, the model
        // can only be 80% sure.
        let reviews = |range: std::ops::Range<usize>| LabeledReviews {
            texts: range
                .clone()
                .map(|i| format!("w{i} {}", if (i % 2 == 0) != (i % 5 == 0) { "good" } else { "bad" }))
                .collect(),
            labels: range.map(|i| i % 2 == 0).collect(),
            ..LabeledReviews::default()
        };
        let (train, validation) = (reviews(0..200), reviews(200..400));
        let log_loss = |teacher: &mut Teacher| {
            crate::metrics::log_loss(&teacher.probabilities(&validation.texts), &validation.labels)
        };
        let options = TeacherOptions { max_epochs: 10, patience: 10, ..TeacherOptions::default() };
        let (mut fitted, _) = Teacher::fit(&train, &validation, None, &options).unwrap();
        let (mut calibrated, _) =
            Teacher::fit(&train, &validation, None, &TeacherOptions { calibrate: true, ..options }).unwrap();
        assert!(log_loss(&mut calibrated) < log_loss(&mut fitted));
        // Among the validation reviews that say "good", the calibrated P(positive) is the share
        // that are positive.
        let good: Vec<usize> = (0..validation.len()).filter(|&i| validation.texts[i].ends_with("good")).collect();
        let share = good.iter().filter(|&&i| validation.labels[i]).count() as f32 / good.len() as f32;
        let said = calibrated.probabilities(&validation.select(&good).texts);
        let mean = said.iter().sum::<f32>() / said.len() as f32;
        assert!((mean - share).abs() < 0.05, "P(positive) {mean} for a share of {share}");
        let unscaled = fitted.probabilities(&validation.select(&good).texts);
        assert!((unscaled.iter().sum::<f32>() / unscaled.len() as f32 - share).abs() > 0.1, "the fit alone is not");
    }

    #[test]
    fn ratios_favour_the_class_that_holds_the_feature() {
        let ratios = log_count_ratios(&[vec![0, 1], vec![1, 2]], &[true, false], 3);
        let expected = [2f32.ln(), 0.0, -(2f32.ln())];
        assert!(ratios.iter().zip(expected).all(|(r, e)| (r - e).abs() < 1e-6), "{ratios:?}");
    }
}
