//! Sentiment of movie reviews with the five GloVe models of the IMDB exercise.
//!
//! The scoring core: the exercise's [`text`] pipeline, the shared [`vocab`], [`encoding`] of
//! reviews into the inputs of a model [`contract`], the ONNX [`model`] running on ONNX Runtime
//! ([`runtime`]) with its graph [`pruning`] to what a call reads, review files in and out ([`io`]: Parquet, CSV, NDJSON),
//! the file [`scoring`] loop and folder [`job`]s, the [`metrics`], model [`card`]s, labeled [`data`]
//! and the [`short_texts`] check built from it, and [`errors`] as the user reads them. The SQL
//! functions are in `sql` (feature `sql`), their Ballista cluster in `cluster` (feature
//! `cluster`), the trainer in `train` (feature `train`).

pub mod batch;
pub mod card;
pub mod catalog;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod contract;
pub mod data;
pub mod encoding;
pub mod errors;
#[cfg(feature = "serve")]
pub mod flight_server;
pub mod io;
pub mod job;
#[cfg(feature = "sql")]
pub mod line_table;
pub mod machine;
pub mod metrics;
pub mod model;
pub mod ngrams;
pub mod provenance;
pub mod pruning;
pub mod runtime;
pub mod scoring;
pub mod shared_weights;
pub mod short_texts;
#[cfg(feature = "sql")]
pub mod sql;
pub mod text;
pub mod vocab;

#[cfg(feature = "train")]
pub mod train;
