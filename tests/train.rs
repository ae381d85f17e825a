//! The trainer end to end on small IMDB slices: every architecture, and the n-gram model, learns,
//! exports to ONNX, and ONNX Runtime agrees with tch; a short run on 2,000 reviews is already a
//! useful model.

use std::path::{Path, PathBuf};

use std::sync::Arc;

use sentiment::card::ModelCard;
use sentiment::catalog::Catalog;
use sentiment::encoding::Encoder;
use sentiment::model::SentimentModel;
use sentiment::runtime::Provider;
use sentiment::train::glove::Glove;
use sentiment::train::language_model::PretrainOptions;
use sentiment::train::net::{Architecture, Shape};
use sentiment::train::ngram::{self, NgramJob};
use sentiment::train::pipeline::{self, DistillationSource, Job, PARITY_TOLERANCE, ReviewFiles, Trained};
use sentiment::train::recurrent::Readout;
use sentiment::train::skipgram::SkipGramOptions;
use sentiment::train::teacher::TeacherOptions;
use sentiment::train::token_wise::Weighting;
use sentiment::train::trainer::{DistillationLoss, Options};

fn imdb(split: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/imdb")).join(format!("{split}.parquet"))
}

fn reviews(train: usize, test: usize) -> ReviewFiles {
    ReviewFiles {
        train_file: imdb("train"),
        test_file: imdb("test"),
        text_column: "review".into(),
        label_column: None,
        validation_fraction: 0.1,
        split_seed: 3,
        train_limit: Some(train),
        test_limit: Some(test),
    }
}

fn job(architecture: Architecture, out_dir: &std::path::Path, train: usize, test: usize, epochs: usize) -> Job {
    Job {
        shape: Shape {
            architecture,
            hidden: 32,
            learned_dim: 8,
            attention_dim: 16,
            dropout: 0.2,
            learned_min_reviews: 5,
            readout: Readout::Last,
            bidirectional: false,
            weighting: Weighting::Sum,
        },
        options: Options {
            batch_size: 32,
            learning_rate: 2e-3,
            learning_rate_decay: 1.0,
            max_epochs: epochs,
            patience: epochs,
            clip_norm: 1.0,
            seed: 3,
            weight_average: 0.0,
            distillation_loss: DistillationLoss::CrossEntropy,
            adversarial: 0.0,
        },
        seeds: vec![3],
        reviews: reviews(train, test),
        windows: 1,
        distillation: None,
        in_domain_vectors: None,
        language_model: None,
        vocabulary_size: 100_000,
        glove_dir: Glove::default_dir(),
        out_dir: out_dir.to_owned(),
        command: "cargo test".into(),
    }
}

/// libtorch's random seed is global: training runs take turns, so that each is reproducible.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run(job: &Job) -> Trained {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    pipeline::run(job).expect("training runs")
}

/// Trains `architecture` briefly, with `variant` applied to its shape, and checks its export.
fn learns_exports_and_agrees(architecture: Architecture, variant: impl FnOnce(&mut Shape)) {
    let dir = tempfile::tempdir().unwrap();
    let mut job = job(architecture, dir.path(), 1000, 256, 4);
    variant(&mut job.shape);
    let Trained { card, parity_max_difference, losses } = run(&job);
    assert!(losses.last().unwrap() < losses.first().unwrap(), "loss did not fall: {losses:?}");
    assert!(parity_max_difference <= PARITY_TOLERANCE, "tch and ONNX Runtime differ by {parity_max_difference}");
    assert_eq!(card.name, architecture.name());
    assert_eq!(card.test.n, 256);
    assert_eq!(card.seed_examples.len(), 5);
    let vocab = sentiment::vocab::Vocabulary::load(&dir.path().join("vocab.txt")).unwrap();
    let encoder = Encoder::Words(Arc::new(vocab));
    let onnx = dir.path().join(format!("{}.onnx", architecture.name()));
    let model = SentimentModel::load(&onnx, encoder.clone(), 1, Provider::Cpu).unwrap();
    assert_eq!(model.outputs(), card.contract.outputs.as_slice());
    let token_wise = matches!(architecture, Architecture::Mlp | Architecture::WeightedMlp);
    assert_eq!(card.contract.folded.is_some(), token_wise, "the token-wise MLPs, and only they, are folded");
    let loaded = sentiment::card::ModelCard::load(&dir.path().join(format!("{}.json", architecture.name()))).unwrap();
    assert_eq!(loaded, card);
    exports_again_from_saved_weights(&job, &card, &model, encoder);
}

