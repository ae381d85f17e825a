//! `scorer`: sentiment of movie reviews from the command line.
//!
//! Exit codes: 0 success; 1 failure (bad input, missing model, I/O); 2 usage error;
//! 130 interrupted by SIGINT or SIGTERM (nothing is left at the output path).

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod allocator;
#[cfg(feature = "cluster")]
mod cluster;
mod eval;
mod explain;
mod interrupt;
mod models;
mod options;
mod plot;
mod progress;
mod score;
#[cfg(feature = "serve")]
mod serve;
mod sql;
mod stdout;
mod stream;
mod tokens;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use interrupt::Interrupted;

/// Score the sentiment of movie reviews with the IMDB exercise's models.
///
/// `scorer --input reviews.parquet` is `scorer score --input reviews.parquet`.
#[derive(Debug, Parser)]
#[command(name = "scorer", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Score Parquet, CSV or NDJSON files: every row kept, a score and a label appended.
    Score(score::ScoreArgs),
    /// Run SQL over Parquet, CSV and NDJSON tables with the sentiment functions.
    Sql(sql::SqlArgs),
    /// Score NDJSON or plain lines from stdin to NDJSON on stdout, as they arrive.
    Stream(stream::StreamArgs),
    /// A model's accuracy, F1, ROC AUC and confusion matrix on labeled reviews.
    Eval(eval::EvalArgs),
    /// Every word of a review with its sub-score, then the review's score.
    Explain(explain::ExplainArgs),
    /// The shipped models and their test metrics.
    Models(models::ModelsArgs),
    /// Tokenise reviews with the models' text pipeline: one JSON string per stdin line in, one
    /// JSON array of tokens per stdout line out.
    Tokens,
    /// Serve the sentiment functions over Arrow Flight to streaming databases (RisingWave,
    /// Databend) until SIGINT or SIGTERM (feature `serve`).
    #[cfg(feature = "serve")]
    Serve(serve::ServeArgs),
    /// Start a Ballista scheduler that knows the sentiment functions (feature `cluster`).
    #[cfg(feature = "cluster")]
    Scheduler(cluster::SchedulerArgs),
    /// Start a Ballista executor that runs the sentiment functions (feature `cluster`).
    #[cfg(feature = "cluster")]
    Executor(cluster::ExecutorArgs),
}

impl Command {
    /// True for the processes that serve until they are stopped.
    fn is_server(&self) -> bool {
        #[cfg(feature = "serve")]
        if matches!(self, Command::Serve(_)) {
            return true;
        }
        #[cfg(feature = "cluster")]
        if matches!(self, Command::Scheduler(_) | Command::Executor(_)) {
            return true;
        }
        false
    }
}

/// `scorer --input ...` (options without a subcommand) means `scorer score --input ...`.
fn with_default_subcommand(mut args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let first = args.get(1).and_then(|a| a.to_str());
    if first.is_some_and(|a| a.starts_with('-') && !matches!(a, "-h" | "--help" | "-V" | "--version")) {
        args.insert(1, "score".into());
    }
    args
}

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    allocator::tune();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse_from(with_default_subcommand(std::env::args_os().collect()));
    // Jobs stop cleanly at the next batch; the cluster's processes keep the default: they end.
    if !cli.command.is_server() {
        interrupt::watch();
    }
    let result = match cli.command {
        Command::Score(args) => score::run(&args),
        Command::Sql(args) => sql::run(&args),
        Command::Stream(args) => stream::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Models(args) => models::run(&args),
        Command::Tokens => tokens::run(std::io::stdin().lock(), stdout::stdout()),
        #[cfg(feature = "serve")]
        Command::Serve(args) => serve::run(&args),
        #[cfg(feature = "cluster")]
        Command::Scheduler(args) => cluster::scheduler(&args),
        #[cfg(feature = "cluster")]
        Command::Executor(args) => cluster::executor(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away (`| head`): it has what it wanted.
        Err(_) if stdout::reader_left() => ExitCode::SUCCESS,
        Err(e) if e.is::<Interrupted>() => {
            eprintln!("scorer: {e}");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("scorer: {}", sentiment::errors::describe(&e));
            ExitCode::FAILURE
        }
    }
}
