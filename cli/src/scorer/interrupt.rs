//! SIGINT and SIGTERM for the jobs: a handler sets a flag, and every long-running subcommand
//! checks it between batches (or, for SQL, races its query against it), stops, removes what it
//! was writing, and exits with 130.

use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};
use tokio::sync::Notify;

/// Set by SIGINT/SIGTERM; long jobs stop at the next batch and clean up.
pub static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Wakes an async job waiting in [`until_interrupted`]. Not a timer: while every worker thread is
/// in a model call, none drives the runtime's timers.
static SIGNALLED: Notify = Notify::const_new();

/// The error a job stops with when interrupted.
#[derive(Debug, thiserror::Error)]
#[error("interrupted; no file was left half-written")]
pub struct Interrupted;

/// Installs the handler that sets [`INTERRUPTED`].
pub fn watch() {
    let handler = || {
        INTERRUPTED.store(true, Ordering::Relaxed);
        SIGNALLED.notify_one();
    };
    if let Err(e) = ctrlc::set_handler(handler) {
        tracing::warn!("cannot watch for interrupts: {e}");
    }
}

/// Fails with [`Interrupted`] once a signal came.
pub fn check() -> Result<()> {
    if INTERRUPTED.load(Ordering::Relaxed) {
        bail!(Interrupted);
    }
    Ok(())
}

/// Runs `work` on the runtime to its end, or until a signal. Then `work` is aborted and awaited:
/// it stops at its next await (a model call runs to its end) and is dropped there, which cancels
/// the tasks it spawned and removes the files they were writing. The result is then
/// [`Interrupted`].
pub async fn until_interrupted<T: Send + 'static>(work: impl Future<Output = Result<T>> + Send + 'static) -> Result<T> {
    let mut task = tokio::spawn(work);
    let signalled = async {
        // A signal between the check and the wait leaves a permit, so the wait cannot miss it.
        while !INTERRUPTED.load(Ordering::Relaxed) {
            SIGNALLED.notified().await;
        }
    };
    tokio::select! {
        joined = &mut task => match joined {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => Err(e.into()),
        },
        () = signalled => {
            task.abort();
            let _ = task.await;
            Err(Interrupted.into())
        }
    }
}
