//! One whole training job: data in, a shipped model out. Loads GloVe and the labeled files,
//! optionally fits the distillation teacher and lets it label the unlabeled reviews, trains one
//! run per seed, saves the weights of the run with the best validation accuracy and exports it as
//! ONNX beside the shared vocabulary and GloVe table, checks that ONNX Runtime agrees with tch on
//! every output, evaluates the exported file, and writes its model card with every run's metrics.
//! [`export_again`] repeats the export from the saved weights, without training.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor, nn};

use super::glove::{GLOVE_DIM, Glove};
use super::language_model::{self, PretrainOptions};
use super::net::{Architecture, SentimentNet, Shape};
use super::recurrent::Readout;
use super::skipgram::{self, SkipGramOptions};
use super::teacher::{self, Teacher, TeacherOptions};
use super::token_wise::Weighting;
use super::trainer::{self, DistillationLoss, Examples, Options};
use super::word_vectors::GLOVE_FILE;
use crate::card::{
    Contract, CrossFitted, DataSummary, Distillation, ExamplePrediction, ModelCard, SEED_EXAMPLES, SeedRun, Seeds,
    TrainingRun, label_for,
};
use crate::catalog::VOCABULARY_FILE;
use crate::contract::{
    METADATA_CONTRACT_VERSION, METADATA_MODEL, OUTPUT_ATTENTION, OUTPUT_PROBABILITY, OUTPUT_TOKEN_SCORES,
    OUTPUT_TOKEN_WEIGHTS, WORDS_CONTRACT,
};
use crate::data::LabeledReviews;
use crate::encoding::Encoder;
use crate::io::AtomicFile;
use crate::metrics::Metrics;
use crate::model::SentimentModel;

/// What a folded model's card says of its file.
pub const FOLDED: &str = "each word's sub-score and weight depend on that word alone, so the exporter computed them for \
                          every vocabulary id and the file looks them up (Gather), then pools them as the model does; \
                          it needs no GloVe table";

/// Test reviews scored by both tch and ONNX Runtime after export.
pub const PARITY_REVIEWS: usize = 256;
/// Largest difference allowed between tch and ONNX Runtime in any output (P(positive), sub-scores,
/// weights, attention): absolute for values up to 1, relative above (a sub-score is a logit,
/// where float32 rounding alone reaches 1e-6 of the value).
pub const PARITY_TOLERANCE: f32 = 1e-5;

/// Extension of the weights file a job writes beside its model (`<out-dir>/<name>.ot`): every
/// variable of the shipped run and the words allowed learned dimensions, from which
/// [`export_again`] writes the model without training. It is not part of the shipped folder.
pub const WEIGHTS_EXTENSION: &str = "ot";
/// Name of the learnable-words mask in the weights file.
const LEARNABLE_WORDS: &str = "learnable_words";

/// Everything a training job needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// The model to build.
    pub shape: Shape,
    /// How to fit it; its `seed` is replaced by each of `seeds` in turn.
    pub options: Options,
    /// One training run per seed; the run with the best validation accuracy ships.
    pub seeds: Vec<i64>,
    /// The labeled reviews and their split.
    pub reviews: ReviewFiles,
    /// Learn from a teacher's soft targets on unlabeled reviews too.
    pub distillation: Option<DistillationSource>,
    /// Training examples per training review: its first 100 words, and above 1 also the
    /// windows of 100 words after them (see [`Examples::soft`]); validation and test read only
    /// the first 100 words, as the scorer does.
    pub windows: usize,
    /// Start the learned word dimensions from skip-gram vectors of the training (and unlabeled)
    /// reviews instead of from zero.
    pub in_domain_vectors: Option<SkipGramOptions>,
    /// Pretrain a recurrent model as a language model on the training (and unlabeled) reviews
    /// before it learns sentiment ([`language_model::pretrain`]).
    #[serde(default)]
    pub language_model: Option<PretrainOptions>,
    /// How many of GloVe's most frequent words the vocabulary keeps.
    pub vocabulary_size: usize,
    /// Where `scripts/setup` unpacked GloVe.
    pub glove_dir: PathBuf,
    /// The folder the model, its card, the vocabulary and the GloVe table go to.
    pub out_dir: PathBuf,
    /// The command line to record in the card.
    pub command: String,
}

