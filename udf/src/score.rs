//! `sentiment(review [, model])` and `sentiment_label(review [, model])`.

use std::sync::{Arc, LazyLock};

use arrow::array::StringArray;
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
};

use crate::args::SharedModels;
use crate::{ModelSet, args};

/// What the function returns for each review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Output {
    /// P(positive) as FLOAT.
    Probability,
    /// `'positive'` or `'negative'`.
    Label,
}

/// A review's sentiment: `sentiment()` gives P(positive), `sentiment_label()` its label.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Sentiment {
    output: Output,
    models: SharedModels,
    signature: Signature,
}

impl Sentiment {
    /// `sentiment(review [, model])`: P(positive) as FLOAT.
    pub fn probability(models: Arc<dyn ModelSet>) -> Self {
        Self { output: Output::Probability, models: SharedModels(models), signature: args::signature() }
    }

    /// `sentiment_label(review [, model])`: `'positive'` or `'negative'`.
    pub fn label(models: Arc<dyn ModelSet>) -> Self {
        Self { output: Output::Label, models: SharedModels(models), signature: args::signature() }
    }

    fn data_type(&self) -> DataType {
        match self.output {
            Output::Probability => DataType::Float32,
            Output::Label => DataType::Utf8,
        }
    }
}

impl ScalarUDFImpl for Sentiment {
    fn name(&self) -> &str {
        match self.output {
            Output::Probability => "sentiment",
            Output::Label => "sentiment_label",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::check_types(self.name(), &*self.models, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(self.data_type())
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        args::model_name(self.name(), &*self.models, args.scalar_arguments.get(1).copied().flatten())?;
        Ok(Arc::new(Field::new(self.name(), self.data_type(), true)))
    }

    fn documentation(&self) -> Option<&Documentation> {
        static PROBABILITY: LazyLock<Documentation> = LazyLock::new(|| {
            args::documented(
                "The probability that a review is positive, from 0 to 1 (FLOAT). NULL for a NULL review \
                 and for one with no words the models know.",
                "sentiment(review [, model])",
                "SELECT id, sentiment(review) AS score, sentiment(review, 'mlp') AS mlp_score FROM reviews",
            )
        });
        static LABEL: LazyLock<Documentation> = LazyLock::new(|| {
            args::documented(
                "The review's label, 'positive' or 'negative' (VARCHAR), by its sentiment() above or \
                 below one half. NULL where sentiment() is NULL.",
                "sentiment_label(review [, model])",
                "SELECT sentiment_label(review) AS label, count(*) FROM reviews GROUP BY 1",
            )
        });
        Some(match self.output {
            Output::Probability => &PROBABILITY,
            Output::Label => &LABEL,
        })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let model = args::model_at_run(self.name(), &*self.models, &args)?;
        let reviews = args::reviews(&args)?;
        args::guarded(self.name(), || {
            let scores = self.models.score(&model, &reviews)?;
            Ok(ColumnarValue::Array(match self.output {
                Output::Probability => Arc::new(scores),
                Output::Label => {
                    Arc::new(scores.iter().map(|p| p.map(|p| self.models.label(p))).collect::<StringArray>())
                }
            }))
        })
    }
}
