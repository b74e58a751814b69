//! Image-scaling attacks and defenses (Xiao et al., USENIX Security 2019; Quiring et al.,
//! "Adversarial Preprocessing: Understanding and Preventing Image-Scaling Attacks", USENIX
//! Security 2020).
//!
//! * [`scaler`]: the scalers of OpenCV `cv2.resize` and Pillow `Image.resize` as coefficient
//!   matrices `down(X) = L·X·R`, with a fast real-valued application and a bit-exact 8-bit one.
//! * [`attack`]: the attack `min ‖A − S‖² s.t. ‖L·A·R − T‖_∞ ≤ ε, 0 ≤ A ≤ 255`.
//! * [`defense`]: robust scaling and image reconstruction (median / random filtering of the
//!   pixels the scaler reads), and the adaptive attack against the median filter.
//! * [`experiment`]: the attack against a segmentation pipeline (full-size and downscaled maps,
//!   defense table).
//! * [`map_target`]: the same towards a wanted class map: a targeted PGD at the model size
//!   crafts the target image, the scaling attack hides it.
pub mod attack;
pub mod defense;
pub mod experiment;
pub mod map_target;
pub mod scaler;

pub use attack::{
    AttackMethod, ScalingAttackConfig, ScalingAttackResult, SolveStats, scaling_attack,
};
pub use defense::{
    AdaptiveMedianResult, Reconstruction, adaptive_median_attack, read_mask, reconstruct,
    robust_alternative,
};
#[cfg(not(target_arch = "wasm32"))]
pub use experiment::{run_defenses, run_experiment, segment_images};
pub use experiment::{
    AttackVariant, Defense, DefenseReport, DefenseRow, MapScore, ScalingArtifacts,
    ScalingExperimentConfig, ScalingReport, run_experiment_async,
};
#[cfg(not(target_arch = "wasm32"))]
pub use map_target::run_map_experiment;
pub use map_target::{MapTargetReport, class_map, run_map_experiment_async};
pub use scaler::{Scaler, ScalerKind, SparseMatrix};
