//! Properties the scores keep whatever the run: the same scores across batch sizes, thread counts
//! and row orders; the same results from concurrent queries as from serial ones; no panic and the
//! pipeline's rules on arbitrary input; and no way out of the sandbox (network, files, panics).

use crate::common;

use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, AsArray, Float32Array, RecordBatch, StringArray};
use common::{imdb_head, read, sample, scorer, stderr};
use datafusion::prelude::SessionContext;
use proptest::prelude::*;
use sentiment::catalog::Catalog;
use sentiment::runtime::Provider;

const MODELS: [&str; 6] = ["rnn", "gru", "mlp", "weighted-mlp", "attention", "ngram"];

fn assert_close(a: &[Option<f32>], b: &[Option<f32>], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    for (row, (x, y)) in a.iter().zip(b).enumerate() {
        let (x, y) = (x.unwrap(), y.unwrap());
        assert!((x - y).abs() <= 1e-6, "{what}: row {row}: {x} vs {y}");
    }
}

/// Writes the first `rows` reviews of IMDB test, from `first`, in row groups of `group` rows.
fn imdb_in_row_groups(path: &Path, first: usize, rows: usize, group: usize) {
    let batch = read(&common::imdb("test"));
    let batch = batch.project(&[batch.schema().index_of("id").unwrap(), batch.schema().index_of("review").unwrap()]);
    let batch = batch.unwrap().slice(first, rows);
    let properties = parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(group))
        .set_compression(parquet::basic::Compression::SNAPPY)
        .build();
    let file = std::fs::File::create(path).unwrap();
    let mut writer = parquet::arrow::ArrowWriter::try_new(file, batch.schema(), Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
}

#[test]
fn many_threads_write_the_file_that_one_thread_writes() {
    // Two inputs of two files each, every file with an odd last row group. Row groups smaller than
    // the output's are written again, in row groups of 16,384; larger ones are copied as they are.
    let dir = tempfile::tempdir().unwrap();
    let mut scores = Vec::new();
    let inputs = [("small", [1_000, 768], vec![16_384, 3_616]), ("large", [16_384, 20_000], vec![11_700, 8_300])];
    for (name, groups, expected_groups) in inputs {
        let landing = dir.path().join(name);
        std::fs::create_dir(&landing).unwrap();
        imdb_in_row_groups(&landing.join("a.parquet"), 0, 11_700, groups[0]);
        imdb_in_row_groups(&landing.join("b.parquet"), 11_700, 8_300, groups[1]);
        for model in ["ngram", "mlp"] {
            let run = |threads: &str| {
                let output = dir.path().join(format!("{name}-{model}-{threads}.parquet"));
                let args = ["score", "--input", landing.to_str().unwrap(), "--output", output.to_str().unwrap()];
                let options = ["--model", model, "--threads", threads, "--batch-size", "300"];
                let out = scorer(&[&args[..], &options].concat());
                assert!(out.status.success(), "{name}, {model}, {threads} threads: {}", stderr(&out));
                // The file's bytes with the time it was scored blanked: it is all that may differ.
                let scored_at = common::provenance(&output)["sentiment.scored_at"].clone();
                let mut bytes = std::fs::read(&output).unwrap();
                let at = bytes.windows(scored_at.len()).position(|w| w == scored_at.as_bytes()).unwrap();
                bytes[at..at + scored_at.len()].fill(b'-');
                (bytes, output)
            };
            let (one, one_path) = run("1");
            let (eight, _) = run("8");
            assert!(one == eight, "{name}, {model}: 8 threads wrote another file than 1 thread");
            let file = std::fs::File::open(&one_path).unwrap();
            let reader = parquet::file::reader::SerializedFileReader::new(file).unwrap();
            let groups: Vec<i64> = parquet::file::reader::FileReader::metadata(&reader)
                .row_groups()
                .iter()
                .map(|g| g.num_rows())
                .collect();
            assert_eq!(groups, expected_groups, "{name}");
            let scored = read(&one_path);
            let test = read(&common::imdb("test"));
            for column in ["id", "review"] {
                let expected = test.column_by_name(column).unwrap().slice(0, 20_000).to_data();
                assert_eq!(
                    scored.column_by_name(column).unwrap().to_data(),
                    expected,
                    "{name}: every {column}, in order"
                );
            }
            let score = scored.column_by_name("sentiment_score").unwrap();
            scores.push(score.as_primitive::<arrow::datatypes::Float32Type>().iter().collect::<Vec<_>>());
        }
    }
    // Copied or written again, the scores are the same (within float rounding: the batches differ
    // where the row groups do).
    assert_close(&scores[0], &scores[2], "ngram, small against large row groups");
    assert_close(&scores[1], &scores[3], "mlp, small against large row groups");
}

