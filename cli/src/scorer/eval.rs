//! `scorer eval`: a model's metrics on a labeled file.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use sentiment::batch::score_texts;
use sentiment::data::LabeledReviews;
use sentiment::metrics::{Metrics, log_loss, roc_curve};
use sentiment::model::SentimentModel;
use sentiment::short_texts;
use serde::Serialize;

use crate::options::ModelOptions;

/// Reviews scored between two looks for a signal.
const CHUNK: usize = 8192;

/// Evaluate a model on labeled reviews: accuracy, F1, ROC AUC, log loss and the confusion matrix.
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
    /// Also judge the short-text check built from the file: the first and the last sentence of
    /// each review rated 1-2 or 9-10 (its `rating` column), labelled by the rating.
    #[arg(long)]
    short_texts: bool,
}

/// One labeled set's evaluation, as `--json` prints it.
#[derive(Serialize)]
struct Judged {
    /// Labeled texts left out of the metrics because they hold no words to judge.
    no_words: usize,
    /// The share of the judged texts predicted positive.
    predicted_positive: f64,
    /// The share of the judged texts labeled positive.
    labeled_positive: f64,
    /// The mean log loss of the scores: lower when they are calibrated.
    log_loss: f64,
    #[serde(flatten)]
    metrics: Metrics,
}

#[derive(Serialize)]
struct Report<'a> {
    model: &'a str,
    input: String,
    #[serde(flatten)]
    reviews: Judged,
    #[serde(skip_serializing_if = "Option::is_none")]
    short_texts: Option<Judged>,
}

/// Scores the file (and with `--short-texts` its short-text check) and prints the metrics.
pub fn run(args: &EvalArgs) -> Result<()> {
    args.model.configure_threads();
    let (catalog, name) = args.model.open()?;
    let model = catalog.model(&name)?;
    let labeled = LabeledReviews::load(&args.input, &args.column, args.label_column.as_deref())?;
    let scored = score(&model, &labeled, &args.input.display().to_string())?;
    let reviews = scored.judged();
    let short_texts = if args.short_texts {
        // Built from the reviews read above, whose ratings came with them.
        let check = short_texts::of(&labeled)
            .with_context(|| format!("cannot build the short-text check from {}", args.input.display()))?;
        Some(score(&model, &check, &format!("the short-text check of {}", args.input.display()))?.judged())
    } else {
        None
    };
    if let Some(path) = &args.plot {
        let metrics = &reviews.metrics;
        let title = format!("{name} on {}: ROC AUC {:.4}", args.input.display(), metrics.roc_auc.unwrap_or(f64::NAN));
        crate::plot::roc(path, &title, &roc_curve(&scored.scores, &scored.labels))?;
    }
    if args.json {
        let report = Report { model: &name, input: args.input.display().to_string(), reviews, short_texts };
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    println!("model {name} on {} ({} reviews)", args.input.display(), reviews.metrics.n);
    print(&reviews, "reviews");
    if let Some(check) = &short_texts {
        println!(
            "\nshort texts: the first and last sentence of each review rated 1-2 or 9-10 ({} texts)",
            check.metrics.n
        );
        print(check, "texts");
    }
    Ok(())
}

/// The texts of a labeled set that have words, scored: what the metrics and the ROC curve read.
struct Scored {
    scores: Vec<f32>,
    labels: Vec<bool>,
    /// Texts left out for having no words.
    no_words: usize,
}

/// Scores `set` in chunks (a signal stops a long evaluation within one chunk's time), keeping
/// the texts with words; `what` names the set in the error when none has words.
fn score(model: &SentimentModel, set: &LabeledReviews, what: &str) -> Result<Scored> {
    let (mut scores, mut labels) = (Vec::new(), Vec::new());
    for (texts, chunk_labels) in set.texts.chunks(CHUNK).zip(set.labels.chunks(CHUNK)) {
        crate::interrupt::check()?;
        for (score, &label) in score_texts(model, texts)?.into_iter().zip(chunk_labels) {
            if let Some(score) = score {
                scores.push(score);
                labels.push(label);
            }
        }
    }
    if labels.is_empty() {
        bail!(
            "{what}: no labeled review with words to judge ({} rows), so there is nothing to evaluate",
            set.labels.len()
        );
    }
    Ok(Scored { no_words: set.labels.len() - labels.len(), scores, labels })
}

impl Scored {
    /// The metrics, and the shares predicted and labeled positive.
    fn judged(&self) -> Judged {
        let metrics = Metrics::compute(&self.scores, &self.labels);
        let c = metrics.confusion;
        let share = |count: u64| count as f64 / metrics.n as f64;
        Judged {
            no_words: self.no_words,
            predicted_positive: share(c.true_positive + c.false_positive),
            labeled_positive: share(c.true_positive + c.false_negative),
            log_loss: log_loss(&self.scores, &self.labels),
            metrics,
        }
    }
}

/// Prints one set's metrics and confusion matrix; `what` names its rows.
fn print(judged: &Judged, what: &str) {
    let (metrics, c) = (&judged.metrics, judged.metrics.confusion);
    if judged.no_words > 0 {
        println!("({} {what} with no words to judge left out)", judged.no_words);
    }
    println!(
        "accuracy {:.4}  F1 {:.4}  ROC AUC {:.4}  log loss {:.4}",
        metrics.accuracy,
        metrics.f1,
        metrics.roc_auc.unwrap_or(f64::NAN),
        judged.log_loss
    );
    println!(
        "predicted positive {:.1}%  labeled positive {:.1}%",
        100.0 * judged.predicted_positive,
        100.0 * judged.labeled_positive
    );
    println!("                 predicted negative  predicted positive");
    println!("label negative   {:>18}  {:>18}", c.true_negative, c.false_positive);
    println!("label positive   {:>18}  {:>18}", c.false_negative, c.true_positive);
}
