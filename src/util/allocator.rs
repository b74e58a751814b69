//! Keep freed tensor memory in the process (native glibc builds).
//!
//! A gradient step allocates and frees hundreds of activation-sized buffers (megabytes each).
//! glibc serves blocks above its mmap threshold with fresh `mmap`s and returns freed heap tops to
//! the kernel, so the next step faults the same pages in again and the kernel zeroes every one
//! (`clear_page_erms`: 13 % of an ESPNetv2 gradient on the CPU backend, `perf`). Raising the
//! mmap threshold to glibc's maximum and never trimming keeps those pages mapped and reused.
//! The process's resident memory then stays at its high-water mark, which a long attack or
//! evaluation reaches in its first step anyway.

/// Tune glibc's allocator for tensor workloads; a no-op elsewhere. Call once, early in `main`.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // M_MMAP_THRESHOLD's ceiling is 32 MiB on 64-bit glibc (HEAP_MAX_SIZE / 2)
        const MMAP_THRESHOLD_MAX: libc::c_int = 32 * 1024 * 1024;
        // SAFETY: mallopt only changes allocator parameters; it is called before other threads
        // allocate (the start of main) and its failure leaves the defaults in place.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_MAX);
            libc::mallopt(libc::M_TRIM_THRESHOLD, libc::c_int::MAX);
        }
    }
}