/// `train --export-only`: the model written again from the saved weights, without training, is the
/// same model with the same card; a job that differs from the training's is refused.
fn exports_again_from_saved_weights(
    job: &Job,
    card: &sentiment::card::ModelCard,
    model: &SentimentModel,
    encoder: Encoder,
) {
    let onnx = job.out_dir.join(format!("{}.onnx", card.name));
    std::fs::remove_file(&onnx).unwrap();
    let again = pipeline::export_again(job).expect("exports again");
    assert!(again.parity_max_difference <= PARITY_TOLERANCE);
    assert_eq!(&again.card, card, "the same weights give the same card");
    let reloaded = SentimentModel::load(&onnx, encoder, 1, Provider::Cpu).unwrap();
    let batch = model.encode(&SEED_TEXTS);
    assert_eq!(reloaded.probabilities(&batch).unwrap(), model.probabilities(&batch).unwrap());
    let other = Job { reviews: ReviewFiles { test_limit: Some(100), ..job.reviews.clone() }, ..job.clone() };
    let refused = pipeline::export_again(&other).unwrap_err().to_string();
    assert!(refused.contains("--export-only"), "{refused}");
}

const SEED_TEXTS: [&str; 2] = ["a wonderful, moving film", "dull and far too long"];

/// Each model as `scripts/train-all` ships it: the RNN reads the mean of its states, the GRU its
/// last state, the weighted MLP sums its weighted sub-scores.
#[test]
fn rnn_reading_its_mean_state_learns_exports_and_agrees() {
    learns_exports_and_agrees(Architecture::Rnn, |shape| shape.readout = Readout::Mean);
}

#[test]
fn gru_learns_exports_and_agrees() {
    learns_exports_and_agrees(Architecture::Gru, |_| {});
}

#[test]
fn gru_reading_its_max_state_learns_exports_and_agrees() {
    learns_exports_and_agrees(Architecture::Gru, |shape| shape.readout = Readout::Max);
}

#[test]
fn bidirectional_gru_learns_exports_and_agrees() {
    learns_exports_and_agrees(Architecture::Gru, |shape| shape.bidirectional = true);
}

#[test]
fn bidirectional_rnn_reading_its_mean_state_learns_exports_and_agrees() {
    learns_exports_and_agrees(Architecture::Rnn, |shape| {
        shape.readout = Readout::Mean;
        shape.bidirectional = true;
    });
}

#[test]
fn mlp_learns_exports_and_agrees() {
    learns_exports_and_agrees(Architecture::Mlp, |_| {});
}

#[test]
fn weighted_mlp_learns_exports_and_agrees() {
    learns_exports_and_agrees(Architecture::WeightedMlp, |_| {});
}

/// `--weighting mean`, tried and not shipped, still exports with parity.
#[test]
fn weighted_mlp_with_a_weighted_mean_learns_exports_and_agrees() {
    learns_exports_and_agrees(Architecture::WeightedMlp, |shape| shape.weighting = Weighting::Mean);
}

#[test]
fn attention_learns_exports_and_agrees() {
    learns_exports_and_agrees(Architecture::Attention, |_| {});
}

/// Trains the n-gram model on slices of IMDB (2,000 training reviews, 300 test) into `out_dir`,
/// one training at a time, and returns its card once ONNX Runtime agreed with tch.
fn train_ngram(out_dir: &Path, options: TeacherOptions, seeds: Vec<i64>) -> ModelCard {
    let job = NgramJob {
        reviews: reviews(2000, 300),
        options,
        seeds,
        out_dir: out_dir.to_owned(),
        command: "cargo test".into(),
    };
    let Trained { card, parity_max_difference, .. } = {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        ngram::run(&job).expect("training runs")
    };
    assert!(parity_max_difference <= PARITY_TOLERANCE, "tch and ONNX Runtime differ by {parity_max_difference}");
    card
}

