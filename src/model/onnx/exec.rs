//! Running one step: values, where each op runs (on the host when every input is a host value
//! and the op has a host form — shape arithmetic; on the device otherwise), and the shape,
//! indexing and elementwise ops. Convolutions, pooling, resizing, normalisations and matrix
//! products are in [`super::exec_nn`].

use std::sync::Arc;

use burn::tensor::activation as act;
use burn::tensor::{Device, Tensor};

use super::dev::Dev;
use super::exec_nn;
use super::host::{self, BinOp, HostTensor, axis, normalise_indices, numel};
use super::op::{Op, Src, Unary};
use crate::error::{Error, Result};
use crate::model::relu6_op::relu6;

/// A value in a slot: on the host, on the device, or a constant held both ways.
#[derive(Debug, Clone)]
pub enum Value {
    /// Host only.
    Host(Arc<HostTensor>),
    /// Device only.
    Dev(Dev),
    /// A constant with its device copy.
    Both(Arc<HostTensor>, Dev),
}

impl Value {
    /// The host value, if there is one.
    pub fn host(&self) -> Option<&HostTensor> {
        match self {
            Value::Host(h) | Value::Both(h, _) => Some(h),
            Value::Dev(_) => None,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        match self {
            Value::Host(h) | Value::Both(h, _) => &h.shape,
            Value::Dev(d) => d.shape(),
        }
    }

    /// The device tensor (a host value uploaded to `device`).
    pub fn dev(&self, device: &Device) -> Result<Dev> {
        match self {
            Value::Dev(d) | Value::Both(_, d) => Ok(d.clone()),
            Value::Host(h) => Dev::upload(h, device),
        }
    }
}

/// What a step needs besides its inputs: the network's weights and the device.
pub struct Ctx<'a> {
    /// The network.
    pub net: &'a super::net::OnnxNet,
    /// The device of the computation.
    pub device: Device,
}

/// The inputs of a step, by the node's input positions.
pub struct Args(pub Vec<Option<Value>>);

impl Args {
    /// Input `k` (must be present).
    pub fn get(&self, k: usize) -> Result<&Value> {
        self.0.get(k).and_then(|v| v.as_ref()).ok_or_else(|| Error::Model(format!("input {k} is missing")))
    }

    /// Input `k` if present.
    pub fn opt(&self, k: usize) -> Option<&Value> {
        self.0.get(k).and_then(|v| v.as_ref())
    }

    /// Input `k` as a host value: a shape, axes or amounts must not depend on the pixels.
    pub fn host(&self, k: usize) -> Result<&HostTensor> {
        self.get(k)?.host().ok_or_else(|| {
            Error::Model(format!(
                "input {k} is computed from the image's values, but it sets a shape, an index or an amount: graphs whose shapes depend on the data are not supported"
            ))
        })
    }

    /// A parameter from the file or from a host input, as `i64`s.
    pub fn ints(&self, s: &Src<Vec<i64>>) -> Result<Vec<i64>> {
        match s {
            Src::Static(v) => Ok(v.clone()),
            Src::Input(k) => Ok(self.host(*k)?.to_i64()),
        }
    }

    /// The same as `usize`s (negative values are errors).
    pub fn sizes(&self, s: &Src<Vec<usize>>) -> Result<Vec<usize>> {
        match s {
            Src::Static(v) => Ok(v.clone()),
            Src::Input(k) => self.host(*k)?.to_i64().into_iter().map(|v| usize::try_from(v).map_err(|_| Error::Shape(format!("negative size {v}")))).collect(),
        }
    }

    /// A scalar parameter.
    pub fn scalar(&self, s: &Src<f64>) -> Result<f64> {
        match s {
            Src::Static(v) => Ok(*v),
            Src::Input(k) => self.host(*k)?.scalar_f64(),
        }
    }

    fn all_host(&self) -> bool {
        self.0.iter().flatten().all(|v| v.host().is_some())
    }
}

fn host(h: HostTensor) -> Vec<Value> {
    vec![Value::Host(Arc::new(h))]
}

fn dev(d: Dev) -> Vec<Value> {
    vec![Value::Dev(d)]
}

/// Run `op` on `args`; one value per output of the node.
pub fn run(op: &Op, args: &Args, outputs: usize, cx: &Ctx) -> Result<Vec<Value>> {
    if let Some(v) = run_shape(op, args, outputs)? {
        return Ok(v);
    }
    if args.all_host()
        && let Some(h) = run_host(op, args)?
    {
        return Ok(host(h));
    }
    run_dev(op, args, outputs, cx)
}

