//! `scorer score` (and `scorer --input`): Parquet in, the same rows with their sentiment out.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use clap::Args;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use sentiment::batch::{label_array, score_array};
use serde::Serialize;

use crate::input::ParquetInput;
use crate::options::ModelOptions;
use crate::output::AtomicFile;

/// Rows per Parquet row group written: several per file, so that readers can split the work.
/// Pages are Snappy-compressed, as Spark writes them: a fraction of the size of plain pages for
/// review text, and cheap enough that compression stays a small share of a scoring run.
const ROW_GROUP_SIZE: usize = 65_536;

/// Score every review of Parquet files; write them out with a score and a label column.
#[derive(Debug, Clone, Args)]
pub struct ScoreArgs {
    /// A Parquet file, a folder of them, or a glob such as 'landing/*.parquet'.
    #[arg(long)]
    pub input: String,
    /// The output Parquet file [default: <input stem>.scored.parquet beside the input].
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// The column holding the review text.
    #[arg(long, default_value = "review")]
    pub column: String,
    #[command(flatten)]
    pub model: ModelOptions,
    /// Rows read and scored at a time.
    #[arg(long, default_value_t = 8192)]
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
    let input = ParquetInput::open(&args.input)?;
    let column = input.text_column(&args.column)?;
    for name in [&args.score_column, &args.label_column_out] {
        if input.schema().field_with_name(name).is_ok() {
            bail!(
                "the input already has a column {name:?}; choose other output names with \
                 --score-column and --label-column-out"
            );
        }
    }
    if args.score_column == args.label_column_out {
        bail!("--score-column and --label-column-out are both {:?}", args.score_column);
    }
    let output = args.output.clone().unwrap_or_else(|| input.default_output());
    if output.exists() && !args.overwrite {
        bail!("{} already exists; pass --overwrite to replace it", output.display());
    }
    #[cfg(feature = "cluster")]
    if let Some(url) = &args.cluster {
        let rows = on_cluster(args, url, catalog, &name, &output)?;
        let seconds = started.elapsed().as_secs_f64();
        let rows_per_second = rows as f64 / seconds.max(1e-9);
        let summary = Summary { output, model: name, rows, seconds, rows_per_second, share_positive: None };
        return print_summary(&summary, args.json);
    }

    let mut fields = input.schema().fields().to_vec();
    fields.push(Arc::new(Field::new(&args.score_column, DataType::Float32, true)));
    fields.push(Arc::new(Field::new(&args.label_column_out, DataType::Utf8, true)));
    let schema = Arc::new(Schema::new_with_metadata(fields, input.schema().metadata().clone()));

    let file = AtomicFile::create(&output)?;
    let properties = WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROW_GROUP_SIZE))
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(file.handle()?, schema.clone(), Some(properties))?;
    let progress = crate::progress::bar(input.rows(), "scoring");
    let (mut rows, mut positive, mut scored) = (0u64, 0u64, 0u64);
    for batch in input.batches(args.batch_size)? {
        if crate::INTERRUPTED.load(Ordering::Relaxed) {
            bail!(crate::Interrupted);
        }
        let batch = batch?;
        let scores = score_array(&model, catalog.vocabulary(), batch.column(column))?;
        let labels = label_array(&scores);
        scored += (scores.len() - arrow::array::Array::null_count(&scores)) as u64;
        positive += scores.iter().flatten().filter(|&p| p > sentiment::metrics::THRESHOLD).count() as u64;
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns.push(Arc::new(scores));
        columns.push(Arc::new(labels));
        writer.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
        rows += batch.num_rows() as u64;
        progress.inc(batch.num_rows() as u64);
    }
    writer.close().with_context(|| format!("cannot finish {}", output.display()))?;
    file.commit()?;
    progress.finish_and_clear();

    let seconds = started.elapsed().as_secs_f64();
    let summary = Summary {
        output,
        model: name,
        rows,
        seconds,
        rows_per_second: rows as f64 / seconds.max(1e-9),
        share_positive: Some(if scored == 0 { 0.0 } else { positive as f64 / scored as f64 }),
    };
    print_summary(&summary, args.json)
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
) -> Result<u64> {
    let quote = |name: &str| format!("\"{}\"", name.replace('"', "\"\""));
    let file = AtomicFile::create(output)?;
    let query = format!(
        "COPY (SELECT *, CASE WHEN {score} > {threshold} THEN 'positive' WHEN {score} IS NOT NULL THEN 'negative' END AS {label} \
         FROM (SELECT *, sentiment({column}, '{model}') AS {score} FROM reviews)) TO '{temp}' STORED AS PARQUET",
        score = quote(&args.score_column),
        label = quote(&args.label_column_out),
        column = quote(&args.column),
        threshold = sentiment::metrics::THRESHOLD,
        temp = file.temp_path().display().to_string().replace('\'', "''"),
    );
    let threads = args.model.threads();
    let rows = crate::options::runtime(crate::options::default_threads())?.block_on(async {
        let ctx = sentiment::cluster::connect(url, Arc::new(catalog), threads).await?;
        crate::sql::register_table(&ctx, "reviews", &args.input).await?;
        let batches = ctx.sql(&query).await?.collect().await?;
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
