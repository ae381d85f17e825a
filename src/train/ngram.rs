//! The sixth model, `ngram`: the distillation teacher shipped as a model of its own. A linear model
//! over the distinct words and word pairs (and, with `max_n` 3, word triples) of the whole review
//! (naive-Bayes-weighted, NBSVM's features), exported as a lookup of each n-gram's weight in the
//! review's logit (model contract 2, or 3 beyond pairs): the most accurate of the shipped models,
//! and each n-gram's weight is its sub-score.
//!
//! A job fits one teacher per seed on the same split, keeps the one with the best validation
//! accuracy, writes it as `ngram.onnx` (its n-grams hashed into buckets, [`crate::ngrams`], so
//! that no list of them ships), checks that ONNX Runtime gives the teacher's probabilities and
//! reads the teacher's n-grams, and writes the card.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::pipeline::{
    PARITY_TOLERANCE, ReviewFiles, Splits, Trained, evaluate, file_metadata, parity_reviews, seed_examples,
};
use super::teacher::{Teacher, TeacherOptions};
use crate::card::{Contract, ModelCard, SeedRun, Seeds, ShortTexts, TrainingRun};
use crate::contract::{METADATA_NGRAM_BUCKETS, METADATA_NGRAM_MAX_N, NGRAMS_MAX_N_CONTRACT};
use crate::data::LabeledReviews;
use crate::encoding::Encoder;
use crate::io::AtomicFile;
use crate::metrics::Metrics;
use crate::model::SentimentModel;
use crate::runtime::Provider;
use crate::short_texts;

/// The model's name and file stem.
pub const NAME: &str = "ngram";

/// Everything an n-gram training job needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NgramJob {
    /// The labeled reviews and their split.
    pub reviews: ReviewFiles,
    /// How the model is built and fitted (its `buckets` must be set); its `seed` is replaced by
    /// each of `seeds` in turn.
    pub options: TeacherOptions,
    /// One fit per seed (the order of the examples); the one with the best validation accuracy
    /// ships.
    pub seeds: Vec<i64>,
    /// The folder the model, its vocabulary and its card go to.
    pub out_dir: PathBuf,
    /// The command line to record in the card.
    pub command: String,
}

/// Runs the job: fits, exports, checks, and writes the card.
pub fn run(job: &NgramJob) -> Result<Trained> {
    if job.seeds.is_empty() {
        bail!("a training job needs at least one seed");
    }
    if job.options.buckets.is_none() {
        bail!("the n-gram model hashes its n-grams: give it a number of buckets");
    }
    let splits = job.reviews.load()?;
    let Splits { train, validation, test } = &splits;
    let mut runs = Vec::new();
    let mut fitted = Vec::new();
    // The short-text checks of both splits, built once for every seed, where both have ratings.
    let checks = short_texts::of(validation).ok().zip(short_texts::of(test).ok());
    for &seed in &job.seeds {
        let options = TeacherOptions { seed, ..job.options.clone() };
        let (mut teacher, summary) = Teacher::fit(train, validation, Some(test), &options)?;
        let run = SeedRun {
            seed,
            epochs_run: summary.epochs_run,
            best_epoch: summary.best_epoch,
            seconds: summary.seconds,
            validation: summary.validation,
            test: summary.test.expect("the teacher was given the test reviews"),
            short_texts: checks.as_ref().map(|checks| judge_short_texts(&mut teacher, checks)),
        };
        tracing::info!(
            model = NAME,
            seed,
            validation_accuracy = run.validation.accuracy,
            short_texts_validation_accuracy = run.short_texts.as_ref().map(|s| s.validation.accuracy),
            "run done"
        );
        runs.push(run);
        fitted.push((teacher, summary.features));
    }
    let seeds = Seeds::summarise(&runs).expect("at least one run");
    let shipped_index = runs.iter().position(|r| r.seed == seeds.shipped).expect("the shipped run is a run");
    let shipped = runs[shipped_index].clone();
    let (mut teacher, features) = fitted.swap_remove(shipped_index);

    std::fs::create_dir_all(&job.out_dir).with_context(|| format!("cannot create {}", job.out_dir.display()))?;
    // Written under a temporary name and moved into place only once every check has passed: a
    // failed export leaves the shipped model as it was.
    let onnx = AtomicFile::create(&job.out_dir.join(format!("{NAME}.onnx")))?;
    let hashing = teacher.hashing().expect("the options give a number of buckets");
    let contract = Encoder::Ngrams(hashing).contract_version();
    let mut metadata = file_metadata(NAME, contract).to_vec();
    metadata.push((METADATA_NGRAM_BUCKETS, hashing.buckets().to_string()));
    if contract == NGRAMS_MAX_N_CONTRACT {
        metadata.push((METADATA_NGRAM_MAX_N, hashing.max_n().to_string()));
    }
    let outputs = teacher.export(onnx.temp_path(), &metadata)?;
    let model = SentimentModel::load(onnx.temp_path(), Encoder::Ngrams(hashing), 1, Provider::Cpu)?;
    let parity_max_difference = parity(&mut teacher, &model, &parity_reviews(test))?;
    if parity_max_difference > PARITY_TOLERANCE {
        bail!("ONNX Runtime and tch disagree on {NAME}: largest difference in P(positive) is {parity_max_difference}");
    }
    let card = ModelCard {
        name: NAME.to_owned(),
        architecture: format!(
            "linear model over the distinct {} of the whole review (naive-Bayes-weighted, NBSVM); the review's logit \
             is {} plus the sum of its n-grams' weights; the n-grams hashed into {features} buckets",
            ngrams_in_words(job.options.max_n),
            if job.options.length_intercept {
                "an intercept that follows the log of its number of n-grams"
            } else {
                "the intercept"
            }
        ),
        changes_from_seed: changes_from_seed(job),
        hyperparameters: serde_json::json!({ "model": TeacherOptions { seed: shipped.seed, ..job.options.clone() }, "seeds": job.seeds, "split_seed": job.reviews.split_seed, "validation_fraction": job.reviews.validation_fraction }),
        trainable_parameters: features as u64 + 1,
        data: job.reviews.summary(&splits),
        validation: evaluate(&model, validation)?,
        test: evaluate(&model, test)?,
        seed_accuracy: None,
        seed_examples: seed_examples(&model)?,
        training: TrainingRun::finished_now(&shipped, &job.command),
        contract: Contract {
            version: contract,
            opset: super::onnx::OPSET,
            vocabulary: None,
            ngram_buckets: Some(hashing.buckets()),
            ngram_max_n: (contract == NGRAMS_MAX_N_CONTRACT).then_some(hashing.max_n()),
            outputs,
            folded: None,
        },
        distillation: None,
        runs,
        seeds: Some(seeds),
    };
    onnx.commit()?;
    card.save(&job.out_dir.join(format!("{NAME}.json")))?;
    Ok(Trained { card, parity_max_difference, losses: Vec::new() })
}

