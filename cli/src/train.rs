//! `train`: trains one of the five architectures, or the n-gram model, on labeled reviews and
//! ships it to `models/` as ONNX with its model card. Needs the `train` feature (libtorch).

use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{Parser, ValueEnum};
use sentiment::train::language_model::PretrainOptions;
use sentiment::train::net::{Architecture, Shape};
use sentiment::train::ngram::{self, NgramJob};
use sentiment::train::pipeline::{self, DistillationSource, Job, ReviewFiles, Trained};
use sentiment::train::recurrent::Readout;
use sentiment::train::skipgram::SkipGramOptions;
use sentiment::train::teacher::TeacherOptions;
use sentiment::train::token_wise::Weighting;
use sentiment::train::trainer::{DistillationLoss, Options};

/// Train a sentiment model and export it to ONNX with its model card.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// What to train (its name is the model's name): one of the exercise's five architectures
    /// (rnn, gru, mlp, weighted-mlp, attention), or ngram, the distillation teacher as a model of
    /// its own (the --teacher-* options set it up; the network options do not apply).
    #[arg(long, value_parser = parse_model)]
    arch: Model,
    /// Labeled training reviews, Parquet or CSV; validation is taken out of it.
    #[arg(long, default_value = "../shared/data/imdb/train.parquet")]
    train_file: PathBuf,
    /// Labeled test reviews, Parquet or CSV, for the card's metrics only.
    #[arg(long, default_value = "../shared/data/imdb/test.parquet")]
    test_file: PathBuf,
    /// The column holding the review text.
    #[arg(long, default_value = "review")]
    text_column: String,
    /// The column holding the label (0/1 or positive/negative); default `label`, else `sentiment`.
    #[arg(long)]
    label_column: Option<String>,
    /// Where the model, card, vocabulary and GloVe table are written.
    #[arg(long, default_value = "models")]
    out_dir: PathBuf,
    /// Where scripts/setup unpacked GloVe.
    #[arg(long)]
    glove_dir: Option<PathBuf>,
    /// How many of GloVe's most frequent words to keep.
    #[arg(long, default_value_t = 100_000)]
    vocabulary_size: usize,
    /// Share of the training file held out for validation.
    #[arg(long, default_value_t = 0.1)]
    validation_fraction: f64,
    /// Train on a random sample of this many reviews.
    #[arg(long)]
    train_limit: Option<usize>,
    /// Evaluate on a random sample of this many test reviews.
    #[arg(long)]
    test_limit: Option<usize>,
    /// Width of the recurrent state or of the MLP's hidden layer.
    #[arg(long, default_value_t = 64)]
    hidden: i64,
    /// Learned word-vector dimensions added to GloVe (0: GloVe only, as in the exercise).
    #[arg(long, default_value_t = 8)]
    learned_dim: i64,
    /// Only words in at least this many training reviews get learned dimensions.
    #[arg(long, default_value_t = 20)]
    learned_min_reviews: u32,
    /// What the MLP head of a recurrent model (rnn, gru) reads: the state after the last word, or
    /// the mean of the states after every word.
    #[arg(long, value_enum, default_value_t = Readout::Last)]
    readout: Readout,
    /// A recurrent model (rnn, gru) also reads each review from its last word to its first; its
    /// head reads both directions' states.
    #[arg(long)]
    bidirectional: bool,
    /// How the weighted MLP pools its sub-scores: summed with its per-word weights, or averaged
    /// with them (weights divided by the review's total).
    #[arg(long, value_enum, default_value_t = Weighting::Sum)]
    weighting: Weighting,
    /// Attention's query/key/value width (attention model only).
    #[arg(long, default_value_t = 32)]
    attention_dim: i64,
    /// Dropout on word vectors and the MLP hidden layer.
    #[arg(long, default_value_t = 0.3)]
    dropout: f64,
    /// Reviews per gradient step.
    #[arg(long, default_value_t = 32)]
    batch_size: i64,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    learning_rate: f64,
    /// Learning-rate factor applied after each epoch.
    #[arg(long, default_value_t = 0.8)]
    learning_rate_decay: f64,
    /// Most epochs.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Epochs without improvement before stopping.
    #[arg(long, default_value_t = 3)]
    patience: usize,
    /// Validate and keep an exponential moving average of the weights, with this decay per step
    /// (0: off; 0.999 averages about the last thousand steps).
    #[arg(long, default_value_t = 0.0)]
    weight_average: f64,
    /// How the reviews the teacher labeled teach the student: its P(positive) with cross-entropy,
    /// or its logit with squared error (Tang et al. 2019)
    #[arg(long, value_enum, default_value_t = DistillationLoss::CrossEntropy)]
    distillation_loss: DistillationLoss,
    /// Adversarial training (Miyato et al. 2017): each step also learns every review with its word
    /// vectors moved, by this L2 norm over the review, the way that raises its loss most
    /// (0: off). About doubles the training time.
    #[arg(long, default_value_t = 0.0)]
    adversarial: f64,
    /// Gradient-norm clipping (0: off).
    #[arg(long, default_value_t = 1.0)]
    clip_norm: f64,
    /// Seeds of the training runs, comma-separated: one run each, all on the same validation
    /// split; the run with the best validation accuracy ships, and the card records every run.
    #[arg(long, value_delimiter = ',', default_value = "7")]
    seeds: Vec<i64>,
    /// Seed of the split into training and validation reviews.
    #[arg(long, default_value_t = 7)]
    split_seed: u64,
    /// Reviews without labels (Parquet or CSV, same text column). With it, a teacher is fitted on
    /// the training split and the model also learns the teacher's P(positive) for these reviews.
    #[arg(long)]
    unlabeled: Option<PathBuf>,
    /// Use only the first this many unlabeled reviews.
    #[arg(long, requires = "unlabeled")]
    unlabeled_limit: Option<usize>,
    /// The teacher's (or the ngram model's) longest n-gram (1: words, 2: words and bigrams, 3:
    /// and trigrams, for the ngram model only).
    #[arg(long, visible_alias = "max-n", default_value_t = TeacherOptions::default().max_n)]
    teacher_ngrams: usize,
    /// The teacher's (or the ngram model's) L2 penalty.
    #[arg(long, default_value_t = TeacherOptions::default().l2)]
    teacher_l2: f64,
    /// The teacher's (or the ngram model's) most epochs (it stops earlier when validation
    /// accuracy falls).
    #[arg(long, default_value_t = TeacherOptions::default().max_epochs)]
    teacher_epochs: usize,
    /// The ngram model hashes its n-grams into this many buckets (the weights it ships). The
    /// distillation teacher numbers every n-gram instead. The default, 2^20 (a 4 MB model), is
    /// within noise of 2^21 on validation and a point above 2^18 (models/README.md).
    #[arg(long, default_value_t = 1 << 20)]
    ngram_buckets: u32,
    /// The teacher (or the ngram model) also learns from this many random spans of 5 to 30 words
    /// of each training review, labelled by the review: short texts seen in training.
    #[arg(long, default_value_t = 0)]
    short_spans: usize,
    /// The spans fit only an intercept that depends on the text's length (b0 + b1 ln(1 + n), n
    /// its distinct n-grams), the n-gram weights fitted on whole reviews and frozen.
    #[arg(long, requires = "short_spans")]
    length_intercept: bool,
    /// NBSVM's interpolation of the fitted weights toward their mean magnitude (1: the fitted
    /// weights as they are, 0: the naive-Bayes ratios alone).
    #[arg(long, default_value_t = 1.0)]
    beta: f64,
    /// Once the weights are fitted, scale the n-gram sum (and fit the intercept) to the validation
    /// reviews, Platt scaling: P(positive) then means on unseen reviews what it says.
    #[arg(long)]
    calibrate: bool,
    /// Give the labeled training reviews soft targets too: the mean of their label and the
    /// P(positive) of a teacher fitted on the other folds of the training split (whole movies),
    /// with this many folds (each a teacher fit). 0: the labels alone.
    #[arg(long, default_value_t = 0, requires = "unlabeled")]
    teacher_folds: usize,
    /// Divide the teacher's logits by this before the student learns them (distillation's
    /// temperature; above 1 softens its targets toward 1/2).
    #[arg(long, default_value_t = 1.0, requires = "unlabeled")]
    teacher_temperature: f64,
    /// Training examples per training review: its first 100 words, and above 1 also up to this
    /// many windows of 100 words in all from the rest of it, each with the review's label (or the
    /// teacher's P(positive)). Validation and test read the first 100 words only.
    #[arg(long, default_value_t = 1)]
    windows: usize,
    /// Start the learned dimensions from skip-gram vectors trained on the training and
    /// unlabeled reviews (word2vec), instead of from zero.
    #[arg(long)]
    in_domain_vectors: bool,
    /// Before a recurrent model (rnn, gru) learns sentiment, train it this many epochs as a
    /// language model on the reviews it trains on, labeled and unlabeled: its state after each
    /// word learns to predict the next word (Dai & Le 2015). 0: off.
    #[arg(long, default_value_t = 0)]
    pretrain_epochs: usize,
    /// Do not train: export the model again from the weights its last training run saved
    /// (`<out-dir>/<arch>.ot`), check it against tch, and rewrite its `.onnx` and its card's
    /// metrics. Pass the arguments it was trained with (its card's command).
    #[arg(long)]
    export_only: bool,
    /// Threads libtorch may use [default: all cores].
    #[arg(long)]
    threads: Option<i32>,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if let Some(threads) = args.threads {
        tch::set_num_threads(threads);
    }
    let arguments: Vec<String> =
        std::env::args().skip(1).map(|a| if a.contains(' ') { format!("'{a}'") } else { a }).collect();
    let command =
        format!("cargo run --release --no-default-features --features train --bin train -- {}", arguments.join(" "));
    let reviews = ReviewFiles {
        train_file: args.train_file,
        test_file: args.test_file,
        text_column: args.text_column,
        label_column: args.label_column,
        validation_fraction: args.validation_fraction,
        split_seed: args.split_seed,
        train_limit: args.train_limit,
        test_limit: args.test_limit,
    };
    let teacher = TeacherOptions {
        max_n: args.teacher_ngrams,
        l2: args.teacher_l2,
        max_epochs: args.teacher_epochs,
        seed: args.split_seed as i64,
        short_spans: args.short_spans,
        length_intercept: args.length_intercept,
        beta: args.beta,
        calibrate: args.calibrate,
        ..TeacherOptions::default()
    };
    let architecture = match args.arch {
        Model::Network(architecture) => architecture,
        Model::Ngram => {
            if args.export_only {
                bail!("--export-only applies to the five networks; the ngram model trains in minutes: rerun it");
            }
            let options = TeacherOptions { buckets: Some(args.ngram_buckets), ..teacher };
            let job = NgramJob { reviews, options, seeds: args.seeds, out_dir: args.out_dir, command };
            return report(&ngram::run(&job)?);
        }
    };
    let job = Job {
        shape: Shape {
            architecture,
            hidden: args.hidden,
            learned_dim: args.learned_dim,
            attention_dim: if architecture == Architecture::Attention { args.attention_dim } else { 0 },
            dropout: args.dropout,
            learned_min_reviews: args.learned_min_reviews,
            readout: args.readout,
            bidirectional: args.bidirectional,
            weighting: args.weighting,
        },
        options: Options {
            batch_size: args.batch_size,
            learning_rate: args.learning_rate,
            learning_rate_decay: args.learning_rate_decay,
            max_epochs: args.epochs,
            patience: args.patience,
            clip_norm: args.clip_norm,
            weight_average: args.weight_average,
            distillation_loss: args.distillation_loss,
            adversarial: args.adversarial,
            seed: args.seeds.first().copied().unwrap_or_default(),
        },
        seeds: args.seeds,
        reviews,
        windows: args.windows,
        in_domain_vectors: args
            .in_domain_vectors
            .then(|| SkipGramOptions { seed: args.split_seed, ..SkipGramOptions::default() }),
        language_model: (args.pretrain_epochs > 0)
            .then(|| PretrainOptions { epochs: args.pretrain_epochs, ..PretrainOptions::default() }),
        distillation: args.unlabeled.map(|unlabeled_file| DistillationSource {
            unlabeled_file,
            unlabeled_limit: args.unlabeled_limit,
            teacher,
            labeled_folds: args.teacher_folds,
            temperature: args.teacher_temperature,
        }),
        vocabulary_size: args.vocabulary_size,
        glove_dir: args.glove_dir.unwrap_or_else(sentiment::train::glove::Glove::default_dir),
        out_dir: args.out_dir,
        command,
    };
    report(&if args.export_only { pipeline::export_again(&job)? } else { pipeline::run(&job)? })
}

