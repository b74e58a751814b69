//! Data-parallel loops over scoped threads natively, sequential on wasm32.

use crate::error::Result;

/// The number of worker threads to use: `requested`, or every core for 0 (1 on wasm32).
pub fn effective_threads(requested: usize) -> usize {
    #[cfg(not(target_arch = "wasm32"))]
    {
        if requested == 0 {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        } else {
            requested
        }
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = requested;
        1
    }
}

/// Runs `f` on `threads` contiguous chunks of `0..n` (scoped threads natively, sequentially on
/// wasm32) and returns the chunk results in order.
pub fn run_chunks<T, F>(n: usize, threads: usize, f: F) -> Result<Vec<T>>
where
    T: Send,
    F: Fn(std::ops::Range<usize>) -> T + Sync,
{
    #[cfg(not(target_arch = "wasm32"))]
    {
        let threads = threads.clamp(1, n.max(1));
        if threads > 1 {
            let chunk = n.div_ceil(threads);
            return std::thread::scope(|sc| {
                let f = &f;
                let handles: Vec<_> = (0..threads)
                    .map(|k| {
                        let r = (k * chunk).min(n)..((k + 1) * chunk).min(n);
                        sc.spawn(move || f(r))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join()
                            .map_err(|_| crate::error::Error::Solver("a worker thread panicked".into()))
                    })
                    .collect()
            });
        }
    }
    let _ = threads;
    Ok(vec![f(0..n)])
}
