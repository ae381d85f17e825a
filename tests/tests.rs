//! Every integration test in one binary, a module per area (ripgrep's layout), so that the crates
//! they link, DataFusion and ONNX Runtime among them, are linked once. The `scorer` binary needs
//! the `sql` feature; `cargo test --no-default-features --features train` runs the trainer's alone.

#[cfg(feature = "sql")]
mod common;

#[cfg(feature = "sql")]
mod cli;
#[cfg(feature = "cluster")]
mod cluster;
#[cfg(feature = "sql")]
mod docs;
#[cfg(feature = "sql")]
mod formats;
#[cfg(feature = "serve")]
mod fuzz;
#[cfg(feature = "sql")]
mod jobs;
#[cfg(feature = "sql")]
mod properties;
#[cfg(feature = "sql")]
mod python_client;
#[cfg(feature = "sql")]
mod reliability;
#[cfg(feature = "sql")]
mod tokenize_golden;
#[cfg(feature = "train")]
mod train;
