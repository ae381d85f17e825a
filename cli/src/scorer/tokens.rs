//! `scorer tokens`: the text pipeline as a line protocol, for checking it from outside.

use std::io::{BufRead, BufWriter, Write};

use anyhow::{Context, Result};
use sentiment::text::for_each_token;

/// Reads one JSON string per line and writes the JSON array of its tokens, line for line.
pub fn run(input: impl BufRead, output: impl Write) -> Result<()> {
    let mut out = BufWriter::with_capacity(1 << 16, output);
    let mut array = Vec::with_capacity(1024);
    for (number, line) in input.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read line {}", number + 1))?;
        let text: String =
            serde_json::from_str(&line).with_context(|| format!("line {}: expected one JSON string", number + 1))?;
        array.clear();
        array.push(b'[');
        for_each_token(text.as_bytes(), |word| {
            // Tokens are ASCII letters: nothing to escape.
            if array.len() > 1 {
                array.push(b',');
            }
            array.push(b'"');
            array.extend(word.iter().map(u8::to_ascii_lowercase));
            array.push(b'"');
        });
        array.extend_from_slice(b"]\n");
        out.write_all(&array).context("cannot write tokens")?;
    }
    out.flush().context("cannot write tokens")
}

#[cfg(test)]
mod tests {
    #[test]
    fn one_array_per_line() {
        let mut out = Vec::new();
        super::run(&b"\"a b c d e\"\n\"\"\n\"Loved it!\"\n"[..], &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "[\"a\",\"c\",\"e\"]\n[]\n[\"loved\",\"it\"]\n");
    }

    #[test]
    fn names_the_bad_line() {
        let err = super::run(&b"\"ok\"\nnot json\n"[..], Vec::new()).unwrap_err();
        assert!(format!("{err:#}").contains("line 2"));
    }
}
