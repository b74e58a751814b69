//! The device forms of the ops: elementwise, layout and indexing ops on values computed from
//! the image (under autodiff). Network ops (convolutions, pooling, resizing, normalisations,
//! matrix products) are in [`super::exec_nn`].

use burn::tensor::activation as act;
use burn::tensor::{Device, Tensor};

use super::dev::Dev;
use super::exec::{Args, Ctx, Value};
use super::exec_nn;
use super::host::{self, BinOp, HostTensor, normalise_indices, numel};
use super::op::{Op, Unary};
use super::shape::{perm_of, reshape_target, slice_plan, split_sizes, squeezed, to_dims, unsqueezed};
use crate::error::{Error, Result};
use crate::model::relu6_op::relu6;

fn dev(d: Dev) -> Vec<Value> {
    vec![Value::Dev(d)]
}

/// Device forms: one value per output of the node.
pub fn run_dev(op: &Op, args: &Args, outputs: usize, cx: &Ctx) -> Result<Vec<Value>> {
    let d = &cx.device;
    let x = || args.get(0)?.dev(d);
    Ok(match op {
        Op::Identity => vec![args.get(0)?.clone()],
        Op::Cast(0) => dev(x()?),
        Op::Cast(_) => {
            return Err(Error::Model(
                "values computed from the image cannot become integers or booleans (an index or a shape): graphs whose shapes depend on the data are not supported".into(),
            ));
        }
        Op::Unary(Unary::Not) => return Err(Error::Model("logical not of values computed from the image".into())),
        Op::Unary(u) => dev(x()?.map(|t| unary(*u, t))?),
        Op::Clip { min, max } => {
            let lo = min.as_ref().map(|s| args.scalar(s)).transpose()?;
            let hi = max.as_ref().map(|s| args.scalar(s)).transpose()?;
            dev(clip(&x()?, lo, hi)?)
        }
        Op::PRelu => dev(exec_nn::prelu(&x()?, &args.get(1)?.dev(d)?)?),
        Op::Binary(b) => dev(dev_binary(*b, args.get(0)?, args.get(1)?, d)?),
        Op::Variadic(b, mean) => {
            let mut acc = args.get(0)?.clone();
            let mut n = 1;
            for k in 1..args.0.len() {
                if let Some(v) = args.opt(k) {
                    acc = Value::Dev(dev_binary(*b, &acc, v, d)?);
                    n += 1;
                }
            }
            let acc = acc.dev(d)?;
            dev(if *mean { acc.map(|t| t.div_scalar(n as f32))? } else { acc })
        }
        Op::Where => {
            let cond = args.host(0)?;
            let (a, b) = (args.get(1)?.dev(d)?, args.get(2)?.dev(d)?);
            let shape = host::broadcast_shapes(&host::broadcast_shapes(&cond.shape, a.shape())?, b.shape())?;
            dev(b.expand(&shape)?.mask_where(cond, &a)?)
        }
        _ => return layout_dev(op, args, outputs, cx),
    })
}

