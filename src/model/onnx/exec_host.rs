//! The host forms of the ops: shape arithmetic and the index tensors of `dynamo` exports,
//! computed when every input is a host value (constants, shapes).

use super::exec::{Args, reduce_axes};
use super::host::{self, BinOp, HostTensor};
use super::op::{Op, Unary};
use super::shape::{perm_of, reshape_target, slice_plan, squeezed, to_dims, unsqueezed};
use crate::error::{Error, Result};

/// Host forms (`None`: the op has none; it then runs on the device).
pub fn run_host(op: &Op, args: &Args) -> Result<Option<HostTensor>> {
    let x = || args.host(0);
    Ok(Some(match op {
        Op::Identity => x()?.clone(),
        Op::Cast(k) => {
            let h = x()?;
            let shape = h.shape.clone();
            match k {
                0 => HostTensor::f32(shape, h.to_f32()),
                1 => HostTensor::i64(shape, h.to_i64()),
                _ => HostTensor::bool(shape, h.to_bool()),
            }
        }
        Op::Unary(u) => {
            let h = x()?;
            match u {
                Unary::Not => HostTensor::bool(h.shape.clone(), h.to_bool().into_iter().map(|b| !b).collect()),
                Unary::Neg => host::unary_f32(h, |v| -v),
                Unary::Abs => host::unary_f32(h, f32::abs),
                Unary::Floor => host::unary_f32(h, f32::floor),
                Unary::Ceil => host::unary_f32(h, f32::ceil),
                Unary::Round => host::unary_f32(h, f32::round_ties_even),
                Unary::Sqrt => host::unary_f32(h, f32::sqrt),
                Unary::Reciprocal => host::unary_f32(h, |v| 1.0 / v),
                Unary::Sign => host::unary_f32(h, |v| if v > 0.0 { 1.0 } else if v < 0.0 { -1.0 } else { 0.0 }),
                _ => return Ok(None),
            }
        }
        Op::Binary(b) => host::binary(*b, args.host(0)?, args.host(1)?)?,
        Op::Variadic(b, mean) => {
            let mut acc = args.host(0)?.clone();
            let mut n = 1;
            for k in 1..args.0.len() {
                if let Some(v) = args.opt(k) {
                    acc = host::binary(*b, &acc, v.host().ok_or_else(|| Error::Model("mixed inputs".into()))?)?;
                    n += 1;
                }
            }
            if *mean { host::binary(BinOp::Div, &acc, &HostTensor::f32(vec![], vec![n as f32]))? } else { acc }
        }
        Op::Where => host::where_(args.host(0)?, args.host(1)?, args.host(2)?)?,
        Op::Reduce { kind, axes, keep, noop } => {
            use super::op::Reduce as R;
            let h = x()?;
            let ax = reduce_axes(args, axes.as_ref(), h.shape.len(), *noop)?;
            match kind {
                R::Sum => host::reduce(h, &ax, *keep, false),
                R::Prod => host::reduce(h, &ax, *keep, true),
                R::Mean => {
                    let n: usize = ax.iter().map(|&a| h.shape[a]).product();
                    let s = host::reduce(&HostTensor::f32(h.shape.clone(), h.to_f32()), &ax, *keep, false);
                    host::binary(BinOp::Div, &s, &HostTensor::f32(vec![], vec![n as f32]))?
                }
                _ => return Ok(None),
            }
        }
        _ => return layout_host(op, args),
    }))
}

/// The layout ops' host forms.
fn layout_host(op: &Op, args: &Args) -> Result<Option<HostTensor>> {
    let x = || args.host(0);
    Ok(Some(match op {
        Op::Reshape { shape, allowzero } => {
            let h = x()?;
            let t = reshape_target(&h.shape, &args.ints(shape)?, *allowzero)?;
            h.clone().with_shape(t)?
        }
        Op::Flatten { axis } => {
            let h = x()?;
            let a = (*axis).min(h.shape.len());
            let t = vec![h.shape[..a].iter().product(), h.shape[a..].iter().product()];
            h.clone().with_shape(t)?
        }
        Op::Unsqueeze { axes } => {
            let h = x()?;
            h.clone().with_shape(unsqueezed(&h.shape, &args.ints(axes)?)?)?
        }
        Op::Squeeze { axes } => {
            let h = x()?;
            let a = axes.as_ref().map(|s| args.ints(s)).transpose()?;
            h.clone().with_shape(squeezed(&h.shape, a.as_deref())?)?
        }
        Op::Transpose { perm } => {
            let h = x()?;
            h.permute(&perm_of(perm, h.shape.len())?)
        }
        Op::Expand { shape } => {
            let h = x()?;
            let target = host::broadcast_shapes(&h.shape, &to_dims(&args.ints(shape)?)?)?;
            h.broadcast_to(&target)?
        }
        Op::Concat { axis } => {
            let parts: Vec<&HostTensor> = (0..args.0.len()).filter_map(|k| args.opt(k).and_then(|v| v.host())).collect();
            let parts: Vec<&HostTensor> = parts.into_iter().filter(|p| !(p.shape.len() == 1 && p.shape[0] == 0)).collect();
            if parts.is_empty() {
                HostTensor::i64(vec![0], vec![])
            } else {
                HostTensor::concat(&parts, *axis)?
            }
        }
        Op::Slice { starts, ends, axes, steps } => {
            let h = x()?;
            let axes = axes.as_ref().map(|a| args.ints(a)).transpose()?;
            let steps = steps.as_ref().map(|a| args.ints(a)).transpose()?;
            let plan = slice_plan(&h.shape, &args.ints(starts)?, &args.ints(ends)?, axes, steps)?;
            let starts: Vec<usize> = plan.iter().map(|p| p.0).collect();
            let stp: Vec<i64> = plan.iter().map(|p| p.1).collect();
            let counts: Vec<usize> = plan.iter().map(|p| p.2).collect();
            h.strided(&starts, &stp, &counts)
        }
        Op::Gather { axis } => x()?.gather(*axis, args.host(1)?)?,
        Op::Tile { repeats } => {
            let h = x()?;
            let reps = args.sizes(repeats)?;
            let mut t = h.clone();
            for (a, &r) in reps.iter().enumerate() {
                if r != 1 {
                    let idx = HostTensor::i64(vec![t.shape[a] * r], (0..t.shape[a] * r).map(|i| (i % t.shape[a]) as i64).collect());
                    t = t.gather(a, &idx)?;
                }
            }
            t
        }
        _ => return Ok(None),
    }))
}
