//! What made a scored file: the package, each model's file by SHA-256, the contract, the execution
//! provider and the time. `scorer score` and `COPY ... STORED AS PARQUET` through `scorer sql`
//! write it into the Parquet footer's key-value metadata, so that a nightly job can tell which
//! model scored which file; `scorer models --json` prints the models' part of it.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::catalog::Catalog;
use crate::runtime::Provider;

/// The prefix of every key written into a Parquet footer.
pub const KEY_PREFIX: &str = "sentiment.";

/// The name under which the package is published.
pub const PACKAGE: &str = env!("CARGO_PKG_NAME");

/// This package's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One model file, identified by content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelIdentity {
    /// The model's name in its folder.
    pub name: String,
    /// The `.onnx` file.
    pub file: PathBuf,
    /// The file's SHA-256, in lowercase hex.
    pub sha256: String,
    /// The ONNX contract version its card declares.
    pub contract_version: u32,
}

impl ModelIdentity {
    /// The identity of `catalog`'s model `name`; reads and hashes its file.
    pub fn of(catalog: &Catalog, name: &str) -> Result<Self> {
        let card = catalog.card(name)?;
        let file = catalog.model_file(name);
        Ok(Self { name: name.to_owned(), sha256: sha256_file(&file)?, file, contract_version: card.contract.version })
    }
}

/// What made one output: written once per file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provenance {
    /// This package's name.
    pub package: String,
    /// This package's version.
    pub version: String,
    /// The models that scored, in the order the job names them.
    pub models: Vec<ModelIdentity>,
    /// The execution provider the models ran on.
    pub provider: Provider,
    /// When the scoring started, RFC 3339 in UTC to the second.
    pub scored_at: String,
}

impl Provenance {
    /// The provenance of scoring with `catalog`'s models `names`, starting now. Loads each model
    /// (as scoring will) to learn the provider it runs on.
    pub fn of(catalog: &Catalog, names: &[String]) -> Result<Self> {
        let models = names.iter().map(|name| ModelIdentity::of(catalog, name)).collect::<Result<Vec<_>>>()?;
        let provider = match names.first() {
            Some(name) => catalog.model(name)?.provider(),
            None => catalog.provider(),
        };
        Ok(Self {
            package: PACKAGE.to_owned(),
            version: VERSION.to_owned(),
            models,
            provider,
            scored_at: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        })
    }

    /// The footer's key-value pairs, every key under [`KEY_PREFIX`]: `package`, `version`,
    /// `model`, `model_sha256`, `contract_version`, `provider`, `scored_at`. Where several models
    /// scored, `model`, `model_sha256` and `contract_version` list them comma-separated, in the
    /// same order.
    pub fn key_values(&self) -> Vec<(String, String)> {
        let list = |f: &dyn Fn(&ModelIdentity) -> String| self.models.iter().map(f).collect::<Vec<_>>().join(",");
        [
            ("package", self.package.clone()),
            ("version", self.version.clone()),
            ("model", list(&|m| m.name.clone())),
            ("model_sha256", list(&|m| m.sha256.clone())),
            ("contract_version", list(&|m| m.contract_version.to_string())),
            ("provider", self.provider.to_string()),
            ("scored_at", self.scored_at.clone()),
        ]
        .into_iter()
        .map(|(key, value)| (format!("{KEY_PREFIX}{key}"), value))
        .collect()
    }
}

/// The SHA-256 of a file's bytes, in lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let context = || format!("cannot read {}", path.display());
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path).with_context(context)?, &mut hasher).with_context(context)?;
    Ok(format!("{:x}", hasher.finalize()))
}
