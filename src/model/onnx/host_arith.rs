//! Elementwise arithmetic, comparisons, selection and reductions on host tensors
//! ([`super::host::HostTensor`]) with ONNX's semantics: numpy broadcasting, integer division
//! truncated, `Mod` and `Fmod` as ONNX defines them.

use super::host::{HostData, HostTensor, broadcast_index, broadcast_shapes, numel, strides};
use crate::error::{Error, Result};

/// An elementwise operation on two host tensors with broadcasting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `a + b`
    Add,
    /// `a − b`
    Sub,
    /// `a · b`
    Mul,
    /// `a / b` (integers: truncated)
    Div,
    /// `a ^ b`
    Pow,
    /// `max(a, b)`
    Max,
    /// `min(a, b)`
    Min,
    /// `a mod b` (the sign of `b`, as ONNX `Mod` with `fmod = 0`)
    Mod,
    /// C's `fmod` (the sign of `a`, ONNX `Mod` with `fmod = 1`)
    Fmod,
    /// `a == b`
    Equal,
    /// `a < b`
    Less,
    /// `a ≤ b`
    LessOrEqual,
    /// `a > b`
    Greater,
    /// `a ≥ b`
    GreaterOrEqual,
    /// `a ∧ b`
    And,
    /// `a ∨ b`
    Or,
    /// `a ⊕ b`
    Xor,
}

impl BinOp {
    fn is_comparison(self) -> bool {
        matches!(self, BinOp::Equal | BinOp::Less | BinOp::LessOrEqual | BinOp::Greater | BinOp::GreaterOrEqual)
    }

    fn is_logical(self) -> bool {
        matches!(self, BinOp::And | BinOp::Or | BinOp::Xor)
    }
}

/// `a op b` with numpy broadcasting; integer arithmetic stays integer, comparisons give booleans.
pub fn binary(op: BinOp, a: &HostTensor, b: &HostTensor) -> Result<HostTensor> {
    let shape = broadcast_shapes(&a.shape, &b.shape)?;
    let ia = broadcast_index(&a.shape, &shape);
    let ib = broadcast_index(&b.shape, &shape);
    if op.is_logical() {
        let (x, y) = (a.to_bool(), b.to_bool());
        let f = |p: bool, q: bool| match op {
            BinOp::And => p && q,
            BinOp::Or => p || q,
            _ => p ^ q,
        };
        return Ok(HostTensor::bool(shape, ia.iter().zip(&ib).map(|(&i, &j)| f(x[i], y[j])).collect()));
    }
    let float = a.is_float() || b.is_float();
    if float {
        let (x, y) = (a.to_f32(), b.to_f32());
        if op.is_comparison() {
            let v = ia.iter().zip(&ib).map(|(&i, &j)| compare(op, x[i], y[j])).collect();
            return Ok(HostTensor::bool(shape, v));
        }
        let f = |p: f32, q: f32| match op {
            BinOp::Add => p + q,
            BinOp::Sub => p - q,
            BinOp::Mul => p * q,
            BinOp::Div => p / q,
            BinOp::Pow => p.powf(q),
            BinOp::Max => p.max(q),
            BinOp::Min => p.min(q),
            BinOp::Fmod => p % q,
            _ => p - q * (p / q).floor(),
        };
        return Ok(HostTensor::f32(shape, ia.iter().zip(&ib).map(|(&i, &j)| f(x[i], y[j])).collect()));
    }
    let (x, y) = (a.to_i64(), b.to_i64());
    if op.is_comparison() {
        let v = ia.iter().zip(&ib).map(|(&i, &j)| compare(op, x[i], y[j])).collect();
        return Ok(HostTensor::bool(shape, v));
    }
    let mut out = Vec::with_capacity(ia.len());
    for (&i, &j) in ia.iter().zip(&ib) {
        let (p, q) = (x[i], y[j]);
        out.push(match op {
            BinOp::Add => p.wrapping_add(q),
            BinOp::Sub => p.wrapping_sub(q),
            BinOp::Mul => p.wrapping_mul(q),
            BinOp::Div | BinOp::Mod | BinOp::Fmod if q == 0 => return Err(Error::Shape("integer division by zero".into())),
            BinOp::Fmod => p % q,
            BinOp::Div => p / q,
            BinOp::Pow => (p as f64).powf(q as f64) as i64,
            BinOp::Max => p.max(q),
            BinOp::Min => p.min(q),
            _ => p.rem_euclid(q) + if q < 0 && p.rem_euclid(q) != 0 { q } else { 0 },
        });
    }
    Ok(HostTensor::i64(shape, out))
}

