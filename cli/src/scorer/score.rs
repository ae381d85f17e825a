//! `scorer score` (and `scorer --input`): Parquet, CSV or NDJSON in, the same rows with their
//! sentiment out, in the input's format unless `--output` names another.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Result, bail};
use clap::Args;
use sentiment::io::{FileFormat, Input};
use sentiment::job::{FileState, FolderJob, MANIFEST, input_files};
use sentiment::provenance::{ModelIdentity, Provenance};
use sentiment::scoring::{ColumnClash, Columns, FileScorer, model_scores};
use serde::Serialize;

use crate::options::ModelOptions;

/// Score every review of Parquet, CSV or NDJSON files; write them out with a score and a label
/// column.
#[derive(Debug, Clone, Args)]
pub struct ScoreArgs {
    /// A Parquet, CSV or NDJSON file (by extension), a folder of them, or a glob such as
    /// 'landing/*.parquet'.
    #[arg(long)]
    pub input: String,
    /// The output file; its extension names its format [default: <input stem>.scored.<input
    /// extension> beside the input, in the input's format].
    #[arg(long, conflicts_with = "output_dir")]
    pub output: Option<PathBuf>,
    /// A nightly job: score each file of the input folder (searched recursively) or glob into its
    /// own output at the same relative path under this folder, skip those already scored by this
    /// model file, go on past a file that fails, and record the run in OUT/_scorer_manifest.json.
    #[arg(long, value_name = "OUT")]
    pub output_dir: Option<PathBuf>,
    /// With --output-dir: the outputs' format [default: each input's].
    #[arg(long, value_enum, requires = "output_dir")]
    pub output_format: Option<OutputFormat>,
    /// With --output-dir: score every file again, even those already scored by this model.
    #[arg(long, requires = "output_dir")]
    pub rescore: bool,
    /// With --output-dir: stop at the first file that fails (by default the others go on, and the
    /// run exits 1 naming each failed file).
    #[arg(long, requires = "output_dir")]
    pub fail_fast: bool,
    /// The column holding the review text.
    #[arg(long, default_value = "review")]
    pub column: String,
    #[command(flatten)]
    pub model: ModelOptions,
    /// Rows read and scored at a time.
    #[arg(long, default_value_t = sentiment::scoring::BATCH_SIZE, value_parser = crate::options::batch_size)]
    pub batch_size: usize,
    /// Replace an existing output file.
    #[arg(long)]
    pub overwrite: bool,
    /// Name of the appended P(positive) column.
    #[arg(long, default_value = "sentiment_score")]
    pub score_column: String,
    /// Name of the appended label column.
    #[arg(long, default_value = "sentiment_label")]
    pub label_column_out: String,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// Score on the Ballista cluster behind this scheduler instead of in this process: the
    /// executors read the input and write the output, so both paths must be theirs to reach.
    #[cfg(feature = "cluster")]
    #[arg(long, value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
}

/// A format of `--output-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    /// Apache Parquet, with the provenance footer.
    Parquet,
    /// CSV with a header line.
    Csv,
    /// One JSON object per line.
    Ndjson,
}

impl From<OutputFormat> for FileFormat {
    fn from(format: OutputFormat) -> Self {
        match format {
            OutputFormat::Parquet => FileFormat::Parquet,
            OutputFormat::Csv => FileFormat::Csv,
            OutputFormat::Ndjson => FileFormat::Ndjson,
        }
    }
}

impl ScoreArgs {
    /// The column read and the columns appended, as the options name them.
    fn columns(&self) -> Columns {
        Columns { text: self.column.clone(), score: self.score_column.clone(), label: self.label_column_out.clone() }
    }
}

/// What a scoring run did.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// The file written.
    pub output: PathBuf,
    /// The model used.
    pub model: String,
    /// Rows scored.
    pub rows: u64,
    /// Wall-clock seconds, loading included.
    pub seconds: f64,
    /// Rows per second.
    pub rows_per_second: f64,
    /// Share of scored reviews labeled positive (not counted on a cluster).
    pub share_positive: Option<f64>,
}

/// Scores the input and writes the output atomically.
pub fn run(args: &ScoreArgs) -> Result<()> {
    let started = Instant::now();
    args.model.configure_threads();
    // The model first: a missing or broken model stops the job before any data is read.
    let (catalog, name) = args.model.open()?;
    let model = catalog.model(&name)?;
    if let Some(output_dir) = &args.output_dir {
        return score_folder(args, &catalog, &name, &model, output_dir, started);
    }
    let input = Input::open(&args.input)?;
    let columns = args.columns();
    if let Err(e) = columns.output_schema(&input) {
        return Err(match e.downcast::<ColumnClash>() {
            Ok(clash) => anyhow::anyhow!("{clash}; choose other names with --score-column and --label-column-out"),
            Err(e) => e,
        });
    }
    let (output, format) = match &args.output {
        Some(path) => (path.clone(), FileFormat::of_path(path)?),
        None => (input.default_output(input.format()), input.format()),
    };
    if output.exists() && !args.overwrite {
        bail!("{} already exists; pass --overwrite to replace it", output.display());
    }
    #[cfg(feature = "cluster")]
    if let Some(url) = &args.cluster {
        let rows = on_cluster(args, url, catalog, &name, &output, format)?;
        let seconds = started.elapsed().as_secs_f64();
        let rows_per_second = rows as f64 / seconds.max(1e-9);
        let summary = Summary { output, model: name, rows, seconds, rows_per_second, share_positive: None };
        return print_summary(&summary, args.json);
    }

    let progress = crate::progress::bar(input.rows(), "scoring");
    let score = model_scores(&model);
    let metadata = Provenance::of(&catalog, std::slice::from_ref(&name))?.key_values();
    let scorer = FileScorer { score: &score, columns, batch_size: args.batch_size, metadata, replace: args.overwrite };
    let totals = scorer.score_file(&input, &output, format, crate::progress::after_batch(&progress))?;
    progress.finish_and_clear();

    let seconds = started.elapsed().as_secs_f64();
    let share_positive = if totals.scored == 0 { 0.0 } else { totals.positive as f64 / totals.scored as f64 };
    let summary = Summary {
        output,
        model: name,
        rows: totals.rows,
        seconds,
        rows_per_second: totals.rows as f64 / seconds.max(1e-9),
        share_positive: Some(share_positive),
    };
    print_summary(&summary, args.json)
}

