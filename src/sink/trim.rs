//! Returning the memory a flush frees to the operating system.

/// Asks glibc to give the free pages of every arena back to the operating system. Called after
/// each flush that wrote partitions, which frees their Arrow buffers at once.
///
/// glibc keeps freed memory in per-thread arenas, where only later allocations of the same
/// arena can reuse it, so without the trim the buffers of written partitions stay resident for
/// the rest of a backfill. A trim walks the whole heap (about a millisecond with a few hundred
/// MiB), which is why it does not run after every user.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_freed_memory() {
    // SAFETY: malloc_trim only walks glibc's own arenas and releases free pages; it has no
    // preconditions and touches no memory that Rust code owns.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed_memory() {}
