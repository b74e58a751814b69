//! What an attack reports: [`attack_report::AttackReport`] (the CLI's `report.json`, the page's
//! result), its per-class / per-size detail ([`detail`]) and whether the saved images keep the
//! budget ([`budget`]).

pub mod attack_report;
pub mod budget;
pub mod detail;
