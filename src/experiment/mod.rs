//! The experiment layer behind `advseg eval --experiment FILE`: clean, attacked and defended
//! (non-adaptive and adaptive) metrics per ε, targeted agreement, and the transfer matrix,
//! from one TOML file ([`file`]), split into work units ([`unit`], done by [`work`], counted
//! in [`tally`]s), run whole or as shards and resumed ([`runner`], [`shard`], [`store`]),
//! assembled ([`assemble`]) and written as JSON ([`result`]) and Markdown ([`markdown`]).

pub mod assemble;
pub(crate) mod craft;
pub mod file;
pub(crate) mod items;
pub mod markdown;
pub mod result;
pub mod runner;
pub mod shard;
pub mod store;
pub mod tally;
pub mod unit;
pub mod work;

pub use file::{ExperimentFile, TransferSpec, resolve_images};
pub use result::{AttackRow, DefenseScore, ExperimentProgress, ExperimentResult, ImageScore, ModelResult, Score, Skipped, TransferResult};
pub use runner::{Prepared, ShardSummary, merge, result_of, run, run_units};
pub use shard::Shard;
pub use store::Store;
