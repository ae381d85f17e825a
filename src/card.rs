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
    /// Which of the five architectures, in words.
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
    /// The exercise's accuracy for this architecture, for comparison.
    pub seed_accuracy: f64,
    /// The exercise's hand-written reviews scored by this model.
    pub seed_examples: Vec<ExamplePrediction>,
    /// How the model was trained: time, epochs, machine, command.
    pub training: TrainingRun,
    /// The ONNX contract the file follows; see `models/README.md`.
    pub contract: Contract,
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

/// The ONNX interface of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    /// Version of the contract in `models/README.md`.
    pub version: u32,
    /// ONNX opset of the file.
    pub opset: i64,
    /// The vocabulary file whose ids the `token_ids` input holds.
    pub vocabulary: String,
    /// Names of the outputs the file provides.
    pub outputs: Vec<String>,
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
