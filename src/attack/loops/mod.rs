//! The attack loops — PGD, APGD and DAG — and what they share: the threat model ([`norm`]),
//! the kept iterate ([`kept`]), the start, scoring and end of a run ([`common`]), 8-bit
//! results inside the ball ([`quantize`], [`grid`]), what a run returns ([`outcome`]), when
//! the device is read ([`readback`]), SEA's radius schedule and the warm-up step.

pub mod apgd;
pub mod apgd_schedule;
pub mod common;
pub mod dag;
pub mod grid;
pub mod kept;
pub mod norm;
pub mod outcome;
pub mod pgd;
pub mod quantize;
pub mod radius_schedule;
pub mod readback;
pub mod warm_up;

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
