//! Host tensors: the constants of an ONNX graph and the values computed from shapes and
//! constants alone (shape arithmetic, index tensors, masks), evaluated on the CPU with ONNX's
//! semantics (numpy broadcasting, negative indices, int64 arithmetic).
//!
//! A value is a host value when every input of the node that made it is one, or when it is a
//! shape (`Shape`, `Size` of a device tensor): it never depends on the pixels, so it is the same
//! for every image of a given size and reading it costs no device round trip.

use crate::error::{Error, Result};

pub use super::host_arith::{BinOp, binary, reduce, unary_f32, where_};

/// Element values of a host tensor (every float type widened to `f32`, every integer to `i64`).
#[derive(Debug, Clone, PartialEq)]
pub enum HostData {
    /// Floating point.
    F32(Vec<f32>),
    /// Integers.
    I64(Vec<i64>),
    /// Booleans.
    Bool(Vec<bool>),
}

/// A tensor on the host: shape (empty for a scalar) and values, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    /// Dimensions.
    pub shape: Vec<usize>,
    /// Values.
    pub data: HostData,
}

/// Number of elements of `shape`.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides of `shape`.
pub fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// numpy broadcasting of two shapes.
pub fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let r = a.len().max(b.len());
    (0..r)
        .map(|i| {
            let da = if i + a.len() >= r { a[i + a.len() - r] } else { 1 };
            let db = if i + b.len() >= r { b[i + b.len() - r] } else { 1 };
            match (da, db) {
                (x, y) if x == y => Ok(x),
                (1, y) => Ok(y),
                (x, 1) => Ok(x),
                _ => Err(Error::Shape(format!("shapes {a:?} and {b:?} do not broadcast"))),
            }
        })
        .collect()
}

/// For each element of `out` (row-major), the index of the element of a tensor of `shape` that
/// broadcasts to it.
pub fn broadcast_index(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let offset = out.len() - shape.len();
    let st = strides(shape);
    let n = numel(out);
    let mut idx = Vec::with_capacity(n);
    let mut pos = vec![0usize; out.len()];
    for _ in 0..n {
        let mut k = 0;
        for (d, &s) in shape.iter().enumerate() {
            if s != 1 {
                k += pos[d + offset] * st[d];
            }
        }
        idx.push(k);
        for d in (0..out.len()).rev() {
            pos[d] += 1;
            if pos[d] < out[d] {
                break;
            }
            pos[d] = 0;
        }
    }
    idx
}

/// A negative axis counted from the end, checked against `rank`.
pub fn axis(a: i64, rank: usize) -> Result<usize> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    if (0..r.max(1)).contains(&v) {
        Ok(v as usize)
    } else {
        Err(Error::Shape(format!("axis {a} is out of range for rank {rank}")))
    }
}

impl HostTensor {
    /// A tensor of `f32`s.
    pub fn f32(shape: Vec<usize>, v: Vec<f32>) -> Self {
        Self { shape, data: HostData::F32(v) }
    }

    /// A tensor of `i64`s.
    pub fn i64(shape: Vec<usize>, v: Vec<i64>) -> Self {
        Self { shape, data: HostData::I64(v) }
    }

    /// A tensor of booleans.
    pub fn bool(shape: Vec<usize>, v: Vec<bool>) -> Self {
        Self { shape, data: HostData::Bool(v) }
    }

    /// From onnx-ir's constant data.
    pub fn from_onnx(d: &onnx_ir::TensorData) -> Result<Self> {
        use onnx_ir::{DType, TensorDataExt};
        let shape: Vec<usize> = d.shape().to_vec();
        fn bad(e: impl std::fmt::Debug) -> Error {
            Error::Model(format!("cannot read a constant tensor: {e:?}"))
        }
        Ok(match d.dtype() {
            DType::F64 | DType::F32 | DType::F16 | DType::BF16 | DType::Flex32 => {
                Self::f32(shape, d.to_f32_vec().map_err(bad)?)
            }
            DType::Bool(_) => match d.as_slice::<bool>() {
                Ok(s) => Self::bool(shape, s.to_vec()),
                Err(_) => Self::bool(shape, d.to_i64_vec().map_err(bad)?.into_iter().map(|v| v != 0).collect()),
            },
            DType::I64 | DType::I32 => Self::i64(shape, d.to_i64_vec().map_err(bad)?),
            DType::I16 | DType::I8 | DType::U8 | DType::U16 | DType::U32 | DType::U64 => {
                Self::i64(shape, d.to_f64_vec().map_err(bad)?.into_iter().map(|v| v as i64).collect())
            }
            other => return Err(Error::Model(format!("constant tensors of type {other:?} are not supported"))),
        })
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        numel(&self.shape)
    }

    /// Whether it has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Values as `f32` (integers and booleans converted).
    pub fn to_f32(&self) -> Vec<f32> {
        match &self.data {
            HostData::F32(v) => v.clone(),
            HostData::I64(v) => v.iter().map(|&x| x as f32).collect(),
            HostData::Bool(v) => v.iter().map(|&x| f32::from(u8::from(x))).collect(),
        }
    }

