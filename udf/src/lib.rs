//! DataFusion SQL functions for review sentiment, over any set of models.
//!
//! [`register_all`] adds to a `SessionContext` (any [`FunctionRegistry`]):
//! - `sentiment(review [, model])` FLOAT: P(positive), 0 to 1;
//! - `sentiment_label(review [, model])` VARCHAR: `'positive'` or `'negative'`;
//! - `sentiment_explain(review [, model])` `LIST<STRUCT<token VARCHAR, score FLOAT, weight FLOAT>>`:
//!   every word with its sub-score and weight (see [`explain`]);
//! - `sentiment_version()` VARCHAR: the functions' and models' version where the query runs (see
//!   [`version`]).
//!
//! `model` is a string literal naming one of the [`ModelSet`]'s models; without it the set's
//! default model runs. NULL reviews give NULL. The models themselves come from the caller: the
//! `imdb-sentiment` crate implements [`ModelSet`] for its shipped ONNX models.

mod args;
pub mod explain;
pub mod expr_fn;
pub mod plan;
pub mod score;
pub mod version;

use std::fmt::Debug;
use std::sync::Arc;

use arrow::array::{Array, Float32Array};
use arrow::datatypes::DataType;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::ScalarUDF;

pub use explain::SentimentExplain;
pub use expr_fn::ExprFunctions;
pub use plan::models_called;
pub use score::Sentiment;
pub use version::SentimentVersion;

/// One word of an explained review.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    /// The token, as the text pipeline produced it.
    pub token: String,
    /// Its sub-score.
    pub score: f32,
    /// Its weight in the review's score, where the model has one.
    pub weight: Option<f32>,
}

/// A function's failure while it ran, as it reaches DataFusion inside
/// `DataFusionError::External`: which function, and the model set's error as its source, so that
/// a caller can tell failures apart by type (`downcast_ref`), not by message.
#[derive(Debug)]
pub struct FunctionError {
    /// The SQL function's name.
    pub function: String,
    /// What the model set reported.
    pub source: anyhow::Error,
}

impl std::fmt::Display for FunctionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {:#}", self.function, self.source)
    }
}

impl std::error::Error for FunctionError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// The models the functions run: named, one of them the default. Implementations load each model
/// once and share it between queries and threads.
pub trait ModelSet: Debug + Send + Sync {
    /// The models' names.
    fn names(&self) -> Vec<String>;
    /// The model used when a call names none.
    fn default_model(&self) -> &str;
    /// Whether a review column of this type can be scored.
    fn accepts(&self, data_type: &DataType) -> bool;
    /// The label of a P(positive) score: `positive` or `negative`.
    fn label(&self, probability: f32) -> &'static str;
    /// P(positive) for each review, NULL for NULL.
    fn score(&self, model: &str, reviews: &dyn Array) -> anyhow::Result<Float32Array>;
    /// The words of each review with their sub-scores, `None` for NULL.
    fn explain(&self, model: &str, reviews: &dyn Array) -> anyhow::Result<Vec<Option<Vec<Word>>>>;
    /// What identifies this code and these models: two processes that answer alike give the same.
    fn version(&self) -> String;
}

/// The four functions over `models`, ready to register.
pub fn functions(models: Arc<dyn ModelSet>) -> Vec<Arc<ScalarUDF>> {
    vec![
        Arc::new(ScalarUDF::from(Sentiment::probability(models.clone()))),
        Arc::new(ScalarUDF::from(Sentiment::label(models.clone()))),
        Arc::new(ScalarUDF::from(SentimentExplain::new(models.clone()))),
        Arc::new(ScalarUDF::from(SentimentVersion::new(models))),
    ]
}

/// Registers the sentiment functions on any function registry (a `SessionContext`, a
/// `SessionState`), all sharing `models`.
pub fn register_all(registry: &mut dyn FunctionRegistry, models: Arc<dyn ModelSet>) -> datafusion::error::Result<()> {
    for function in functions(models) {
        registry.register_udf(function)?;
    }
    Ok(())
}