/// Ops whose result is a host value whatever their input: shapes.
fn run_shape(op: &Op, args: &Args, _outputs: usize) -> Result<Option<Vec<Value>>> {
    Ok(match op {
        Op::Shape { start, end } => {
            let s = args.get(0)?.shape();
            let (a, b) = ((*start).min(s.len()), (*end).min(s.len()));
            let v: Vec<i64> = s[a..b.max(a)].iter().map(|&d| d as i64).collect();
            Some(host(HostTensor::i64(vec![v.len()], v)))
        }
        Op::Size => Some(host(HostTensor::i64(vec![], vec![numel(args.get(0)?.shape()) as i64]))),
        Op::ConstantOfShape { shape, value } => {
            let dims = to_dims(&args.ints(shape)?)?;
            let n = numel(&dims);
            let t = value.take(&vec![0; n], dims);
            Some(host(t))
        }
        Op::Range { start, limit, delta } => {
            let (s, l, d) = (args.scalar(start)?, args.scalar(limit)?, args.scalar(delta)?);
            if d == 0.0 {
                return Err(Error::Model("Range with a zero step".into()));
            }
            let n = ((l - s) / d).ceil().max(0.0) as usize;
            let float = match (start, args.opt(0).and_then(|v| v.host())) {
                (Src::Input(_), Some(h)) => h.is_float(),
                _ => s.fract() != 0.0 || d.fract() != 0.0,
            };
            Some(host(if float {
                HostTensor::f32(vec![n], (0..n).map(|i| (s + i as f64 * d) as f32).collect())
            } else {
                HostTensor::i64(vec![n], (0..n).map(|i| (s + i as f64 * d) as i64).collect())
            }))
        }
        _ => None,
    })
}

fn to_dims(v: &[i64]) -> Result<Vec<usize>> {
    v.iter().map(|&d| usize::try_from(d).map_err(|_| Error::Shape(format!("negative dimension {d} in {v:?}")))).collect()
}

/// The target shape of a Reshape: 0 copies the input's dimension (unless `allowzero`), −1 is
/// inferred.
pub fn reshape_target(input: &[usize], spec: &[i64], allowzero: bool) -> Result<Vec<usize>> {
    let total = numel(input);
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => out.push(*input.get(i).ok_or_else(|| Error::Shape(format!("Reshape copies axis {i} of {input:?}")))?),
            d if d >= 0 => out.push(d as usize),
            _ => return Err(Error::Shape(format!("bad Reshape target {spec:?}"))),
        }
    }
    if let Some(i) = infer {
        let known: usize = out.iter().product();
        if known == 0 || total % known != 0 {
            return Err(Error::Shape(format!("cannot reshape {input:?} to {spec:?}")));
        }
        out[i] = total / known;
    }
    if numel(&out) != total {
        return Err(Error::Shape(format!("cannot reshape {input:?} to {spec:?}")));
    }
    Ok(out)
}

/// Output shape of Unsqueeze.
fn unsqueezed(shape: &[usize], axes: &[i64]) -> Result<Vec<usize>> {
    let r = shape.len() + axes.len();
    let mut ax: Vec<usize> = axes.iter().map(|&a| axis(a, r)).collect::<Result<_>>()?;
    ax.sort_unstable();
    let mut it = shape.iter();
    Ok((0..r).map(|i| if ax.contains(&i) { 1 } else { *it.next().unwrap_or(&1) }).collect())
}

/// Output shape of Squeeze.
fn squeezed(shape: &[usize], axes: Option<&[i64]>) -> Result<Vec<usize>> {
    match axes {
        None => Ok(shape.iter().copied().filter(|&d| d != 1).collect()),
        Some(a) => {
            let ax: Vec<usize> = a.iter().map(|&x| axis(x, shape.len())).collect::<Result<_>>()?;
            if let Some(&bad) = ax.iter().find(|&&x| shape[x] != 1) {
                return Err(Error::Shape(format!("cannot squeeze axis {bad} of {shape:?}")));
            }
            Ok(shape.iter().enumerate().filter(|(i, _)| !ax.contains(i)).map(|(_, &d)| d).collect())
        }
    }
}