    /// Values as `i64` (floats truncated towards zero).
    pub fn to_i64(&self) -> Vec<i64> {
        match &self.data {
            HostData::F32(v) => v.iter().map(|&x| x as i64).collect(),
            HostData::I64(v) => v.clone(),
            HostData::Bool(v) => v.iter().map(|&x| i64::from(x)).collect(),
        }
    }

    /// Values as booleans (non-zero is true).
    pub fn to_bool(&self) -> Vec<bool> {
        match &self.data {
            HostData::F32(v) => v.iter().map(|&x| x != 0.0).collect(),
            HostData::I64(v) => v.iter().map(|&x| x != 0).collect(),
            HostData::Bool(v) => v.clone(),
        }
    }

    /// Whether the values are floats.
    pub fn is_float(&self) -> bool {
        matches!(self.data, HostData::F32(_))
    }

    /// The only value of a one-element tensor, as `f64`.
    pub fn scalar_f64(&self) -> Result<f64> {
        if self.len() != 1 {
            return Err(Error::Shape(format!("expected one value, got a tensor of shape {:?}", self.shape)));
        }
        Ok(match &self.data {
            HostData::F32(v) => f64::from(v[0]),
            HostData::I64(v) => v[0] as f64,
            HostData::Bool(v) => f64::from(u8::from(v[0])),
        })
    }

    /// The same values under another shape (same number of elements).
    pub fn with_shape(mut self, shape: Vec<usize>) -> Result<Self> {
        if numel(&shape) != self.len() {
            return Err(Error::Shape(format!("cannot view {:?} as {shape:?}", self.shape)));
        }
        self.shape = shape;
        Ok(self)
    }

    /// Elements at the given flat indices, as a tensor of `shape`.
    pub fn take(&self, idx: &[usize], shape: Vec<usize>) -> Self {
        let data = match &self.data {
            HostData::F32(v) => HostData::F32(idx.iter().map(|&i| v[i]).collect()),
            HostData::I64(v) => HostData::I64(idx.iter().map(|&i| v[i]).collect()),
            HostData::Bool(v) => HostData::Bool(idx.iter().map(|&i| v[i]).collect()),
        };
        Self { shape, data }
    }

    /// This tensor broadcast to `shape`.
    pub fn broadcast_to(&self, shape: &[usize]) -> Result<Self> {
        let out = broadcast_shapes(&self.shape, shape)?;
        if out != shape {
            return Err(Error::Shape(format!("cannot expand {:?} to {shape:?}", self.shape)));
        }
        Ok(self.take(&broadcast_index(&self.shape, shape), shape.to_vec()))
    }

    /// Axes permuted: output axis `i` is input axis `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Self {
        let out: Vec<usize> = perm.iter().map(|&p| self.shape[p]).collect();
        let st = strides(&self.shape);
        let n = self.len();
        let mut idx = Vec::with_capacity(n);
        let mut pos = vec![0usize; out.len()];
        for _ in 0..n {
            idx.push(perm.iter().enumerate().map(|(i, &p)| pos[i] * st[p]).sum());
            for d in (0..out.len()).rev() {
                pos[d] += 1;
                if pos[d] < out[d] {
                    break;
                }
                pos[d] = 0;
            }
        }
        self.take(&idx, out)
    }

    /// Concatenation along `axis` (every part converted to the first part's element type).
    pub fn concat(parts: &[&HostTensor], axis: usize) -> Result<Self> {
        let first = parts.first().ok_or_else(|| Error::Shape("Concat of nothing".into()))?;
        let mut shape = first.shape.clone();
        shape[axis] = parts.iter().map(|p| p.shape.get(axis).copied().unwrap_or(0)).sum();
        let outer: usize = first.shape[..axis].iter().product();
        let mut order: Vec<(usize, usize)> = Vec::new();
        for o in 0..outer {
            for (k, p) in parts.iter().enumerate() {
                if p.shape.len() != first.shape.len() {
                    return Err(Error::Shape(format!("Concat of ranks {} and {}", first.shape.len(), p.shape.len())));
                }
                let inner: usize = p.shape[axis..].iter().product();
                order.extend((0..inner).map(|i| (k, o * inner + i)));
            }
        }
        let data = match &first.data {
            HostData::F32(_) => {
                let vs: Vec<Vec<f32>> = parts.iter().map(|p| p.to_f32()).collect();
                HostData::F32(order.iter().map(|&(k, i)| vs[k][i]).collect())
            }
            HostData::I64(_) => {
                let vs: Vec<Vec<i64>> = parts.iter().map(|p| p.to_i64()).collect();
                HostData::I64(order.iter().map(|&(k, i)| vs[k][i]).collect())
            }
            HostData::Bool(_) => {
                let vs: Vec<Vec<bool>> = parts.iter().map(|p| p.to_bool()).collect();
                HostData::Bool(order.iter().map(|&(k, i)| vs[k][i]).collect())
            }
        };
        Ok(Self { shape, data })
    }

    /// Elements `indices` (any shape, negative counted from the end) along `axis`: ONNX Gather.
    pub fn gather(&self, axis: usize, indices: &HostTensor) -> Result<Self> {
        let dim = self.shape[axis];
        let idx = normalise_indices(&indices.to_i64(), dim)?;
        let outer: usize = self.shape[..axis].iter().product();
        let inner: usize = self.shape[axis + 1..].iter().product();
        let mut flat = Vec::with_capacity(outer * idx.len() * inner);
        for o in 0..outer {
            for &i in &idx {
                flat.extend((0..inner).map(|k| (o * dim + i) * inner + k));
            }
        }
        let mut shape = self.shape[..axis].to_vec();
        shape.extend_from_slice(&indices.shape);
        shape.extend_from_slice(&self.shape[axis + 1..]);
        Ok(self.take(&flat, shape))
    }

    /// Elements along each axis from `starts[k]` in steps of `steps[k]` (`counts[k]` of them).
    pub fn strided(&self, starts: &[usize], steps: &[i64], counts: &[usize]) -> Self {
        let st = strides(&self.shape);
        let n = numel(counts);
        let mut idx = Vec::with_capacity(n);
        let mut pos = vec![0usize; counts.len()];
        for _ in 0..n {
            idx.push(
                (0..counts.len()).map(|d| ((starts[d] as i64 + pos[d] as i64 * steps[d]) as usize) * st[d]).sum(),
            );
            for d in (0..counts.len()).rev() {
                pos[d] += 1;
                if pos[d] < counts[d] {
                    break;
                }
                pos[d] = 0;
            }
        }
        self.take(&idx, counts.to_vec())
    }
}

