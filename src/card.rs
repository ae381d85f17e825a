//! Model cards: the JSON that ships beside each `.onnx` file and says what the model is, how it
//! was trained, and how well it does.

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;

/// The exercise's hand-written reviews and their true labels (true = positive), which every card
/// scores.
pub const SEED_EXAMPLES: [(&str, bool); 5] = [
    ("This movie is amazing", true),
    ("I cant recommend this movie highly enough", true),
    ("I loved this one", true),
    ("Boring, not worth the time", false),
    ("I had expectations, I thought it would be interesting, but I was disappointed", false),
];

/// Everything recorded about one trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// The model's name, also its file stem (`gru` for `gru.onnx`).
    pub name: String,
    /// Which architecture, in words.
    pub architecture: String,
    /// Each way this model departs from the exercise's recipe.
    pub changes_from_seed: Vec<String>,
    /// The settings it was trained with.
    pub hyperparameters: serde_json::Value,
    /// Number of trainable parameters, the frozen GloVe table excluded.
    pub trainable_parameters: u64,
    /// Where the training reviews came from and how many went to training and to validation.
    pub data: DataSummary,
    /// Metrics on the validation split (taken out of the training file).
    pub validation: Metrics,
    /// Metrics on the test file, never seen in training.
    pub test: Metrics,
    /// The exercise's accuracy for this architecture, for comparison; none for the n-gram model,
    /// which the exercise did not have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed_accuracy: Option<f64>,
    /// The exercise's hand-written reviews scored by this model.
    pub seed_examples: Vec<ExamplePrediction>,
    /// How the model was trained: time, epochs, machine, command.
    pub training: TrainingRun,
    /// The ONNX contract the file follows; see `models/README.md`.
    pub contract: Contract,
    /// The teacher and the unlabeled reviews the model learned from, when it was distilled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distillation: Option<Distillation>,
    /// Every training run of the job, one per seed; the shipped one is [`Seeds::shipped`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<SeedRun>,
    /// The runs summarised: mean and spread of their test metrics, and which one ships.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<Seeds>,
}

/// How a model was distilled from a teacher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Distillation {
    /// The reviews without labels that the teacher labeled for the student.
    pub unlabeled_file: String,
    /// How many of them the student learned from.
    pub unlabeled_reviews: usize,
    /// What the student learned from them: the teacher's P(positive) as a soft target.
    pub targets: String,
    /// The teacher, trained on the same training split as the student.
    pub teacher: TeacherSummary,
    /// Soft targets for the labeled training reviews too, from cross-fitted teachers; absent when
    /// they learned their labels alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labeled: Option<CrossFitted>,
}

/// Soft targets of the labeled training reviews from teachers that did not learn them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrossFitted {
    /// The training split was dealt into this many folds; each fold was judged by a teacher fitted
    /// on the others.
    pub folds: usize,
    /// What the student learned from them, in words.
    pub targets: String,
    /// Each fold teacher's accuracy on the validation split.
    pub fold_validation_accuracy: Vec<f64>,
    /// The out-of-fold judgements against the training labels.
    pub out_of_fold: Metrics,
}

/// A distillation teacher's description and quality.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeacherSummary {
    /// The teacher in words.
    pub description: String,
    /// Its settings.
    pub hyperparameters: serde_json::Value,
    /// Distinct features it learned weights for.
    pub features: usize,
    /// Epochs run, and the one whose weights were kept (0 on cards written before they were
    /// recorded).
    #[serde(default)]
    pub epochs_run: usize,
    /// See [`TeacherSummary::epochs_run`].
    #[serde(default)]
    pub best_epoch: usize,
    /// Its metrics on the student's validation split.
    pub validation: Metrics,
    /// Its metrics on the test file (never used for a choice).
    pub test: Option<Metrics>,
    /// Seconds to build and fit it.
    pub seconds: f64,
}

/// One training run of a job, with its own seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedRun {
    /// The seed of the weights' initialisation, the shuffles and dropout.
    pub seed: i64,
    /// Epochs run, and the one whose weights were kept.
    pub epochs_run: usize,
    /// The kept epoch, 1-based.
    pub best_epoch: usize,
    /// Training seconds.
    pub seconds: f64,
    /// Metrics on the validation split: the only ones used to choose.
    pub validation: Metrics,
    /// Metrics on the test file.
    pub test: Metrics,
    /// Metrics on the short-text check ([`crate::short_texts`]), where the files have ratings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub short_texts: Option<ShortTexts>,
}

/// A run's metrics on the short-text check, built from each split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShortTexts {
    /// On the check built from the validation split: the only ones used to choose.
    pub validation: Metrics,
    /// On the check built from the test file.
    pub test: Metrics,
}

/// Mean and sample standard deviation of one metric over the runs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    /// The mean.
    pub mean: f64,
    /// The sample standard deviation (0 for one run).
    pub std: f64,
}

impl Spread {
    /// The spread of `values`.
    pub fn of(values: &[f64]) -> Self {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n.max(1.0);
        let squares: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
        let std = if values.len() > 1 { (squares / (n - 1.0)).sqrt() } else { 0.0 };
        Self { mean, std }
    }
}

