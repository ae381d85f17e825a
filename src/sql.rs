//! The shipped models behind the SQL functions of the `sentiment-udf` crate.
//!
//! `sentiment_explain` returns, for the token-wise models (`mlp`, `weighted-mlp`, `attention`),
//! each word's sub-score (its logit toward positive) and its weight in the review's logit, so that
//! `sum(score * weight)` over a review is its logit. For the n-gram model (`ngram`), the rows are
//! the review's distinct n-grams that the model knows (`"not good"`), each with its sub-score and
//! weight 1: their sum plus the model's intercept is the logit. For the recurrent models (`rnn`,
//! `gru`), `score` is the model's logit after reading the review up to and including the word, and
//! `weight` is NULL.

use std::sync::Arc;

use anyhow::Context;
use arrow::array::{Array, Float32Array};
use arrow::datatypes::DataType;
use datafusion::datasource::file_format::options::ReadOptions;
use datafusion::datasource::file_format::parquet::ParquetFormatFactory;
use datafusion::datasource::file_format::{file_type_to_format, format_as_file_type};
use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
use datafusion::execution::{FunctionRegistry, SessionState};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::{CsvReadOptions, JsonReadOptions, ParquetReadOptions, SessionConfig, SessionContext};
use sentiment_udf::{ModelSet, Word};

use crate::batch::{is_text_type, score_array, text_values};
use crate::card::label_for;
use crate::catalog::{Catalog, DEFAULT_MODEL};
use crate::contract::{NGRAMS_CONTRACT, NGRAMS_MAX_N_CONTRACT, WORDS_CONTRACT};
use crate::io::FileFormat;
use crate::io::input::{INFER_RECORDS, expand};
use crate::io::output::ROW_GROUP_SIZE;
use crate::provenance::{PACKAGE, Provenance, VERSION};

impl ModelSet for Catalog {
    fn names(&self) -> Vec<String> {
        Catalog::names(self).into_iter().map(str::to_owned).collect()
    }

    fn default_model(&self) -> &str {
        DEFAULT_MODEL
    }

    fn accepts(&self, data_type: &DataType) -> bool {
        is_text_type(data_type)
    }

    fn label(&self, probability: f32) -> &'static str {
        label_for(probability)
    }

    fn score(&self, model: &str, reviews: &dyn Array) -> anyhow::Result<Float32Array> {
        score_array(&*self.model(model)?, reviews)
    }

    fn version(&self) -> String {
        let models: Vec<String> = self.cards().map(|card| format!("{}@{:.4}", card.name, card.test.accuracy)).collect();
        format!(
            "{PACKAGE} {VERSION}, model contracts {WORDS_CONTRACT}, {NGRAMS_CONTRACT} and {NGRAMS_MAX_N_CONTRACT}, models {}",
            models.join(" ")
        )
    }

    fn explain(&self, model: &str, reviews: &dyn Array) -> anyhow::Result<Vec<Option<Vec<Word>>>> {
        let texts = text_values(reviews)?;
        let explained = self.model(model)?.explain(&texts)?;
        Ok(texts
            .iter()
            .zip(explained)
            .map(|(text, review)| {
                text.map(|_| {
                    let words = review.words.into_iter();
                    words.map(|w| Word { token: w.token, score: w.score, weight: w.weight }).collect()
                })
            })
            .collect())
    }
}

/// Registers `sentiment`, `sentiment_label`, `sentiment_explain` and `sentiment_version` over
/// `catalog`'s models on a `SessionContext` or any other function registry.
pub fn register_all(registry: &mut dyn FunctionRegistry, catalog: Arc<Catalog>) -> datafusion::error::Result<()> {
    sentiment_udf::register_all(registry, catalog)
}