/// Indices into an axis of length `dim`, negative ones counted from the end, all checked.
pub fn normalise_indices(idx: &[i64], dim: usize) -> Result<Vec<usize>> {
    idx.iter()
        .map(|&i| {
            let j = if i < 0 { i + dim as i64 } else { i };
            if (0..dim as i64).contains(&j) {
                Ok(j as usize)
            } else {
                Err(Error::Shape(format!("index {i} is out of range for an axis of length {dim}")))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcasting_arithmetic_and_comparisons() {
        let a = HostTensor::i64(vec![2, 1], vec![3, -7]);
        let b = HostTensor::i64(vec![3], vec![1, 2, 4]);
        let s = binary(BinOp::Add, &a, &b).unwrap();
        assert_eq!(s.shape, vec![2, 3]);
        assert_eq!(s.data, HostData::I64(vec![4, 5, 7, -6, -5, -3]));
        assert_eq!(binary(BinOp::Div, &a, &b).unwrap().data, HostData::I64(vec![3, 1, 0, -7, -3, -1]));
        assert_eq!(binary(BinOp::Mod, &a, &b).unwrap().data, HostData::I64(vec![0, 1, 3, 0, 1, 1]));
        let c = binary(BinOp::Less, &a, &HostTensor::f32(vec![], vec![0.5])).unwrap();
        assert_eq!(c.data, HostData::Bool(vec![false, true]));
        assert!(binary(BinOp::Add, &HostTensor::i64(vec![2], vec![1, 2]), &b).is_err());
    }

    #[test]
    fn gather_slice_permute_concat_reduce() {
        let x = HostTensor::f32(vec![2, 3], vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        let g = x.gather(1, &HostTensor::i64(vec![2], vec![-1, 0])).unwrap();
        assert_eq!((g.shape.clone(), g.to_f32()), (vec![2, 2], vec![2.0, 0.0, 5.0, 3.0]));
        let s = x.gather(0, &HostTensor::i64(vec![], vec![1])).unwrap();
        assert_eq!((s.shape.clone(), s.to_f32()), (vec![3], vec![3.0, 4.0, 5.0]));
        let t = x.permute(&[1, 0]);
        assert_eq!(t.to_f32(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
        let r = x.strided(&[0, 2], &[1, -2], &[2, 2]);
        assert_eq!(r.to_f32(), vec![2.0, 0.0, 5.0, 3.0]);
        let c = HostTensor::concat(&[&x, &t.with_shape(vec![2, 3]).unwrap()], 1).unwrap();
        assert_eq!(c.shape, vec![2, 6]);
        assert_eq!(c.to_f32()[..6], [0.0, 1.0, 2.0, 0.0, 3.0, 1.0]);
        let sum = reduce(&x, &[1], false, false);
        assert_eq!((sum.shape.clone(), sum.to_f32()), (vec![2], vec![3.0, 12.0]));
        assert!(x.gather(1, &HostTensor::i64(vec![1], vec![3])).is_err());
    }

    #[test]
    fn where_picks_and_broadcasts() {
        let c = HostTensor::bool(vec![2, 1], vec![true, false]);
        let w = where_(&c, &HostTensor::f32(vec![], vec![9.0]), &HostTensor::f32(vec![2, 2], vec![1.0, 2.0, 3.0, 4.0])).unwrap();
        assert_eq!(w.to_f32(), vec![9.0, 9.0, 3.0, 4.0]);
    }
}
