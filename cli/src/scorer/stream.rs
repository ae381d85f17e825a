//! `scorer stream`: NDJSON or plain lines on stdin, scored NDJSON on stdout, flushed after
//! every batch so that it can sit in a pipeline such as `tail -f reviews.jsonl | scorer stream`.

use std::io::{BufRead, Write};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

use anyhow::{Context, Result, bail};
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

/// Lines read ahead of scoring at the most.
const READ_AHEAD: usize = 4096;

/// How often a wait for the next line looks for a signal.
const POLL: Duration = Duration::from_millis(100);

/// Reads stdin to its end, scoring and writing as lines arrive; stops at SIGINT or SIGTERM.
pub fn run(args: &StreamArgs) -> Result<()> {
    args.model.configure_threads();
    let (catalog, name) = args.model.open()?;
    let model = catalog.model(&name)?;
    // A reader thread, so that a batch takes the lines already there without waiting for more.
    let (sender, receiver) = mpsc::sync_channel::<std::io::Result<String>>(READ_AHEAD);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let outputs = [args.score_field.as_str(), args.label_field.as_str()];
    let mut out = crate::stdout::stdout();
    let mut number = 0usize;
    loop {
        let first = match receiver.recv_timeout(POLL) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => {
                crate::interrupt::check()?;
                continue;
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        };
        crate::interrupt::check()?;
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
            let parsed = line.context("cannot read stdin").and_then(|line| {
                // A byte-order mark may open the stream, as Windows tools write UTF-8.
                let line = if number == 1 { line.strip_prefix('\u{feff}').unwrap_or(&line) } else { &line };
                self::parse(line, &args.field, outputs)
            });
            match parsed {
                Ok(Some(record)) => records.push(record),
                Ok(None) => {}
                Err(e) => eprintln!("scorer stream: line {number}: {}; skipped", sentiment::errors::describe(&e)),
            }
        }
        let texts: Vec<Option<&str>> = records.iter().map(|(_, text)| text.as_deref()).collect();
        let scores = score_texts(&model, &texts)?;
        for ((mut object, _), score) in records.into_iter().zip(scores) {
            object.insert(args.score_field.clone(), Value::from(score));
            object.insert(args.label_field.clone(), Value::from(score.map(label_for)));
            serde_json::to_writer(&mut out, &object)?;
            out.write_all(b"\n")?;
        }
        out.flush().context("cannot write to stdout")?;
    }
}

/// A line's object to write back, and its review (`None` for a null one).
type Record = (Map<String, Value>, Option<String>);

/// A line as (the object to write back, the review): a JSON object with the review in `field`
/// (a null review is scored NULL), or plain text. Blank lines are skipped. An object that already
/// has a field named like one of the `outputs` is refused: its value would be overwritten.
fn parse(line: &str, field: &str, outputs: [&str; 2]) -> Result<Option<Record>> {
    let trimmed = line.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    if !trimmed.starts_with('{') {
        let mut object = Map::new();
        object.insert(field.to_owned(), Value::from(line));
        return Ok(Some((object, Some(line.to_owned()))));
    }
    let object: Map<String, Value> = serde_json::from_str(trimmed).context("malformed JSON")?;
    if let Some(clash) = outputs.into_iter().find(|name| object.contains_key(*name)) {
        bail!("the line has a field {clash:?} already; name the output otherwise with --score-field or --label-field");
    }
    let text = match object.get(field) {
        Some(Value::String(text)) => Some(text.clone()),
        Some(Value::Null) => None,
        None => bail!("no {field:?} field"),
        Some(other) => bail!("field {field:?} is not a string but {other}"),
    };
    Ok(Some((object, text)))
}

#[cfg(test)]
mod tests {
    use super::parse;

    const OUTPUTS: [&str; 2] = ["sentiment_score", "sentiment_label"];

    #[test]
    fn objects_plain_lines_and_errors() {
        let (object, text) = parse(r#"{"id": 7, "review": "Great"}"#, "review", OUTPUTS).unwrap().unwrap();
        assert_eq!(text.as_deref(), Some("Great"));
        assert_eq!(object["id"], 7);
        assert_eq!(parse("just text", "review", OUTPUTS).unwrap().unwrap().1.as_deref(), Some("just text"));
        assert!(parse("   ", "review", OUTPUTS).unwrap().is_none());
        assert!(parse(r#"{"review": "#, "review", OUTPUTS).is_err());
        assert!(parse(r#"{"text": "x"}"#, "review", OUTPUTS).is_err());
    }

    #[test]
    fn a_null_review_is_scored_null_and_an_output_name_may_not_clash() {
        let (object, text) = parse(r#"{"id": 1, "review": null}"#, "review", OUTPUTS).unwrap().unwrap();
        assert_eq!((object["id"].as_i64(), text), (Some(1), None));
        let err = parse(r#"{"review": "x", "sentiment_label": "mine"}"#, "review", OUTPUTS).unwrap_err();
        assert!(err.to_string().contains("\"sentiment_label\" already"), "{err}");
    }
}
