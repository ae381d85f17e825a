//! Standard output for results. When the reader goes away (`scorer sql ... | head -1`), writes
//! fail with a broken pipe; this writer remembers that, and `main` then ends quietly with exit 0,
//! as ripgrep does: the reader had all it wanted. It works whatever wraps the error on its way up
//! (Arrow's CSV writer keeps only its message), so nothing matches on error text.

use std::io::{ErrorKind, Result, StdoutLock, Write};
use std::sync::atomic::{AtomicBool, Ordering};

static READER_LEFT: AtomicBool = AtomicBool::new(false);

/// True once a write to standard output failed because its reader closed the pipe.
pub fn reader_left() -> bool {
    READER_LEFT.load(Ordering::Relaxed)
}

/// Locked standard output that notes a broken pipe.
pub fn stdout() -> Stdout {
    Stdout(std::io::stdout().lock())
}

/// See [`stdout`].
#[derive(Debug)]
pub struct Stdout(StdoutLock<'static>);

fn note<T>(result: Result<T>) -> Result<T> {
    if result.as_ref().is_err_and(|e| e.kind() == ErrorKind::BrokenPipe) {
        READER_LEFT.store(true, Ordering::Relaxed);
    }
    result
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> Result<usize> {
        note(self.0.write(buf))
    }

    fn flush(&mut self) -> Result<()> {
        note(self.0.flush())
    }
}
