//! glibc's malloc, set for scoring's large, short-lived buffers.
//!
//! By default glibc raises its mmap threshold each time a large block is freed, up to 32 MiB, and
//! its trim threshold with it to 64 MiB. After the first parts of a file, every decoded part,
//! encoded batch and row group (a few MiB each) then comes from the arena of the thread that asked,
//! and each thread's arena keeps up to 64 MiB of freed memory: at `--threads 16` the n-gram model
//! peaked near 650 MB, of which under 400 MB was in use. Fixed thresholds hand blocks of 4 MiB or
//! more back to the system when freed and trim an arena once 8 MiB at its top is free: 430 MB, for
//! about 2 more seconds of system time in 45 of CPU time (docs/performance.md, "Fifth change").

/// Blocks of at least this many bytes are mapped for themselves and unmapped when freed.
const MMAP_THRESHOLD: i32 = 4 << 20;

/// Free memory at the top of an arena beyond this many bytes goes back to the system.
const TRIM_THRESHOLD: i32 = 8 << 20;

/// The settings glibc reads from the environment; one that is set is the user's choice and wins.
const USER_SETTINGS: [&str; 3] = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"];

/// Fixes glibc's thresholds, unless the user set them; called once, before any thread starts.
pub fn tune() {
    if USER_SETTINGS.iter().any(|name| std::env::var_os(name).is_some()) {
        return;
    }
    // SAFETY: mallopt only changes the allocator's parameters; it is called before other threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD);
    }
}