/// The labeled reviews of a training job: a training file, split into training and validation
/// reviews (whole movies on one side), and a test file for the card's metrics only.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewFiles {
    /// Labeled training reviews (Parquet or CSV).
    pub train_file: PathBuf,
    /// Labeled test reviews, only for the card's metrics.
    pub test_file: PathBuf,
    /// The text column of both files.
    pub text_column: String,
    /// The label column, or `None` for `label`/`sentiment`.
    pub label_column: Option<String>,
    /// Share of the training file held out for validation.
    pub validation_fraction: f64,
    /// Seed of the split into training and validation reviews, the same for every run.
    pub split_seed: u64,
    /// Use only this many training reviews (a random sample), for quick runs.
    pub train_limit: Option<usize>,
    /// Use only this many test reviews (a random sample), for quick runs.
    pub test_limit: Option<usize>,
}

/// A job's reviews, loaded and split.
pub struct Splits {
    /// The training reviews.
    pub train: LabeledReviews,
    /// The reviews held out of the training file, which choose epochs, seeds and settings.
    pub validation: LabeledReviews,
    /// The test reviews, for the card's metrics only.
    pub test: LabeledReviews,
}

impl ReviewFiles {
    /// Loads both files and splits validation off the training file.
    pub fn load(&self) -> Result<Splits> {
        let label_column = self.label_column.as_deref();
        let mut labeled =
            LabeledReviews::load(&self.train_file, &self.text_column, label_column)?.shuffled(self.split_seed);
        if let Some(limit) = self.train_limit {
            labeled = labeled.head(limit);
        }
        let (train, validation) = labeled.split_validation(self.validation_fraction, self.split_seed);
        if train.is_empty() || validation.is_empty() {
            bail!(
                "{} training reviews cannot be split with validation fraction {}",
                labeled.len(),
                self.validation_fraction
            );
        }
        let mut test =
            LabeledReviews::load(&self.test_file, &self.text_column, label_column)?.shuffled(self.split_seed);
        if let Some(limit) = self.test_limit {
            test = test.head(limit);
        }
        Ok(Splits { train, validation, test })
    }

    /// What a card says of the data.
    pub fn summary(&self, splits: &Splits) -> DataSummary {
        DataSummary {
            train_file: self.train_file.display().to_string(),
            test_file: self.test_file.display().to_string(),
            train_size: splits.train.len(),
            validation_size: splits.validation.len(),
            test_size: splits.test.len(),
        }
    }
}

/// Where distillation's unlabeled reviews come from, and how the teacher is fitted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DistillationSource {
    /// Reviews without labels (Parquet or CSV, the job's text column).
    pub unlabeled_file: PathBuf,
    /// Use only the first this many of them.
    pub unlabeled_limit: Option<usize>,
    /// The teacher's settings.
    pub teacher: TeacherOptions,
    /// Unless 0, the labeled training reviews learn soft targets too: the mean of their label and
    /// the P(positive) of a teacher cross-fitted on this many folds ([`teacher::cross_fitted`]).
    pub labeled_folds: usize,
    /// The teacher's logits are divided by this before the student learns them
    /// ([`teacher::soften`]; 1: its P(positive) as it is).
    #[serde(default = "teacher::unsoftened")]
    pub temperature: f64,
}

/// What a job produced besides the files.
#[derive(Debug)]
pub struct Trained {
    /// The card written beside the model.
    pub card: ModelCard,
    /// Largest difference between tch and ONNX Runtime over the parity reviews, in any output of
    /// the file, measured as [`PARITY_TOLERANCE`] is.
    pub parity_max_difference: f32,
    /// Mean training loss of each epoch (none for [`export_again`]).
    pub losses: Vec<f64>,
}

/// The labeled reviews of a job, split, and the GloVe table its models read.
struct JobData {
    glove: Glove,
    /// GloVe as a `[vocabulary + 1, 50]` tensor.
    table: Tensor,
    splits: Splits,
}