#[test]
fn scores_do_not_depend_on_batch_size_threads_or_row_order() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("head.parquet");
    imdb_head("test", 1_100, &input);
    // The same rows reversed.
    let reversed = dir.path().join("reversed.parquet");
    let batch = read(&input);
    let indices = arrow::array::UInt32Array::from_iter_values((0..batch.num_rows() as u32).rev());
    let columns = batch.columns().iter().map(|c| arrow::compute::take(c, &indices, None).unwrap()).collect();
    common::write_batch(&reversed, &RecordBatch::try_new(batch.schema(), columns).unwrap());

    for model in MODELS {
        let run = |input: &Path, extra: &[&str]| {
            let output = dir.path().join(format!("{model}-{}.parquet", extra.join("-")));
            let mut args = vec!["score", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()];
            args.extend_from_slice(&["--model", model, "--overwrite"]);
            args.extend_from_slice(extra);
            let out = scorer(&args);
            assert!(out.status.success(), "{model} {extra:?}: {}", stderr(&out));
            common::scores(&output)
        };
        let reference = run(&input, &["--batch-size", "1024", "--threads", "2"]);
        for batch_size in ["1", "7", "1025", "8192"] {
            assert_close(
                &reference,
                &run(&input, &["--batch-size", batch_size]),
                &format!("{model}, batch {batch_size}"),
            );
        }
        assert_close(&reference, &run(&input, &["--threads", "1"]), &format!("{model}, 1 thread"));
        let mut unreversed = run(&reversed, &["--batch-size", "100"]);
        unreversed.reverse();
        assert_close(&reference, &unreversed, &format!("{model}, reversed rows"));
    }
}

fn context(catalog: Arc<Catalog>, reviews: &Path) -> SessionContext {
    let mut ctx = SessionContext::new();
    sentiment::sql::register_all(&mut ctx, catalog).unwrap();
    ctx.register_batch("reviews", read(reviews)).unwrap();
    ctx
}

