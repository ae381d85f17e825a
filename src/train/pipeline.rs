//! One whole training job: data in, a shipped model out. Loads GloVe and the labeled files,
//! trains, exports ONNX beside the shared vocabulary and GloVe table, checks that ONNX Runtime
//! agrees with tch, evaluates the exported file, and writes its model card.

use std::path::PathBuf;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use tch::{Device, Tensor, nn};

use super::glove::{GLOVE_DIM, Glove};
use super::net::{SentimentNet, Shape};
use super::trainer::{self, Examples, Options};
use super::word_vectors::GLOVE_FILE;
use crate::card::{Contract, DataSummary, ExamplePrediction, ModelCard, SEED_EXAMPLES, TrainingRun, label_for};
use crate::catalog::VOCABULARY_FILE;
use crate::data::LabeledReviews;
use crate::encoding::EncodedBatch;
use crate::metrics::Metrics;
use crate::model::{CONTRACT_VERSION, SentimentModel};

/// Test reviews scored by both tch and ONNX Runtime after export.
pub const PARITY_REVIEWS: usize = 256;
/// Largest difference in P(positive) allowed between tch and ONNX Runtime.
pub const PARITY_TOLERANCE: f32 = 1e-5;

/// Everything a training job needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    /// The model to build.
    pub shape: Shape,
    /// How to fit it.
    pub options: Options,
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
    /// Use only this many training reviews (a random sample), for quick runs.
    pub train_limit: Option<usize>,
    /// Use only this many test reviews (a random sample), for quick runs.
    pub test_limit: Option<usize>,
    /// How many of GloVe's most frequent words the vocabulary keeps.
    pub vocabulary_size: usize,
    /// Where `scripts/setup` unpacked GloVe.
    pub glove_dir: PathBuf,
    /// The folder the model, its card, the vocabulary and the GloVe table go to.
    pub out_dir: PathBuf,
    /// The command line to record in the card.
    pub command: String,
}

/// What a job produced besides the files.
#[derive(Debug)]
pub struct Trained {
    /// The card written beside the model.
    pub card: ModelCard,
    /// Largest |tch - ONNX Runtime| difference in P(positive) over the parity reviews.
    pub parity_max_difference: f32,
    /// Mean training loss of each epoch.
    pub losses: Vec<f64>,
}