/// Loads GloVe and the job's labeled files, and splits off validation.
fn load_data(job: &Job) -> Result<JobData> {
    let glove = Glove::load(&job.glove_dir, job.vocabulary_size)?;
    let rows = glove.vocabulary.len() as i64 + 1;
    let table = Tensor::from_slice(&glove.table).view([rows, GLOVE_DIM as i64]);
    Ok(JobData { glove, table, splits: job.reviews.load()? })
}

/// Runs the job, logging each epoch.
pub fn run(job: &Job) -> Result<Trained> {
    if job.seeds.is_empty() {
        bail!("a training job needs at least one seed");
    }
    if job.windows == 0 {
        bail!("windows must be at least 1: every review teaches its first 100 words");
    }
    if let Some(source) = &job.distillation
        && source.temperature <= 0.0
    {
        bail!("the teacher's temperature must be above 0, not {}", source.temperature);
    }
    let JobData { glove, table, splits } = load_data(job)?;
    let Splits { train, validation, test } = &splits;
    let rows = table.size()[0];

    let (train_examples, distillation) = match &job.distillation {
        Some(source) => {
            let distilled =
                distill(source, job.options.distillation_loss, &job.reviews.text_column, train, validation, test)?;
            let labeled = Examples::soft(&glove.vocabulary, &train.texts, &distilled.labeled_targets, job.windows);
            let unlabeled =
                Examples::soft(&glove.vocabulary, &distilled.texts, &distilled.targets, job.windows).from_the_teacher();
            (labeled.concat(&unlabeled), Some(distilled.card))
        }
        None => (Examples::labeled(&glove.vocabulary, train, job.windows), None),
    };
    let validation_examples = Examples::labeled(&glove.vocabulary, validation, 1);
    let test_examples = Examples::labeled(&glove.vocabulary, test, 1);
    let learnable = frequent_words(&train_examples, rows as usize, job.shape.learned_min_reviews);
    let start = match &job.in_domain_vectors {
        Some(options) if job.shape.learned_dim > 0 => {
            let spread = table.std(true).double_value(&[]);
            Some(skipgram::train(&train_examples.ids, &learnable, job.shape.learned_dim, spread, options))
        }
        _ => None,
    };
    let name = job.shape.architecture.name();

    let mut runs = Vec::new();
    let mut trained = Vec::new();
    for &seed in &job.seeds {
        tch::manual_seed(seed);
        let options = Options { seed, ..job.options.clone() };
        let vs = nn::VarStore::new(Device::Cpu);
        let net = SentimentNet::new(&vs.root(), &table, &learnable, start.as_ref(), job.shape.clone());
        let started = Instant::now();
        if let Some(options) = &job.language_model {
            language_model::pretrain(&net, &vs, &train_examples, options)?;
        }
        let fitted = trainer::fit(&net, &vs, &train_examples, &validation_examples, &options, |e| {
            tracing::info!(
                model = name,
                seed,
                epoch = e.epoch,
                train_loss = e.train_loss,
                validation_accuracy = e.validation_accuracy,
                "epoch"
            );
        })?;
        let run = SeedRun {
            seed,
            epochs_run: fitted.history.len(),
            best_epoch: fitted.best_epoch,
            seconds: started.elapsed().as_secs_f64(),
            validation: Metrics::compute(&trainer::probabilities(&net, &validation_examples), &validation.labels),
            test: Metrics::compute(&trainer::probabilities(&net, &test_examples), &test.labels),
            short_texts: None,
        };
        tracing::info!(model = name, seed, validation_accuracy = run.validation.accuracy, "run done");
        runs.push(run);
        trained.push((net, vs, fitted.history.iter().map(|e| e.train_loss).collect::<Vec<_>>()));
    }
    let seeds = Seeds::summarise(&runs).expect("at least one run");
    let shipped_index = runs.iter().position(|r| r.seed == seeds.shipped).expect("the shipped run is a run");
    let shipped = runs[shipped_index].clone();
    let (net, vs, losses) = trained.swap_remove(shipped_index);

    std::fs::create_dir_all(&job.out_dir).with_context(|| format!("cannot create {}", job.out_dir.display()))?;
    save_weights(&vs, &learnable, &weights_path(job))?;
    let checked = export_checked(job, &glove, &net, validation, test)?;
    let training = Options { seed: shipped.seed, ..job.options.clone() };
    let card = ModelCard {
        name: name.to_owned(),
        architecture: job.shape.description(),
        changes_from_seed: changes_from_seed(job),
        hyperparameters: serde_json::json!({ "model": job.shape, "training": training, "seeds": job.seeds, "split_seed": job.reviews.split_seed, "in_domain_vectors": job.in_domain_vectors, "language_model": job.language_model, "validation_fraction": job.reviews.validation_fraction, "vocabulary_size": glove.vocabulary.len() }),
        trainable_parameters: vs.trainable_variables().iter().map(|t| t.numel() as u64).sum(),
        data: job.reviews.summary(&splits),
        validation: checked.validation,
        test: checked.test,
        seed_accuracy: Some(job.shape.architecture.seed_accuracy()),
        seed_examples: checked.seed_examples,
        training: TrainingRun::finished_now(&shipped, &job.command),
        contract: checked.contract,
        distillation,
        runs,
        seeds: Some(seeds),
    };
    card.save(&job.out_dir.join(format!("{name}.json")))?;
    Ok(Trained { card, parity_max_difference: checked.parity_max_difference, losses })
}

