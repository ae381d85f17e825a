//! The shipped models give the same scores in Python's onnxruntime, a second and independent
//! client, as in the Rust scorer: to 1e-5 on 256 IMDB test reviews and the sample reviews.

use std::process::Command;

use sentiment::catalog::Catalog;
use sentiment::data::LabeledReviews;
use sentiment::runtime::Provider;

#[test]
fn python_onnxruntime_agrees_with_the_rust_scorer() {
    let repo = crate::common::repo();
    let catalog = Catalog::open(&repo.join("models"), 1, Provider::Cpu).unwrap();
    let mut texts = LabeledReviews::load(&repo.join("../shared/data/imdb/test.parquet"), "review", None)
        .unwrap()
        .shuffled(11)
        .head(256)
        .texts;
    texts.extend(std::fs::read_to_string(repo.join("tests/data/reviews.jsonl")).unwrap().lines().map(|l| {
        let row: serde_json::Value = serde_json::from_str(l).unwrap();
        row["review"].as_str().unwrap_or("").to_owned()
    }));
    for name in catalog.names() {
        let model = catalog.model(name).unwrap();
        let batch = model.encode(&texts);
        let (ids, width) = batch.whole_matrix();
        let ids: Vec<&[i64]> = ids.chunks(width).collect();
        let input = tempfile::NamedTempFile::new().unwrap();
        let inputs = serde_json::json!({ model.input(): ids, "lengths": batch.lengths });
        std::fs::write(input.path(), inputs.to_string()).unwrap();
        let from_rust = model.probabilities(&batch).unwrap();
        let output = Command::new("python3")
            .arg(repo.join("tests/python_client.py"))
            .arg(repo.join(format!("models/{name}.onnx")))
            .arg(input.path())
            .env("PYTHONPATH", repo.join(".deps/python"))
            .output()
            .expect("python3 runs");
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        let from_python: Vec<f32> = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(from_python.len(), from_rust.len());
        let worst = from_rust.iter().zip(&from_python).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(worst <= 1e-5, "{name}: Rust and Python onnxruntime differ by {worst}");
    }
}
