//! The normalisations of an interpreted graph on the device: a BatchNormalization not folded
//! into a convolution (inference statistics, never batch statistics), the per-channel affine
//! map of a folded one, LayerNormalization, InstanceNormalization and GroupNormalization.

use burn::tensor::Device;

use super::dev::Dev;
use super::exec::{Args, Value};
use super::host::{BinOp, axis, numel};
use super::op::Op;
use crate::error::{Error, Result};

/// Run a normalisation op.
pub fn run(op: &Op, args: &Args, d: &Device) -> Result<Dev> {
    let x = || args.get(0)?.dev(d);
    match op {
        Op::Affine => {
            let v = x()?;
            let shape = channel_shape(v.rank(), args.get(1)?.shape().iter().product());
            let (s, b) = (args.get(1)?.dev(d)?.reshape(&shape)?, args.get(2)?.dev(d)?.reshape(&shape)?);
            Dev::ew(&Dev::ew(&v, &s, BinOp::Mul)?, &b, BinOp::Add)
        }
        Op::BatchNorm { eps } => {
            let v = x()?;
            let c = v.shape().get(1).copied().unwrap_or(1);
            let shape = channel_shape(v.rank(), c);
            let p: Vec<Dev> = (1..5).map(|k| args.get(k)?.dev(d)?.reshape(&shape)).collect::<Result<_>>()?;
            let eps = *eps as f32;
            let inv = p[3].map(|t| (t + eps).sqrt().recip())?;
            let y = Dev::ew(&Dev::ew(&v, &p[2], BinOp::Sub)?, &inv, BinOp::Mul)?;
            Dev::ew(&Dev::ew(&y, &p[0], BinOp::Mul)?, &p[1], BinOp::Add)
        }
        Op::LayerNorm { axis: a, eps } => {
            let v = x()?;
            let first = axis(*a, v.rank())?;
            let y = normalise(&v, &(first..v.rank()).collect::<Vec<_>>(), *eps)?;
            affine_opt(y, args.opt(1), args.opt(2), d, None)
        }
        Op::InstanceNorm { eps } => {
            let v = x()?;
            let y = normalise(&v, &(2..v.rank()).collect::<Vec<_>>(), *eps)?;
            affine_opt(y, args.opt(1), args.opt(2), d, Some(v.rank()))
        }
        Op::GroupNorm { groups, eps } => {
            let v = x()?;
            let s = v.shape().to_vec();
            let g = v.reshape(&[s[0], *groups, numel(&s[1..]) / groups])?;
            let y = normalise(&g, &[2], *eps)?.reshape(&s)?;
            affine_opt(y, args.opt(1), args.opt(2), d, Some(s.len()))
        }
        other => Err(Error::Model(format!("{other:?} is not a normalisation"))),
    }
}

/// `[1, C, 1, …]` of rank `rank` (at least 2).
fn channel_shape(rank: usize, c: usize) -> Vec<usize> {
    let mut s = vec![1; rank.max(2)];
    s[1] = c;
    s
}

/// `(x − mean) / √(var + ε)` over `axes`.
fn normalise(v: &Dev, axes: &[usize], eps: f64) -> Result<Dev> {
    let m = v.reduce(axes, true)?;
    let xc = Dev::ew(v, &m, BinOp::Sub)?;
    let var = xc.map(|t| t.clone() * t)?.reduce(axes, true)?;
    let e = eps as f32;
    let inv = var.map(|t| (t + e).sqrt().recip())?;
    Dev::ew(&xc, &inv, BinOp::Mul)
}

/// `y · scale + bias` (per channel when `channels_of_rank` is given, else broadcast from the
/// right).
fn affine_opt(y: Dev, scale: Option<&Value>, bias: Option<&Value>, d: &Device, channels_of_rank: Option<usize>) -> Result<Dev> {
    let lay = |v: Dev| match channels_of_rank {
        Some(r) => {
            let n = numel(v.shape());
            v.reshape(&channel_shape(r, n))
        }
        None => Ok(v),
    };
    let mut y = y;
    if let Some(s) = scale {
        y = Dev::ew(&y, &lay(s.dev(d)?)?, BinOp::Mul)?;
    }
    if let Some(b) = bias {
        y = Dev::ew(&y, &lay(b.dev(d)?)?, BinOp::Add)?;
    }
    Ok(y)
}
