//! `scorer stream`: NDJSON or plain lines on stdin, scored NDJSON on stdout, flushed after
//! every batch so that it can sit in a pipeline such as `tail -f reviews.jsonl | scorer stream`.

use std::io::{BufRead, Write};
use std::sync::mpsc;

use anyhow::{Context, Result};
use clap::Args;
use sentiment::batch::score_texts;
use sentiment::card::label_for;
use serde_json::{Map, Value};

use crate::options::ModelOptions;

/// Score reviews arriving on stdin, one per line: `{"review": ...}` objects (other fields pass
/// through) or plain text.
#[derive(Debug, Args)]
pub struct StreamArgs {
    #[command(flatten)]
    model: ModelOptions,
    /// The field of a JSON line that holds the review.
    #[arg(long, default_value = "review")]
    field: String,
    /// Most lines scored together; a batch never waits for more lines than have arrived.
    #[arg(long, default_value_t = 1024, value_parser = crate::options::batch_size)]
    batch_size: usize,
    /// Name of the added P(positive) field.
    #[arg(long, default_value = "sentiment_score")]
    score_field: String,
    /// Name of the added label field.
    #[arg(long, default_value = "sentiment_label")]
    label_field: String,
}

/// Reads stdin to its end, scoring and writing as lines arrive.
pub fn run(args: &StreamArgs) -> Result<()> {
    args.model.configure_threads();
    let (catalog, name) = args.model.open()?;
    let model = catalog.model(&name)?;
    // A reader thread, so that a batch takes the lines already there without waiting for more.
    let (sender, receiver) = mpsc::sync_channel::<std::io::Result<String>>(args.batch_size * 4);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut out = crate::stdout::stdout();
    let mut number = 0usize;
    while let Ok(first) = receiver.recv() {
        let mut lines = vec![first];
        while lines.len() < args.batch_size {
            match receiver.try_recv() {
                Ok(line) => lines.push(line),
                Err(_) => break,
            }
        }
        let mut records = Vec::with_capacity(lines.len());
        for line in lines {
            number += 1;
            match line.context("cannot read stdin").and_then(|l| self::parse(&l, &args.field)) {
                Ok(Some(record)) => records.push(record),
                Ok(None) => {}
                Err(e) => eprintln!("scorer stream: line {number}: {e:#}; skipped"),
            }
        }
        let texts: Vec<&str> = records.iter().map(|(_, text)| text.as_str()).collect();
        let scores = score_texts(&model, &texts)?;
        for ((mut object, _), score) in records.into_iter().zip(scores) {
            object.insert(args.score_field.clone(), Value::from(score));
            object.insert(args.label_field.clone(), Value::from(score.map(label_for)));
            serde_json::to_writer(&mut out, &object)?;
            out.write_all(b"\n")?;
        }
        out.flush().context("cannot write to stdout")?;
    }
    Ok(())
}

/// A line as (the object to write back, the review): a JSON object with the review in `field`,
/// or plain text. Blank lines are skipped.
fn parse(line: &str, field: &str) -> Result<Option<(Map<String, Value>, String)>> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if !trimmed.starts_with('{') {
        let mut object = Map::new();
        object.insert(field.to_owned(), Value::from(line));
        return Ok(Some((object, line.to_owned())));
    }
    let object: Map<String, Value> = serde_json::from_str(trimmed).context("malformed JSON")?;
    let text = match object.get(field) {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => anyhow::bail!("no {field:?} field"),
        Some(other) => anyhow::bail!("field {field:?} is not a string but {other}"),
    };
    Ok(Some((object, text)))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn objects_plain_lines_and_errors() {
        let (object, text) = parse(r#"{"id": 7, "review": "Great"}"#, "review").unwrap().unwrap();
        assert_eq!(text, "Great");
        assert_eq!(object["id"], 7);
        assert_eq!(parse("just text", "review").unwrap().unwrap().1, "just text");
        assert!(parse("   ", "review").unwrap().is_none());
        assert!(parse(r#"{"review": "#, "review").is_err());
        assert!(parse(r#"{"text": "x"}"#, "review").is_err());
    }
}