/// `config` with Parquet written as `scorer score` writes it: Snappy pages in row groups of
/// [`ROW_GROUP_SIZE`] rows. DataFusion's own defaults, zstd and row groups of 1,048,576 rows, made
/// `COPY ... STORED AS PARQUET` a fifth slower than `scorer score` for the light models, and held
/// a million scored reviews in memory (2 GB) before it wrote the first row group. A statement's
/// OPTIONS ('format.compression' ...) still choose.
pub fn writing_as_the_scorer_writes(mut config: SessionConfig) -> SessionConfig {
    let parquet = &mut config.options_mut().execution.parquet;
    parquet.compression = Some("snappy".into());
    parquet.max_row_group_size = ROW_GROUP_SIZE;
    config
}

/// `plan` with the scoring's [`Provenance`] in the footer of the files it writes, when it is a
/// `COPY ... STORED AS PARQUET` whose query calls the models. The pairs go into the Parquet
/// format's own options (the session's, as `state` holds them), which a Ballista cluster receives
/// with the plan; a `'format.metadata::...'` option of the statement still overrides its key. Any
/// other plan is returned as it came.
pub fn with_provenance(plan: LogicalPlan, catalog: &Catalog, state: &SessionState) -> anyhow::Result<LogicalPlan> {
    let LogicalPlan::Copy(mut copy) = plan else { return Ok(plan) };
    let models = sentiment_udf::models_called(&copy.input, catalog);
    let format = file_type_to_format(&copy.file_type)?;
    let Some(parquet) = format.downcast_ref::<ParquetFormatFactory>() else {
        return Ok(LogicalPlan::Copy(copy));
    };
    if models.is_empty() {
        return Ok(LogicalPlan::Copy(copy));
    }
    let mut options = parquet.options.clone().unwrap_or_else(|| state.default_table_options().parquet);
    for (key, value) in Provenance::of(catalog, &models)?.key_values() {
        options.key_value_metadata.insert(key, Some(value));
    }
    copy.file_type = format_as_file_type(Arc::new(ParquetFormatFactory::new_with_options(options)));
    Ok(LogicalPlan::Copy(copy))
}

/// Registers the reviews at `path` (a Parquet, CSV or NDJSON file, a folder or a glob, as
/// [`crate::io::Input`] reads them) as table `name`.
pub async fn register_table(ctx: &SessionContext, name: &str, path: &str) -> anyhow::Result<()> {
    let (format, files) = expand(path)?;
    // Each listed file by its URL: parsed from the path, `r[1].csv` would be a glob matching `r1.csv`.
    let urls = files
        .iter()
        .map(|file| {
            // Canonical: the object store refuses `..` in a path.
            let absolute = std::fs::canonicalize(file).with_context(|| format!("cannot resolve {}", file.display()))?;
            let url = url::Url::from_file_path(&absolute)
                .map_err(|()| anyhow::anyhow!("{} has no file URL", absolute.display()))?;
            Ok(ListingTableUrl::try_new(url, None)?)
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    // The files are listed already, so every one is taken, whatever its extension's case.
    let (config, table_options) = (ctx.copied_config(), ctx.copied_table_options());
    let options: ListingOptions = match format {
        FileFormat::Parquet => ParquetReadOptions::new().file_extension("").to_listing_options(&config, table_options),
        FileFormat::Csv => CsvReadOptions::new()
            .has_header(true)
            .newlines_in_values(true)
            .schema_infer_max_records(INFER_RECORDS)
            .file_extension("")
            .to_listing_options(&config, table_options),
        FileFormat::Ndjson => JsonReadOptions::default()
            .schema_infer_max_records(INFER_RECORDS)
            .file_extension("")
            .to_listing_options(&config, table_options),
    };
    let config = ListingTableConfig::new_with_multi_paths(urls)
        .with_listing_options(options)
        .infer_schema(&ctx.state())
        .await
        .with_context(|| format!("cannot read table {name} from {path}"))?;
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))
        .with_context(|| format!("cannot register table {name}"))?;
    Ok(())
}