/// The sixth model end to end on slices: fitted per seed, the best validation run shipped as
/// ONNX with its n-gram vocabulary (contract 2), ONNX Runtime reading the teacher's n-grams and
/// giving its probabilities, and a card the catalog serves; explained, each review's n-grams'
/// weights add up to its logit less one intercept shared by every review.
#[test]
fn ngram_model_learns_exports_and_explains() {
    let dir = tempfile::tempdir().unwrap();
    let options = TeacherOptions { max_epochs: 4, buckets: Some(1 << 16), ..TeacherOptions::default() };
    let card = train_ngram(dir.path(), options, vec![1, 2]);
    assert_eq!((card.name.as_str(), card.contract.version, card.seed_accuracy), ("ngram", 2, None));
    assert_eq!((card.contract.vocabulary.as_deref(), card.contract.ngram_buckets), (None, Some(1 << 16)));
    assert_eq!(card.runs.len(), 2);
    assert!(card.test.accuracy > 0.75, "accuracy {} on 300 test reviews", card.test.accuracy);
    assert!(card.changes_from_seed.iter().any(|c| c.contains("hashed into 65536 buckets")));

    // A folder of the n-gram model alone is a catalog: no vocabulary or GloVe table needed.
    let catalog = Catalog::open(dir.path(), 1, Provider::Cpu).unwrap();
    let model = catalog.model("ngram").unwrap();
    let texts = ["A wonderful, moving film. Wonderful!", "dull and far too long", "zzzz qqqq"];
    let explained = model.explain(&texts).unwrap();
    let wonderful = &explained[0].words;
    assert_eq!(wonderful.iter().filter(|w| w.token == "wonderful").count(), 1, "{wonderful:?}");
    assert!(wonderful.iter().all(|w| w.known && w.weight == Some(1.0)));
    // Every n-gram has a bucket, seen in training or not: zzzz, (zzzz qqqq), qqqq.
    assert_eq!(explained[2].words.len(), 3, "{:?}", explained[2].words);
    let intercepts: Vec<f32> = explained
        .iter()
        .map(|r| (r.probability / (1.0 - r.probability)).ln() - r.words.iter().map(|w| w.score).sum::<f32>())
        .collect();
    assert!(intercepts.iter().all(|i| (i - intercepts[0]).abs() < 1e-4), "{intercepts:?}");
    // A review of unknown words still has words: it gets the intercept's probability, not NULL.
    let scores = sentiment::batch::score_texts(&model, &texts).unwrap();
    assert!(scores.iter().all(Option::is_some), "{scores:?}");
}

