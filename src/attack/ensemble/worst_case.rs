//! The worst case over any list of attacks (`kind = "worst-case"`, [`crate::attack::MemberSpec`]):
//! each member runs with its own family and settings on the same batch, goal and ball, and per
//! image the strongest result is kept — the lowest pixel accuracy against the reference
//! (untargeted) or the highest agreement with the target — with the mIoU worst case beside it
//! ([`super::greedy`]). This is how SEA and "Trying Harder Pays Off" (Halmosi, Mohos & Jelasity,
//! ECCV 2024) report robustness: an evaluation is only as strong as the strongest attack it
//! tried on each image.

use crate::attack::settings::{Member, PgdConfig};

/// The runs of a worst case with the settings `cfg` (its members, as
/// [`crate::attack::AttackSpec::pgd_config`] made them).
pub fn runs(cfg: &PgdConfig) -> Vec<Member> {
    cfg.members.clone().unwrap_or_default()
}
