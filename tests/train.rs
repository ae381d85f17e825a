//! The trainer end to end on small IMDB slices: every architecture learns, exports to ONNX, and
//! ONNX Runtime agrees with tch; a short run on 2,000 reviews is already a useful model.
#![cfg(feature = "train")]

use std::path::PathBuf;

use sentiment::model::SentimentModel;
use sentiment::train::glove::Glove;
use sentiment::train::net::{Architecture, Shape};
use sentiment::train::pipeline::{self, Job, PARITY_TOLERANCE, Trained};
use sentiment::train::trainer::Options;

fn imdb(split: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/imdb")).join(format!("{split}.parquet"))
}

fn job(architecture: Architecture, out_dir: &std::path::Path, train: usize, test: usize, epochs: usize) -> Job {
    Job {
        shape: Shape {
            architecture,
            hidden: 32,
            learned_dim: 8,
            attention_dim: 16,
            dropout: 0.2,
            learned_min_reviews: 5,
        },
        options: Options {
            batch_size: 32,
            learning_rate: 2e-3,
            learning_rate_decay: 1.0,
            max_epochs: epochs,
            patience: epochs,
            clip_norm: 1.0,
            seed: 3,
        },
        train_file: imdb("train"),
        test_file: imdb("test"),
        text_column: "review".into(),
        label_column: None,
        validation_fraction: 0.1,
        train_limit: Some(train),
        test_limit: Some(test),
        vocabulary_size: 100_000,
        glove_dir: Glove::default_dir(),
        out_dir: out_dir.to_owned(),
        command: "cargo test".into(),
    }
}

/// libtorch's random seed is global: training runs take turns, so that each is reproducible.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(job: &Job) -> Trained {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    pipeline::run(job).expect("training runs")
}

fn learns_exports_and_agrees(architecture: Architecture) {
    let dir = tempfile::tempdir().unwrap();
    let Trained { card, parity_max_difference, losses } = run(&job(architecture, dir.path(), 1000, 256, 4));
    assert!(losses.last().unwrap() < losses.first().unwrap(), "loss did not fall: {losses:?}");
    assert!(parity_max_difference <= PARITY_TOLERANCE, "tch and ONNX Runtime differ by {parity_max_difference}");
    assert_eq!(card.name, architecture.name());
    assert_eq!(card.test.n, 256);
    assert_eq!(card.seed_examples.len(), 5);
    let model = SentimentModel::load(
        &dir.path().join(format!("{}.onnx", architecture.name())),
        1,
        sentiment::runtime::Provider::Cpu,
    )
    .unwrap();
    assert_eq!(model.outputs(), card.contract.outputs.as_slice());
    let loaded = sentiment::card::ModelCard::load(&dir.path().join(format!("{}.json", architecture.name()))).unwrap();
    assert_eq!(loaded, card);
}

#[test]
fn rnn_learns_exports_and_agrees() {
    learns_exports_and_agrees(Architecture::Rnn);
}

#[test]
fn gru_learns_exports_and_agrees() {
    learns_exports_and_agrees(Architecture::Gru);
}

#[test]
fn mlp_learns_exports_and_agrees() {
    learns_exports_and_agrees(Architecture::Mlp);
}

#[test]
fn weighted_mlp_learns_exports_and_agrees() {
    learns_exports_and_agrees(Architecture::WeightedMlp);
}

#[test]
fn attention_learns_exports_and_agrees() {
    learns_exports_and_agrees(Architecture::Attention);
}

#[test]
fn two_thousand_reviews_beat_seventy_percent() {
    let dir = tempfile::tempdir().unwrap();
    let trained = run(&job(Architecture::Mlp, dir.path(), 2000, 1000, 10));
    assert_eq!(trained.card.data.train_size + trained.card.data.validation_size, 2000);
    assert!(trained.card.test.accuracy > 0.70, "accuracy {} on 1,000 test reviews", trained.card.test.accuracy);
}
