//! The experiment layer behind `advseg eval --experiment FILE`: clean, attacked and defended
//! (non-adaptive and adaptive) metrics per ε, targeted agreement, and the transfer matrix,
//! from one TOML file ([`file`]), run by [`runner`], written as JSON ([`result`]) and
//! Markdown ([`markdown`]).

pub mod file;
pub mod detail;
pub(crate) mod items;
pub mod markdown;
pub mod result;
pub mod runner;
pub mod transfer;

pub use file::{ExperimentFile, TransferSpec, resolve_images};
pub use result::{AttackRow, DefenseScore, ExperimentProgress, ExperimentResult, ImageScore, ModelResult, Score, Skipped, TransferResult};
pub use runner::run;
