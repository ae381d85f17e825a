//! The text pipeline reproduces every line of `../shared/golden/tokenize.jsonl`, both as a library
//! call and through the `scorer tokens` interface that outsiders use.

use std::io::Write;
use std::process::{Command, Stdio};

use serde::Deserialize;

#[derive(Deserialize)]
struct Golden {
    text: String,
    tokens: Vec<String>,
}

fn golden() -> Vec<Golden> {
    let path = crate::common::repo().join("../shared/golden/tokenize.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines().map(|l| serde_json::from_str(l).expect("golden line")).collect()
}

#[test]
fn library_matches_every_golden_line() {
    let cases = golden();
    assert!(cases.len() > 100, "the golden file has {} lines", cases.len());
    for case in &cases {
        assert_eq!(sentiment::text::tokenize(&case.text), case.tokens, "text: {:?}", case.text);
    }
}

#[test]
fn scorer_tokens_matches_every_golden_line() {
    let cases = golden();
    let mut child = Command::new(env!("CARGO_BIN_EXE_scorer"))
        .arg("tokens")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("scorer runs");
    let input: String = cases.iter().map(|c| serde_json::to_string(&c.text).unwrap() + "\n").collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success());
    let lines: Vec<Vec<String>> =
        String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), cases.len(), "one output line per input line");
    for (case, tokens) in cases.iter().zip(&lines) {
        assert_eq!(tokens, &case.tokens, "text: {:?}", case.text);
    }
}
