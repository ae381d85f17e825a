//! A sentiment model loaded into ONNX Runtime: a pool of sessions over one `.onnx` file that
//! follows one of the [`crate::contract`]s, checked when the file is loaded.

use std::borrow::Cow;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, TryLockError};

use rayon::prelude::*;

use anyhow::{Context, Result, bail};
use onnx_protobuf::{Message, ModelProto};
use ort::session::{HasSelectedOutputs, OutputSelector, RunOptions, Session};
use ort::value::TensorRef;

use crate::contract::{
    INPUT_LENGTHS, INPUT_NGRAM_IDS, INPUT_TOKEN_IDS, METADATA_CONTRACT_VERSION, METADATA_MODEL, METADATA_NGRAM_BUCKETS,
    METADATA_NGRAM_MAX_N, NGRAMS_CONTRACT, NGRAMS_MAX_N_CONTRACT, OUTPUT_PROBABILITY, OUTPUT_TOKEN_SCORES,
    OUTPUT_TOKEN_WEIGHTS, WORDS_CONTRACT,
};
use crate::encoding::{AsTextBytes, EncodedBatch, Encoder, Layout};
use crate::runtime::Provider;
use crate::shared_weights::SharedWeights;
use crate::text::for_each_token;

/// Most reviews sent to ONNX Runtime in one call on the CPU. Small calls keep the intermediate
/// tensors in the CPU's caches: on the benchmark machine 128 rows ran as fast as 1,024 or faster,
/// the attention model much faster, in far less memory (docs/performance.md).
pub const MAX_ROWS_PER_RUN: usize = 128;

/// Most reviews in one call on CUDA: a whole batch of the command line's default size. A GPU's
/// call costs about as much to launch for one row as for thousands, and the 16-core machine's
/// CUDA runs, made in calls of [`MAX_ROWS_PER_RUN`], were slower than its CPU for gru and the
/// MLPs. Not measured yet: no session since has been lent a GPU; `bench/device/measure` times
/// calls of 128 to 16,384 rows (`--rows-per-call`) so that the next one chooses this by
/// measurement (docs/performance.md, "16 cores and a GPU").
pub const CUDA_ROWS_PER_RUN: usize = 4096;

/// Most reviews in one call of the [`SMALL_CALL_MODELS`] on the CPU: their intermediate tensors
/// per review are the largest, and calls of 32 rows ran gru and attention 1.2× as fast as calls
/// of 128 on the 2-core AMD EPYC, where the other models were as fast or faster with 128. rnn runs
/// as fast either way (the 2-core Intel Xeon), and each of its sessions keeps ONNX Runtime's
/// arena for a call's tensors: at `--threads 16` its peak RSS was 569 MB with calls of 128 rows
/// and 327 MB with 32 (docs/performance.md).
pub const SMALL_CALL_ROWS_PER_RUN: usize = 32;

/// The architectures that run on the CPU in calls of [`SMALL_CALL_ROWS_PER_RUN`] rows.
pub const SMALL_CALL_MODELS: [&str; 3] = ["rnn", "gru", "attention"];

/// The architectures whose threads are spent on single-threaded sessions side by side, chosen by
/// measurement (`bench/session_split.py`, `bench/scorer_ab.sh`, docs/performance.md): ONNX
/// Runtime's RNN and GRU kernels parallelise only within a time step, the attention model's many
/// small operators leave a second intra-op thread idle much of the time, and the n-gram model
/// scores large files faster so. The folded MLPs, a lookup and a mean, joined them once Parquet
/// files were read and written on the thread pool: one session's call was serial on the scoring
/// thread while the pool had only file work (2 cores: 1.06x to 1.32x as fast side by side).
pub const SIDE_BY_SIDE_MODELS: [&str; 6] = ["rnn", "gru", "attention", "ngram", "mlp", "weighted-mlp"];