/// With `max_n` 3 the model reads word triples too and is a file of contract 3 that states it;
/// with `length_intercept`, the exported intercept is `b0 + b1 ln(1 + n)` for a text of n distinct
/// n-grams (ONNX Runtime agreeing with tch), and each run is judged on the short-text checks.
#[test]
fn ngram_model_of_triples_with_a_length_aware_intercept_exports_both() {
    let dir = tempfile::tempdir().unwrap();
    let options = TeacherOptions {
        max_n: 3,
        max_epochs: 3,
        buckets: Some(1 << 16),
        short_spans: 2,
        length_intercept: true,
        ..TeacherOptions::default()
    };
    let card = train_ngram(dir.path(), options, vec![1]);
    assert!(card.changes_from_seed.iter().any(|c| c.contains("its intercept depends on the text's length")));
    assert!(card.changes_from_seed.iter().any(|c| c.contains("words, word pairs and word triples")));
    assert_eq!((card.contract.version, card.contract.ngram_max_n), (3, Some(3)));
    let short_texts = card.runs[0].short_texts.as_ref().expect("IMDB has ratings: both checks are judged");
    assert!(short_texts.validation.n > 100 && short_texts.test.n > 100, "{short_texts:?}");

    let catalog = Catalog::open(dir.path(), 1, Provider::Cpu).unwrap();
    let model = catalog.model("ngram").unwrap();
    let texts = ["superb", "a wonderful moving film", &"the plot and the cast and the ending ".repeat(20)];
    let explained = model.explain(&texts).unwrap();
    let tokens: Vec<&str> = explained[1].words.iter().map(|w| w.token.as_str()).collect();
    assert_eq!(tokens[tokens.len() - 3..], ["wonderful moving film", "moving film", "film"]);
    assert_eq!(tokens.len(), 4 + 3 + 2);
    // (ln(1 + n), the logit less the n-grams' sub-scores) for each text.
    let points: Vec<(f32, f32)> = explained
        .iter()
        .map(|r| {
            let intercept = (r.probability / (1.0 - r.probability)).ln() - r.words.iter().map(|w| w.score).sum::<f32>();
            ((1.0 + r.words.len() as f32).ln(), intercept)
        })
        .collect();
    let slope = |(x0, y0): (f32, f32), (x1, y1): (f32, f32)| (y1 - y0) / (x1 - x0);
    let (first, second) = (slope(points[0], points[1]), slope(points[0], points[2]));
    assert!((first - second).abs() < 1e-3, "the intercept is linear in ln(1 + n): {points:?}");
    assert!(first.abs() > 1e-4, "and its slope was fitted: {points:?}");
}

#[test]
fn two_thousand_reviews_beat_seventy_percent() {
    let dir = tempfile::tempdir().unwrap();
    let trained = run(&job(Architecture::Mlp, dir.path(), 2000, 1000, 10));
    assert_eq!(trained.card.data.train_size + trained.card.data.validation_size, 2000);
    assert!(trained.card.test.accuracy > 0.70, "accuracy {} on 1,000 test reviews", trained.card.test.accuracy);
}

/// A temperature that cannot divide a logit is refused before any data is read or teacher fitted.
#[test]
fn a_teacher_temperature_of_zero_is_refused_up_front() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = job(Architecture::Gru, dir.path(), 100, 100, 1);
    job.reviews.train_file = dir.path().join("not-read.parquet");
    job.distillation = Some(DistillationSource {
        unlabeled_file: imdb("unsup"),
        unlabeled_limit: None,
        teacher: TeacherOptions::default(),
        labeled_folds: 0,
        temperature: 0.0,
    });
    let error = pipeline::run(&job).unwrap_err().to_string();
    assert!(error.contains("temperature must be above 0, not 0"), "{error}");
}

