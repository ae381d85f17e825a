//! NDJSON input: one JSON object per line; blank lines are skipped, and a UTF-8 byte-order mark
//! before the first line too. The columns are inferred from the first [`INFER_RECORDS`] objects.
//! A later line with a field those lack is an error, not a field silently left out, and every
//! error names its line.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::json::ReaderBuilder;
use arrow::json::reader::Decoder;

use super::input::{ArrowBatches, INFER_RECORDS, open_text};

/// The schema of an NDJSON file, inferred from its first objects.
pub fn infer_schema(file: &Path) -> Result<SchemaRef> {
    let mut objects = Vec::new();
    for (index, line) in open_text(file)?.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let number = index + 1;
        let value: serde_json::Value = serde_json::from_str(&line).with_context(|| {
            format!("{} line {number} is not JSON (NDJSON holds one object per line)", file.display())
        })?;
        if !value.is_object() {
            bail!("{} line {number} is not a JSON object but {value}", file.display());
        }
        objects.push(value);
        if objects.len() == INFER_RECORDS {
            break;
        }
    }
    let schema = arrow::json::reader::infer_json_schema_from_iterator(objects.into_iter().map(Ok))
        .with_context(|| format!("cannot infer the columns of {}", file.display()))?;
    Ok(Arc::new(schema))
}

/// The batches of one NDJSON file with `schema` (already checked to be the file's), with only the
/// columns at `columns` when given.
pub fn batches(
    file: &Path,
    schema: &SchemaRef,
    batch_size: usize,
    columns: Option<Vec<usize>>,
) -> Result<ArrowBatches> {
    Ok(Box::new(Lines {
        reader: open_text(file)?,
        decoder: strict_decoder(schema, batch_size)?,
        schema: schema.clone(),
        batch_size,
        columns,
        next_line: 1,
        bytes: Vec::new(),
        lines: Vec::new(),
        done: false,
    }))
}

/// Decodes `line` into `decoder` as one row: it must hold exactly one JSON object (a line of two
/// would be two rows, and an unfinished object would swallow the next line). The decoder must
/// have room for the row (its batch size).
pub fn decode_line(decoder: &mut Decoder, line: &[u8]) -> Result<(), ArrowError> {
    let rows = decoder.len();
    let read = decoder.decode(line)?;
    if read != line.len() || decoder.len() != rows + 1 || decoder.has_partial_record() {
        return Err(ArrowError::JsonError("not one JSON object: each line must hold exactly one".into()));
    }
    Ok(())
}

/// A decoder of up to `rows` rows of `schema` that refuses fields the schema lacks.
fn strict_decoder(schema: &SchemaRef, rows: usize) -> Result<Decoder, ArrowError> {
    ReaderBuilder::new(schema.clone()).with_batch_size(rows).with_strict_mode(true).build_decoder()
}

/// The batches of an NDJSON file, a line at a time into a strict decoder.
struct Lines {
    reader: BufReader<File>,
    decoder: Decoder,
    schema: SchemaRef,
    batch_size: usize,
    columns: Option<Vec<usize>>,
    /// The number of the next line to read, from 1.
    next_line: usize,
    /// The current batch's lines, and each one's number and place in `bytes`.
    bytes: Vec<u8>,
    lines: Vec<(usize, Range<usize>)>,
    done: bool,
}

impl Lines {
    fn read_batch(&mut self) -> Result<Option<RecordBatch>, ArrowError> {
        self.bytes.clear();
        self.lines.clear();
        while self.lines.len() < self.batch_size {
            let start = self.bytes.len();
            if self.reader.read_until(b'\n', &mut self.bytes)? == 0 {
                break;
            }
            let number = self.next_line;
            self.next_line += 1;
            if self.bytes[start..].trim_ascii().is_empty() {
                self.bytes.truncate(start);
                continue;
            }
            decode_line(&mut self.decoder, &self.bytes[start..]).map_err(|e| on_line(number, e))?;
            self.lines.push((number, start..self.bytes.len()));
        }
        let batch = match self.decoder.flush() {
            Ok(batch) => batch,
            Err(e) => return Err(self.locate(e)),
        };
        match (batch, &self.columns) {
            (Some(batch), Some(columns)) => Ok(Some(batch.project(columns)?)),
            (batch, _) => Ok(batch),
        }
    }