/// The runs of a job summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seeds {
    /// Test accuracy over the runs.
    pub test_accuracy: Spread,
    /// Test F1 over the runs.
    pub test_f1: Spread,
    /// Test ROC AUC over the runs.
    pub test_roc_auc: Spread,
    /// The seed of the shipped run.
    pub shipped: i64,
    /// Why that run ships.
    pub selection: String,
}

impl Seeds {
    /// Summarises `runs` and names the shipped one: the best validation accuracy, the first
    /// seed on a tie. `None` when there is no run.
    pub fn summarise(runs: &[SeedRun]) -> Option<Self> {
        let best = runs.iter().reduce(|a, b| if b.validation.accuracy > a.validation.accuracy { b } else { a })?;
        let spread = |metric: fn(&SeedRun) -> f64| Spread::of(&runs.iter().map(metric).collect::<Vec<_>>());
        Some(Self {
            test_accuracy: spread(|r| r.test.accuracy),
            test_f1: spread(|r| r.test.f1),
            test_roc_auc: spread(|r| r.test.roc_auc.unwrap_or(f64::NAN)),
            shipped: best.seed,
            selection: "the run with the best validation accuracy (test metrics are never used to choose)".to_owned(),
        })
    }
}

/// Sizes and sources of the training data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSummary {
    /// The labeled file trained on.
    pub train_file: String,
    /// The labeled file the test metrics come from.
    pub test_file: String,
    /// Reviews used for gradient steps.
    pub train_size: usize,
    /// Reviews held out of the training file for early stopping.
    pub validation_size: usize,
    /// Reviews in the test file.
    pub test_size: usize,
}

/// One scored example review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExamplePrediction {
    /// The review as written.
    pub text: String,
    /// Its true label.
    pub expected: String,
    /// P(positive) from the model.
    pub probability: f32,
    /// The label the model gives it.
    pub predicted: String,
}

/// Facts of the training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingRun {
    /// Wall-clock seconds spent training (evaluation and export excluded).
    pub seconds: f64,
    /// Epochs run before early stopping or the limit.
    pub epochs_run: usize,
    /// The epoch whose weights were kept (best validation accuracy), 1-based.
    pub best_epoch: usize,
    /// The machine it ran on.
    pub machine: String,
    /// The command that reproduces this card.
    pub command: String,
    /// When it finished, as seconds since the Unix epoch.
    pub finished_unix: u64,
}

impl TrainingRun {
    /// The training of the shipped `run`, finished now on this machine, made by `command`.
    pub fn finished_now(run: &SeedRun, command: &str) -> Self {
        Self {
            seconds: run.seconds,
            epochs_run: run.epochs_run,
            best_epoch: run.best_epoch,
            machine: crate::machine::describe(),
            command: command.to_owned(),
            finished_unix: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }
}

/// The ONNX interface of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    /// Version of the contract in `models/README.md`.
    pub version: u32,
    /// ONNX opset of the file.
    pub opset: i64,
    /// The vocabulary file whose ids the `token_ids` input holds (the word models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocabulary: Option<String>,
    /// The number of buckets the n-grams are hashed into (the n-gram model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ngram_buckets: Option<u32>,
    /// The longest n-gram, in words, of an n-gram model of contract 3 (contract 2's are pairs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ngram_max_n: Option<usize>,
    /// Names of the outputs the file provides.
    pub outputs: Vec<String>,
    /// How the network was folded into per-word lookups, for the models that were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub folded: Option<String>,
}

/// The label word for a probability.
pub fn label_for(probability: f32) -> &'static str {
    if probability > crate::metrics::THRESHOLD { "positive" } else { "negative" }
}

impl ModelCard {
    /// Reads a card from JSON.
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("cannot read model card {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("bad model card {}", path.display()))
    }

    /// Writes the card as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<()> {
        let text = serde_json::to_string_pretty(self)? + "\n";
        std::fs::write(path, text).with_context(|| format!("cannot write model card {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(seed: i64, validation: f64, test: f64) -> SeedRun {
        let metrics = |accuracy| Metrics { accuracy, ..Metrics::compute(&[0.9, 0.1], &[true, false]) };
        SeedRun {
            seed,
            epochs_run: 3,
            best_epoch: 2,
            seconds: 1.0,
            validation: metrics(validation),
            test: metrics(test),
            short_texts: None,
        }
    }

    #[test]
    fn the_best_validation_run_ships_and_test_accuracy_is_averaged() {
        let seeds = Seeds::summarise(&[run(1, 0.80, 0.90), run(2, 0.85, 0.80), run(3, 0.85, 0.70)]).unwrap();
        assert_eq!(seeds.shipped, 2);
        assert!((seeds.test_accuracy.mean - 0.80).abs() < 1e-12);
        assert!((seeds.test_accuracy.std - 0.10).abs() < 1e-12);
        assert!(Seeds::summarise(&[]).is_none());
    }
}
