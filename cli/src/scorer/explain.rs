//! `scorer explain`: the exercise's per-word table for one review.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Args;
use sentiment::card::label_for;
use sentiment::encoding::Encoder;
use sentiment::model::ExplainedWord;

use crate::options::ModelOptions;

/// Show every word of a review with its sub-score (and weight), then the review's score.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The review.
    text: String,
    #[command(flatten)]
    model: ModelOptions,
    /// Also write the review as an HTML heat-map of its words.
    #[arg(long)]
    html: Option<PathBuf>,
}

/// Prints the table; writes the heat-map when asked.
pub fn run(args: &ExplainArgs) -> Result<()> {
    let (catalog, name) = args.model.open()?;
    let model = catalog.model(&name)?;
    if sentiment::text::tokenize(&args.text).is_empty() {
        bail!(
            "the review has no words to judge: only [A-Za-z] words count, and one-letter words between others are dropped"
        );
    }
    let review = model.explain(&[args.text.as_str()])?.remove(0);
    let words = review.words;
    let probability = review.probability;
    let (word_header, score_header) = match model.encoder() {
        Encoder::Ngrams(_) => ("n-gram", "sub-score"),
        Encoder::Words(_) if words.first().is_some_and(|w| w.weight.is_none()) => ("word", "score after word"),
        Encoder::Words(_) => ("word", "sub-score"),
    };
    let mut table = format!("model: {name}\n{word_header:<16} {score_header:>16} {:>8}\n", "weight");
    for word in &words {
        let known = if word.known { "" } else { " (not in GloVe)" };
        let weight = word.weight.map_or("-".to_owned(), |w| format!("{w:.4}"));
        writeln!(table, "{:<16} {:>16.4} {:>8}{known}", word.token, word.score, weight)?;
    }
    writeln!(table, "score {probability:.4} {}", label_for(probability))?;
    print!("{table}");
    if let Some(path) = &args.html {
        std::fs::write(path, heat_map(&name, &words, probability))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The words coloured by sub-score: green toward positive, red toward negative.
fn heat_map(model: &str, explained: &[ExplainedWord], probability: f32) -> String {
    let scale = explained.iter().fold(1e-6f32, |m, w| m.max(w.score.abs()));
    let mut words = String::new();
    for ExplainedWord { token, score, .. } in explained {
        let strength = (score / scale).clamp(-1.0, 1.0);
        let (r, g) =
            if strength >= 0.0 { (255.0 * (1.0 - strength), 255.0) } else { (255.0, 255.0 * (1.0 + strength)) };
        let _ = write!(
            words,
            "<span title=\"{score:.4}\" style=\"background:rgb({},{},{});padding:2px;margin:1px\">{token}</span> ",
            r as u8,
            g as u8,
            (255.0 * (1.0 - strength.abs())) as u8
        );
    }
    format!(
        "<!doctype html><meta charset=\"utf-8\"><title>sentiment: {model}</title>\
         <body style=\"font-family:sans-serif;max-width:50em\"><p>model <b>{model}</b>: P(positive) = {probability:.4} \
         ({})</p><p style=\"line-height:2\">{words}</p></body>\n",
        label_for(probability)
    )
}
