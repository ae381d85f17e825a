//! Review files in and out: Parquet, CSV (with a header line) and NDJSON, told apart by their
//! extension; inputs that are one file, a folder or a glob, Parquet decoded a row group per thread;
//! outputs that appear whole or not at all, Parquet encoded a row group per thread or a Parquet
//! input's columns copied into it as they are.

pub mod atomic;
pub mod copying_writer;
pub mod csv;
pub mod file_jobs;
pub mod format;
pub mod input;
pub mod ndjson;
pub mod output;
pub mod row_group_writer;
pub mod row_groups;

pub use atomic::AtomicFile;
pub use format::FileFormat;
pub use input::Input;
pub use output::OutputFile;