/// One ONNX model: a pool of ONNX Runtime sessions shared by every caller. A model of
/// [`SIDE_BY_SIDE_MODELS`] on the CPU gets one single-threaded session per thread, and a batch's
/// chunks run on them side by side; any other model gets one session whose intra-op threads are
/// all the threads. Each session runs one call at a time. Scoring runs the graph pruned to
/// [`OUTPUT_PROBABILITY`] ([`crate::pruning`]) where that leaves nodes out; the whole graph's
/// pool, for explaining, is then opened on first use.
#[derive(Debug)]
pub struct SentimentModel {
    /// Sessions of the whole graph, which computes every output.
    whole: OnceLock<Vec<Mutex<Session>>>,
    /// Sessions of the graph pruned to [`OUTPUT_PROBABILITY`], when pruning leaves nodes out.
    scoring: Option<Vec<Mutex<Session>>>,
    pool: Pool,
    /// Most reviews in one call: [`MAX_ROWS_PER_RUN`], [`SMALL_CALL_ROWS_PER_RUN`] or
    /// [`CUDA_ROWS_PER_RUN`] unless [`SentimentModel::with_rows_per_call`] chose another.
    rows_per_run: usize,
    encoder: Encoder,
    input: &'static str,
    outputs: Vec<String>,
    provider: Provider,
}

/// What a model says about one review: its probability and each word (or n-gram) it read.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainedReview {
    /// P(positive).
    pub probability: f32,
    /// The words in reading order (the n-gram model: its distinct n-grams, in the order they
    /// first appear).
    pub words: Vec<ExplainedWord>,
}

/// One word (or n-gram) of an explained review.
#[derive(Debug, Clone, PartialEq)]
pub struct ExplainedWord {
    /// The token, lowercase, as the text pipeline produced it; for the n-gram model the n-gram,
    /// its words separated by a space.
    pub token: String,
    /// Its sub-score (see [`OUTPUT_TOKEN_SCORES`]).
    pub score: f32,
    /// Its weight, for the models that have one (see [`OUTPUT_TOKEN_WEIGHTS`]).
    pub weight: Option<f32>,
    /// False for a word outside the vocabulary (its vector is zero). The n-gram model reads only
    /// the n-grams of its vocabulary, so each of its n-grams is known.
    pub known: bool,
}

