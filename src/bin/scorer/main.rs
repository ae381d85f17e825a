//! `scorer`: sentiment of movie reviews from the command line.
//!
//! Exit codes: 0 success; 1 failure (bad input, missing model, I/O); 2 usage error;
//! 130 interrupted by SIGINT or SIGTERM (nothing is left at the output path).

mod eval;
mod explain;
mod input;
mod models;
mod options;
mod output;
mod progress;
mod score;
mod tokens;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::{Parser, Subcommand};

/// Set by SIGINT/SIGTERM; long jobs stop at the next batch and clean up.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// The error a job stops with when interrupted.
#[derive(Debug, thiserror::Error)]
#[error("interrupted; nothing was written")]
pub struct Interrupted;

/// Score the sentiment of movie reviews with the IMDB exercise's models.
///
/// `scorer --input reviews.parquet` is `scorer score --input reviews.parquet`.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    score: Option<score::ScoreArgs>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Score Parquet files: every row kept, a score and a label appended.
    Score(score::ScoreArgs),
    /// A model's accuracy, F1, ROC AUC and confusion matrix on labeled reviews.
    Eval(eval::EvalArgs),
    /// Every word of a review with its sub-score, then the review's score.
    Explain(explain::ExplainArgs),
    /// The shipped models and their test metrics.
    Models(models::ModelsArgs),
    /// Tokenise reviews with the models' text pipeline: one JSON string per stdin line in, one
    /// JSON array of tokens per stdout line out.
    Tokens,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    if let Err(e) = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::Relaxed)) {
        tracing::warn!("cannot watch for interrupts: {e}");
    }
    let result = match (cli.command, cli.score) {
        (Some(Command::Score(args)), _) | (None, Some(args)) => score::run(&args),
        (Some(Command::Eval(args)), _) => eval::run(&args),
        (Some(Command::Explain(args)), _) => explain::run(&args),
        (Some(Command::Models(args)), _) => models::run(&args),
        (Some(Command::Tokens), _) => tokens::run(std::io::stdin().lock(), std::io::stdout().lock()),
        (None, None) => {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<Interrupted>() => {
            eprintln!("scorer: {e}");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("scorer: {e:#}");
            ExitCode::FAILURE
        }
    }
}
