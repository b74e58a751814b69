//! Running one step: values, and where each op runs — on the host when every input is a host
//! value and the op has a host form (shape arithmetic: [`super::exec_host`]), on the device
//! otherwise ([`super::exec_dev`], network ops in [`super::exec_nn`]).

use std::sync::Arc;

use burn::tensor::Device;

use super::dev::Dev;
use super::exec_dev::run_dev;
use super::exec_host::run_host;
use super::host::{HostTensor, axis, numel};
use super::op::{Op, Src};
use super::shape::to_dims;
use crate::error::{Error, Result};

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