impl SentimentModel {
    /// Loads an `.onnx` file (its external data is read from the same folder) whose inputs
    /// `encoder` makes, to run on `threads` cores on `provider`, and checks that it follows the
    /// encoder's contract.
    pub fn load(path: &Path, encoder: Encoder, threads: usize, provider: Provider) -> Result<Self> {
        if !path.is_file() {
            bail!("model file {} does not exist", path.display());
        }
        // ONNX Runtime is loaded before anything asks it a question (the provider's).
        crate::runtime::environment()?;
        let provider = provider.resolve()?;
        let threads = threads.max(1);
        // The file is read once: its contract is checked on the decoded graph before any session
        // is built, and every session is opened from these bytes.
        let bytes = std::fs::read(path).with_context(|| format!("cannot read model {}", path.display()))?;
        let model = ModelProto::parse_from_bytes(&bytes)
            .with_context(|| format!("cannot load model {}: it is not an ONNX model", path.display()))?;
        let metadata = |key: &str| model.metadata_props.iter().find(|p| p.key == key).map(|p| p.value.clone());
        let contract = metadata(METADATA_CONTRACT_VERSION);
        let expected = encoder.contract_version();
        if contract.as_deref() != Some(expected.to_string().as_str()) {
            bail!(
                "model {} follows model contract {}, but was loaded for contract {expected} ({}); this scorer runs \
                 contracts {WORDS_CONTRACT} (word models, vocab.txt), {NGRAMS_CONTRACT} (n-gram models of words and \
                 pairs) and {NGRAMS_MAX_N_CONTRACT} (n-gram models up to ngram_max_n words)",
                path.display(),
                contract.unwrap_or_else(|| "(none stated)".to_owned()),
                match &encoder {
                    Encoder::Words(_) => "a word model".to_owned(),
                    Encoder::Ngrams(hashing) => format!("an n-gram model of up to {} words", hashing.max_n()),
                },
            );
        }
        if let Encoder::Ngrams(hashing) = &encoder {
            let buckets = metadata(METADATA_NGRAM_BUCKETS);
            if buckets.as_deref() != Some(hashing.buckets().to_string().as_str()) {
                bail!(
                    "model {} hashes n-grams into {} buckets, but was loaded for {}",
                    path.display(),
                    buckets.unwrap_or_else(|| "(no number of)".to_owned()),
                    hashing.buckets()
                );
            }
            let max_n = metadata(METADATA_NGRAM_MAX_N);
            if expected == NGRAMS_MAX_N_CONTRACT && max_n.as_deref() != Some(hashing.max_n().to_string().as_str()) {
                bail!(
                    "model {} reads n-grams of up to {} words, but was loaded for {}",
                    path.display(),
                    max_n.unwrap_or_else(|| "(no number of)".to_owned()),
                    hashing.max_n()
                );
            }
        }
        let input = if let Encoder::Words(_) = encoder { INPUT_TOKEN_IDS } else { INPUT_NGRAM_IDS };
        let graph = model.graph.get_or_default();
        // Files of ONNX's IR before version 4 also list their weights among the graph's inputs.
        let weights: HashSet<&str> = graph.initializer.iter().map(|w| w.name.as_str()).collect();
        let inputs: Vec<&str> =
            graph.input.iter().map(|i| i.name.as_str()).filter(|name| !weights.contains(name)).collect();
        let outputs: Vec<String> = graph.output.iter().map(|o| o.name.clone()).collect();
        if inputs != [input, INPUT_LENGTHS] || !outputs.iter().any(|o| o == OUTPUT_PROBABILITY) {
            bail!(
                "model {} does not follow contract {expected}: inputs {inputs:?} (expected [{input:?}, {INPUT_LENGTHS:?}]), \
                 outputs {outputs:?} (expected {OUTPUT_PROBABILITY:?} among them)",
                path.display()
            );
        }
        let architecture = metadata(METADATA_MODEL);
        let one_of = |models: &[&str]| architecture.as_deref().is_some_and(|a| models.contains(&a));
        let (side_by_side, small_calls) = (one_of(&SIDE_BY_SIDE_MODELS), one_of(&SMALL_CALL_MODELS));
        let rows_per_run = match provider {
            Provider::Cuda => CUDA_ROWS_PER_RUN,
            _ if small_calls => SMALL_CALL_ROWS_PER_RUN,
            _ => MAX_ROWS_PER_RUN,
        };
        let (sessions, session_threads) =
            if side_by_side && provider == Provider::Cpu && threads > 1 { (threads, 1) } else { (1, threads) };
        // Where ONNX Runtime looks for the file's external data: beside the file that a link to it
        // names, and nowhere outside that folder.
        let file = std::fs::canonicalize(path).with_context(|| format!("cannot read model {}", path.display()))?;
        let folder = file.parent().unwrap_or(Path::new("/")).to_owned();
        // Sessions side by side share the large weights instead of each holding a copy.
        let shared = if sessions > 1 { SharedWeights::of(graph, &folder)? } else { SharedWeights::default() };
        let pruned = crate::pruning::keep_outputs(model, &[OUTPUT_PROBABILITY])
            .with_context(|| format!("cannot prune model {}", path.display()))?;
        let pool =
            Pool { path: path.to_owned(), folder, model: bytes, shared, sessions, threads: session_threads, provider };
        let whole = OnceLock::new();
        let scoring = match pruned {
            Some(pruned) => Some(pool.open(&pruned)?),
            None => {
                let _ = whole.set(pool.open(&pool.model)?);
                None
            }
        };
        Ok(Self { whole, scoring, pool, rows_per_run, encoder, input, outputs, provider })
    }

    /// The model with calls of at most `rows` reviews (at least one) instead of the default for
    /// its architecture and provider: for measuring a machine, as `bench/device/measure` does.
    /// On the CPU the word models' scores do not depend on it; the n-gram model's may differ by a
    /// rounding, as its calls' rows are padded to their longest review.
    pub fn with_rows_per_call(mut self, rows: usize) -> Self {
        self.rows_per_run = rows.max(1);
        self
    }

    /// Most reviews in one model call.
    pub fn rows_per_call(&self) -> usize {
        self.rows_per_run
    }