/// Exports the model of a finished job again from the weights its training saved
/// (`<out-dir>/<name>.ot`), without training: rewrites `<name>.onnx`, checks it against tch as a
/// training run does, and updates the metrics, examples and contract of its card. The job must be
/// the one the model was trained with (its card's command): the same shape, and the same files and
/// limits, so that validation and test are the same reviews.
pub fn export_again(job: &Job) -> Result<Trained> {
    let JobData { glove, table, splits } = load_data(job)?;
    let Splits { train, validation, test } = &splits;
    let name = job.shape.architecture.name();
    let card_path = job.out_dir.join(format!("{name}.json"));
    let mut card = ModelCard::load(&card_path)?;
    let trained_shape: Option<Shape> = serde_json::from_value(card.hyperparameters["model"].clone()).ok();
    let trained_sizes = (card.data.train_size, card.data.validation_size, card.data.test_size);
    if trained_shape.as_ref() != Some(&job.shape) || trained_sizes != (train.len(), validation.len(), test.len()) {
        bail!(
            "{name} was trained with another shape or other data than these arguments give ({} training, {} \
             validation, {} test reviews here, {trained_sizes:?} on its card): rerun its card's command with \
             --export-only: {}",
            train.len(),
            validation.len(),
            test.len(),
            card.training.command
        );
    }
    let path = weights_path(job);
    let mut saved = Tensor::load_multi(&path).with_context(|| {
        format!("cannot read the weights of {name} at {} (its training run writes them)", path.display())
    })?;
    let learnable = saved
        .iter()
        .position(|(n, _)| n == LEARNABLE_WORDS)
        .map(|i| saved.swap_remove(i).1)
        .ok_or_else(|| anyhow::anyhow!("{} has no {LEARNABLE_WORDS} entry: not a weights file", path.display()))?;
    let mut vs = nn::VarStore::new(Device::Cpu);
    let net = SentimentNet::new(&vs.root(), &table, &learnable, None, job.shape.clone());
    vs.load(&path).with_context(|| format!("{} does not hold the weights of this {name}", path.display()))?;
    let checked = export_checked(job, &glove, &net, validation, test)?;
    card.validation = checked.validation;
    card.test = checked.test;
    card.seed_examples = checked.seed_examples;
    card.contract = checked.contract;
    card.save(&card_path)?;
    Ok(Trained { card, parity_max_difference: checked.parity_max_difference, losses: Vec::new() })
}

/// What an export wrote and measured.
struct Checked {
    contract: Contract,
    parity_max_difference: f32,
    validation: Metrics,
    test: Metrics,
    seed_examples: Vec<ExamplePrediction>,
}