/// Per axis (start, step, count) of a Slice, ONNX clamping rules.
fn slice_plan(shape: &[usize], starts: &[i64], ends: &[i64], axes: Option<Vec<i64>>, steps: Option<Vec<i64>>) -> Result<Vec<(usize, i64, usize)>> {
    let r = shape.len();
    let axes = axes.unwrap_or_else(|| (0..starts.len() as i64).collect());
    let steps = steps.unwrap_or_else(|| vec![1; starts.len()]);
    let mut plan: Vec<(usize, i64, usize)> = shape.iter().map(|&d| (0, 1, d)).collect();
    for (k, &a) in axes.iter().enumerate() {
        let ax = axis(a, r)?;
        let dim = shape[ax] as i64;
        let step = steps[k];
        if step == 0 {
            return Err(Error::Shape("Slice with step 0".into()));
        }
        let fix = |v: i64| if v < 0 { v + dim } else { v };
        let (s, e) = (fix(starts[k].clamp(-i64::MAX, i64::MAX)), fix(ends[k].clamp(-i64::MAX, i64::MAX)));
        let (s, e, n) = if step > 0 {
            let (s, e) = (s.clamp(0, dim), e.clamp(0, dim));
            (s, e, if e > s { (e - s + step - 1) / step } else { 0 })
        } else {
            let (s, e) = (s.clamp(0, dim - 1), e.clamp(-1, dim - 1));
            (s, e, if s > e { (s - e + (-step) - 1) / (-step) } else { 0 })
        };
        let _ = e;
        plan[ax] = (s as usize, step, n as usize);
    }
    Ok(plan)
}

/// Sizes of the parts of a Split.
fn split_sizes(dim: usize, outputs: usize, sizes: Option<Vec<usize>>, size: Option<usize>) -> Result<Vec<usize>> {
    if let Some(s) = sizes {
        if s.iter().sum::<usize>() != dim {
            return Err(Error::Shape(format!("Split sizes {s:?} do not add up to {dim}")));
        }
        return Ok(s);
    }
    let chunk = size.unwrap_or_else(|| dim.div_ceil(outputs.max(1)));
    Ok((0..outputs).map(|i| chunk.min(dim.saturating_sub(i * chunk))).collect())
}

/// Host forms (`None`: the op has none; it then runs on the device).
fn run_host(op: &Op, args: &Args) -> Result<Option<HostTensor>> {
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
        _ => return Ok(None),
    }))
}

/// The axes of a reduction (all when none are given, none with `noop`).
pub fn reduce_axes(args: &Args, axes: Option<&Src<Vec<i64>>>, rank: usize, noop: bool) -> Result<Vec<usize>> {
    let given = axes.map(|a| args.ints(a)).transpose()?;
    let mut ax: Vec<usize> = match given {
        Some(v) if !v.is_empty() => v.iter().map(|&a| axis(a, rank)).collect::<Result<_>>()?,
        _ if noop => Vec::new(),
        _ => (0..rank).collect(),
    };
    ax.sort_unstable();
    ax.dedup();
    Ok(ax)
}

fn perm_of(perm: &[i64], rank: usize) -> Result<Vec<usize>> {
    if perm.is_empty() {
        return Ok((0..rank).rev().collect());
    }
    perm.iter().map(|&p| axis(p, rank)).collect()
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

/// Device forms.
fn run_dev(op: &Op, args: &Args, outputs: usize, cx: &Ctx) -> Result<Vec<Value>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_rules() {
        assert_eq!(reshape_target(&[2, 3, 4], &[0, -1], false).unwrap(), vec![2, 12]);
        assert_eq!(reshape_target(&[2, 3, 4], &[4, 0, 2], true).is_err(), true);
        assert!(reshape_target(&[2, 3], &[4, -1], false).is_err());
        assert_eq!(unsqueezed(&[3, 4], &[0, -1]).unwrap(), vec![1, 3, 4, 1]);
        assert_eq!(squeezed(&[1, 3, 1], None).unwrap(), vec![3]);
        assert!(squeezed(&[1, 3], Some(&[1])).is_err());
    }

    #[test]
    fn slice_clamps_like_onnx() {
        // ends past the end, negative starts, negative steps
        let p = slice_plan(&[10, 4], &[-3, i64::MAX], &[i64::MAX, -5], Some(vec![0, 1]), Some(vec![1, -2])).unwrap();
        assert_eq!(p, vec![(7, 1, 3), (3, -2, 2)]);
        assert_eq!(split_sizes(10, 3, None, None).unwrap(), vec![4, 4, 2]);
    }
}