/// The teacher's metrics on the short-text checks of the validation and the test split.
fn judge_short_texts(teacher: &mut Teacher, (validation, test): &(LabeledReviews, LabeledReviews)) -> ShortTexts {
    let mut judge = |check: &LabeledReviews| Metrics::compute(&teacher.probabilities(&check.texts), &check.labels);
    ShortTexts { validation: judge(validation), test: judge(test) }
}

/// How far ONNX Runtime's P(positive) is from the teacher's on `reviews`; an error when the file's
/// inputs for a review are not the n-grams the teacher reads in it.
fn parity(teacher: &mut Teacher, model: &SentimentModel, reviews: &LabeledReviews) -> Result<f32> {
    let batch = model.encode(&reviews.texts);
    for (row, features) in teacher.encode(&reviews.texts).iter().enumerate() {
        let mut read: Vec<u32> = batch.row(row).iter().map(|&id| id as u32 - 1).collect();
        read.sort_unstable();
        if &read != features {
            bail!("the n-gram vocabulary reads other n-grams than the teacher in test review {row}");
        }
    }
    let from_tch = teacher.probabilities(&reviews.texts);
    let from_onnx = model.probabilities(&batch)?;
    Ok(from_tch.iter().zip(&from_onnx).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max))
}

/// The n-grams of 1 to `max_n` words, in words.
fn ngrams_in_words(max_n: usize) -> &'static str {
    match max_n {
        1 => "words",
        2 => "words and word pairs",
        _ => "words, word pairs and word triples",
    }
}

/// How the model departs from the exercise, in words.
fn changes_from_seed(job: &NgramJob) -> Vec<String> {
    let o = &job.options;
    let mut changes = vec![
        "not one of the exercise's five architectures: the distillation teacher of the other models, shipped"
            .to_owned(),
        "reads the whole review, not its first 100 words (the exercise's text rules otherwise)".to_owned(),
        format!(
            "each distinct n-gram of the review ({}) counts once, weighted by its naive-Bayes log-count ratio on the \
             training split",
            ngrams_in_words(o.max_n)
        ),
        format!(
            "logistic regression fitted with Adam (learning rate {}, batch {}, L2 {}), up to {} epochs, stopped on \
             validation accuracy (patience {})",
            o.learning_rate, o.batch_size, o.l2, o.max_epochs, o.patience
        ),
        "the validation split holds out whole movies (movie_id) when the training file has them".to_owned(),
    ];
    if let Some(buckets) = o.buckets {
        changes.push(format!(
            "the n-grams are hashed into {buckets} buckets (FNV-1a), so that the model ships no list of them; \
             n-grams that share a bucket share its weight"
        ));
    }
    if o.short_spans > 0 {
        let (shortest, longest) = (super::teacher::SPAN_WORDS.start(), super::teacher::SPAN_WORDS.end());
        changes.push(if o.length_intercept {
            format!(
                "its intercept depends on the text's length, b0 + b1 ln(1 + n) with n its distinct n-grams, fitted \
                 with the n-gram weights frozen on the training reviews and {} random spans of {shortest} to \
                 {longest} words of each, labelled by the review, so that short texts are not judged by an intercept \
                 made for whole reviews",
                o.short_spans
            )
        } else {
            format!(
                "it also learns from {} random spans of {shortest} to {longest} words of each training review, \
                 labelled by the review, so that short texts are seen in training",
                o.short_spans
            )
        });
    }
    if o.beta < 1.0 {
        changes.push(format!(
            "the fitted weights are interpolated toward their mean magnitude with NBSVM's beta {}",
            o.beta
        ));
    }
    if o.calibrate {
        changes.push(
            "once fitted, the n-gram sum is scaled (and the intercept fitted) to the validation reviews, the weights \
             held: Platt scaling, so that P(positive) is calibrated on reviews the weights did not learn from"
                .to_owned(),
        );
    }
    if job.seeds.len() > 1 {
        changes.push(format!(
            "{} fits with seeds {:?} (the order of the examples) on one validation split; the one with the best \
             validation accuracy ships",
            job.seeds.len(),
            job.seeds
        ));
    }
    changes
}
