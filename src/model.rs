//! A sentiment model loaded into ONNX Runtime, with the contract every shipped `.onnx` follows.
//!
//! Inputs: `token_ids` int64 `[batch, 100]` (ids from `models/vocab.txt`, 0 for padding and
//! unknown words) and `lengths` int64 `[batch]`. Outputs: `probability` float `[batch]`
//! (P(positive)); `token_scores` float `[batch, 100]`; `token_weights` float `[batch, 100]` for the
//! token-wise models; `attention` float `[batch, 100, 11]` for the attention model. The full
//! description is `models/README.md`.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use rayon::prelude::*;

use anyhow::{Context, Result, bail};
use ort::session::{HasSelectedOutputs, OutputSelector, RunOptions, Session};
use ort::value::TensorRef;

use crate::encoding::EncodedBatch;
use crate::runtime::Provider;
use crate::text::{MAX_TOKENS, for_each_token};

/// Input: token ids, int64 `[batch, 100]`.
pub const INPUT_TOKEN_IDS: &str = "token_ids";
/// Input: number of tokens per review, int64 `[batch]`.
pub const INPUT_LENGTHS: &str = "lengths";
/// Output: P(positive), float `[batch]`.
pub const OUTPUT_PROBABILITY: &str = "probability";
/// Output: each word's sub-score (its logit toward positive), float `[batch, 100]`.
pub const OUTPUT_TOKEN_SCORES: &str = "token_scores";
/// Output: each word's weight in the review's logit, float `[batch, 100]`.
pub const OUTPUT_TOKEN_WEIGHTS: &str = "token_weights";
/// Output: each word's attention over its 11-word window, float `[batch, 100, 11]`.
pub const OUTPUT_ATTENTION: &str = "attention";
/// Version of the contract above; cards record the one their file follows.
pub const CONTRACT_VERSION: u32 = 1;

/// Most reviews sent to ONNX Runtime in one call. Small calls keep the intermediate tensors in
/// the CPU's caches: on the benchmark machine 128 rows ran as fast as 1,024 or faster, the
/// attention model much faster, in far less memory (docs/performance.md).
pub const MAX_ROWS_PER_RUN: usize = 128;

/// Metadata key of the exported file that names its architecture (`rnn`, `gru`, ...).
pub const METADATA_MODEL: &str = "model";

/// The architectures whose ONNX Runtime kernels (RNN, GRU) parallelise only within a time step,
/// so that more intra-op threads barely help them (docs/performance.md): their threads are spent
/// on sessions side by side instead.
pub const RECURRENT_MODELS: [&str; 2] = ["rnn", "gru"];

/// One ONNX model: a pool of ONNX Runtime sessions shared by every caller. A recurrent model on
/// the CPU gets one single-threaded session per thread, and a batch's chunks run on them side by
/// side; any other model gets one session whose intra-op threads are all the threads. Each
/// session runs one call at a time.
#[derive(Debug)]
pub struct SentimentModel {
    sessions: Vec<Mutex<Session>>,
    outputs: Vec<String>,
    provider: Provider,
}

/// What a model says about a batch of reviews, beyond the probability.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Explanation {
    /// P(positive) per review.
    pub probability: Vec<f32>,
    /// Row-major `[batch, 100]` sub-scores; zero past each review's length.
    pub token_scores: Vec<f32>,
    /// Row-major `[batch, 100]` weights, when the model has them.
    pub token_weights: Option<Vec<f32>>,
}

/// One word of an explained review.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainedWord {
    /// The token, lowercase, as the text pipeline produced it.
    pub token: String,
    /// Its sub-score (see [`OUTPUT_TOKEN_SCORES`]).
    pub score: f32,
    /// Its weight, for the models that have one (see [`OUTPUT_TOKEN_WEIGHTS`]).
    pub weight: Option<f32>,
}

impl Explanation {
    /// The words of review `row` of the explained batch, whose text is `text`.
    pub fn words(&self, row: usize, text: &[u8]) -> Vec<ExplainedWord> {
        let mut words = Vec::new();
        for_each_token(text, |token| {
            let at = row * MAX_TOKENS + words.len();
            words.push(ExplainedWord {
                token: String::from_utf8(token.to_ascii_lowercase()).expect("tokens are ASCII letters"),
                score: self.token_scores[at],
                weight: self.token_weights.as_ref().map(|w| w[at]),
            });
        });
        words
    }
}

