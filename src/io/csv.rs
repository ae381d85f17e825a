//! CSV input as the exercise's `IMDB Dataset.csv` is written: a header line, commas, double
//! quotes (`""` inside a quoted field). A UTF-8 byte-order mark before the header is skipped. A
//! quoted field still open at the end of the file is an error naming the line where it opened:
//! arrow's reader would close it there, taking the rest of the file into one value.

use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use arrow::datatypes::SchemaRef;

use super::input::{ArrowBatches, INFER_RECORDS, open_text};

/// The schema of a CSV file, inferred from its first records.
pub fn infer_schema(file: &Path) -> Result<SchemaRef> {
    let (schema, _) = format()
        .infer_schema(open_text(file)?, Some(INFER_RECORDS))
        .with_context(|| format!("{} is not a readable CSV file with a header line", file.display()))?;
    Ok(Arc::new(schema))
}

/// The batches of one CSV file with `schema` (already checked to be the file's), with only the
/// columns at `columns` when given.
pub fn batches(
    file: &Path,
    schema: &SchemaRef,
    batch_size: usize,
    columns: Option<Vec<usize>>,
) -> Result<ArrowBatches> {
    let mut builder = arrow::csv::ReaderBuilder::new(schema.clone()).with_format(format()).with_batch_size(batch_size);
    if let Some(columns) = columns {
        builder = builder.with_projection(columns);
    }
    Ok(Box::new(builder.build(QuoteCheck::new(open_text(file)?))?))
}

fn format() -> arrow::csv::reader::Format {
    arrow::csv::reader::Format::default().with_header(true)
}

/// Where a byte stands in RFC 4180 quoting, as arrow's CSV reader (csv-core) reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    /// At the start of a field: a quote opens a quoted field.
    FieldStart,
    /// In a field that did not open with a quote: quotes are plain characters.
    Unquoted,
    /// In a quoted field.
    Quoted,
    /// Just after a quote in a quoted field: another quote is an escaped one, else it closed.
    QuoteInQuoted,
}

/// A reader that follows the quoting of the bytes passing through it, and fails at the end of
/// the input if a quoted field is still open.
#[derive(Debug)]
struct QuoteCheck<R> {
    inner: R,
    state: Quoting,
    /// The line being read, from 1.
    line: u64,
    /// The line where the last quoted field opened.
    opened_on: u64,
}

impl<R> QuoteCheck<R> {
    fn new(inner: R) -> Self {
        Self { inner, state: Quoting::FieldStart, line: 1, opened_on: 1 }
    }

    fn follow(&mut self, bytes: &[u8]) {
        use Quoting::*;
        for &byte in bytes {
            self.state = match (self.state, byte) {
                (FieldStart, b'"') => {
                    self.opened_on = self.line;
                    Quoted
                }
                (FieldStart | Unquoted | QuoteInQuoted, b',' | b'\n' | b'\r') => FieldStart,
                (Quoted, b'"') => QuoteInQuoted,
                (Quoted, _) | (QuoteInQuoted, b'"') => Quoted,
                (FieldStart | Unquoted | QuoteInQuoted, _) => Unquoted,
            };
            self.line += u64::from(byte == b'\n');
        }
    }
}

impl<R: Read> Read for QuoteCheck<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buf)?;
        if read == 0 && self.state == Quoting::Quoted {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("the quoted field opened on line {} is never closed", self.opened_on),
            ));
        }
        self.follow(&buf[..read]);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> std::io::Result<String> {
        let mut out = String::new();
        QuoteCheck::new(text.as_bytes()).read_to_string(&mut out)?;
        Ok(out)
    }

    #[test]
    fn closed_quotes_escaped_quotes_and_plain_quotes_pass() {
        for text in [
            "id,review\n1,\"Great, really\"\n",
            "id,review\n1,\"She said \"\"no\"\"\"\n2,x\n",
            "id,review\n1,\"two\nlines\"\n",
            "id,review\n1,a 5\" screen\n",
            "id,review\n1,\"\"\n",
        ] {
            assert_eq!(check(text).unwrap(), text);
        }
    }

    #[test]
    fn an_unclosed_quote_names_its_line() {
        let err = check("id,review\n1,\"good film\n2,bad film\n3,ok\n").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("opened on line 2 is never closed"), "{err}");
        assert!(check("id,review\n1,\"She said \"\"no\n").is_err());
    }
}
