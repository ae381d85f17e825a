//! `scorer sql`: SQL over Parquet, CSV and NDJSON tables with the sentiment functions registered.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use arrow::array::RecordBatch;
use clap::{Args, ValueEnum};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::DFParser;
use futures::StreamExt;
use sentiment::catalog::Catalog;

use crate::options::{RuntimeOptions, runtime};

/// Run SQL with sentiment(), sentiment_label() and sentiment_explain() available.
#[derive(Debug, Clone, Args)]
pub struct SqlArgs {
    /// The SQL: one or more statements separated by ';'.
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    query: Option<String>,
    /// Read the SQL from a file.
    #[arg(short = 'f', long)]
    file: Option<PathBuf>,
    /// A table: NAME=PATH, where PATH is a Parquet, CSV or NDJSON file (by extension), a folder
    /// or a glob. Repeatable.
    #[arg(long = "table", value_name = "NAME=PATH", value_parser = parse_table)]
    tables: Vec<(String, String)>,
    /// A Parquet, CSV or NDJSON file, folder or glob to query as the table `reviews`.
    #[arg(long)]
    input: Option<String>,
    /// A table NAME of NDJSON lines arriving on stdin, with columns from the first line. Rows of a
    /// query that filters and projects are printed as lines arrive (`tail -f x.jsonl | scorer sql
    /// --stdin reviews ...`); a query that needs the whole input is refused unless --bounded.
    #[arg(long, value_name = "NAME")]
    stdin: Option<String>,
    /// With --stdin: the input ends, so ORDER BY and aggregates may wait for its end.
    #[arg(long, requires = "stdin")]
    bounded: bool,
    /// How results are printed; json is one object per line.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    runtime: RuntimeOptions,
    /// Run the statements on the Ballista cluster behind this scheduler instead of in this process
    /// (see `scorer scheduler` and `scorer executor`); paths must be readable by the executors.
    #[cfg(feature = "cluster")]
    #[arg(long, value_name = "df://HOST:PORT")]
    cluster: Option<String>,
}

/// Output format of query results.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    /// An aligned text table.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per row and line.
    Json,
}

fn parse_table(spec: &str) -> Result<(String, String), String> {
    match spec.split_once('=') {
        Some((name, path)) if !name.is_empty() && !path.is_empty() => Ok((name.to_owned(), path.to_owned())),
        _ => Err(format!("expected NAME=PATH, got {spec:?}")),
    }
}

/// Runs the statements in order and prints the rows each one returns.
pub fn run(args: &SqlArgs) -> Result<()> {
    let sql = match (&args.query, &args.file) {
        (Some(query), _) => query.clone(),
        (None, Some(file)) => {
            std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?
        }
        (None, None) => unreachable!("clap requires one"),
    };
    let partitions = args.runtime.threads();
    let runtime = runtime(partitions)?;
    let copies = Copies::default();
    let work = run_statements(args.clone(), sql, partitions, copies.clone());
    let result = runtime.block_on(crate::interrupt::until_interrupted(work));
    // Tasks still running (the reader of `| head` left, or a signal came) end first: a model call
    // is not torn down halfway, nor a file left open. A stdin table's reader, blocked on a line
    // that may never come, is not waited for.
    let waited = Instant::now();
    while runtime.metrics().num_alive_tasks() > 0 && waited.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(10));
    }
    if result.as_ref().is_err_and(|e| e.is::<crate::interrupt::Interrupted>()) {
        copies.remove_unfinished();
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

/// Where the `COPY` statements run so far write, and since when: the files an interrupted one
/// left unfinished are removed from there.
#[derive(Debug, Clone, Default)]
struct Copies(Arc<Mutex<Vec<(PathBuf, SystemTime)>>>);

impl Copies {
    /// Notes `plan`'s target when it is a `COPY` to a local path.
    fn note(&self, plan: &LogicalPlan) {
        if let LogicalPlan::Copy(copy) = plan
            && !copy.output_url.contains("://")
        {
            let mut copies = self.0.lock().unwrap_or_else(|p| p.into_inner());
            copies.push((PathBuf::from(&copy.output_url), SystemTime::now()));
        }
    }

    /// Removes the files that a `COPY` was still writing. DataFusion writes each file through the
    /// object store, which stages it as `<name>#<n>` and renames it when it is whole; a staged
    /// file written since its statement began is unfinished.
    fn remove_unfinished(&self) {
        for (target, since) in self.0.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            let folder = if target.is_dir() { target.as_path() } else { target.parent().unwrap_or(Path::new(".")) };
            remove_staged(folder, *since, target.is_dir());
        }
    }
}

