//! `sentiment_version()`: which functions and models answer where the query runs. On a cluster
//! it runs on an executor, so a client compares it with its own before it sends work there.

use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use crate::ModelSet;

/// `sentiment_version()` VARCHAR: the [`ModelSet::version`] of the process that evaluates it.
#[derive(Debug)]
pub struct SentimentVersion {
    models: Arc<dyn ModelSet>,
    signature: Signature,
}

impl SentimentVersion {
    /// The function over `models`. It is volatile, so that planning never folds it into a
    /// constant: the process that executes the query answers.
    pub fn new(models: Arc<dyn ModelSet>) -> Self {
        Self { models, signature: Signature::exact(vec![], Volatility::Volatile) }
    }
}

impl PartialEq for SentimentVersion {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.models, &other.models)
    }
}

impl Eq for SentimentVersion {}

impl Hash for SentimentVersion {
    fn hash<H: Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.models).cast::<()>().hash(state);
    }
}

impl ScalarUDFImpl for SentimentVersion {
    fn name(&self) -> &str {
        "sentiment_version"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(self.models.version()))))
    }
}
