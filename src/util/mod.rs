//! Small utilities every layer may use: the allocator setting, the blocking executor, exact floats in JSON, fractions, a seedable RNG,
//! timing, scoped-thread loops, and how a test records that it skips.

pub mod allocator;
#[cfg(not(target_arch = "wasm32"))]
pub mod block_on;
pub mod exact;
pub mod fraction;
pub mod rng;
pub mod test_skip;
pub mod threads;
pub mod timer;

#[cfg(not(target_arch = "wasm32"))]
pub use block_on::block_on;
pub use exact::Exact;
pub use fraction::parse_fraction;
pub use rng::SplitMix64;
pub use threads::{effective_threads, run_chunks};
pub use timer::Timer;
