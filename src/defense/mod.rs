//! Defenses against adversarial perturbations, and the adaptive attacks that test them.
//!
//! - [`multiscale`]: multi-scale (and mirrored) inference, a [`SegModel`] of its own;
//! - [`reconstruct`]: input reconstruction (JPEG, bit depth, median, Gaussian, total variation);
//! - [`Defended`]: a reconstruction [`Pipeline`] in front of the plain or the multi-scale
//!   network, as one [`SegModel`].
//!
//! A defense is only worth what it keeps against an attacker who knows it. Every evaluation
//! in this crate reports two numbers side by side:
//!
//! - **non-adaptive**: the perturbation is crafted against the undefended network and then fed
//!   to the defended one (the attacker ignores the defense);
//! - **adaptive**: the perturbation is crafted against the [`Defended`] model itself. Multi-scale
//!   inference is differentiable, so PGD differentiates through all scales and flips at once
//!   (expectation over the transformations, Athalye et al., "Synthesizing Robust Adversarial
//!   Examples", ICML 2018). The reconstructions are not (rounding, JPEG, medians), so their
//!   backward pass is replaced by the identity: BPDA (Athalye, Carlini & Wagner, "Obfuscated
//!   Gradients Give a False Sense of Security", ICML 2018). The forward pass is always the
//!   true defended model.

pub mod config;
pub mod defended;
pub mod multiscale;
pub mod reconstruct;
pub mod spec;

pub use config::DefenseConfig;
pub use defended::{Defended, Network};
pub use multiscale::{Combine, MultiScale, MultiScaleConfig};
pub use reconstruct::{Pipeline, Reconstruction};
pub use spec::{DefenseSpec, MultiScaleSpec};
