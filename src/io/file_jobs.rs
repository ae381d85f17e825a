//! The threads that decode and encode Parquet row groups, apart from the ones that score.
//!
//! On one rayon pool, a scoring thread that waits in a join for the other half of its batch
//! picks up whatever job is queued, and a row group's decoding or encoding takes tens of
//! milliseconds: the join, and with it the whole batch, waits for that job, while the other
//! threads, with no scoring left to take, sit idle. On a pool of their own the file jobs share
//! the cores with scoring through the operating system's scheduler instead, and no core waits
//! while there is work.

use std::sync::OnceLock;

/// Runs `job` on the file-work pool, started on first use with as many threads as rayon's global
/// pool (the scorer's `--threads`); on rayon's global pool where the pool cannot start.
pub fn spawn(job: impl FnOnce() + Send + 'static) {
    static POOL: OnceLock<Option<rayon::ThreadPool>> = OnceLock::new();
    let pool = POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(rayon::current_num_threads())
            .thread_name(|i| format!("file-work-{i}"))
            .build()
            .ok()
    });
    match pool {
        Some(pool) => pool.spawn(job),
        None => rayon::spawn(job),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_on_threads_apart_from_the_global_pool() {
        let (send, receive) = std::sync::mpsc::channel();
        spawn(move || send.send(std::thread::current().name().map(str::to_owned)).unwrap());
        let name = receive.recv().unwrap().expect("the pool names its threads");
        assert!(name.starts_with("file-work-"), "{name}");
        let global: Option<String> = rayon::scope(|_| std::thread::current().name().map(str::to_owned));
        assert!(!global.is_some_and(|n| n.starts_with("file-work-")));
    }
}