/// Removes the staged files (`<name>#<digits>`) modified since `since` in `folder`, and in its
/// subfolders when `deep` (a partitioned `COPY` writes a folder per partition value).
fn remove_staged(folder: &Path, since: SystemTime, deep: bool) {
    let Ok(entries) = std::fs::read_dir(folder) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(metadata) = entry.metadata() else { continue };
        if metadata.is_dir() {
            if deep {
                remove_staged(&path, since, deep);
            }
            continue;
        }
        let name = entry.file_name();
        let staged = name
            .to_str()
            .and_then(|n| n.rsplit_once('#'))
            .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if staged && metadata.modified().is_ok_and(|m| m >= since) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

/// Plans and runs each statement of `sql` in turn, printing its rows as they come.
async fn run_statements(args: SqlArgs, sql: String, partitions: usize, copies: Copies) -> Result<()> {
    // The partitions decode, tokenise and write in parallel; their model calls take turns on
    // each model's sessions, each call using every core (SentimentModel).
    let catalog = Arc::new(args.runtime.catalog()?);
    let ctx = context(&args, catalog.clone(), partitions).await?;
    let mut tables = args.tables.clone();
    if let Some(input) = &args.input {
        tables.push(("reviews".to_owned(), input.clone()));
    }
    for (name, path) in &tables {
        sentiment::sql::register_table(&ctx, name, path).await?;
    }
    if let Some(name) = &args.stdin {
        let stdin = std::io::BufReader::new(std::io::stdin());
        sentiment::line_table::register_lines(&ctx, name, stdin, args.bounded)?;
    }
    let statements = DFParser::parse_sql(&sql).context("cannot parse the SQL")?;
    if statements.is_empty() {
        bail!("no SQL statement given");
    }
    for statement in statements {
        let state = ctx.state();
        let plan = state.statement_to_plan(statement).await?;
        let plan = sentiment::sql::with_provenance(plan, &catalog, &state)?;
        copies.note(&plan);
        let frame = ctx.execute_logical_plan(plan).await?;
        if matches!(args.format, Format::Table) && args.stdin.is_none() {
            // A table's columns are as wide as their widest value: it needs every row first.
            print(&frame.collect().await?, args.format, true)?;
            continue;
        }
        // CSV, JSON and rows over stdin are printed batch by batch, so that memory does not grow
        // with the result, rows appear while stdin still flows, and `| head` stops the query.
        let mut batches = frame.execute_stream().await.map_err(|e| unbounded_hint(e, args.bounded))?;
        let mut header = true;
        while let Some(batch) = batches.next().await {
            print(&[batch?], args.format, header)?;
            header = false;
        }
        if header {
            // No batch came: CSV still gets its header line.
            print(&[RecordBatch::new_empty(batches.schema())], args.format, true)?;
        }
    }
    Ok(())
}

/// A session over `catalog`'s models: in this process, or on the cluster named by `--cluster`.
#[cfg_attr(not(feature = "cluster"), allow(unused_variables))]
async fn context(args: &SqlArgs, catalog: Arc<Catalog>, partitions: usize) -> Result<SessionContext> {
    #[cfg(feature = "cluster")]
    if let Some(url) = &args.cluster {
        return sentiment::cluster::connect(url, catalog, partitions).await;
    }
    let mut config = SessionConfig::new().with_target_partitions(partitions);
    if args.stdin.is_some() {
        // Over stdin, a filter's rows go out as they pass instead of waiting to fill a batch
        // (DataFusion's filters gather `batch_size` rows before they emit).
        config = config.with_coalesce_batches(false).with_batch_size(1);
    }
    let mut ctx = SessionContext::new_with_config(sentiment::sql::writing_as_the_scorer_writes(config));
    sentiment::sql::register_all(&mut ctx, catalog)?;
    Ok(ctx)
}

/// A planning error over the unbounded stdin table, with the way out when the query needs the
/// whole input.
fn unbounded_hint(error: datafusion::error::DataFusionError, bounded: bool) -> anyhow::Error {
    let message = error.to_string();
    match message.split_once("pipeline breaking queries, operator: ") {
        Some((_, rest)) if !bounded => {
            let operator: String = rest.chars().take_while(char::is_ascii_alphanumeric).collect();
            anyhow::anyhow!(
                "this query needs the whole input before it can answer ({operator}), and stdin has no end: \
                 pass --bounded if it does end"
            )
        }
        _ => error.into(),
    }
}

/// Prints batches; `header` says whether CSV gets its header line (once per statement).
fn print(batches: &[RecordBatch], format: Format, header: bool) -> Result<()> {
    let mut stdout = crate::stdout::stdout();
    match format {
        Format::Table => {
            if batches.iter().any(|b| b.num_rows() > 0) || batches.is_empty() {
                writeln!(stdout, "{}", arrow::util::pretty::pretty_format_batches(batches)?)?;
            }
        }
        Format::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new().with_header(header).build(stdout);
            for batch in batches {
                writer.write(batch)?;
            }
        }
        Format::Json => {
            // Every line has every column: NULL is written as null, not left out.
            let mut writer = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::LineDelimited>(stdout);
            for batch in batches {
                writer.write(batch)?;
            }
            writer.finish()?;
        }
    }
    Ok(())
}
