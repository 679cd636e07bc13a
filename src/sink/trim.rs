//! Returning freed heap memory to the operating system after a flush.

/// Asks glibc to give the free pages of every arena back to the operating system.
///
/// A flush frees the Arrow buffers of many partitions at once, and glibc keeps freed memory in
/// per-thread arenas, where only later allocations of the same thread can reuse it. Without
/// the trim, that memory stays resident for the rest of a backfill.
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