/// The new training path end to end on slices: the teacher is fitted and reported, the student
/// learns from unlabeled reviews and from the second 100 words of each review too, its labeled
/// reviews from cross-fitted teachers, its learned dimensions start from skip-gram vectors, every
/// seed is a run on the card, the best validation run ships, and its ONNX file agrees with tch.
#[test]
fn distillation_with_seeds_trains_reports_and_ships_the_best_validation_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = job(Architecture::Gru, dir.path(), 1500, 300, 2);
    job.seeds = vec![1, 2];
    job.windows = 2;
    job.distillation = Some(DistillationSource {
        unlabeled_file: imdb("unsup"),
        unlabeled_limit: Some(1000),
        teacher: TeacherOptions { max_epochs: 3, ..TeacherOptions::default() },
        labeled_folds: 2,
        temperature: 2.0,
    });
    job.in_domain_vectors = Some(SkipGramOptions { epochs: 1, ..SkipGramOptions::default() });
    job.language_model = Some(PretrainOptions { epochs: 1, ..PretrainOptions::default() });
    let Trained { card, parity_max_difference, .. } = run(&job);
    assert!(parity_max_difference <= PARITY_TOLERANCE, "tch and ONNX Runtime differ by {parity_max_difference}");
    let distillation = card.distillation.as_ref().expect("the card describes the distillation");
    assert_eq!(distillation.unlabeled_reviews, 1000);
    assert!(distillation.targets.contains("divided by 2"), "{}", distillation.targets);
    assert!(card.changes_from_seed.iter().any(|c| c.contains("as a language model")), "{:?}", card.changes_from_seed);
    let teacher = &distillation.teacher;
    assert!(teacher.features > 10_000, "{} n-grams", teacher.features);
    assert!(teacher.validation.accuracy > 0.70, "teacher validation accuracy {}", teacher.validation.accuracy);
    assert_eq!(teacher.test.unwrap().n, 300);
    let labeled = distillation.labeled.as_ref().expect("the labeled reviews had cross-fitted targets");
    assert_eq!(labeled.fold_validation_accuracy.len(), 2);
    assert_eq!(labeled.out_of_fold.n as usize, card.data.train_size);
    assert!(labeled.out_of_fold.accuracy > 0.70, "out-of-fold accuracy {}", labeled.out_of_fold.accuracy);
    assert_eq!(card.runs.iter().map(|r| r.seed).collect::<Vec<_>>(), [1, 2]);
    let seeds = card.seeds.as_ref().unwrap();
    let best = card.runs.iter().max_by(|a, b| a.validation.accuracy.total_cmp(&b.validation.accuracy)).unwrap();
    assert_eq!(
        seeds.shipped,
        card.runs.iter().find(|r| r.validation.accuracy == best.validation.accuracy).unwrap().seed
    );
    let shipped = card.runs.iter().find(|r| r.seed == seeds.shipped).unwrap();
    // The card's test metrics come from the exported file; the run's from tch: the same model.
    assert!(
        (shipped.test.accuracy - card.test.accuracy).abs() < 1e-3,
        "{} vs {}",
        shipped.test.accuracy,
        card.test.accuracy
    );
    let mean = card.runs.iter().map(|r| r.test.accuracy).sum::<f64>() / 2.0;
    assert!((seeds.test_accuracy.mean - mean).abs() < 1e-12);
    assert!(card.changes_from_seed.iter().any(|c| c.starts_with("distilled")));
    assert!(card.changes_from_seed.iter().any(|c| c.contains("skip-gram")));
    assert!(card.changes_from_seed.iter().any(|c| c.contains("windows of 100 words")));
    let loaded = sentiment::card::ModelCard::load(&dir.path().join("gru.json")).unwrap();
    assert_eq!(loaded, card);
}

/// Every 40th review of an IMDB split (`movie_id`, `review`, `label`), written with arrow's own
/// CSV or NDJSON writer by `path`'s extension.
fn imdb_sample_as(split: &str, path: &std::path::Path) {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(imdb(split)).unwrap()).unwrap();
    let batches: Vec<_> = reader.build().unwrap().map(Result::unwrap).collect();
    let batch = arrow::compute::concat_batches(&batches[0].schema(), &batches).unwrap();
    let rows = arrow::array::UInt32Array::from_iter_values((0..batch.num_rows() as u32).step_by(40));
    let columns = ["movie_id", "review", "label"].map(|c| batch.schema().index_of(c).unwrap());
    let batch = batch.project(&columns).unwrap();
    let batch = arrow::compute::take_record_batch(&batch, &rows).unwrap();
    let file = std::fs::File::create(path).unwrap();
    if path.extension().is_some_and(|e| e == "csv") {
        arrow::csv::WriterBuilder::new().with_header(true).build(file).write(&batch).unwrap();
    } else {
        let mut writer = arrow::json::LineDelimitedWriter::new(file);
        writer.write(&batch).unwrap();
        writer.finish().unwrap();
    }
}

#[test]
fn trains_on_csv_and_tests_on_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    let mut job = job(Architecture::Mlp, dir.path(), 1000, 1000, 2);
    job.reviews.train_file = dir.path().join("train.csv");
    job.reviews.test_file = dir.path().join("test.ndjson");
    imdb_sample_as("train", &job.reviews.train_file);
    imdb_sample_as("test", &job.reviews.test_file);
    let Trained { card, .. } = run(&job);
    assert_eq!(card.data.train_size + card.data.validation_size, 625);
    assert_eq!(card.test.n, 625);
    // Two epochs on 560 reviews: above chance only if the CSV's labels were read right.
    assert!(card.test.accuracy > 0.55, "accuracy {} on 625 test reviews", card.test.accuracy);
}
