//! `scorer models`: the shipped models and how well each does.

use std::io::Write;

use anyhow::Result;
use clap::Args;
use sentiment::card::Spread;
use sentiment::catalog::{Catalog, DEFAULT_MODEL};
use sentiment::metrics::Metrics;
use sentiment::provenance::{ModelIdentity, PACKAGE, VERSION};
use sentiment::runtime::Provider;
use serde::Serialize;

use crate::options::ModelsDir;

/// List the shipped models with their IMDB test metrics: the mean over the training seeds and the
/// shipped run's.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    #[command(flatten)]
    models_dir: ModelsDir,
    /// Print a Markdown table (as in models/README.md).
    #[arg(long, conflicts_with = "json")]
    markdown: bool,
    /// Print a JSON array: each model's name, file, SHA-256 and contract version (as scored
    /// Parquet files record them in their footer), with its IMDB test metrics.
    #[arg(long)]
    json: bool,
}

/// One model as `--json` prints it.
#[derive(Serialize)]
struct ModelEntry<'a> {
    #[serde(flatten)]
    identity: ModelIdentity,
    package: &'static str,
    version: &'static str,
    default: bool,
    architecture: &'a str,
    test: &'a Metrics,
    test_accuracy_seeds: Option<&'a Spread>,
}

/// Prints one row per model.
pub fn run(args: &ModelsArgs) -> Result<()> {
    let mut out = crate::stdout::stdout();
    let catalog = Catalog::open(&args.models_dir.path(), 1, Provider::Cpu)?;
    if args.json {
        let entries = catalog
            .cards()
            .map(|card| {
                Ok(ModelEntry {
                    identity: ModelIdentity::of(&catalog, &card.name)?,
                    package: PACKAGE,
                    version: VERSION,
                    default: card.name == DEFAULT_MODEL,
                    architecture: &card.architecture,
                    test: &card.test,
                    test_accuracy_seeds: card.seeds.as_ref().map(|s| &s.test_accuracy),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        serde_json::to_writer_pretty(&mut out, &entries)?;
        writeln!(out)?;
        return Ok(());
    }
    if args.markdown {
        writeln!(
            out,
            "| model | accuracy, mean of seeds | shipped run: accuracy | F1 | ROC AUC | exercise's accuracy | test reviews | train / validation / unlabeled | epochs (best) | training time | architecture |"
        )?;
        writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|")?;
    } else {
        writeln!(
            out,
            "{:<14} {:>22} {:>8} {:>8} {:>8} {:>9}  architecture",
            "model", "mean (seeds)", "accuracy", "F1", "ROC AUC", "exercise"
        )?;
    }
    for name in catalog.names() {
        let card = catalog.card(name)?;
        let t = &card.test;
        let auc = t.roc_auc.unwrap_or(f64::NAN);
        let default = if name == DEFAULT_MODEL { " (default)" } else { "" };
        let mean = match &card.seeds {
            Some(seeds) => {
                format!("{:.4} ± {:.4} ({})", seeds.test_accuracy.mean, seeds.test_accuracy.std, card.runs.len())
            }
            None => "one run".to_owned(),
        };
        let exercise = |width: usize| card.seed_accuracy.map_or_else(|| "-".to_owned(), |a| format!("{a:>width$.3}"));
        if args.markdown {
            let unlabeled = card.distillation.as_ref().map_or(0, |d| d.unlabeled_reviews);
            writeln!(
                out,
                "| `{name}`{default} | {mean} | {:.4} | {:.4} | {auc:.4} | {} | {} | {} / {} / {unlabeled} | {} ({}) | {:.0} s | {} |",
                t.accuracy,
                t.f1,
                exercise(0),
                t.n,
                card.data.train_size,
                card.data.validation_size,
                card.training.epochs_run,
                card.training.best_epoch,
                card.training.seconds,
                card.architecture
            )?;
        } else {
            writeln!(
                out,
                "{:<14} {mean:>22} {:>8.4} {:>8.4} {auc:>8.4} {:>9}  {}{default}",
                name,
                t.accuracy,
                t.f1,
                exercise(9),
                card.architecture
            )?;
        }
    }
    Ok(())
}
