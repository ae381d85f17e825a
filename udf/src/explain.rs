//! `sentiment_explain(review [, model])`: every word of a review with its sub-score and weight,
//! as `LIST<STRUCT<token VARCHAR, score FLOAT, weight FLOAT>>`, ready for `UNNEST`.
//!
//! What `score` and `weight` mean is the [`ModelSet`]'s to say; for the shipped models see the
//! `imdb-sentiment` crate's `sql` module.

use std::sync::{Arc, LazyLock};

use crate::args::SharedModels;
use crate::{ModelSet, args};
use arrow::array::{Float32Builder, ListBuilder, StringBuilder, StructBuilder};
use arrow::datatypes::{DataType, Field, FieldRef, Fields};
use datafusion::error::Result;
use datafusion::logical_expr::{
    ColumnarValue, Documentation, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature,
};

const NAME: &str = "sentiment_explain";

/// The per-word explanation of a review's sentiment.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct SentimentExplain {
    models: SharedModels,
    signature: Signature,
}

impl SentimentExplain {
    /// The function over `models`.
    pub fn new(models: Arc<dyn ModelSet>) -> Self {
        Self { models: SharedModels(models), signature: args::signature() }
    }
}

/// The struct of one word: `token`, `score`, `weight`.
pub fn word_fields() -> Fields {
    Fields::from(vec![
        Field::new("token", DataType::Utf8, false),
        Field::new("score", DataType::Float32, false),
        Field::new("weight", DataType::Float32, true),
    ])
}

fn return_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Struct(word_fields()), true)))
}

impl ScalarUDFImpl for SentimentExplain {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        args::check_types(NAME, &*self.models, arg_types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(return_type())
    }

    fn documentation(&self) -> Option<&Documentation> {
        static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
            args::documented(
                "Every word of the review as the model read it (for an n-gram model, every word and \
                 word pair it has a weight for), with its sub-score and its weight: \
                 LIST<STRUCT<token VARCHAR, score FLOAT, weight FLOAT>>, ready for UNNEST. NULL for \
                 a NULL review.",
                "sentiment_explain(review [, model])",
                "SELECT w.token, w.score FROM (SELECT unnest(sentiment_explain(review, 'mlp')) AS w FROM reviews)",
            )
        });
        Some(&DOCUMENTATION)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        args::model_name(NAME, &*self.models, args.scalar_arguments.get(1).copied().flatten())?;
        Ok(Arc::new(Field::new(NAME, return_type(), true)))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let model = args::model_at_run(NAME, &*self.models, &args)?;
        let reviews = args::reviews(&args)?;
        args::guarded(NAME, || {
            let explained = self.models.explain(&model, &reviews)?;
            let mut list = ListBuilder::new(StructBuilder::from_fields(word_fields(), explained.len() * 16));
            for words in explained {
                let Some(words) = words else {
                    list.append_null();
                    continue;
                };
                let items = list.values();
                for word in words {
                    items.field_builder::<StringBuilder>(0).expect("token").append_value(word.token);
                    items.field_builder::<Float32Builder>(1).expect("score").append_value(word.score);
                    items.field_builder::<Float32Builder>(2).expect("weight").append_option(word.weight);
                    items.append(true);
                }
                list.append(true);
            }
            Ok(ColumnarValue::Array(Arc::new(list.finish())))
        })
    }
}
