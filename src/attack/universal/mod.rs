//! Universal perturbations: one `δ` for a whole set of images — crafting ([`craft`]), its spec
//! ([`spec`]) and its report ([`report`]).

pub mod craft;
pub mod report;
pub mod spec;
