//! `scorer eval`: a model's metrics on a labeled file.

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::Args;
use sentiment::batch::score_texts;
use sentiment::data::LabeledReviews;
use sentiment::metrics::{Metrics, roc_curve};
use serde::Serialize;

use crate::options::ModelOptions;

/// Reviews scored between two looks for a signal.
const CHUNK: usize = 8192;

/// Evaluate a model on labeled reviews: accuracy, F1, ROC AUC and the confusion matrix.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Labeled reviews, Parquet or CSV.
    #[arg(long)]
    input: PathBuf,
    /// The column holding the review text.
    #[arg(long, default_value = "review")]
    column: String,
    /// The label column (0/1 or positive/negative) [default: label, else sentiment].
    #[arg(long)]
    label_column: Option<String>,
    #[command(flatten)]
    model: ModelOptions,
    /// Print the metrics as one JSON object.
    #[arg(long)]
    json: bool,
    /// Also draw the ROC curve to this PNG file.
    #[arg(long)]
    plot: Option<PathBuf>,
}

#[derive(Serialize)]
struct Report<'a> {
    model: &'a str,
    input: String,
    /// Labeled reviews left out of the metrics because they hold no words to judge.
    no_words: usize,
    #[serde(flatten)]
    metrics: Metrics,
}

/// Scores the file and prints the metrics.
pub fn run(args: &EvalArgs) -> Result<()> {
    args.model.configure_threads();
    let (catalog, name) = args.model.open()?;
    let model = catalog.model(&name)?;
    let reviews = LabeledReviews::load(&args.input, &args.column, args.label_column.as_deref())?;
    let (mut scores, mut labels) = (Vec::new(), Vec::new());
    // In chunks, so that a signal stops a long evaluation within one chunk's time.
    for (texts, chunk_labels) in reviews.texts.chunks(CHUNK).zip(reviews.labels.chunks(CHUNK)) {
        crate::interrupt::check()?;
        for (score, &label) in score_texts(&model, texts)?.into_iter().zip(chunk_labels) {
            if let Some(score) = score {
                scores.push(score);
                labels.push(label);
            }
        }
    }
    let no_words = reviews.labels.len() - labels.len();
    if labels.is_empty() {
        bail!(
            "{}: no labeled review with words to judge ({} rows), so there is nothing to evaluate",
            args.input.display(),
            reviews.labels.len()
        );
    }
    let metrics = Metrics::compute(&scores, &labels);
    if let Some(path) = &args.plot {
        let title = format!("{name} on {}: ROC AUC {:.4}", args.input.display(), metrics.roc_auc.unwrap_or(f64::NAN));
        crate::plot::roc(path, &title, &roc_curve(&scores, &labels))?;
    }
    if args.json {
        let report = Report { model: &name, input: args.input.display().to_string(), no_words, metrics };
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let c = metrics.confusion;
    println!("model {name} on {} ({} reviews)", args.input.display(), metrics.n);
    if no_words > 0 {
        println!("({no_words} reviews with no words to judge left out)");
    }
    println!(
        "accuracy {:.4}  F1 {:.4}  ROC AUC {:.4}",
        metrics.accuracy,
        metrics.f1,
        metrics.roc_auc.unwrap_or(f64::NAN)
    );
    println!("                 predicted negative  predicted positive");
    println!("label negative   {:>18}  {:>18}", c.true_negative, c.false_positive);
    println!("label positive   {:>18}  {:>18}", c.false_negative, c.true_positive);
    Ok(())
}
