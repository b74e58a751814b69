//! Image-scaling attacks and defenses (Xiao et al., USENIX Security 2019; Quiring et al.,
//! "Adversarial Preprocessing: Understanding and Preventing Image-Scaling Attacks", USENIX
//! Security 2020).
//!
//! The scalers themselves (OpenCV `cv2.resize`, Pillow `Image.resize` as coefficient matrices
//! `down(X) = L·X·R`) live in [`crate::resize`].
//!
//! * [`attack`]: the attack `min ‖A − S‖² s.t. ‖L·A·R − T‖_∞ ≤ ε, 0 ≤ A ≤ 255`, solved by
//!   [`blocks`] (exact, separable scalers) or [`two_stage`], with the QP solvers of [`qp`] and
//!   [`slab_qp`] on the couplings found by [`components`].
//! * [`defense`]: robust scaling and image reconstruction (median / random filtering of the
//!   pixels the scaler reads), and the adaptive attack against the median filter.
//! * [`experiment`]: the attack against a segmentation pipeline (full-size and downscaled maps,
//!   defense table).
//! * [`map_target`]: the same towards a wanted class map: a targeted PGD at the model size
//!   crafts the target image, the scaling attack hides it.
pub mod attack;
pub mod blocks;
pub mod components;
pub mod defense;
pub mod experiment;
pub mod map_target;
pub mod pipeline;
pub mod qp;
pub mod report;
#[cfg(test)]
pub(crate) mod qp_testing;
pub mod slab_qp;
pub mod spec;
pub mod two_stage;

pub use attack::{AttackMethod, ScalingAttackConfig, ScalingAttackResult, SolveStats, scaling_attack};
pub use defense::{AdaptiveMedianResult, Reconstruction, adaptive_median_attack, read_mask, reconstruct, robust_alternative};
pub use experiment::{run_defenses, run_experiment, segment_images};
pub use map_target::{MapTargetReport, class_map, run_map_experiment};
pub use spec::{ScalingSpec, ScalingTarget};
pub use report::{
    AttackVariant, Defense, DefenseReport, DefenseRow, ScalingArtifacts, ScalingExperimentConfig, ScalingReport,
};