/// The layout and indexing ops' device forms; the network ops ([`exec_nn::run`]) otherwise.
fn layout_dev(op: &Op, args: &Args, outputs: usize, cx: &Ctx) -> Result<Vec<Value>> {
    let d = &cx.device;
    let x = || args.get(0)?.dev(d);
    Ok(match op {
        Op::Reshape { shape, allowzero } => {
            let v = x()?;
            dev(v.reshape(&reshape_target(v.shape(), &args.ints(shape)?, *allowzero)?)?)
        }
        Op::Flatten { axis } => {
            let v = x()?;
            let a = (*axis).min(v.rank());
            let t = [v.shape()[..a].iter().product(), v.shape()[a..].iter().product()];
            dev(v.reshape(&t)?)
        }
        Op::Unsqueeze { axes } => {
            let v = x()?;
            dev(v.reshape(&unsqueezed(v.shape(), &args.ints(axes)?)?)?)
        }
        Op::Squeeze { axes } => {
            let v = x()?;
            let a = axes.as_ref().map(|s| args.ints(s)).transpose()?;
            dev(v.reshape(&squeezed(v.shape(), a.as_deref())?)?)
        }
        Op::Transpose { perm } => {
            let v = x()?;
            dev(v.permute(&perm_of(perm, v.rank())?)?)
        }
        Op::Expand { shape } => {
            let v = x()?;
            dev(v.expand(&host::broadcast_shapes(v.shape(), &to_dims(&args.ints(shape)?)?)?)?)
        }
        Op::Concat { axis } => {
            let mut parts = Vec::new();
            for k in 0..args.0.len() {
                if let Some(v) = args.opt(k)
                    && numel(v.shape()) > 0
                {
                    parts.push(v.dev(d)?);
                }
            }
            dev(Dev::cat(&parts, *axis)?)
        }
        Op::Split { axis, sizes, size } => {
            let v = x()?;
            let sizes = sizes.as_ref().map(|s| args.sizes(s)).transpose()?;
            let parts = split_sizes(v.shape()[*axis], outputs, sizes, *size)?;
            let mut out = Vec::new();
            let mut at = 0;
            for p in parts {
                let ranges: Vec<_> = v.shape().iter().enumerate().map(|(i, &s)| if i == *axis { at..at + p } else { 0..s }).collect();
                out.push(Value::Dev(v.slice(&ranges)?));
                at += p;
            }
            out
        }
        Op::Slice { starts, ends, axes, steps } => {
            let v = x()?;
            let axes = axes.as_ref().map(|a| args.ints(a)).transpose()?;
            let steps = steps.as_ref().map(|a| args.ints(a)).transpose()?;
            dev(slice_dev(&v, &slice_plan(v.shape(), &args.ints(starts)?, &args.ints(ends)?, axes, steps)?)?)
        }
        Op::Gather { axis } => dev(gather_dev(&x()?, *axis, args.host(1)?)?),
        Op::GatherNd { batch_dims } => dev(gather_nd_dev(&x()?, args.host(1)?, *batch_dims)?),
        Op::GatherElements { axis } => dev(exec_nn::gather_elements(&x()?, *axis, args.host(1)?)?),
        Op::Tile { repeats } => {
            let mut v = x()?;
            for (a, &r) in args.sizes(repeats)?.iter().enumerate() {
                if r != 1 {
                    let n = v.shape()[a];
                    v = v.select(a, &(0..n * r).map(|i| i % n).collect::<Vec<_>>())?;
                }
            }
            dev(v)
        }
        _ => dev(exec_nn::run(op, args, cx)?),
    })
}

/// `x` with a host scalar `s` on the other side of `op` (`swap`: `s op x`).
fn scalar_op(op: BinOp, x: &Dev, s: f64, swap: bool) -> Result<Option<Dev>> {
    let f = s as f32;
    Ok(Some(match (op, swap) {
        (BinOp::Add, _) => x.map(|t| t.add_scalar(f))?,
        (BinOp::Mul, _) => x.map(|t| t.mul_scalar(f))?,
        (BinOp::Sub, false) => x.map(|t| t.sub_scalar(f))?,
        (BinOp::Sub, true) => x.map(|t| t.neg().add_scalar(f))?,
        (BinOp::Div, false) => x.map(|t| t.div_scalar(f))?,
        (BinOp::Div, true) => x.map(|t| t.recip().mul_scalar(f))?,
        (BinOp::Pow, false) if f == 2.0 => x.map(|t| t.clone() * t)?,
        (BinOp::Pow, false) if f == 0.5 => x.map(|t| t.sqrt())?,
        (BinOp::Pow, false) if f == 1.0 => x.clone(),
        (BinOp::Pow, false) => x.map(|t| t.powf_scalar(f))?,
        (BinOp::Pow, true) => x.map(|t| t.mul_scalar(s.ln() as f32).exp())?,
        (BinOp::Mod | BinOp::Fmod, false) if f != 0.0 => {
            let fl = op == BinOp::Mod;
            x.map(|t| {
                let q = t.clone().div_scalar(f);
                t - if fl { q.floor() } else { q.trunc() }.mul_scalar(f)
            })?
        }
        (BinOp::Max, _) => x.map(|t| t.clamp_min(f))?,
        (BinOp::Min, _) => x.map(|t| t.clamp_max(f))?,
        _ => return Ok(None),
    }))
}

fn dev_binary(op: BinOp, a: &Value, b: &Value, device: &Device) -> Result<Dev> {
    if let Some(h) = b.host().filter(|h| h.len() == 1 && a.shape().len() >= h.shape.len())
        && let Some(d) = scalar_op(op, &a.dev(device)?, h.scalar_f64()?, false)?
    {
        return Ok(d);
    }
    if let Some(h) = a.host().filter(|h| h.len() == 1 && b.shape().len() >= h.shape.len())
        && let Some(d) = scalar_op(op, &b.dev(device)?, h.scalar_f64()?, true)?
    {
        return Ok(d);
    }
    Dev::ew(&a.dev(device)?, &b.dev(device)?, op)
}

