//! [`DefenseConfig`]: which reconstruction runs before the network, and whether inference is
//! multi-scale.

use burn::config::Config;

use super::multiscale::MultiScaleConfig;
use super::reconstruct::Pipeline;
use crate::error;

/// A defense: an optional reconstruction pipeline, then the plain or multi-scale network.
#[derive(Config, Debug, PartialEq)]
pub struct DefenseConfig {
    /// Reconstruction steps before the network (empty: none).
    #[config(default = "Pipeline::default()")]
    pub reconstruct: Pipeline,
    /// Multi-scale inference (`None`: the network at the input size only).
    pub multiscale: Option<MultiScaleConfig>,
}

impl DefenseConfig {
    /// A short description, e.g. `jpeg:75 → ms(0.5,1)+flip/mean`, or `none`.
    pub fn label(&self) -> String {
        match (self.reconstruct.is_empty(), &self.multiscale) {
            (true, None) => "none".into(),
            (false, None) => self.reconstruct.to_string(),
            (true, Some(m)) => m.label(),
            (false, Some(m)) => format!("{} → {}", self.reconstruct, m.label()),
        }
    }

    /// Check every part.
    pub fn validate(&self) -> error::Result<()> {
        for r in &self.reconstruct.0 {
            r.validate()?;
        }
        if let Some(m) = &self.multiscale {
            m.validate()?;
        }
        Ok(())
    }
}
