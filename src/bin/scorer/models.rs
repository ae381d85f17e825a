//! `scorer models`: the shipped models and how well each does.

use anyhow::Result;
use clap::Args;
use sentiment::catalog::{Catalog, DEFAULT_MODEL};
use sentiment::runtime::Provider;

/// List the shipped models with their IMDB test metrics.
#[derive(Debug, Args)]
pub struct ModelsArgs {
    /// The folder of shipped models [default: $SENTIMENT_MODELS, else models/ of the source tree].
    #[arg(long)]
    models_dir: Option<std::path::PathBuf>,
    /// Print a Markdown table (as in models/README.md).
    #[arg(long)]
    markdown: bool,
}

/// Prints one row per model.
pub fn run(args: &ModelsArgs) -> Result<()> {
    let catalog = Catalog::open(&args.models_dir.clone().unwrap_or_else(Catalog::default_dir), 1, Provider::Cpu)?;
    if args.markdown {
        println!(
            "| model | accuracy | F1 | ROC AUC | exercise's accuracy | test reviews | train / validation | epochs (best) | training time | architecture |"
        );
        println!("|---|---|---|---|---|---|---|---|---|---|");
    } else {
        println!("{:<14} {:>8} {:>8} {:>8} {:>9}  architecture", "model", "accuracy", "F1", "ROC AUC", "exercise");
    }
    for name in catalog.names() {
        let card = catalog.card(name)?;
        let t = &card.test;
        let auc = t.roc_auc.unwrap_or(f64::NAN);
        let default = if name == DEFAULT_MODEL { " (default)" } else { "" };
        if args.markdown {
            println!(
                "| `{name}`{default} | {:.4} | {:.4} | {auc:.4} | {:.3} | {} | {} / {} | {} ({}) | {:.0} s | {} |",
                t.accuracy,
                t.f1,
                card.seed_accuracy,
                t.n,
                card.data.train_size,
                card.data.validation_size,
                card.training.epochs_run,
                card.training.best_epoch,
                card.training.seconds,
                card.architecture
            );
        } else {
            println!(
                "{:<14} {:>8.4} {:>8.4} {auc:>8.4} {:>9.3}  {}{default}",
                name, t.accuracy, t.f1, card.seed_accuracy, card.architecture
            );
        }
    }
    Ok(())
}
