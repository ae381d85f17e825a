//! The numbers the READMEs take from the model cards, checked against the cards, so that a
//! retrained model cannot leave a stale number behind: the models table (as `scorer models
//! --markdown` prints it), the default model's lead over the best of the five, and the README's
//! `scorer eval` output.

use crate::common;

use common::{repo, scorer, stderr};
use sentiment::card::ModelCard;
use sentiment::catalog::{Catalog, DEFAULT_MODEL};
use sentiment::runtime::Provider;

/// A document with its line breaks and runs of spaces folded, as Markdown reads it.
fn document(path: &str) -> String {
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let values: Vec<f64> = values.collect();
    values.iter().sum::<f64>() / values.len() as f64
}

/// A card's test and validation accuracy, each the mean over its seeds' runs.
fn means(card: &ModelCard) -> (f64, f64) {
    (mean(card.runs.iter().map(|r| r.test.accuracy)), mean(card.runs.iter().map(|r| r.validation.accuracy)))
}

#[test]
fn every_row_of_the_models_table_is_the_cards() {
    let out = scorer(&["models", "--markdown"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let table = String::from_utf8(out.stdout).unwrap();
    assert_eq!(table.lines().count(), 8, "a header, a rule and six models:\n{table}");
    for path in ["README.md", "models/README.md"] {
        let text = std::fs::read_to_string(repo().join(path)).unwrap();
        for row in table.lines() {
            assert!(
                text.lines().any(|line| line == row),
                "{path} lacks the row\n{row}\n(run `scorer models --markdown`)"
            );
        }
    }
}

#[test]
fn the_default_models_lead_is_the_cards() {
    let catalog = Catalog::open(&repo().join("models"), 1, Provider::Cpu).unwrap();
    let default = catalog.card(DEFAULT_MODEL).unwrap();
    let best = catalog
        .cards()
        .filter(|card| card.name != DEFAULT_MODEL)
        .max_by(|a, b| means(a).1.total_cmp(&means(b).1))
        .unwrap();
    let ((test, validation), (best_test, best_validation)) = (means(default), means(best));
    let seeds = default.runs.len();
    let lead = 100.0 * (test - best_test);
    let (readme, models_readme) = (document("README.md"), document("models/README.md"));
    let claims = [
        (
            &readme,
            format!(
                "at {test:.3} on IMDB test (the mean of its {seeds} seeds) it is {lead:.1} points more accurate than \
                 the best of the five (`{}`, {best_test:.3})",
                best.name
            ),
        ),
        (
            &readme,
            format!(
                "it is {:.1} points above `{}` ({validation:.4} against {best_validation:.4}, the means of {seeds} seeds \
                 each), and on test {lead:.1} ({test:.4} against {best_test:.4})",
                100.0 * (validation - best_validation),
                best.name
            ),
        ),
        (
            &readme,
            format!(
                "accuracy {:.4}  F1 {:.4}  ROC AUC {:.4}",
                default.test.accuracy,
                default.test.f1,
                default.test.roc_auc.unwrap()
            )
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        ),
        (&models_readme, format!("the most accurate, by {lead:.1} points")),
        (
            &models_readme,
            format!(
                "reaches {test:.4} ± {:.4} (validation {validation:.4}), {lead:.1} points above the best of the five \
                 (`{}`, {best_test:.4})",
                default.seeds.as_ref().unwrap().test_accuracy.std,
                best.name
            ),
        ),
    ];
    for (text, claim) in claims {
        assert!(text.contains(&claim), "a README no longer says, as the cards do:\n{claim}");
    }
}