    /// The name of the model's ids input: [`INPUT_TOKEN_IDS`] or [`INPUT_NGRAM_IDS`].
    pub fn input(&self) -> &'static str {
        self.input
    }

    /// How the model's inputs are made from text.
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// `texts` as this model's inputs; `None` (a NULL review) encodes as an empty review.
    pub fn encode<T: AsTextBytes + Sync>(&self, texts: &[T]) -> EncodedBatch {
        self.encoder.encode(texts)
    }

    /// The execution provider the sessions run on (`Auto` resolved).
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// How many sessions run side by side.
    pub fn sessions(&self) -> usize {
        self.pool.sessions
    }

    /// The sessions that compute the `wanted` outputs: the pruned graph's when scoring reads only
    /// [`OUTPUT_PROBABILITY`], otherwise the whole graph's (opened here on first use).
    fn sessions_for(&self, wanted: &[&str]) -> Result<&[Mutex<Session>]> {
        if let (Some(scoring), [OUTPUT_PROBABILITY]) = (&self.scoring, wanted) {
            return Ok(scoring);
        }
        if let Some(whole) = self.whole.get() {
            return Ok(whole);
        }
        // Two callers may both open it; the one stored first is kept.
        let _ = self.whole.set(self.pool.open(&self.pool.model)?);
        Ok(self.whole.get().expect("just set"))
    }

    /// The names of the model's outputs.
    pub fn outputs(&self) -> &[String] {
        &self.outputs
    }

    /// P(positive) for each review of the batch.
    pub fn probabilities(&self, batch: &EncodedBatch) -> Result<Vec<f32>> {
        let mut out = vec![0.0; batch.len()];
        self.run_chunks(batch, &[OUTPUT_PROBABILITY], |rows, _, outputs| {
            for (&row, &probability) in rows.iter().zip(outputs[0]) {
                out[row] = probability;
            }
        })?;
        Ok(out)
    }

    /// Each review's probability with every word (or n-gram) it read: its sub-score, and its
    /// weight where the model has one.
    pub fn explain<T: AsTextBytes + Sync>(&self, texts: &[T]) -> Result<Vec<ExplainedReview>> {
        let batch = self.encode(texts);
        let has_weights = self.outputs.iter().any(|o| o == OUTPUT_TOKEN_WEIGHTS);
        let mut wanted = vec![OUTPUT_PROBABILITY, OUTPUT_TOKEN_SCORES];
        if has_weights {
            wanted.push(OUTPUT_TOKEN_WEIGHTS);
        }
        let mut explained = vec![None; texts.len()];
        self.run_chunks(&batch, &wanted, |rows, width, outputs| {
            for (at, &row) in rows.iter().enumerate() {
                let values = |output: &[f32]| output[at * width..][..batch.lengths[row] as usize].to_vec();
                let (scores, weights) = (values(outputs[1]), has_weights.then(|| values(outputs[2])));
                let tokens = self.tokens(texts[row].text_bytes(), batch.row(row));
                let words = tokens
                    .into_iter()
                    .enumerate()
                    .map(|(i, (token, known))| ExplainedWord {
                        token,
                        score: scores[i],
                        weight: weights.as_ref().map(|w| w[i]),
                        known,
                    })
                    .collect();
                explained[row] = Some(ExplainedReview { probability: outputs[0][at], words });
            }
        })?;
        Ok(explained.into_iter().map(|review| review.expect("every row is in a call")).collect())
    }

    /// What each id of an encoded review stands for, and whether it is in the vocabulary: the
    /// review's words (from its `text`, checked against its `ids`), or its n-grams (every one has
    /// a bucket).
    fn tokens(&self, text: &[u8], ids: &[i64]) -> Vec<(String, bool)> {
        match &self.encoder {
            Encoder::Words(_) => {
                let mut tokens = Vec::with_capacity(ids.len());
                for_each_token(text, |token| {
                    let known = ids[tokens.len()] != crate::vocab::UNKNOWN_ID;
                    tokens.push((
                        String::from_utf8(token.to_ascii_lowercase()).expect("tokens are ASCII letters"),
                        known,
                    ));
                });
                tokens
            }
            Encoder::Ngrams(hashing) => hashing.ngrams(text).into_iter().map(|ngram| (ngram, true)).collect(),
        }
    }

    /// The float outputs `names` for a batch of the word models, each flattened row-major: every
    /// output of the file, for checking an export against the trainer (scoring needs only the two
    /// above).
    pub fn outputs_for(&self, batch: &EncodedBatch, names: &[&str]) -> Result<Vec<Vec<f32>>> {
        if !matches!(batch.layout, Layout::Fixed { .. }) {
            bail!("outputs_for takes a batch of the word models (fixed width)");
        }
        let mut out = vec![Vec::new(); names.len()];
        self.run_chunks(batch, names, |_, _, outputs| {
            for (all, chunk) in out.iter_mut().zip(outputs) {
                all.extend_from_slice(chunk);
            }
        })?;
        Ok(out)
    }

    /// Runs the model on the batch in the chunks of at most `rows_per_run` rows that
    /// [`EncodedBatch::calls`] cuts it into (the n-gram model's longest reviews first) and hands
    /// `take` each chunk's rows, the width of its ids matrix ([`EncodedBatch::matrix`]) and its
    /// requested float outputs, chunk by chunk in the calls' order. A single session runs every
    /// chunk on the calling thread, leaving the cores to its own intra-op threads; a pool's
    /// sessions run side by side, each taking the next chunk not yet taken when it finishes one,
    /// so that a session slowed by other work on its core (decoding, writing) does fewer chunks
    /// instead of holding the batch up.
    fn run_chunks(
        &self,
        batch: &EncodedBatch,
        wanted: &[&str],
        mut take: impl FnMut(&[usize], usize, &[&[f32]]),
    ) -> Result<()> {
        let chunks = batch.calls(self.rows_per_run);
        let run = |session: &mut Session, options: &RunOptions<HasSelectedOutputs>, call: &Call<'_>| {
            run_chunk(session, options, self.input, call, wanted).map(|outputs| (call.width, outputs))
        };
        // Run options are not shared between threads: each session's runs get their own.
        let options = || -> Result<RunOptions<HasSelectedOutputs>> {
            let selector = wanted.iter().fold(OutputSelector::no_default(), |selector, name| selector.with(*name));
            Ok(RunOptions::new()?.with_outputs(selector))
        };
        let outputs: Vec<(usize, Vec<Vec<f32>>)> = match self.sessions_for(wanted)? {
            [session] => {
                // Every call's inputs are made before the session is taken, so that they are made
                // while another batch's calls run on it (on CUDA, while the GPU works).
                let calls: Vec<Call<'_>> = chunks.iter().map(|rows| Call::of(batch, rows)).collect();
                let (options, mut session) = (options()?, lock(session));
                calls.iter().map(|call| run(&mut session, &options, call)).collect::<Result<_>>()?
            }
            sessions => {
                let next = AtomicUsize::new(0);
                type Done = (usize, (usize, Vec<Vec<f32>>));
                let done: Vec<Vec<Done>> = (0..sessions.len())
                    .into_par_iter()
                    .map(|first| {
                        let (options, mut session) = (options()?, free_session(sessions, first));
                        let mut done = Vec::new();
                        loop {
                            let at = next.fetch_add(1, Ordering::Relaxed);
                            let Some(rows) = chunks.get(at) else { return Ok(done) };
                            done.push((at, run(&mut session, &options, &Call::of(batch, rows))?));
                        }
                    })
                    .collect::<Result<_>>()?;
                let mut done: Vec<Done> = done.into_iter().flatten().collect();
                done.sort_unstable_by_key(|&(at, _)| at);
                done.into_iter().map(|(_, outputs)| outputs).collect()
            }
        };
        for (rows, (width, chunk)) in chunks.iter().zip(&outputs) {
            let slices: Vec<&[f32]> = chunk.iter().map(Vec::as_slice).collect();
            take(rows, *width, &slices);
        }
        Ok(())
    }
}

