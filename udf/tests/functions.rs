//! The SQL functions' behaviour through DataFusion, over a small stand-in model set: NULLs, model
//! choice, the accepted string types, explain with UNNEST, and planning errors.

use std::sync::Arc;

use arrow::array::{Array, AsArray, Float32Array, RecordBatch, StringArray, StringViewArray};
use arrow::datatypes::{DataType, Float32Type};
use datafusion::prelude::SessionContext;
use sentiment_udf::{ModelSet, Word};

/// Scores a review by its share of the word "good"; model "inverse" gives 1 minus that.
#[derive(Debug)]
struct GoodWords;

impl GoodWords {
    fn words(text: &str) -> Vec<&str> {
        text.split_whitespace().collect()
    }

    fn share(text: &str, model: &str) -> f32 {
        let words = Self::words(text);
        let good = words.iter().filter(|w| **w == "good").count() as f32 / words.len().max(1) as f32;
        if model == "inverse" { 1.0 - good } else { good }
    }
}

impl ModelSet for GoodWords {
    fn names(&self) -> Vec<String> {
        vec!["share".into(), "inverse".into(), "panics".into(), "broken".into()]
    }
    fn default_model(&self) -> &str {
        "share"
    }
    fn accepts(&self, data_type: &DataType) -> bool {
        matches!(data_type, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
    }
    fn label(&self, probability: f32) -> &'static str {
        if probability > 0.5 { "positive" } else { "negative" }
    }
    fn score(&self, model: &str, reviews: &dyn Array) -> anyhow::Result<Float32Array> {
        assert_ne!(model, "panics", "a bug in the model set");
        if model == "broken" {
            return Err(ModelBroken.into());
        }
        let strings = arrow::compute::cast(&arrow::array::make_array(reviews.to_data()), &DataType::Utf8)?;
        Ok(strings.as_string::<i32>().iter().map(|t| t.map(|t| Self::share(t, model))).collect())
    }
    fn version(&self) -> String {
        "good-words 1".into()
    }
    fn explain(&self, model: &str, reviews: &dyn Array) -> anyhow::Result<Vec<Option<Vec<Word>>>> {
        let strings = arrow::compute::cast(&arrow::array::make_array(reviews.to_data()), &DataType::Utf8)?;
        Ok(strings
            .as_string::<i32>()
            .iter()
            .map(|t| {
                t.map(|t| {
                    Self::words(t)
                        .into_iter()
                        .map(|w| Word { token: w.to_owned(), score: Self::share(w, model), weight: Some(0.5) })
                        .collect()
                })
            })
            .collect())
    }
}

/// The error of model "broken", a type of its own.
#[derive(Debug)]
struct ModelBroken;

impl std::fmt::Display for ModelBroken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the model file is broken")
    }
}

impl std::error::Error for ModelBroken {}

fn context() -> SessionContext {
    let mut ctx = SessionContext::new();
    sentiment_udf::register_all(&mut ctx, Arc::new(GoodWords)).unwrap();
    let reviews = StringViewArray::from(vec![Some("good good bad"), None, Some("bad")]);
    let ids = arrow::array::Int32Array::from(vec![1, 2, 3]);
    let batch = RecordBatch::try_from_iter([("id", Arc::new(ids) as _), ("review", Arc::new(reviews) as _)]).unwrap();
    ctx.register_batch("reviews", batch).unwrap();
    ctx
}

async fn query(sql: &str) -> datafusion::error::Result<Vec<RecordBatch>> {
    context().sql(sql).await?.collect().await
}

#[tokio::test]
async fn scores_labels_and_nulls() {
    let batches =
        query("SELECT sentiment(review) AS s, sentiment_label(review) AS l FROM reviews ORDER BY id").await.unwrap();
    let batch = &batches[0];
    let scores = batch.column(0).as_primitive::<Float32Type>();
    assert!((scores.value(0) - 2.0 / 3.0).abs() < 1e-6);
    assert!(scores.is_null(1), "NULL in, NULL out");
    assert_eq!(scores.value(2), 0.0);
    let labels = arrow::compute::cast(batch.column(1), &DataType::Utf8).unwrap();
    let labels: &StringArray = labels.as_string();
    assert_eq!(labels.iter().collect::<Vec<_>>(), [Some("positive"), None, Some("negative")]);
}

#[tokio::test]
async fn the_model_argument_picks_a_model() {
    let batches = query("SELECT sentiment(review, 'inverse') FROM reviews WHERE id = 3").await.unwrap();
    assert_eq!(batches[0].column(0).as_primitive::<Float32Type>().value(0), 1.0);
}