/// `--output-dir`: every file of the input into its own output, as a resumable job.
fn score_folder(
    args: &ScoreArgs,
    catalog: &sentiment::catalog::Catalog,
    name: &str,
    model: &sentiment::model::SentimentModel,
    output_dir: &std::path::Path,
    started: Instant,
) -> Result<()> {
    let (base, files) = input_files(&args.input)?;
    let columns = args.columns();
    let score = model_scores(model);
    let metadata = Provenance::of(catalog, &[name.to_owned()])?.key_values();
    // Rescoring replaces an output another model wrote.
    let scorer = FileScorer { score: &score, columns, batch_size: args.batch_size, metadata, replace: true };
    let identity = ModelIdentity::of(catalog, name)?;
    let job = FolderJob {
        scorer: &scorer,
        model: &identity,
        output_dir: output_dir.to_owned(),
        output_format: args.output_format.map(Into::into),
        rescore: args.rescore,
        fail_fast: args.fail_fast,
        files_at_once: args.model.threads(),
    };
    let progress = crate::progress::bar(None, "scoring");
    let manifest = job.run(&base, &files, &crate::progress::after_batch(&progress))?;
    progress.finish_and_clear();
    let seconds = started.elapsed().as_secs_f64();
    let rows: u64 = manifest.files.iter().map(|f| f.rows).sum();
    if args.json {
        let summary =
            serde_json::json!({ "output_dir": output_dir, "seconds": seconds, "rows": rows, "manifest": manifest });
        println!("{summary}");
    } else {
        println!(
            "{} files with {name} in {seconds:.2} s: {} scored, {} rescored, {} skipped, {} failed; {rows} rows -> {}",
            manifest.files.len(),
            manifest.count(FileState::Scored),
            manifest.count(FileState::Rescored),
            manifest.count(FileState::Skipped),
            manifest.count(FileState::Failed),
            output_dir.display()
        );
    }
    let failed: Vec<_> = manifest.files.iter().filter(|f| f.state == FileState::Failed).collect();
    for file in &failed {
        let (input, error) = (file.input.display().to_string(), file.error.as_deref().unwrap_or_default());
        // Most errors name their file already.
        if error.contains(&input) { eprintln!("scorer: {error}") } else { eprintln!("scorer: {input}: {error}") }
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} files failed; the others are scored (see {})",
            failed.len(),
            manifest.files.len(),
            output_dir.join(MANIFEST).display()
        );
    }
    Ok(())
}

/// Scores on a Ballista cluster with one `COPY`: the executors write the temporary file beside
/// the output, renamed here once the job is done. Returns the number of rows.
#[cfg(feature = "cluster")]
fn on_cluster(
    args: &ScoreArgs,
    url: &str,
    catalog: sentiment::catalog::Catalog,
    model: &str,
    output: &std::path::Path,
    format: FileFormat,
) -> Result<u64> {
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let file = sentiment::io::AtomicFile::create(output)?;
    let stored_as = match format {
        FileFormat::Parquet => "PARQUET",
        FileFormat::Csv => "CSV",
        FileFormat::Ndjson => "JSON",
    };
    let query = format!(
        "COPY (SELECT *, CASE WHEN {score} > {threshold} THEN 'positive' WHEN {score} IS NOT NULL THEN 'negative' END AS {label} \
         FROM (SELECT *, sentiment({column}, '{model}') AS {score} FROM reviews)) TO '{temp}' STORED AS {stored_as}",
        score = quote(&args.score_column),
        label = quote(&args.label_column_out),
        column = quote(&args.column),
        threshold = sentiment::metrics::THRESHOLD,
        temp = file.temp_path().display().to_string().replace('\'', "''"),
    );
    let threads = args.model.threads();
    let rows = crate::options::runtime(crate::options::default_threads())?.block_on(async {
        let catalog = std::sync::Arc::new(catalog);
        let ctx = sentiment::cluster::connect(url, catalog.clone(), threads).await?;
        sentiment::sql::register_table(&ctx, "reviews", &args.input).await?;
        let state = ctx.state();
        let plan = sentiment::sql::with_provenance(state.create_logical_plan(&query).await?, &catalog, &state)?;
        let batches = ctx.execute_logical_plan(plan).await?.collect().await?;
        let counts = batches.first().and_then(|b| {
            arrow::array::AsArray::as_primitive_opt::<arrow::datatypes::UInt64Type>(b.column(0)).cloned()
        });
        anyhow::Ok(counts.map_or(0, |c| c.value(0)))
    })?;
    file.commit()?;
    Ok(rows)
}

fn print_summary(s: &Summary, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(s)?);
    } else {
        let positive = s.share_positive.map_or(String::new(), |share| format!(", {:.1}% positive", 100.0 * share));
        println!(
            "scored {} rows with {} in {:.2} s ({:.0} rows/s){positive} -> {}",
            s.rows,
            s.model,
            s.seconds,
            s.rows_per_second,
            s.output.display()
        );
    }
    Ok(())
}