/// Writes `net` as `<out-dir>/<name>.onnx` beside the vocabulary and the GloVe table (in the
/// existing `<out-dir>`), checks that ONNX Runtime agrees with tch on the first test reviews, and
/// scores validation, test and the exercise's examples with the exported file.
fn export_checked(
    job: &Job,
    glove: &Glove,
    net: &SentimentNet,
    validation: &LabeledReviews,
    test: &LabeledReviews,
) -> Result<Checked> {
    let name = job.shape.architecture.name();
    glove.vocabulary.save(&job.out_dir.join(VOCABULARY_FILE))?;
    replace_shared_file(&job.out_dir.join(GLOVE_FILE), &net.word_vectors().glove_bytes())?;
    // Written beside its external data under a temporary name, and moved into place only once
    // every check has passed: a failed export leaves the shipped file as it was.
    let onnx = AtomicFile::create(&job.out_dir.join(format!("{name}.onnx")))?;
    let path = onnx.temp_path();
    let exported = net.export(path, &file_metadata(name, WORDS_CONTRACT))?;
    let encoder = Encoder::Words(Arc::new(glove.vocabulary.clone()));
    let model = SentimentModel::load(path, encoder, 1, crate::runtime::Provider::Cpu)?;
    let parity_max_difference = parity(net, &model, &exported.outputs, &parity_reviews(test))?;
    if parity_max_difference > PARITY_TOLERANCE {
        bail!("ONNX Runtime and tch disagree on {name}: largest difference in an output is {parity_max_difference}");
    }
    let checked = Checked {
        contract: Contract {
            version: WORDS_CONTRACT,
            opset: super::onnx::OPSET,
            vocabulary: Some(VOCABULARY_FILE.to_owned()),
            ngram_buckets: None,
            ngram_max_n: None,
            outputs: exported.outputs,
            folded: exported.folded.then(|| FOLDED.to_owned()),
        },
        parity_max_difference,
        validation: evaluate(&model, validation)?,
        test: evaluate(&model, test)?,
        seed_examples: seed_examples(&model)?,
    };
    onnx.commit()?;
    Ok(checked)
}