/// The session, whether or not a run on it panicked (a failed run leaves it usable).
fn lock<S>(session: &Mutex<S>) -> MutexGuard<'_, S> {
    session.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A session of the pool that no other call is running on, looked for from `first` on; `first`,
/// once free, when every one is busy. Batches scored at once, and SQL's partitions, call the same
/// pool side by side: a thread of theirs waiting for one session while another is free would
/// leave its core idle.
fn free_session<S>(sessions: &[Mutex<S>], first: usize) -> MutexGuard<'_, S> {
    let mut turn = sessions[first..].iter().chain(&sessions[..first]);
    turn.find_map(|session| match session.try_lock() {
        Ok(free) => Some(free),
        Err(TryLockError::Poisoned(poisoned)) => Some(poisoned.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    })
    .unwrap_or_else(|| lock(&sessions[first]))
}

/// How a model's sessions are opened: the whole graph's bytes, read once from the file at `path`
/// (named in errors) whose external data lies in `folder`, the weights the sessions share, and
/// how many sessions, with how many intra-op threads each, on which provider.
#[derive(Debug)]
struct Pool {
    path: PathBuf,
    folder: PathBuf,
    model: Vec<u8>,
    shared: SharedWeights,
    sessions: usize,
    threads: usize,
    provider: Provider,
}

