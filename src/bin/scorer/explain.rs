//! `scorer explain`: the exercise's per-word table for one review.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use sentiment::card::label_for;
use sentiment::encoding::EncodedBatch;
use sentiment::text::tokenize;

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
    let tokens = tokenize(&args.text);
    let explanation = model.explain(&EncodedBatch::encode(catalog.vocabulary(), &[args.text.as_str()]))?;
    let probability = explanation.probability[0];
    let recurrent = explanation.token_weights.is_none();
    let score_header = if recurrent { "score after word" } else { "sub-score" };
    let mut table = format!("model: {name}\n{:<16} {:>16} {:>8}\n", "word", score_header, "weight");
    for (i, token) in tokens.iter().enumerate() {
        let known = if catalog.vocabulary().id(token.as_bytes()) == 0 { " (not in GloVe)" } else { "" };
        let weight = explanation.token_weights.as_ref().map_or("-".to_owned(), |w| format!("{:.4}", w[i]));
        writeln!(table, "{:<16} {:>16.4} {:>8}{known}", token, explanation.token_scores[i], weight)?;
    }
    writeln!(table, "score {probability:.4} {}", label_for(probability))?;
    print!("{table}");
    if let Some(path) = &args.html {
        std::fs::write(path, heat_map(&name, &tokens, &explanation.token_scores, probability))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The words coloured by sub-score: green toward positive, red toward negative.
fn heat_map(model: &str, tokens: &[String], scores: &[f32], probability: f32) -> String {
    let scale = scores.iter().take(tokens.len()).fold(1e-6f32, |m, s| m.max(s.abs()));
    let mut words = String::new();
    for (token, score) in tokens.iter().zip(scores) {
        let strength = (score / scale).clamp(-1.0, 1.0);
        let (r, g) = if strength >= 0.0 { (255.0 * (1.0 - strength), 255.0) } else { (255.0, 255.0 * (1.0 + strength)) };
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