/// The metadata of an exported file: its model's name and the contract it follows.
pub(super) fn file_metadata(name: &str, contract: u32) -> [(&'static str, String); 2] {
    [(METADATA_MODEL, name.to_owned()), (METADATA_CONTRACT_VERSION, contract.to_string())]
}

/// The first [`PARITY_REVIEWS`] test reviews, on which every export is checked against tch.
pub(super) fn parity_reviews(test: &LabeledReviews) -> LabeledReviews {
    test.select(&(0..PARITY_REVIEWS.min(test.len())).collect::<Vec<_>>())
}

/// The exported model's metrics on `reviews`.
pub(super) fn evaluate(model: &SentimentModel, reviews: &LabeledReviews) -> Result<Metrics> {
    Ok(Metrics::compute(&model.probabilities(&model.encode(&reviews.texts))?, &reviews.labels))
}

/// The exercise's hand-written reviews as the exported model scores them.
pub(super) fn seed_examples(model: &SentimentModel) -> Result<Vec<ExamplePrediction>> {
    let examples: Vec<&str> = SEED_EXAMPLES.iter().map(|(text, _)| *text).collect();
    let scores = model.probabilities(&model.encode(&examples))?;
    Ok(SEED_EXAMPLES
        .iter()
        .zip(scores)
        .map(|((text, positive), probability)| ExamplePrediction {
            text: (*text).to_owned(),
            expected: label_for(if *positive { 1.0 } else { 0.0 }).to_owned(),
            probability,
            predicted: label_for(probability).to_owned(),
        })
        .collect())
}

/// The largest difference between tch and ONNX Runtime over every output of the exported file
/// (P(positive), sub-scores, weights, attention) for `reviews`, relative to the value where that
/// exceeds 1 (see [`PARITY_TOLERANCE`]).
fn parity(net: &SentimentNet, model: &SentimentModel, outputs: &[String], reviews: &LabeledReviews) -> Result<f32> {
    let batch = model.encode(&reviews.texts);
    let from_tch = {
        let _guard = tch::no_grad_guard();
        let ids = Tensor::from_slice(&batch.whole_matrix().0).view([-1, super::MAX_TOKENS_I64]);
        net.forward(&ids, &Tensor::from_slice(&batch.lengths), false)
    };
    let names: Vec<&str> = outputs.iter().map(String::as_str).collect();
    let from_onnx = model.outputs_for(&batch, &names)?;
    let mut largest = 0.0f32;
    for (name, onnx) in names.iter().zip(from_onnx) {
        let tch = match *name {
            OUTPUT_PROBABILITY => Some(from_tch.logit.sigmoid()),
            OUTPUT_TOKEN_SCORES => Some(from_tch.token_scores.shallow_clone()),
            OUTPUT_TOKEN_WEIGHTS => from_tch.token_weights.as_ref().map(Tensor::shallow_clone),
            OUTPUT_ATTENTION => from_tch.attention.as_ref().map(Tensor::shallow_clone),
            _ => None,
        };
        let tch =
            tch.ok_or_else(|| anyhow::anyhow!("the exported file has an output {name} that tch does not compute"))?;
        let tch = Vec::<f32>::try_from(tch.to_kind(tch::Kind::Float).flatten(0, -1))?;
        if tch.len() != onnx.len() {
            bail!("output {name} has {} values from ONNX Runtime and {} from tch", onnx.len(), tch.len());
        }
        let difference = tch.iter().zip(&onnx).map(|(a, b)| (a - b).abs() / a.abs().max(1.0)).fold(0.0, f32::max);
        tracing::info!(output = name, difference, "parity");
        largest = largest.max(difference);
    }
    Ok(largest)
}

/// Where a job keeps the trained weights of the model it ships.
fn weights_path(job: &Job) -> PathBuf {
    job.out_dir.join(format!("{}.{WEIGHTS_EXTENSION}", job.shape.architecture.name()))
}

/// Saves every variable of `vs` and the `learnable` word mask to `path`, through a temporary file.
fn save_weights(vs: &nn::VarStore, learnable: &Tensor, path: &std::path::Path) -> Result<()> {
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    named.push((LEARNABLE_WORDS.to_owned(), learnable.shallow_clone()));
    let file = AtomicFile::create(path)?;
    Tensor::save_multi(&named, file.temp_path()).with_context(|| format!("cannot write {}", path.display()))?;
    file.commit()
}

/// What distillation gives the student: targets for the labeled and the unlabeled reviews.
struct Distilled {
    /// One per labeled training review: its label, or with cross-fitting the mean of its label and
    /// the out-of-fold teacher's P(positive).
    labeled_targets: Vec<f32>,
    /// The unlabeled reviews.
    texts: Vec<String>,
    /// The teacher's P(positive) of each unlabeled review, whole.
    targets: Vec<f32>,
    /// What the card says of it.
    card: Distillation,
}

/// Fits the teacher on the student's training split and lets it label the unlabeled reviews (and,
/// with [`DistillationSource::labeled_folds`], cross-fits teachers for the labeled ones).
fn distill(
    source: &DistillationSource,
    loss: DistillationLoss,
    text_column: &str,
    train: &LabeledReviews,
    validation: &LabeledReviews,
    test: &LabeledReviews,
) -> Result<Distilled> {
    let (mut teacher, summary) = Teacher::fit(train, validation, Some(test), &source.teacher)?;
    tracing::info!(
        validation_accuracy = summary.validation.accuracy,
        test_accuracy = summary.test.map(|t| t.accuracy),
        features = summary.features,
        seconds = summary.seconds,
        "teacher fitted"
    );
    let mut texts = LabeledReviews::load_texts(&source.unlabeled_file, text_column)?;
    if let Some(limit) = source.unlabeled_limit {
        texts.truncate(limit);
    }
    let temperature = source.temperature;
    let targets: Vec<f32> =
        teacher.probabilities(&texts).into_iter().map(|p| teacher::soften(p, temperature)).collect();
    let mut labeled_targets = train.targets();
    let cross_fitted = if source.labeled_folds > 0 {
        let (judged, fold_accuracies) =
            teacher::cross_fitted(train, validation, source.labeled_folds, &source.teacher)?;
        let out_of_fold = Metrics::compute(&judged, &train.labels);
        for (target, p) in labeled_targets.iter_mut().zip(judged) {
            *target = (*target + teacher::soften(p, temperature)) / 2.0;
        }
        Some(CrossFitted {
            folds: source.labeled_folds,
            targets: "the mean of the review's label and the P(positive) of the teacher fitted on the other folds \
                      (whole movies), learned with binary cross-entropy"
                .to_owned(),
            fold_validation_accuracy: fold_accuracies,
            out_of_fold,
        })
    } else {
        None
    };
    let card = Distillation {
        unlabeled_file: source.unlabeled_file.display().to_string(),
        unlabeled_reviews: texts.len(),
        targets: match loss {
            DistillationLoss::CrossEntropy => {
                "the teacher's P(positive), learned with binary cross-entropy beside the labeled reviews"
            }
            DistillationLoss::LogitSquaredError => {
                "the teacher's logit, ln(p / (1 - p)) of its P(positive) p, learned with squared error (Tang et al. \
                 2019) beside the labeled reviews' binary cross-entropy"
            }
        }
        .to_owned()
            + &if temperature == 1.0 {
                String::new()
            } else {
                format!(", softened: its logit divided by {temperature} first")
            },
        teacher: summary,
        labeled: cross_fitted,
    };
    Ok(Distilled { labeled_targets, texts, targets, card })
}

/// Writes a file that every model of the folder reads (the GloVe table), unless it already holds
/// `bytes`; otherwise through a temporary file renamed over it, so that a job training beside
/// this one never loads it half-written.
fn replace_shared_file(path: &std::path::Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|existing| existing == bytes) {
        return Ok(());
    }
    let file = AtomicFile::create(path)?;
    std::fs::write(file.temp_path(), bytes).with_context(|| format!("cannot write {}", path.display()))?;
    file.commit()
}