impl SentimentModel {
    /// Loads an `.onnx` file (its external data is read from the same folder) to run on `threads`
    /// cores on `provider`, and checks that it follows the contract.
    pub fn load(path: &Path, threads: usize, provider: Provider) -> Result<Self> {
        if !path.is_file() {
            bail!("model file {} does not exist", path.display());
        }
        // ONNX Runtime is loaded before anything asks it a question (the provider's).
        crate::runtime::environment()?;
        let provider = provider.resolve()?;
        let threads = threads.max(1);
        let first = open_session(path, threads, provider)?;
        let inputs: Vec<&str> = first.inputs().iter().map(|i| i.name()).collect();
        let outputs: Vec<String> = first.outputs().iter().map(|o| o.name().to_owned()).collect();
        if inputs != [INPUT_TOKEN_IDS, INPUT_LENGTHS] || !outputs.iter().any(|o| o == OUTPUT_PROBABILITY) {
            bail!(
                "model {} does not follow the contract: inputs {inputs:?} (expected [{INPUT_TOKEN_IDS:?}, {INPUT_LENGTHS:?}]), \
                 outputs {outputs:?} (expected {OUTPUT_PROBABILITY:?} among them)",
                path.display()
            );
        }
        let architecture = first.metadata().ok().and_then(|m| m.custom(METADATA_MODEL));
        let recurrent = architecture.is_some_and(|a| RECURRENT_MODELS.contains(&a.as_str()));
        let sessions = if recurrent && provider == Provider::Cpu && threads > 1 {
            drop(first);
            (0..threads).map(|_| open_session(path, 1, provider).map(Mutex::new)).collect::<Result<_>>()?
        } else {
            vec![Mutex::new(first)]
        };
        Ok(Self { sessions, outputs, provider })
    }

    /// The execution provider the sessions run on (`Auto` resolved).
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// How many sessions run side by side.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// The names of the model's outputs.
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    /// P(positive) for each review of the batch.
    pub fn probabilities(&self, batch: &EncodedBatch) -> Result<Vec<f32>> {
        let mut out = Vec::with_capacity(batch.len());
        self.run_chunks(batch, &[OUTPUT_PROBABILITY], |outputs| {
            out.extend_from_slice(outputs[0]);
        })?;
        Ok(out)
    }

    /// Probabilities with each word's sub-score, and its weight where the model has one.
    pub fn explain(&self, batch: &EncodedBatch) -> Result<Explanation> {
        let has_weights = self.outputs.iter().any(|o| o == OUTPUT_TOKEN_WEIGHTS);
        let mut wanted = vec![OUTPUT_PROBABILITY, OUTPUT_TOKEN_SCORES];
        if has_weights {
            wanted.push(OUTPUT_TOKEN_WEIGHTS);
        }
        let mut explanation = Explanation { token_weights: has_weights.then(Vec::new), ..Explanation::default() };
        self.run_chunks(batch, &wanted, |outputs| {
            explanation.probability.extend_from_slice(outputs[0]);
            explanation.token_scores.extend_from_slice(outputs[1]);
            if let Some(weights) = &mut explanation.token_weights {
                weights.extend_from_slice(outputs[2]);
            }
        })?;
        Ok(explanation)
    }

    /// The float outputs `names` for the batch, each flattened row-major: every output of the
    /// file, for checking an export against the trainer (scoring needs only the two above).
    pub fn outputs_for(&self, batch: &EncodedBatch, names: &[&str]) -> Result<Vec<Vec<f32>>> {
        let mut out = vec![Vec::new(); names.len()];
        self.run_chunks(batch, names, |outputs| {
            for (all, chunk) in out.iter_mut().zip(outputs) {
                all.extend_from_slice(chunk);
            }
        })?;
        Ok(out)
    }