/// What `--arch` names: one of the five networks, or the n-gram model.
#[derive(Debug, Clone, Copy)]
enum Model {
    Network(Architecture),
    Ngram,
}

fn parse_model(name: &str) -> Result<Model, String> {
    if name == ngram::NAME {
        return Ok(Model::Ngram);
    }
    Architecture::from_str(name, false).map(Model::Network).map_err(|_| {
        let names: Vec<&str> = Architecture::ALL.iter().map(|a| a.name()).chain([ngram::NAME]).collect();
        format!("unknown model {name:?}: choose one of {}", names.join(", "))
    })
}

/// Prints what the job measured: the teacher, every run, their mean, and the shipped model.
fn report(trained: &Trained) -> Result<()> {
    let card = &trained.card;
    if let Some(distillation) = &card.distillation {
        let teacher = &distillation.teacher;
        println!(
            "teacher: validation accuracy {:.4}, test accuracy {:.4}; {} unlabeled reviews",
            teacher.validation.accuracy,
            teacher.test.map_or(f64::NAN, |t| t.accuracy),
            distillation.unlabeled_reviews
        );
    }
    for run in &card.runs {
        println!(
            "seed {}: validation accuracy {:.4}; test accuracy {:.4}, F1 {:.4}, ROC AUC {:.4}; {:.0} s",
            run.seed,
            run.validation.accuracy,
            run.test.accuracy,
            run.test.f1,
            run.test.roc_auc.unwrap_or(f64::NAN),
            run.seconds
        );
    }
    if let Some(seeds) = &card.seeds {
        println!(
            "mean of {} runs: test accuracy {:.4} ± {:.4}, F1 {:.4}, ROC AUC {:.4}; seed {} ships",
            card.runs.len(),
            seeds.test_accuracy.mean,
            seeds.test_accuracy.std,
            seeds.test_f1.mean,
            seeds.test_roc_auc.mean,
            seeds.shipped
        );
    }
    println!(
        "{}: test accuracy {:.4}, F1 {:.4}, ROC AUC {:.4} on {} reviews (exercise {}); ONNX parity {:.2e}",
        card.name,
        card.test.accuracy,
        card.test.f1,
        card.test.roc_auc.unwrap_or(f64::NAN),
        card.test.n,
        card.seed_accuracy.map_or_else(|| "-".to_owned(), |a| format!("{a:.3}")),
        trained.parity_max_difference,
    );
    Ok(())
}