/// Elementwise function on a flat tensor.
fn unary(u: Unary, t: Tensor<1>) -> Tensor<1> {
    match u {
        Unary::Relu => act::relu(t),
        Unary::Sigmoid => act::sigmoid(t),
        Unary::Tanh => t.tanh(),
        Unary::Erf => t.erf(),
        Unary::Sqrt => t.sqrt(),
        Unary::Exp => t.exp(),
        Unary::Log => t.log(),
        Unary::Neg => t.neg(),
        Unary::Abs => t.abs(),
        Unary::Reciprocal => t.recip(),
        Unary::Floor => t.floor(),
        Unary::Ceil => t.ceil(),
        Unary::Round => t.round(),
        Unary::Sign => t.sign(),
        Unary::Gelu { tanh: false } => act::gelu(t),
        Unary::Gelu { tanh: true } => act::gelu_approximate(t),
        Unary::HardSwish => {
            let n = t.dims()[0];
            let r = relu6((t.clone() + 3.0).reshape([1, 1, 1, n])).reshape([n]);
            t * r / 6.0
        }
        Unary::HardSigmoid { alpha, beta } => act::hard_sigmoid(t, alpha, beta),
        Unary::LeakyRelu(a) => act::leaky_relu(t, a),
        Unary::Elu(a) => act::elu(t, a),
        Unary::Selu { alpha, gamma } => act::elu(t, alpha) * gamma,
        Unary::Celu(a) => act::celu(t, a),
        Unary::ThresholdedRelu(a) => act::thresholded_relu(t, a),
        Unary::Softplus => act::softplus(t, 1.0),
        Unary::Softsign => act::softsign(t),
        Unary::Mish => act::mish(t),
        Unary::Swish(a) => t.clone() * act::sigmoid(t * a),
        Unary::Not => t,
    }
}

fn clip(x: &Dev, lo: Option<f64>, hi: Option<f64>) -> Result<Dev> {
    match (lo, hi) {
        (Some(0.0), Some(6.0)) => {
            let n = numel(x.shape());
            Dev::of(relu6(x.flat()?.reshape([1, 1, 1, n]))).reshape(x.shape())
        }
        (Some(l), Some(h)) => x.map(|t| t.clamp(l as f32, h as f32)),
        (Some(l), None) => x.map(|t| t.clamp_min(l as f32)),
        (None, Some(h)) => x.map(|t| t.clamp_max(h as f32)),
        (None, None) => Ok(x.clone()),
    }
}

fn slice_dev(v: &Dev, plan: &[(usize, i64, usize)]) -> Result<Dev> {
    let ranges: Vec<_> = plan.iter().map(|&(s, step, n)| if step == 1 { s..s + n } else { 0..0 }).collect();
    let mut out = v.clone();
    let simple: Vec<_> = plan.iter().zip(v.shape()).zip(&ranges).map(|((p, &dim), r)| if p.1 == 1 { r.clone() } else { 0..dim }).collect();
    out = out.slice(&simple)?;
    for (a, &(s, step, n)) in plan.iter().enumerate() {
        if step != 1 {
            let idx: Vec<usize> = (0..n).map(|i| (s as i64 + i as i64 * step) as usize).collect();
            out = out.select(a, &idx)?;
        }
    }
    Ok(out)
}

fn gather_dev(v: &Dev, axis: usize, indices: &HostTensor) -> Result<Dev> {
    let dim = v.shape()[axis];
    let idx = normalise_indices(&indices.to_i64(), dim)?;
    let picked = v.select(axis, &idx)?;
    let mut shape = v.shape()[..axis].to_vec();
    shape.extend_from_slice(&indices.shape);
    shape.extend_from_slice(&v.shape()[axis + 1..]);
    picked.reshape(&shape)
}

/// GatherND with host index tuples: the indexed leading axes flattened, one `select`.
fn gather_nd_dev(v: &Dev, indices: &HostTensor, batch_dims: usize) -> Result<Dev> {
    if batch_dims != 0 {
        return Err(Error::Model(format!("GatherND with batch_dims = {batch_dims} is not supported")));
    }
    let m = *indices.shape.last().ok_or_else(|| Error::Shape("GatherND indices of rank 0".into()))?;
    let shape = v.shape();
    if m > shape.len() {
        return Err(Error::Shape(format!("GatherND tuples of length {m} into {shape:?}")));
    }
    let lead: usize = shape[..m].iter().product();
    let rest = &shape[m..];
    let ix = indices.to_i64();
    let st = host::strides(&shape[..m]);
    let flat: Vec<usize> = ix
        .chunks(m.max(1))
        .map(|t| {
            t.iter().enumerate().try_fold(0usize, |acc, (j, &i)| normalise_indices(&[i], shape[j]).map(|n| acc + n[0] * st[j]))
        })
        .collect::<Result<_>>()?;
    let mut lead_shape = vec![lead];
    lead_shape.extend_from_slice(rest);
    let picked = v.reshape(&lead_shape)?.select(0, &flat)?;
    let mut out = indices.shape[..indices.shape.len() - 1].to_vec();
    out.extend_from_slice(rest);
    picked.reshape(&out)
}
