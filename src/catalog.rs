//! The shipped models: a folder holding `vocab.txt`, the shared GloVe table, and for each model
//! `<name>.onnx` with its card `<name>.json`. Models are chosen by name from this set only, never by arbitrary path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{Context, Result, bail};

use crate::card::ModelCard;
use crate::contract::{NGRAMS_CONTRACT, NGRAMS_MAX_N_CONTRACT, WORDS_CONTRACT};
use crate::encoding::Encoder;
use crate::model::SentimentModel;
use crate::ngrams::{CONTRACT_2_MAX_N, NgramHashing};
use crate::runtime::Provider;
use crate::vocab::Vocabulary;

/// The model used when none is named: the n-gram model, the most accurate on the validation
/// split by six points (and on IMDB test; see the README).
pub const DEFAULT_MODEL: &str = "ngram";

/// The environment variable naming the models folder.
pub const MODELS_DIR_ENV: &str = "SENTIMENT_MODELS";

/// The vocabulary file every word model's `token_ids` refer to.
pub const VOCABULARY_FILE: &str = "vocab.txt";

/// The models of one folder, loaded on first use and then shared.
#[derive(Debug)]
pub struct Catalog {
    dir: PathBuf,
    vocabulary: OnceLock<Arc<Vocabulary>>,
    cards: BTreeMap<String, ModelCard>,
    threads: usize,
    provider: Provider,
    rows_per_call: Option<usize>,
    loaded: Mutex<BTreeMap<String, Arc<SentimentModel>>>,
}

impl Catalog {
    /// The models folder: `$SENTIMENT_MODELS`, else `models/` of the source tree.
    pub fn default_dir() -> PathBuf {
        std::env::var_os(MODELS_DIR_ENV)
            .map(PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("models"))
    }

    /// Reads every card of `dir`; each model will run with `threads` ONNX Runtime threads on
    /// `provider`. Fails when a card has no `.onnx` beside it. The vocabularies are read when a
    /// model that needs them is first loaded.
    pub fn open(dir: &Path, threads: usize, provider: Provider) -> Result<Self> {
        let mut cards = BTreeMap::new();
        let entries = std::fs::read_dir(dir).with_context(|| format!("cannot list models folder {}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "json") {
                let card = ModelCard::load(&path)?;
                let onnx = dir.join(format!("{}.onnx", card.name));
                if !onnx.is_file() {
                    bail!("model card {} has no model file {}", path.display(), onnx.display());
                }
                cards.insert(card.name.clone(), card);
            }
        }
        if cards.is_empty() {
            bail!("no models in {} (expected <name>.onnx with <name>.json)", dir.display());
        }
        Ok(Self {
            dir: dir.to_owned(),
            vocabulary: OnceLock::new(),
            cards,
            threads,
            provider,
            rows_per_call: None,
            loaded: Mutex::default(),
        })
    }

    /// The catalog whose models make calls of at most `rows` reviews, or of their default size
    /// where `None` ([`SentimentModel::with_rows_per_call`]).
    pub fn with_rows_per_call(self, rows: Option<usize>) -> Self {
        Self { rows_per_call: rows, ..self }
    }

    /// The word vocabulary shared by the word models (contract 1), read on first use.
    pub fn vocabulary(&self) -> Result<Arc<Vocabulary>> {
        if let Some(vocabulary) = self.vocabulary.get() {
            return Ok(vocabulary.clone());
        }
        let loaded = Arc::new(Vocabulary::load(&self.dir.join(VOCABULARY_FILE))?);
        Ok(self.vocabulary.get_or_init(|| loaded).clone())
    }

    /// The models' names, sorted.
    pub fn names(&self) -> Vec<&str> {
        self.cards.keys().map(String::as_str).collect()
    }

    /// Every model's card, by name.
    pub fn cards(&self) -> impl Iterator<Item = &ModelCard> {
        self.cards.values()
    }

    /// The card of a model.
    pub fn card(&self, name: &str) -> Result<&ModelCard> {
        self.cards.get(name).with_context(|| format!("unknown model {name:?}; the models are {:?}", self.names()))
    }

    /// The `.onnx` file of the model called `name`.
    pub fn model_file(&self, name: &str) -> PathBuf {
        self.dir.join(format!("{name}.onnx"))
    }

    /// The provider the models were asked to run on, before `Auto` is resolved.
    pub fn provider(&self) -> Provider {
        self.provider
    }

    /// The model called `name`, loading it on first use.
    pub fn model(&self, name: &str) -> Result<Arc<SentimentModel>> {
        self.card(name)?;
        let mut loaded = self.loaded.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(model) = loaded.get(name) {
            return Ok(model.clone());
        }
        let path = self.model_file(name);
        let card = &self.cards[name];
        let encoder = match card.contract.version {
            WORDS_CONTRACT => Encoder::Words(self.vocabulary()?),
            version @ (NGRAMS_CONTRACT | NGRAMS_MAX_N_CONTRACT) => {
                let buckets = card.contract.ngram_buckets.with_context(|| {
                    format!("model {name}'s card states model contract {version} but no ngram_buckets")
                })?;
                let max_n = match version {
                    NGRAMS_CONTRACT => CONTRACT_2_MAX_N,
                    _ => card.contract.ngram_max_n.with_context(|| {
                        format!("model {name}'s card states model contract {version} but no ngram_max_n")
                    })?,
                };
                Encoder::Ngrams(NgramHashing::new(buckets, max_n)?)
            }
            other => bail!(
                "model {name}'s card states model contract {other}; this scorer runs contracts {WORDS_CONTRACT}, \
                 {NGRAMS_CONTRACT} and {NGRAMS_MAX_N_CONTRACT}"
            ),
        };
        let mut model = SentimentModel::load(&path, encoder, self.threads, self.provider)?;
        if let Some(rows) = self.rows_per_call {
            model = model.with_rows_per_call(rows);
        }
        let model = Arc::new(model);
        if model.outputs() != card.contract.outputs.as_slice() {
            bail!(
                "model {} does not match its card: outputs {:?}, the card says {:?}",
                path.display(),
                model.outputs(),
                card.contract.outputs
            );
        }
        loaded.insert(name.to_owned(), model.clone());
        Ok(model)
    }
}