#[test]
fn concurrent_queries_on_one_session_match_serial_ones() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("head.parquet");
    imdb_head("test", 2_000, &input);
    let catalog = Arc::new(Catalog::open(&common::repo().join("models"), 1, Provider::Cpu).unwrap());
    let queries: Vec<String> = (0..8)
        .map(|i| {
            let model = MODELS[i % MODELS.len()];
            match i % 3 {
                0 => format!("SELECT id, sentiment(review, '{model}') AS s FROM reviews ORDER BY id"),
                1 => format!(
                    "SELECT sentiment_label(review, '{model}') AS l, count(*) AS n FROM reviews GROUP BY l ORDER BY l"
                ),
                _ => format!(
                    "SELECT id, sum(w.score) AS total FROM \
                     (SELECT id, UNNEST(sentiment_explain(review, '{model}')) AS w FROM reviews) \
                     GROUP BY id ORDER BY id"
                ),
            }
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(4).build().unwrap();
    runtime.block_on(async {
        let ctx = context(catalog, &input);
        let mut serial = Vec::new();
        for query in &queries {
            serial.push(ctx.sql(query).await.unwrap().collect().await.unwrap());
        }
        let handles: Vec<_> = queries
            .iter()
            .map(|query| {
                let (ctx, query) = (ctx.clone(), query.clone());
                tokio::spawn(async move { ctx.sql(&query).await.unwrap().collect().await.unwrap() })
            })
            .collect();
        for ((handle, expected), query) in handles.into_iter().zip(&serial).zip(&queries) {
            let got = handle.await.unwrap();
            let (got, expected) = (
                arrow::compute::concat_batches(&got[0].schema(), &got).unwrap(),
                arrow::compute::concat_batches(&expected[0].schema(), expected).unwrap(),
            );
            assert_eq!(got, expected, "{query}");
        }
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// `sentiment()` over arbitrary text: never a panic or an error; a score in [0, 1] exactly
    /// where the review has words.
    #[test]
    fn sentiment_takes_any_text(texts in prop::collection::vec(
        prop_oneof![any::<String>(), "[a-zA-Z .,!?'\u{e9}\u{65e5}0-9]{0,300}"],
        1..16,
    )) {
        let ctx = arbitrary_text_context(&texts);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let batches = runtime.block_on(async {
            ctx.sql("SELECT sentiment(review, 'attention') AS s, sentiment(review) AS g FROM reviews")
                .await?.collect().await
        }).unwrap();
        let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
        for (row, text) in texts.iter().enumerate() {
            let has_words = !sentiment::text::tokenize(text).is_empty();
            for column in 0..2 {
                let scores: &Float32Array = batch.column(column).as_primitive();
                prop_assert_eq!(scores.is_valid(row), has_words, "{:?}", text);
                if has_words {
                    prop_assert!((0.0..=1.0).contains(&scores.value(row)));
                }
            }
        }
    }
}

/// A session whose table `reviews` holds `texts`, over the shipped models (loaded once).
fn arbitrary_text_context(texts: &[String]) -> SessionContext {
    static CATALOG: std::sync::OnceLock<Arc<Catalog>> = std::sync::OnceLock::new();
    let catalog = CATALOG
        .get_or_init(|| Arc::new(Catalog::open(&common::repo().join("models"), 1, Provider::Cpu).unwrap()))
        .clone();
    let mut ctx = SessionContext::new();
    sentiment::sql::register_all(&mut ctx, catalog).unwrap();
    let reviews = StringArray::from_iter_values(texts);
    let batch = RecordBatch::try_from_iter([("review", Arc::new(reviews) as Arc<dyn Array>)]).unwrap();
    ctx.register_batch("reviews", batch).unwrap();
    ctx
}

#[test]
fn scoring_needs_no_network() {
    // A new network namespace has no interface but a downed loopback: any connection fails.
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("out.parquet");
    let scorer = env!("CARGO_BIN_EXE_scorer");
    let input = sample();
    let runs: [&[&str]; 2] = [
        &["score", "--input", input.to_str().unwrap(), "--output", output.to_str().unwrap()],
        &["sql", "--input", input.to_str().unwrap(), "SELECT avg(sentiment(review, 'attention')) FROM reviews"],
    ];
    for args in runs {
        let out = std::process::Command::new("unshare").arg("--net").arg(scorer).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?} without a network: {}", stderr(&out));
    }
}

#[test]
fn model_names_in_sql_cannot_reach_files() {
    for name in ["/etc/passwd", "../models/gru", "gru.onnx", "models/gru", "vocab"] {
        let query = format!("SELECT sentiment(review, '{name}') FROM reviews");
        let out = scorer(&["sql", "--input", sample().to_str().unwrap(), &query]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        assert!(stderr(&out).contains("unknown model"), "{name}: {}", stderr(&out));
    }
}

#[test]
fn scoring_runs_the_graph_pruned_to_the_probability_with_the_whole_graphs_scores() {
    use onnx_protobuf::{Message, ModelProto};
    use sentiment::contract::{OUTPUT_PROBABILITY, OUTPUT_TOKEN_SCORES};
    let texts = sentiment::data::LabeledReviews::load(&common::imdb("test"), "review", None).unwrap().head(300).texts;
    let catalog = Catalog::open(&common::repo().join("models"), 2, Provider::Cpu).unwrap();
    for model in ["rnn", "gru", "mlp", "weighted-mlp", "attention"] {
        let file = std::fs::read(common::repo().join("models").join(format!("{model}.onnx"))).unwrap();
        let file = ModelProto::parse_from_bytes(&file).unwrap();
        let pruned = sentiment::pruning::keep_outputs(file, &[OUTPUT_PROBABILITY]).unwrap();
        if matches!(model, "rnn" | "gru") {
            assert!(pruned.is_some(), "{model}: the per-word head is left out of scoring");
        }
        let model = catalog.model(model).unwrap();
        let batch = model.encode(&texts);
        let scored = model.probabilities(&batch).unwrap();
        let whole = model.outputs_for(&batch, &[OUTPUT_PROBABILITY, OUTPUT_TOKEN_SCORES]).unwrap().remove(0);
        assert_eq!(scored, whole, "the pruned graph gives the whole graph's probabilities, bit for bit");
    }
}

#[test]
fn pooled_models_spend_threads_on_sessions_side_by_side_with_the_same_scores() {
    let texts = sentiment::data::LabeledReviews::load(&common::imdb("test"), "review", None).unwrap().head(600).texts;
    let one = Catalog::open(&common::repo().join("models"), 1, Provider::Cpu).unwrap();
    let four = Catalog::open(&common::repo().join("models"), 4, Provider::Cpu).unwrap();
    for model in MODELS {
        let (single, pooled) = (one.model(model).unwrap(), four.model(model).unwrap());
        let batch = single.encode(&texts);
        assert_eq!(single.sessions(), 1, "{model}");
        let side_by_side = sentiment::model::SIDE_BY_SIDE_MODELS.contains(&model);
        assert_eq!(pooled.sessions(), if side_by_side { 4 } else { 1 }, "{model}");
        let (a, b) = (single.probabilities(&batch).unwrap(), pooled.probabilities(&batch).unwrap());
        assert_close(&a.into_iter().map(Some).collect::<Vec<_>>(), &b.into_iter().map(Some).collect::<Vec<_>>(), model);
    }
}

#[test]
fn calls_of_any_size_give_the_same_scores() {
    let texts = sentiment::data::LabeledReviews::load(&common::imdb("test"), "review", None).unwrap().head(300).texts;
    let models = common::repo().join("models");
    let shipped = Catalog::open(&models, 2, Provider::Cpu).unwrap();
    for model in MODELS {
        let default = shipped.model(model).unwrap();
        let batch = default.encode(&texts);
        let reference = default.probabilities(&batch).unwrap();
        for rows in [1, 5, 300] {
            let catalog = Catalog::open(&models, 2, Provider::Cpu).unwrap().with_rows_per_call(Some(rows));
            let resized = catalog.model(model).unwrap();
            assert_eq!(resized.rows_per_call(), rows, "{model}");
            let scores = resized.probabilities(&batch).unwrap();
            if model == "ngram" {
                // A call's rows are padded to its longest review; the padding's zeros change the
                // order of the sums, by a rounding at most.
                let close = |v: Vec<f32>| v.into_iter().map(Some).collect::<Vec<_>>();
                assert_close(&close(reference.clone()), &close(scores), &format!("{model}, calls of {rows}"));
            } else {
                assert_eq!(reference, scores, "{model}, calls of {rows}: the same scores, bit for bit");
            }
        }
    }
}
