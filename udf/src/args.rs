//! What the three functions share: checking their arguments at planning time, choosing the
//! model, turning the review argument into an array, and turning panics into query errors.

use arrow::array::{ArrayRef, Scalar};
use arrow::compute::kernels::cmp::not_distinct;
use arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, plan_err};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{ColumnarValue, DocSection, Documentation, ScalarFunctionArgs, Signature, Volatility};
use std::hash::{Hash, Hasher};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use crate::ModelSet;

/// The model set a function runs, compared and hashed by identity: two functions are equal when
/// they share one set (DataFusion compares functions when it deduplicates expressions).
#[derive(Debug, Clone)]
pub struct SharedModels(pub Arc<dyn ModelSet>);

impl PartialEq for SharedModels {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for SharedModels {}

impl Hash for SharedModels {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.0).cast::<()>().hash(state);
    }
}

impl std::ops::Deref for SharedModels {
    type Target = dyn ModelSet;

    fn deref(&self) -> &Self::Target {
        self.0.as_ref()
    }
}

/// Where `SHOW FUNCTIONS` and DataFusion's generated function reference list the functions.
pub const DOC_SECTION: DocSection = DocSection {
    include: true,
    label: "Sentiment Functions",
    description: Some("The sentiment of review text, by the models of the host's model set."),
};

/// A function's documentation with the `review` and optional `model` arguments every scoring
/// function takes.
pub fn documented(description: &str, syntax: &str, example: &str) -> Documentation {
    Documentation::builder(DOC_SECTION, description, syntax)
        .with_sql_example(example)
        .with_argument("review", "The review text: a VARCHAR (or LARGE/VIEW) expression; NULL gives NULL.")
        .with_argument(
            "model",
            "Optional: a string literal naming one of the models; without it the default model runs.",
        )
        .build()
}

/// The signature of every sentiment function: checked by [`check_types`].
pub fn signature() -> Signature {
    Signature::user_defined(Volatility::Immutable)
}

/// Accepts `(text)` or `(text, string)` and leaves the types as they are.
pub fn check_types(function: &str, models: &dyn ModelSet, types: &[DataType]) -> Result<Vec<DataType>> {
    match types {
        [review] | [review, _] if !models.accepts(review) && !review.is_null() => {
            plan_err!("{function}(review [, model]): review must be text (VARCHAR), not {review}")
        }
        [_] => Ok(types.to_vec()),
        [_, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View] => Ok(types.to_vec()),
        [_, model] => plan_err!("{function}(review, model): model must be a string literal, not {model}"),
        _ => plan_err!("{function} takes (review) or (review, model), not {} arguments", types.len()),
    }
}

/// The model named by the optional second argument, checked against the set.
pub fn model_name(function: &str, models: &dyn ModelSet, model: Option<&ScalarValue>) -> Result<String> {
    let name = match model {
        None => models.default_model().to_owned(),
        Some(value) => match value.try_as_str() {
            Some(Some(name)) => name.to_owned(),
            _ => return plan_err!("{function}(review, model): model must be a non-NULL string literal"),
        },
    };
    if !models.names().contains(&name) {
        return plan_err!("{function}: unknown model {name:?}; the models are {:?}", models.names());
    }
    Ok(name)
}

/// The model argument of a call at execution time (a literal, checked at planning). A host that
/// calls across `datafusion-ffi` (datafusion-python) hands every argument over as an array, the
/// literal repeated on every row: that is taken too, a column of differing names is not.
pub fn model_at_run(function: &str, models: &dyn ModelSet, args: &ScalarFunctionArgs) -> Result<String> {
    let repeated;
    let model = match args.args.get(1) {
        None => None,
        Some(ColumnarValue::Scalar(value)) => Some(value),
        Some(ColumnarValue::Array(array)) if array.is_empty() => None,
        Some(ColumnarValue::Array(array)) => {
            let first = Scalar::new(array.slice(0, 1));
            if not_distinct(array, &first)?.true_count() != array.len() {
                return plan_err!("{function}(review, model): model must be a literal");
            }
            repeated = ScalarValue::try_from_array(array, 0)?;
            Some(&repeated)
        }
    };
    model_name(function, models, model)
}

/// The review argument as an array of `number_rows` rows.
pub fn reviews(args: &ScalarFunctionArgs) -> Result<ArrayRef> {
    args.args[0].to_array(args.number_rows)
}

/// Runs `body`: its error becomes [`DataFusionError::External`] holding a
/// [`crate::FunctionError`] (the original error is its source), and a panic an execution error.
pub fn guarded<T>(function: &str, body: impl FnOnce() -> anyhow::Result<T>) -> Result<T> {
    match std::panic::catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(source)) => {
            Err(DataFusionError::External(Box::new(crate::FunctionError { function: function.to_owned(), source })))
        }
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown cause");
            Err(DataFusionError::Execution(format!("{function} panicked: {message}")))
        }
    }
}
