//! `sentiment_version()`: which functions and models answer where the query runs. On a cluster
//! it runs on an executor, so a client compares it with its own before it sends work there.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::ModelSet;
use crate::args::SharedModels;

/// `sentiment_version()` VARCHAR: the [`ModelSet::version`] of the process that evaluates it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SentimentVersion {
    models: SharedModels,
    signature: Signature,
}

impl SentimentVersion {
    /// The function over `models`. It is volatile, so that planning never folds it into a
    /// constant: the process that executes the query answers.
    pub fn new(models: Arc<dyn ModelSet>) -> Self {
        Self { models: SharedModels(models), signature: Signature::exact(vec![], Volatility::Volatile) }
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

    fn documentation(&self) -> Option<&Documentation> {
        static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
            Documentation::builder(
                crate::args::DOC_SECTION,
                "The version of the functions and of the models (VARCHAR) in the process that runs \
                 the query: on a cluster, an executor's.",
                "sentiment_version()",
            )
            .with_sql_example("SELECT sentiment_version()")
            .build()
        });
        Some(&DOCUMENTATION)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(self.models.version()))))
    }
}