#[tokio::test]
async fn explain_unnests_into_words() {
    let sql = "SELECT w['token'] AS token, w['score'] AS score, w['weight'] AS weight \
               FROM (SELECT unnest(sentiment_explain(review)) AS w FROM reviews WHERE id = 1)";
    let batches = query(sql).await.unwrap();
    let tokens = arrow::compute::cast(batches[0].column(0), &DataType::Utf8).unwrap();
    assert_eq!(tokens.as_string::<i32>().iter().flatten().collect::<Vec<_>>(), ["good", "good", "bad"]);
    assert_eq!(batches[0].column(1).as_primitive::<Float32Type>().values().to_vec(), [1.0, 1.0, 0.0]);
}

#[tokio::test]
async fn literals_and_large_strings_work() {
    let batches = query("SELECT sentiment(arrow_cast('good', 'LargeUtf8')), sentiment('bad good')").await.unwrap();
    assert_eq!(batches[0].column(0).as_primitive::<Float32Type>().value(0), 1.0);
    assert_eq!(batches[0].column(1).as_primitive::<Float32Type>().value(0), 0.5);
}

#[tokio::test]
async fn a_non_text_review_is_a_planning_error_naming_the_type() {
    let err = query("SELECT sentiment(id) FROM reviews").await.unwrap_err().to_string();
    assert!(err.contains("review must be text") && err.contains("Int32"), "{err}");
}

#[tokio::test]
async fn an_unknown_model_is_a_planning_error_listing_the_models() {
    let err = query("SELECT sentiment(review, 'nope') FROM reviews").await.unwrap_err().to_string();
    assert!(err.contains("unknown model \"nope\"") && err.contains("inverse"), "{err}");
    let err = query("SELECT sentiment_explain(review, 'nope') FROM reviews").await.unwrap_err().to_string();
    assert!(err.contains("unknown model"), "{err}");
}

#[tokio::test]
async fn a_model_from_a_column_is_refused() {
    let err = query("SELECT sentiment(review, review) FROM reviews").await.unwrap_err().to_string();
    assert!(err.contains("literal"), "{err}");
}

#[tokio::test]
async fn a_panic_inside_a_function_is_a_query_error() {
    let err = query("SELECT sentiment(review, 'panics') FROM reviews").await.unwrap_err().to_string();
    assert!(err.contains("sentiment panicked") && err.contains("a bug in the model set"), "{err}");
    // The session still works.
    assert_eq!(query("SELECT sentiment(review) FROM reviews").await.unwrap()[0].num_rows(), 3);
}

#[tokio::test]
async fn version_names_the_model_set() {
    let batches = query("SELECT sentiment_version() AS v FROM reviews").await.unwrap();
    let versions = batches[0].column(0).as_string::<i32>();
    assert_eq!(versions.len(), 3);
    assert!(versions.iter().all(|v| v == Some("good-words 1")));
}

#[test]
fn a_model_failure_reaches_the_caller_with_its_type() {
    use arrow::datatypes::Field;
    use datafusion::common::{ScalarValue, config::ConfigOptions};
    use datafusion::error::DataFusionError;
    use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl};

    let function = sentiment_udf::Sentiment::probability(Arc::new(GoodWords));
    let args = ScalarFunctionArgs {
        args: vec![
            ColumnarValue::Array(Arc::new(StringArray::from(vec!["good film"]))),
            ColumnarValue::Scalar(ScalarValue::Utf8(Some("broken".into()))),
        ],
        arg_fields: vec![
            Arc::new(Field::new("review", DataType::Utf8, true)),
            Arc::new(Field::new("model", DataType::Utf8, false)),
        ],
        number_rows: 1,
        return_field: Arc::new(Field::new("sentiment", DataType::Float32, true)),
        config_options: Arc::new(ConfigOptions::default()),
    };
    let err = function.invoke_with_args(args).unwrap_err();
    let DataFusionError::External(external) = &err else { panic!("expected an external error, got {err:?}") };
    let failure = external.downcast_ref::<sentiment_udf::FunctionError>().expect("a FunctionError");
    assert_eq!(failure.function, "sentiment");
    assert!(failure.source.downcast_ref::<ModelBroken>().is_some(), "the model set's error keeps its type");
    assert_eq!(failure.to_string(), "sentiment: the model file is broken");
}