    /// The line of the current batch that `error` came from, found by decoding them one by one
    /// (the decoder checks fields and types only when it builds the batch).
    fn locate(&self, error: ArrowError) -> ArrowError {
        for (number, range) in &self.lines {
            let decoded = strict_decoder(&self.schema, 1).and_then(|mut decoder| {
                decoder.decode(&self.bytes[range.clone()])?;
                decoder.flush()
            });
            if let Err(e) = decoded {
                return on_line(*number, e);
            }
        }
        error
    }
}

/// What `error` says, without the "Json error: " that Arrow puts before a JSON error.
pub fn message(error: ArrowError) -> String {
    match error {
        ArrowError::JsonError(message) => message,
        other => other.to_string(),
    }
}

/// `error` as the error of line `number`, explained where it is a field that the first lines lack.
fn on_line(number: usize, error: ArrowError) -> ArrowError {
    let message = message(error);
    let why = if message.contains("missing from schema") {
        format!("; the columns come from the first {INFER_RECORDS} objects, and none of them has it")
    } else {
        String::new()
    };
    ArrowError::JsonError(format!("line {number}: {message}{why}"))
}

impl Iterator for Lines {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let batch = self.read_batch();
        self.done = !matches!(batch, Ok(Some(_)));
        batch.transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str, batch_size: usize) -> Result<Vec<RecordBatch>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("r.jsonl");
        std::fs::write(&path, text)?;
        let schema = infer_schema(&path)?;
        Ok(batches(&path, &schema, batch_size, None)?.collect::<Result<_, _>>()?)
    }

    fn rows(batches: &[RecordBatch]) -> usize {
        batches.iter().map(RecordBatch::num_rows).sum()
    }

    #[test]
    fn a_mark_blank_lines_and_a_last_line_without_newline() {
        let batches = read("\u{feff}{\"review\":\"a\"}\n\n  \n{\"review\":\"b\"}\n{\"review\":\"c\"}", 2).unwrap();
        assert_eq!((batches.len(), rows(&batches)), (2, 3));
    }

    #[test]
    fn errors_name_their_line() {
        let mut text = "{\"review\":\"good\"}\n".repeat(5000);
        text.push_str("{\"review\": oops}\n");
        let err = format!("{:#}", read(&text, 1024).unwrap_err());
        assert!(err.contains("line 5001 is not JSON"), "{err}");

        let err = format!("{:#}", read("{\"review\":\"a\"}\n{\"review\":\"b\"} {\"review\":\"c\"}\n", 16).unwrap_err());
        assert!(err.contains("line 2 is not JSON"), "{err}");
        // Past the lines the columns are inferred from, the decoder finds it.
        let mut text = "{\"review\":\"good\"}\n".repeat(INFER_RECORDS);
        text.push_str("{\"review\":\"b\"} {\"review\":\"c\"}\n");
        let err = format!("{:#}", read(&text, 16).unwrap_err());
        assert!(err.contains(&format!("line {}: not one JSON object", INFER_RECORDS + 1)), "{err}");
    }

    #[test]
    fn a_field_first_seen_late_is_an_error_not_dropped() {
        let mut text = "{\"review\":\"good\"}\n".repeat(INFER_RECORDS + 1);
        text.push_str("{\"review\":\"bad\",\"extra\":1}\n");
        let err = format!("{:#}", read(&text, 4096).unwrap_err());
        assert!(err.contains(&format!("line {}: ", INFER_RECORDS + 2)) && err.contains("extra"), "{err}");
    }
}