/// Runs the job, logging each epoch.
pub fn run(job: &Job) -> Result<Trained> {
    tch::manual_seed(job.options.seed);
    let glove = Glove::load(&job.glove_dir, job.vocabulary_size)?;
    let rows = glove.vocabulary.len() as i64 + 1;
    let table = Tensor::from_slice(&glove.table).view([rows, GLOVE_DIM as i64]);

    let label_column = job.label_column.as_deref();
    let mut labeled =
        LabeledReviews::load(&job.train_file, &job.text_column, label_column)?.shuffled(job.options.seed as u64);
    if let Some(limit) = job.train_limit {
        labeled = labeled.head(limit);
    }
    let (train, validation) = labeled.split_validation(job.validation_fraction, job.options.seed as u64);
    if train.is_empty() || validation.is_empty() {
        bail!(
            "{} training reviews cannot be split with validation fraction {}",
            labeled.len(),
            job.validation_fraction
        );
    }
    let mut test =
        LabeledReviews::load(&job.test_file, &job.text_column, label_column)?.shuffled(job.options.seed as u64);
    if let Some(limit) = job.test_limit {
        test = test.head(limit);
    }

    let train_examples = Examples::new(&glove.vocabulary, &train);
    let validation_examples = Examples::new(&glove.vocabulary, &validation);
    let learnable = frequent_words(&train_examples, rows as usize, job.shape.learned_min_reviews);
    let vs = nn::VarStore::new(Device::Cpu);
    let net = SentimentNet::new(&vs.root(), &table, &learnable, job.shape.clone());
    let name = job.shape.architecture.name();
    let started = Instant::now();
    let fitted = trainer::fit(&net, &vs, &train_examples, &validation_examples, &job.options, |e| {
        tracing::info!(
            model = name,
            epoch = e.epoch,
            train_loss = e.train_loss,
            validation_accuracy = e.validation_accuracy,
            "epoch"
        );
    })?;
    let seconds = started.elapsed().as_secs_f64();

    std::fs::create_dir_all(&job.out_dir).with_context(|| format!("cannot create {}", job.out_dir.display()))?;
    glove.vocabulary.save(&job.out_dir.join(VOCABULARY_FILE))?;
    let glove_path = job.out_dir.join(GLOVE_FILE);
    std::fs::write(&glove_path, net.word_vectors().glove_bytes())
        .with_context(|| format!("cannot write {}", glove_path.display()))?;
    let onnx_path = job.out_dir.join(format!("{name}.onnx"));
    let metadata = [("model", name.to_owned()), ("contract_version", CONTRACT_VERSION.to_string())];
    let outputs = net.export(&onnx_path, &metadata)?;

    let model = SentimentModel::load(&onnx_path, 1, crate::runtime::Provider::Cpu)?;
    let score =
        |reviews: &LabeledReviews| model.probabilities(&EncodedBatch::encode(&glove.vocabulary, &reviews.texts));
    let parity_reviews = test.select(&(0..PARITY_REVIEWS.min(test.len())).collect::<Vec<_>>());
    let from_tch = trainer::probabilities(&net, &Examples::new(&glove.vocabulary, &parity_reviews));
    let from_onnx = score(&parity_reviews)?;
    let parity_max_difference = from_tch.iter().zip(&from_onnx).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    if parity_max_difference > PARITY_TOLERANCE {
        bail!("ONNX Runtime and tch disagree on {name}: largest difference in P(positive) is {parity_max_difference}");
    }

    let test_metrics = Metrics::compute(&score(&test)?, &test.labels);
    let validation_metrics = Metrics::compute(&score(&validation)?, &validation.labels);
    let examples: Vec<&str> = SEED_EXAMPLES.iter().map(|(text, _)| *text).collect();
    let example_scores = model.probabilities(&EncodedBatch::encode(&glove.vocabulary, &examples))?;
    let seed_examples = SEED_EXAMPLES
        .iter()
        .zip(example_scores)
        .map(|((text, positive), probability)| ExamplePrediction {
            text: (*text).to_owned(),
            expected: label_for(if *positive { 1.0 } else { 0.0 }).to_owned(),
            probability,
            predicted: label_for(probability).to_owned(),
        })
        .collect();

    let card = ModelCard {
        name: name.to_owned(),
        architecture: job.shape.architecture.description().to_owned(),
        changes_from_seed: changes_from_seed(job),
        hyperparameters: serde_json::json!({ "model": job.shape, "training": job.options, "validation_fraction": job.validation_fraction, "vocabulary_size": glove.vocabulary.len() }),
        trainable_parameters: vs.trainable_variables().iter().map(|t| t.numel() as u64).sum(),
        data: DataSummary {
            train_file: job.train_file.display().to_string(),
            test_file: job.test_file.display().to_string(),
            train_size: train.len(),
            validation_size: validation.len(),
            test_size: test.len(),
        },
        validation: validation_metrics,
        test: test_metrics,
        seed_accuracy: job.shape.architecture.seed_accuracy(),
        seed_examples,
        training: TrainingRun {
            seconds,
            epochs_run: fitted.history.len(),
            best_epoch: fitted.best_epoch,
            machine: crate::machine::describe(),
            command: job.command.clone(),
            finished_unix: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        },
        contract: Contract {
            version: CONTRACT_VERSION,
            opset: super::onnx::OPSET,
            vocabulary: VOCABULARY_FILE.to_owned(),
            outputs,
        },
    };
    card.save(&job.out_dir.join(format!("{name}.json")))?;
    Ok(Trained { card, parity_max_difference, losses: fitted.history.iter().map(|e| e.train_loss).collect() })
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
        "padding is masked: recurrent models read the state after the last real word, token-wise models pool only real words".to_owned(),
        format!("early stopping on validation accuracy (patience {}), keeping the best epoch's weights", o.patience),
        "the validation split holds out whole movies (movie_id) when the training file has them".to_owned(),
    ];
    if s.learned_dim > 0 {
        changes.push(format!(
            "{} learned dimensions per word, concatenated to GloVe and trained from zero on the training split, \
             for the words in at least {} training reviews (the others keep zeros)",
            s.learned_dim, s.learned_min_reviews
        ));
    }
    if s.dropout > 0.0 {
        changes.push(format!("dropout {} on word vectors and the MLP's hidden layer", s.dropout));
    }
    if o.clip_norm > 0.0 {
        changes.push(format!("gradient norm clipped at {}", o.clip_norm));
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
    if s.architecture == super::net::Architecture::Attention {
        changes.push(format!(
            "the MLP reads each word's vector concatenated with its {}-d attention output",
            s.attention_dim
        ));
    }
    changes
}
