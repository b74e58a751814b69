//! The description of an attack: [`attack_spec::AttackSpec`] (CLI flags, TOML, the page's
//! JSON), radii as written ([`radius`]), the goal ([`goal`]) and how a spec becomes one
//! ([`goal_from_spec`]); its checks ([`validate`]).

pub mod attack_spec;
pub mod goal;
pub mod goal_from_spec;
pub mod member_spec;
pub mod radius;
pub mod validate;
