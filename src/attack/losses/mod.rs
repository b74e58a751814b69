//! The per-pixel losses the loops optimise: CE, SegPGD, CosPGD ([`loss`]) and SEA's ([`sea`]).

pub mod loss;
pub mod sea;