#[tokio::test]
async fn models_called_names_each_model_once_in_order_subqueries_included() {
    let ctx = context();
    let plan = ctx
        .sql(
            "SELECT sentiment(review, 'inverse'), sentiment_label(review), sentiment(review, 'inverse') AS again FROM reviews \
             WHERE id IN (SELECT id FROM reviews WHERE sentiment_explain(review, 'broken') IS NOT NULL)",
        )
        .await
        .unwrap()
        .into_unoptimized_plan();
    assert_eq!(sentiment_udf::models_called(&plan, &GoodWords), ["inverse", "share", "broken"]);
    let plain = ctx.sql("SELECT review FROM reviews").await.unwrap().into_unoptimized_plan();
    assert!(sentiment_udf::models_called(&plain, &GoodWords).is_empty());
}

/// `sentiment(reviews, model)` called directly, as a host across `datafusion-ffi` calls it: the
/// model argument arrives as an array.
fn invoke_with_model_array(models: Vec<&str>) -> datafusion::error::Result<Float32Array> {
    use arrow::datatypes::Field;
    use datafusion::common::config::ConfigOptions;
    use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl};

    let rows = models.len();
    let args = ScalarFunctionArgs {
        args: vec![
            ColumnarValue::Array(Arc::new(StringArray::from(vec!["good good bad"; rows]))),
            ColumnarValue::Array(Arc::new(StringArray::from(models))),
        ],
        arg_fields: vec![
            Arc::new(Field::new("review", DataType::Utf8, true)),
            Arc::new(Field::new("model", DataType::Utf8, false)),
        ],
        number_rows: rows,
        return_field: Arc::new(Field::new("sentiment", DataType::Float32, true)),
        config_options: Arc::new(ConfigOptions::default()),
    };
    let result = sentiment_udf::Sentiment::probability(Arc::new(GoodWords)).invoke_with_args(args)?;
    Ok(result.into_array(rows)?.as_primitive::<Float32Type>().clone())
}

#[test]
fn a_model_literal_handed_over_as_an_array_is_taken_and_differing_names_are_not() {
    let scores = invoke_with_model_array(vec!["inverse", "inverse"]).unwrap();
    assert_eq!(scores.values().as_ref(), [1.0 - 2.0 / 3.0, 1.0 - 2.0 / 3.0]);
    let err = invoke_with_model_array(vec!["inverse", "share"]).unwrap_err().to_string();
    assert!(err.contains("model must be a literal"), "{err}");
}

#[tokio::test]
async fn dataframe_expressions_give_what_sql_gives() {
    use datafusion::prelude::col;
    let ctx = context();
    let f = sentiment_udf::ExprFunctions::new(Arc::new(GoodWords));
    let frame = ctx
        .table("reviews")
        .await
        .unwrap()
        .select(vec![
            f.sentiment(col("review"), None).alias("a"),
            f.sentiment_label(col("review"), Some("inverse")).alias("b"),
            f.sentiment_explain(col("review"), None).alias("c"),
            f.sentiment_version().alias("d"),
        ])
        .unwrap()
        .collect()
        .await
        .unwrap();
    let sql = query(
        "SELECT sentiment(review) AS a, sentiment_label(review, 'inverse') AS b, sentiment_explain(review) AS c, \
         sentiment_version() AS d FROM reviews",
    )
    .await
    .unwrap();
    assert_eq!(frame, sql);
}

#[tokio::test]
async fn information_schema_describes_every_function() {
    use datafusion::logical_expr::ScalarUDFImpl;
    use datafusion::prelude::SessionConfig;

    let doc = sentiment_udf::Sentiment::label(Arc::new(GoodWords)).documentation().cloned().unwrap();
    assert_eq!(doc.syntax_example, "sentiment_label(review [, model])");
    assert_eq!(doc.arguments.unwrap().iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>(), ["review", "model"]);

    let mut ctx = SessionContext::new_with_config(SessionConfig::new().with_information_schema(true));
    sentiment_udf::register_all(&mut ctx, Arc::new(GoodWords)).unwrap();
    let batches = ctx
        .sql("SELECT routine_name, description, syntax_example FROM information_schema.routines WHERE routine_name LIKE 'sentiment%' ORDER BY 1")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let names = arrow::compute::concat(&batches.iter().map(|b| b.column(0).as_ref()).collect::<Vec<_>>()).unwrap();
    let names: Vec<_> = names.as_string::<i32>().iter().flatten().collect();
    assert_eq!(names, ["sentiment", "sentiment_explain", "sentiment_label", "sentiment_version"]);
    for batch in &batches {
        assert_eq!(batch.column(1).null_count(), 0, "every function has a description");
    }
}