fn compare<T: PartialOrd>(op: BinOp, p: T, q: T) -> bool {
    match op {
        BinOp::Equal => p == q,
        BinOp::Less => p < q,
        BinOp::LessOrEqual => p <= q,
        BinOp::Greater => p > q,
        _ => p >= q,
    }
}

/// `cond ? x : y` elementwise with broadcasting (ONNX Where).
pub fn where_(cond: &HostTensor, x: &HostTensor, y: &HostTensor) -> Result<HostTensor> {
    let shape = broadcast_shapes(&broadcast_shapes(&cond.shape, &x.shape)?, &y.shape)?;
    let ic = broadcast_index(&cond.shape, &shape);
    let ix = broadcast_index(&x.shape, &shape);
    let iy = broadcast_index(&y.shape, &shape);
    let c = cond.to_bool();
    if x.is_float() || y.is_float() {
        let (a, b) = (x.to_f32(), y.to_f32());
        let v = (0..ic.len()).map(|k| if c[ic[k]] { a[ix[k]] } else { b[iy[k]] }).collect();
        return Ok(HostTensor::f32(shape, v));
    }
    if matches!(x.data, HostData::Bool(_)) && matches!(y.data, HostData::Bool(_)) {
        let (a, b) = (x.to_bool(), y.to_bool());
        let v = (0..ic.len()).map(|k| if c[ic[k]] { a[ix[k]] } else { b[iy[k]] }).collect();
        return Ok(HostTensor::bool(shape, v));
    }
    let (a, b) = (x.to_i64(), y.to_i64());
    let v = (0..ic.len()).map(|k| if c[ic[k]] { a[ix[k]] } else { b[iy[k]] }).collect();
    Ok(HostTensor::i64(shape, v))
}

/// An elementwise function of one host tensor.
pub fn unary_f32(x: &HostTensor, f: impl Fn(f32) -> f32) -> HostTensor {
    match &x.data {
        HostData::I64(v) => HostTensor::i64(x.shape.clone(), v.iter().map(|&p| f(p as f32) as i64).collect()),
        _ => HostTensor::f32(x.shape.clone(), x.to_f32().into_iter().map(f).collect()),
    }
}

/// Sum (or product) along `axes` (sorted, unique), keeping them as size 1 or dropping them.
pub fn reduce(x: &HostTensor, axes: &[usize], keep: bool, product: bool) -> HostTensor {
    let mut out_shape = x.shape.clone();
    for &a in axes {
        out_shape[a] = 1;
    }
    let ost = strides(&out_shape);
    let n = x.len();
    let mut pos = vec![0usize; x.shape.len()];
    let float = x.is_float();
    let (vf, vi) = (x.to_f32(), x.to_i64());
    let m = numel(&out_shape);
    let mut accf = vec![if product { 1.0f32 } else { 0.0 }; m];
    let mut acci = vec![i64::from(product); m];
    for k in 0..n {
        let o: usize = pos.iter().zip(&ost).enumerate().map(|(d, (&p, &s))| if axes.contains(&d) { 0 } else { p * s }).sum();
        if product {
            accf[o] *= vf[k];
            acci[o] = acci[o].wrapping_mul(vi[k]);
        } else {
            accf[o] += vf[k];
            acci[o] = acci[o].wrapping_add(vi[k]);
        }
        for d in (0..pos.len()).rev() {
            pos[d] += 1;
            if pos[d] < x.shape[d] {
                break;
            }
            pos[d] = 0;
        }
    }
    let shape = if keep {
        out_shape
    } else {
        x.shape.iter().enumerate().filter(|(d, _)| !axes.contains(d)).map(|(_, &s)| s).collect()
    };
    if float { HostTensor::f32(shape, accf) } else { HostTensor::i64(shape, acci) }
}
