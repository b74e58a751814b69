//! Image-scaling attacks and defenses (Xiao et al., USENIX Security 2019; Quiring et al.,
//! "Adversarial Preprocessing: Understanding and Preventing Image-Scaling Attacks", USENIX
//! Security 2020).
//!
//! * [`scaler`]: the scalers of OpenCV `cv2.resize` and Pillow `Image.resize` as coefficient
//!   matrices `down(X) = L·X·R`, with a fast real-valued application and a bit-exact 8-bit one.
//! * [`attack`]: the attack `min ‖A − S‖² s.t. ‖L·A·R − T‖_∞ ≤ ε, 0 ≤ A ≤ 255`.
//! * [`defense`]: robust scaling and image reconstruction (median / random filtering of the
//!   pixels the scaler reads).
pub mod attack;
pub mod defense;
pub mod scaler;

pub use attack::{
    AttackMethod, ScalingAttackConfig, ScalingAttackResult, SolveStats, scaling_attack,
};
pub use defense::{Reconstruction, read_mask, reconstruct, robust_alternative};
pub use scaler::{Scaler, ScalerKind, SparseMatrix};