    /// Runs the model on the batch in chunks of at most [`MAX_ROWS_PER_RUN`] rows and hands
    /// `take` the requested float outputs of each chunk, in order. A single session runs every
    /// chunk on the calling thread, leaving the cores to its own intra-op threads; a pool's
    /// sessions run side by side, each taking the next chunk not yet taken when it finishes one,
    /// so that a session slowed by other work on its core (decoding, writing) does fewer chunks
    /// instead of holding the batch up.
    fn run_chunks(&self, batch: &EncodedBatch, wanted: &[&str], mut take: impl FnMut(&[&[f32]])) -> Result<()> {
        let chunks: Vec<(&[i64], &[i64])> =
            batch.token_ids.chunks(MAX_ROWS_PER_RUN * MAX_TOKENS).zip(batch.lengths.chunks(MAX_ROWS_PER_RUN)).collect();
        // Run options are not shared between threads: each session's runs get their own.
        let options = || -> Result<RunOptions<HasSelectedOutputs>> {
            let selector = wanted.iter().fold(OutputSelector::no_default(), |selector, name| selector.with(*name));
            Ok(RunOptions::new()?.with_outputs(selector))
        };
        let outputs: Vec<Vec<Vec<f32>>> = match self.sessions.as_slice() {
            [session] => {
                let (options, mut session) = (options()?, lock(session));
                chunks
                    .iter()
                    .map(|&(ids, lengths)| run_chunk(&mut session, &options, ids, lengths, wanted))
                    .collect::<Result<_>>()?
            }
            sessions => {
                let next = AtomicUsize::new(0);
                let done: Vec<Vec<(usize, Vec<Vec<f32>>)>> = sessions
                    .par_iter()
                    .map(|session| {
                        let (options, mut session) = (options()?, lock(session));
                        let mut done = Vec::new();
                        loop {
                            let at = next.fetch_add(1, Ordering::Relaxed);
                            let Some(&(ids, lengths)) = chunks.get(at) else { return Ok(done) };
                            done.push((at, run_chunk(&mut session, &options, ids, lengths, wanted)?));
                        }
                    })
                    .collect::<Result<_>>()?;
                let mut done: Vec<(usize, Vec<Vec<f32>>)> = done.into_iter().flatten().collect();
                done.sort_unstable_by_key(|&(at, _)| at);
                done.into_iter().map(|(_, outputs)| outputs).collect()
            }
        };
        for chunk in &outputs {
            let slices: Vec<&[f32]> = chunk.iter().map(Vec::as_slice).collect();
            take(&slices);
        }
        Ok(())
    }
}

/// The session, whether or not a run on it panicked (a failed run leaves it usable).
fn lock(session: &Mutex<Session>) -> MutexGuard<'_, Session> {
    session.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A session on `provider` with `threads` intra-op threads.
fn open_session(path: &Path, threads: usize, provider: Provider) -> Result<Session> {
    let environment = crate::runtime::environment()?;
    (|| -> Result<Session> {
        // Batch shapes vary, so ONNX Runtime's memory-pattern planning would only hold memory.
        // Idle intra-op threads sleep instead of spinning: between runs the cores belong to
        // tokenising, decoding and writing, which in SQL run beside the model calls.
        let mut builder = Session::builder(environment)?
            .with_intra_threads(threads)
            .map_err(ort::Error::<()>::from)?
            .with_intra_op_spinning(false)
            .map_err(ort::Error::<()>::from)?
            .with_memory_pattern(false)
            .map_err(ort::Error::<()>::from)?;
        if provider == Provider::Cuda {
            builder = builder
                .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                .map_err(ort::Error::<()>::from)?;
        }
        Ok(builder.commit_from_file(path)?)
    })()
    .with_context(|| format!("cannot load model {}", path.display()))
}

/// Runs one chunk of rows with `options` (which select the `wanted` outputs) and returns those
/// outputs, each cut to the chunk's rows.
fn run_chunk(
    session: &mut Session,
    options: &RunOptions<HasSelectedOutputs>,
    ids: &[i64],
    lengths: &[i64],
    wanted: &[&str],
) -> Result<Vec<Vec<f32>>> {
    // ONNX Runtime's RNN takes a matrix-vector path for a single row, whose sums round
    // differently (by 1e-5); a lone review runs twice in one call, so that its score is
    // the one it gets in any batch.
    let kept = lengths.len();
    let (ids, lengths): (std::borrow::Cow<[i64]>, std::borrow::Cow<[i64]>) = if lengths.len() == 1 {
        ([ids, ids].concat().into(), [lengths, lengths].concat().into())
    } else {
        (ids.into(), lengths.into())
    };
    let rows = lengths.len();
    let outputs = session.run_with_options(
        ort::inputs![
            INPUT_TOKEN_IDS => TensorRef::from_array_view(([rows, MAX_TOKENS], &*ids))?,
            INPUT_LENGTHS => TensorRef::from_array_view(([rows], &*lengths))?,
        ],
        options,
    )?;
    wanted
        .iter()
        .map(|name| {
            let (_, data) = outputs[*name].try_extract_tensor::<f32>()?;
            Ok(data[..data.len() / rows * kept].to_vec())
        })
        .collect()
}
