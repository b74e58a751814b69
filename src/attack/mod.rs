//! Gradient attacks on segmentation networks: the PGD family, APGD and DAG, and universal
//! perturbations (one `δ` for a set of images, [`universal`]).
//!
//! Projected gradient descent (Madry et al., "Towards Deep Learning Models Resistant to
//! Adversarial Attacks", ICLR 2018) on images in `[0, 1]` pixel space, extended to dense
//! prediction with the per-pixel losses of SegPGD (Gu et al., ECCV 2022) and CosPGD
//! (Agnihotri, Jung & Keuper, ICML 2024).
//!
//! The design follows the "one loop" structure of gradient-descent attack libraries, grouped
//! by part:
//!
//! - [`spec`]: the one description of an attack ([`AttackSpec`], with a worst case's
//!   [`MemberSpec`]s), radii as written, the [`Goal`] and its resolution from a spec;
//! - [`settings`]: what the loops read ([`PgdConfig`], [`AttackKind`], an ensemble's
//!   [`Member`]s), below both the spec and the loops;
//! - [`loops`]: PGD ([`pgd()`]), APGD ([`apgd()`], Croce & Hein, ICML 2020, with SEA's
//!   progressive radius) and DAG ([`dag()`], Xie et al., ICCV 2017), and what they share: the
//!   threat model ([`Norm`]: start, step, projection), the kept iterate (per image the most
//!   successful), the end of a run and 8-bit results inside the ball;
//! - [`losses`]: CE, SegPGD, CosPGD and SEA's losses ([`LossKind`]);
//! - [`ensemble`]: several runs as one attack — SEA (Croce, Singh & Hein, ECCV 2024), restarts
//!   ([`run_with_restarts`]) and the worst case over any attacks — per image the strongest, and
//!   the mIoU worst case;
//! - [`dispatch`]: [`run_kind`], the one place an [`AttackKind`] becomes its loop;
//! - [`run`]: [`run_attack`] — spec → [`Setup`] → dispatch → [`AttackReport`] — shared by the
//!   CLI, the page, its worker pool ([`pool`]) and the experiments;
//! - [`report`]: the report, its per-class detail and the budget of the saved images;
//! - [`universal`]: one `δ` for a set of images.
//!
//! The loop is an `async fn` because on wasm32 tensors can only be read asynchronously; native
//! code wraps it in [`crate::util::block_on`]. A per-iteration observer ([`Progress`] in,
//! [`Control`] out) drives progress bars and lets the caller stop or cancel.
//!
//! The model is anything implementing [`crate::model::SegModel`], in particular a
//! [`crate::model::Segmenter`] loaded on an autodiff device
//! ([`crate::backend::autodiff`]); its parameters never require gradients, so only the input
//! gradient is computed. Tensors are `[N, 3, H, W]` images in `[0, 1]` RGB throughout.

pub mod dispatch;
pub mod ensemble;
pub mod loops;
pub mod losses;
pub mod pool;
pub mod report;
pub mod run;
pub mod settings;
pub mod spec;
pub mod universal;

pub use dispatch::run_kind;
pub use ensemble::restarts::run_with_restarts;
pub use loops::apgd::apgd;
pub use loops::dag::dag;
pub use loops::norm::Norm;
pub use loops::outcome::{AttackResult, Control, ImageStats, MiouWorstCase, Outcome, Progress, StepRecord};
pub use loops::pgd::pgd;
pub use settings::{Member, PgdConfig};
pub use loops::warm_up::warm_up;
pub use losses::loss::LossKind;
pub use report::attack_report::{AttackReport, ImageReport, Scores, WorstCaseScores};
pub use report::budget::Budget;
pub use report::detail::{DetailScores, ReportDetail};
pub use run::{AttackImages, AttackOutput, BatchImage, GoalMaps, Setup, assemble, run_attack, top_level_runs};
pub use spec::attack_spec::{AttackKind, AttackSpec, ClassRef, GoalKind, MapOrigin};
pub use spec::goal::{Goal, MapSource, Mask, Region, Target};
pub use spec::goal_from_spec::GoalInputs;
pub use spec::member_spec::MemberSpec;
pub use spec::radius::Radius;
pub use universal::craft::{Crafted, UniversalConfig, UniversalDelta, craft_universal};
pub use universal::report::{ScoredSet, SetEval, UniversalReport, UniversalScores, run_universal};
pub use universal::spec::{UniversalGoal, UniversalSpec};
