//! Gradient attacks on segmentation networks: the PGD family, APGD and DAG, and universal
//! perturbations (one `δ` for a set of images, [`universal`]).
//!
//! Projected gradient descent (Madry et al., "Towards Deep Learning Models Resistant to
//! Adversarial Attacks", ICLR 2018) on images in `[0, 1]` pixel space, extended to dense
//! prediction with the per-pixel losses of SegPGD (Gu et al., ECCV 2022) and CosPGD
//! (Agnihotri, Jung & Keuper, ICML 2024).
//!
//! The design follows the "one loop" structure of gradient-descent attack libraries:
//!
//! - a PGD loop ([`pgd()`], async) configured by a [`PgdConfig`], and APGD ([`apgd()`], Croce
//!   & Hein, ICML 2020: adaptive step size, momentum, best iterate per image) on the same
//!   settings, SEA ([`sea()`], Croce, Singh & Hein, ECCV 2024: APGD once per loss of an
//!   ensemble, per image the strongest) and DAG ([`dag()`], Xie et al., ICCV 2017: the margin
//!   over the pixels not yet fooled, L∞-normalised steps); [`run_kind`] picks one by
//!   [`AttackKind`] and [`run_with_restarts`] repeats any of them from random starts;
//! - the threat model ([`Norm`]: L∞ or L2) supplies the random start, the normalisation of the
//!   gradient into a step and the projection onto the ε-ball (plus clamping to `[0, 1]`);
//! - the [`Goal`] decides the per-pixel reference map and the *sign* of the step: untargeted
//!   attacks ascend the loss against the reference (the clean prediction or the ground truth),
//!   targeted attacks descend it towards a target map (another image's map, one class, a
//!   painted map, optionally within a [`Mask`]);
//! - the [`LossKind`] turns logits and the reference map into a scalar (mean CE, SegPGD, CosPGD,
//!   SEA's masked CE, balanced masked CE and Jensen–Shannon divergence).
//!
//! The loop is an `async fn` because on wasm32 tensors can only be read asynchronously; native
//! code wraps it in [`crate::util::block_on`]. A per-iteration observer ([`Progress`] in,
//! [`Control`] out) drives progress bars and lets the caller stop or cancel.
//!
//! The model is anything implementing [`crate::model::SegModel`], in particular a
//! [`crate::model::Segmenter`] loaded on an autodiff device
//! ([`crate::backend::autodiff`]); its parameters never require gradients, so only the input
//! gradient is computed. Tensors are `[N, 3, H, W]` images in `[0, 1]` RGB throughout.

pub mod apgd;
pub mod dag;
pub mod dispatch;
pub mod ensemble;
pub mod goal;
pub mod loss;
pub mod loss_sea;
pub mod norm;
pub mod outcome;
pub mod pgd;
pub mod radius;
pub mod readback;
pub mod radius_schedule;
pub mod report;
pub mod restarts;
pub mod report_detail;
pub mod run;
pub mod sea;
pub mod spec;
pub mod split;
pub mod split_members;
pub mod spec_goal;
pub mod universal;
pub mod universal_report;
pub mod universal_spec;
pub mod warm_up;

pub use apgd::apgd;
pub use dag::dag;
pub use dispatch::run_kind;
pub use goal::{Goal, MapSource, Mask, Region, Target};
pub use loss::LossKind;
pub use norm::Norm;
pub use outcome::{AttackResult, Control, ImageStats, Outcome, Progress, StepRecord};
pub use pgd::{PgdConfig, pgd};
pub use report::{AttackReport, ImageReport, Scores};
pub use report_detail::{DetailScores, ReportDetail};
pub use run::{AttackImages, AttackOutput, BatchImage, GoalMaps, assemble, run_attack};
pub use radius::Radius;
pub use restarts::run_with_restarts;
pub use sea::sea;
pub use spec::{AttackKind, AttackSpec, ClassRef, GoalKind, MapOrigin};
pub use spec_goal::GoalInputs;
pub use universal::{Crafted, UniversalConfig, UniversalDelta, craft_universal};
pub use universal_report::{ScoredSet, SetEval, UniversalReport, UniversalScores, run_universal};
pub use universal_spec::{UniversalGoal, UniversalSpec};
pub use warm_up::warm_up;