impl Pool {
    /// The sessions of `graph`: the file's whole graph ([`Pool::model`]) or that graph cut down.
    fn open(&self, graph: &[u8]) -> Result<Vec<Mutex<Session>>> {
        (0..self.sessions).map(|_| self.open_session(graph).map(Mutex::new)).collect()
    }

    /// One session of `graph`, its external data read from the pool's folder.
    fn open_session(&self, graph: &[u8]) -> Result<Session> {
        let environment = crate::runtime::environment()?;
        (|| -> Result<Session> {
            // Batch shapes vary, so ONNX Runtime's memory-pattern planning would only hold memory.
            // Idle intra-op threads sleep instead of spinning: between runs the cores belong to
            // tokenising, decoding and writing, which in SQL run beside the model calls.
            let mut builder = Session::builder(environment)?
                .with_intra_threads(self.threads)
                .map_err(ort::Error::<()>::from)?
                .with_intra_op_spinning(false)
                .map_err(ort::Error::<()>::from)?
                .with_memory_pattern(false)
                .map_err(ort::Error::<()>::from)?
                .with_config_entry(EXTERNAL_DATA_FOLDER, self.folder.to_string_lossy())
                .map_err(ort::Error::<()>::from)?;
            builder = self.shared.lend(builder)?;
            if self.provider == Provider::Cuda {
                builder = builder
                    .with_execution_providers([ort::ep::CUDA::default().build().error_on_failure()])
                    .map_err(ort::Error::<()>::from)?;
            }
            Ok(builder.commit_from_memory(graph)?)
        })()
        .with_context(|| format!("cannot load model {}", self.path.display()))
    }
}

/// ONNX Runtime's session setting for where a model given as bytes finds its external data.
const EXTERNAL_DATA_FOLDER: &str = "session.model_external_initializers_file_folder_path";

/// One model call's inputs: the ids matrix `[rows, width]` and the rows' lengths, of which the
/// first `kept` rows' outputs are wanted.
struct Call<'a> {
    ids: Cow<'a, [i64]>,
    width: usize,
    lengths: Vec<i64>,
    kept: usize,
}

impl<'a> Call<'a> {
    /// The call of `batch`'s `rows` ([`EncodedBatch::matrix`]). ONNX Runtime's RNN takes a
    /// matrix-vector path for a single row, whose sums round differently (by 1e-5): a lone review
    /// is given twice, so that its score is the one it gets in any batch.
    fn of(batch: &'a EncodedBatch, rows: &[usize]) -> Self {
        let (ids, width) = batch.matrix(rows);
        let lengths: Vec<i64> = rows.iter().map(|&row| batch.lengths[row]).collect();
        let kept = rows.len();
        if kept == 1 {
            return Self { ids: [&*ids, &*ids].concat().into(), width, lengths: [&*lengths, &*lengths].concat(), kept };
        }
        Self { ids, width, lengths, kept }
    }
}

/// Runs one call with `options` (which select the `wanted` outputs), its ids given as the input
/// `name`, and returns those outputs, each cut to the call's kept rows.
fn run_chunk(
    session: &mut Session,
    options: &RunOptions<HasSelectedOutputs>,
    name: &str,
    call: &Call<'_>,
    wanted: &[&str],
) -> Result<Vec<Vec<f32>>> {
    let rows = call.lengths.len();
    let outputs = session.run_with_options(
        ort::inputs![
            name => TensorRef::from_array_view(([rows, call.width], &*call.ids))?,
            INPUT_LENGTHS => TensorRef::from_array_view(([rows], &*call.lengths))?,
        ],
        options,
    )?;
    wanted
        .iter()
        .map(|name| {
            let (_, data) = outputs[*name].try_extract_tensor::<f32>()?;
            Ok(data[..data.len() / rows * call.kept].to_vec())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_takes_a_free_session_before_waiting_for_a_busy_one() {
        let sessions: Vec<Mutex<usize>> = (0..3).map(Mutex::new).collect();
        let busy = sessions[1].lock().unwrap();
        assert_eq!(*free_session(&sessions, 1), 2, "the next one on");
        let last = sessions[2].lock().unwrap();
        assert_eq!(*free_session(&sessions, 1), 0, "round to the first");
        drop((busy, last));
        assert_eq!(*free_session(&sessions, 1), 1, "its own, when free");
    }
}
