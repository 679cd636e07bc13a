//! Returning freed heap memory to the operating system while the writer runs.

use std::time::{Duration, Instant};

/// The shortest time between two trims that no flush asked for. A trim walks the whole heap
/// (about a millisecond with a few hundred MiB), and the writer takes a user every few
/// milliseconds when no rate limit holds the readers back.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// Decides when the writer returns freed memory: after every flush, and otherwise at most
/// every [`MIN_INTERVAL`] after a user's records were added and dropped.
pub struct Trimmer {
    last: Instant,
}

impl Trimmer {
    pub fn new() -> Self {
        Trimmer { last: Instant::now() }
    }

    /// Trims now, after a flush freed the buffers of many partitions at once.
    pub fn after_flush(&mut self) {
        release_freed_memory();
        self.last = Instant::now();
    }

    /// Trims if the last trim is at least [`MIN_INTERVAL`] ago.
    pub fn after_user(&mut self) {
        if self.last.elapsed() >= MIN_INTERVAL {
            self.after_flush();
        }
    }
}

/// Asks glibc to give the free pages of every arena back to the operating system.
///
/// glibc keeps freed memory in per-thread arenas, where only later allocations of the same
/// arena can reuse it. Without the trim, the Arrow buffers of written partitions and the records
/// of finished users stay resident for the rest of a backfill.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn release_freed_memory() {
    // SAFETY: malloc_trim only walks glibc's own arenas and releases free pages; it has no
    // preconditions and touches no memory that Rust code owns.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_freed_memory() {}