/// 1 for the ids that occur in at least `min_reviews` of the examples, else 0 (`[rows]`).
fn frequent_words(examples: &Examples, rows: usize, min_reviews: u32) -> Tensor {
    let ids = Vec::<i64>::try_from(examples.ids.flatten(0, -1)).expect("int64 ids");
    let mut reviews = vec![0u32; rows];
    let mut last_seen = vec![usize::MAX; rows];
    for (review, row) in ids.chunks(crate::text::MAX_TOKENS).enumerate() {
        for &id in row.iter().filter(|&&id| id != crate::vocab::UNKNOWN_ID) {
            if last_seen[id as usize] != review {
                last_seen[id as usize] = review;
                reviews[id as usize] += 1;
            }
        }
    }
    Tensor::from_slice(&reviews.iter().map(|&n| u8::from(n >= min_reviews)).collect::<Vec<_>>())
}

/// The departures from the exercise's recipe (frozen 100-d GloVe, batch 32, Adam 1e-3, 10 epochs,
/// hidden 64, plain cross-entropy), in words.
fn changes_from_seed(job: &Job) -> Vec<String> {
    let (s, o) = (&job.shape, &job.options);
    let mut changes = vec![
        format!("GloVe 6B 50-d (the exercise used 100-d), {} most frequent words, frozen", job.vocabulary_size),
        "padding is masked: recurrent models read their states up to the last real word, token-wise models pool only real words".to_owned(),
        format!("early stopping on validation accuracy (patience {}), keeping the best epoch's weights", o.patience),
        "the validation split holds out whole movies (movie_id) when the training file has them".to_owned(),
    ];
    if let Some(source) = &job.distillation {
        changes.push(format!(
            "distilled: besides the labeled training reviews, it learns the P(positive) that a teacher (logistic \
             regression over naive-Bayes-weighted n-grams, n <= {}, of the whole review, fitted on the same training \
             split) gives the reviews of {}",
            source.teacher.max_n,
            source.unlabeled_file.display()
        ));
        if o.distillation_loss == DistillationLoss::LogitSquaredError {
            changes.push(
                "the teacher's targets are learned as logits, with squared error (Tang et al. 2019), instead of as \
                 probabilities with cross-entropy"
                    .to_owned(),
            );
        }
        if source.temperature != 1.0 {
            changes.push(format!(
                "the teacher's logits are divided by {} (its temperature) before the student learns them",
                source.temperature
            ));
        }
        if source.labeled_folds > 0 {
            changes.push(format!(
                "the labeled training reviews learn the mean of their label and the P(positive) of a teacher fitted \
                 on the other {} of {} folds of the training split (whole movies), instead of the label alone",
                source.labeled_folds - 1,
                source.labeled_folds
            ));
        }
    }
    if job.windows > 1 {
        changes.push(format!(
            "every training review (labeled or not) also teaches its next {} windows of 100 words after the first \
             (a window needs at least {} words), with the review's label or the teacher's P(positive) of the whole review",
            job.windows - 1,
            super::trainer::MIN_WINDOW_WORDS
        ));
    }
    if s.learned_dim > 0 {
        changes.push(format!(
            "{} learned dimensions per word, concatenated to GloVe and trained from zero with the rest of the model, \
             for the words in at least {} training reviews (the others keep zeros)",
            s.learned_dim, s.learned_min_reviews
        ));
    }
    if let Some(options) = &job.in_domain_vectors
        && s.learned_dim > 0
    {
        changes.push(format!(
            "the learned dimensions start from skip-gram vectors (window {}, {} negatives, {} epochs) of the reviews \
             it trains on, labeled and unlabeled, scaled to GloVe's spread",
            options.window, options.negatives, options.epochs
        ));
    }
    if let Some(options) = &job.language_model {
        changes.push(format!(
            "before learning sentiment, pretrained for {} epochs as a language model on the reviews it trains on \
             (Dai & Le 2015): its state after each word learns to tell the next word from {} drawn at random",
            options.epochs, options.negatives
        ));
    }
    if job.seeds.len() > 1 {
        changes.push(format!(
            "{} runs with seeds {:?} on one validation split; the one with the best validation accuracy ships",
            job.seeds.len(),
            job.seeds
        ));
    }
    if s.dropout > 0.0 {
        changes.push(format!("dropout {} on word vectors and the MLP's hidden layer", s.dropout));
    }
    if o.clip_norm > 0.0 {
        changes.push(format!("gradient norm clipped at {}", o.clip_norm));
    }
    if o.weight_average > 0.0 {
        changes.push(format!(
            "validation reads, and the model keeps, an exponential moving average of the weights (decay {} per step)",
            o.weight_average
        ));
    }
    if o.adversarial > 0.0 {
        changes.push(format!(
            "adversarial training (Miyato et al. 2017): every step also learns each review with its word vectors \
             moved by an L2 norm of {} in the direction that raises its loss most",
            o.adversarial
        ));
    }
    if o.learning_rate_decay != 1.0 {
        changes.push(format!("learning rate multiplied by {} after every epoch", o.learning_rate_decay));
    }
    if o.batch_size != 32 || o.learning_rate != 1e-3 || o.max_epochs != 10 || s.hidden != 64 {
        changes.push(format!(
            "batch {}, learning rate {}, up to {} epochs, hidden {}",
            o.batch_size, o.learning_rate, o.max_epochs, s.hidden
        ));
    }
    if matches!(s.architecture, Architecture::Rnn | Architecture::Gru) {
        match s.readout {
            Readout::Last => {}
            Readout::Mean => changes.push(
                "the MLP reads the mean of the recurrent states after every word instead of the last state only"
                    .to_owned(),
            ),
            Readout::Max => changes.push(
                "the MLP reads the element-wise maximum of the recurrent states after every word instead of the \
                 last state only"
                    .to_owned(),
            ),
        }
    }
    if s.bidirectional && matches!(s.architecture, Architecture::Rnn | Architecture::Gru) {
        changes.push(format!(
            "bidirectional: a second recurrent layer reads each review from its last word to its first ({} wide \
             per direction)",
            s.hidden
        ));
    }
    if s.weighting == Weighting::Mean && s.architecture == Architecture::WeightedMlp {
        changes.push(
            "the review's logit is the weighted mean of the sub-scores (each weight divided by the review's total) \
             instead of their weighted sum"
                .to_owned(),
        );
    }
    if s.architecture == Architecture::Attention {
        changes.push(format!(
            "the MLP reads each word's vector concatenated with its {}-d attention output",
            s.attention_dim
        ));
    }
    changes
}
