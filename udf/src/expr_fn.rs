//! The functions as DataFrame expressions, beside their SQL names, as DataFusion's own function
//! crates offer them (`upper(col("name"))`). The functions need their model set, so they come
//! from one [`ExprFunctions`] built over it:
//!
//! ```text
//! let f = ExprFunctions::new(models);
//! df.select(vec![col("id"), f.sentiment(col("review"), None), f.sentiment_label(col("review"), Some("mlp"))])
//! ```

use std::sync::Arc;

use datafusion::logical_expr::{Expr, ScalarUDF, lit};

use crate::ModelSet;

/// The four functions over one model set, as expression builders.
#[derive(Debug, Clone)]
pub struct ExprFunctions {
    sentiment: Arc<ScalarUDF>,
    label: Arc<ScalarUDF>,
    explain: Arc<ScalarUDF>,
    version: Arc<ScalarUDF>,
}

impl ExprFunctions {
    /// The functions over `models`, the same ones [`crate::register_all`] registers.
    pub fn new(models: Arc<dyn ModelSet>) -> Self {
        let [sentiment, label, explain, version] =
            <[Arc<ScalarUDF>; 4]>::try_from(crate::functions(models)).expect("functions() gives the four functions");
        Self { sentiment, label, explain, version }
    }

    /// `sentiment(review [, model])`: P(positive) as FLOAT.
    pub fn sentiment(&self, review: Expr, model: Option<&str>) -> Expr {
        self.sentiment.call(with_model(review, model))
    }

    /// `sentiment_label(review [, model])`: `'positive'` or `'negative'`.
    pub fn sentiment_label(&self, review: Expr, model: Option<&str>) -> Expr {
        self.label.call(with_model(review, model))
    }

    /// `sentiment_explain(review [, model])`: every word with its sub-score and weight.
    pub fn sentiment_explain(&self, review: Expr, model: Option<&str>) -> Expr {
        self.explain.call(with_model(review, model))
    }

    /// `sentiment_version()`: the functions' and models' version where the query runs.
    pub fn sentiment_version(&self) -> Expr {
        self.version.call(vec![])
    }
}

fn with_model(review: Expr, model: Option<&str>) -> Vec<Expr> {
    std::iter::once(review).chain(model.map(lit)).collect()
}
