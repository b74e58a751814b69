//! Device tensors of any rank: the float values of an interpreted graph (the ones that depend on
//! the image), as burn tensors on the model's device, so autodiff sees every operation.
//!
//! burn's tensors carry their rank in the type (`Tensor<D>`); an ONNX graph's ranks are known
//! only at run time. [`Dev`] holds the rank-erased tensor with its shape, and [`ranked!`] turns a
//! run-time rank into the type-level one for the operation at hand (ranks 1 to 6; an ONNX scalar
//! is kept as a one-element vector with an empty logical shape).

use std::ops::Range;

use burn::tensor::{Bool, Device, DispatchTensor, Int, Shape, Tensor, TensorData};

use super::host::{BinOp, HostTensor, broadcast_shapes};
use crate::error::{Error, Result};

/// The highest rank of a device tensor.
pub const MAX_RANK: usize = 6;

/// `$body` with `$D` bound to the type-level rank `$rank` (1 ..= [`MAX_RANK`]); other ranks
/// return an error from the enclosing function.
macro_rules! ranked {
    ($rank:expr, $D:ident => $body:expr) => {{
        match $rank {
            1 => {
                const $D: usize = 1;
                $body
            }
            2 => {
                const $D: usize = 2;
                $body
            }
            3 => {
                const $D: usize = 3;
                $body
            }
            4 => {
                const $D: usize = 4;
                $body
            }
            5 => {
                const $D: usize = 5;
                $body
            }
            6 => {
                const $D: usize = 6;
                $body
            }
            r => return Err($crate::model::onnx::dev::rank_error(r)),
        }
    }};
}

/// The error for a rank outside 1 ..= [`MAX_RANK`].
pub fn rank_error(r: usize) -> Error {
    Error::Model(format!("a tensor of rank {r} on the device: ranks 1 to {MAX_RANK} are supported"))
}

/// A float tensor on the device with its ONNX shape.
#[derive(Clone, Debug)]
pub struct Dev {
    t: DispatchTensor,
    shape: Vec<usize>,
}

/// `a op b` for the arithmetic ops (operands of one rank, broadcasting size-1 axes).
fn elementwise<const D: usize>(op: BinOp, a: Tensor<D>, b: Tensor<D>) -> Result<Tensor<D>> {
    Ok(match op {
        BinOp::Add => a + b,
        BinOp::Sub => a - b,
        BinOp::Mul => a * b,
        BinOp::Div => a / b,
        BinOp::Pow => a.powf(b),
        BinOp::Max => a.max_pair(b),
        BinOp::Min => a.min_pair(b),
        BinOp::Mod => a.clone() - b.clone() * (a / b).floor(),
        BinOp::Fmod => a.clone() - b.clone() * (a / b).trunc(),
        other => {
            return Err(Error::Model(format!(
                "{other:?} of values computed from the image (a data-dependent mask) is not supported"
            )));
        }
    })
}

/// The shape burn stores for an ONNX shape (a scalar as one element).
fn physical(shape: &[usize]) -> Vec<usize> {
    if shape.is_empty() { vec![1] } else { shape.to_vec() }
}

impl Dev {
    /// Wrap a burn tensor.
    pub fn of<const D: usize>(t: Tensor<D>) -> Self {
        let shape = t.dims().to_vec();
        Self { t: t.into_dispatch(), shape }
    }

    /// The tensor with its type-level rank `D` (which must be [`Self::rank`], at least 1).
    pub fn t<const D: usize>(&self) -> Tensor<D> {
        debug_assert_eq!(D, self.prank());
        Tensor::from_dispatch(self.t.clone())
    }

    /// The ONNX shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The ONNX rank.
    pub fn rank(&self) -> usize {
        self.shape.len()
    }

    /// The rank burn stores (at least 1).
    pub fn prank(&self) -> usize {
        self.shape.len().max(1)
    }

    /// The device it lives on.
    pub fn device(&self) -> Device {
        Tensor::<1>::from_dispatch(self.t.clone()).device()
    }

    /// Whether autodiff tracks it (its gradient is wanted).
    pub fn is_tracked(&self) -> bool {
        Tensor::<1>::from_dispatch(self.t.clone()).is_tracked()
    }

    /// A host tensor's values as floats on `device`.
    pub fn upload(h: &HostTensor, device: &Device) -> Result<Self> {
        let shape = physical(&h.shape);
        let data = TensorData::new(h.to_f32(), Shape::from(shape.clone()));
        let d = ranked!(shape.len(), D => Self::of(Tensor::<D>::from_data(data, device)));
        Ok(d.with_logical(h.shape.clone()))
    }

    fn with_logical(mut self, shape: Vec<usize>) -> Self {
        self.shape = shape;
        self
    }

    /// The same values under another shape.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self> {
        if shape == self.shape.as_slice() {
            return Ok(self.clone());
        }
        let n: usize = shape.iter().product();
        if n != self.shape.iter().product::<usize>() {
            return Err(Error::Shape(format!("cannot reshape {:?} to {shape:?}", self.shape)));
        }
        let p = physical(shape);
        let out = ranked!(self.prank(), A => ranked!(p.len(), B => Self::of(self.t::<A>().reshape::<B, _>(Shape::from(p.clone())))));
        Ok(out.with_logical(shape.to_vec()))
    }

    /// As a vector (elementwise functions apply to it and reshape back).
    pub fn flat(&self) -> Result<Tensor<1>> {
        Ok(self.reshape(&[self.shape.iter().product()])?.t::<1>())
    }

    /// An elementwise function applied to every value.
    pub fn map(&self, f: impl FnOnce(Tensor<1>) -> Tensor<1>) -> Result<Self> {
        Dev::of(f(self.flat()?)).reshape(&self.shape)
    }

    /// Axes permuted: output axis `i` is input axis `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Result<Self> {
        if perm.len() != self.rank() {
            return Err(Error::Shape(format!("permutation {perm:?} of a rank-{} tensor", self.rank())));
        }
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(self.clone());
        }
        Ok(ranked!(self.prank(), D => {
            let axes: [usize; D] = perm.try_into().map_err(|_| rank_error(perm.len()))?;
            Self::of(self.t::<D>().permute(axes))
        }))
    }

    /// Size-1 axes repeated (numpy broadcasting) to `shape` (rank ≥ own rank).
    pub fn expand(&self, shape: &[usize]) -> Result<Self> {
        if shape == self.shape.as_slice() {
            return Ok(self.clone());
        }
        let mut lifted = vec![1; shape.len().saturating_sub(self.rank())];
        lifted.extend_from_slice(&self.shape);
        let x = self.reshape(&lifted)?;
        let p = physical(shape);
        Ok(ranked!(p.len(), D => Self::of(x.t::<D>().expand::<D, _>(Shape::from(p.clone())))).with_logical(shape.to_vec()))
    }

    /// Both operands broadcast to their common shape.
    pub fn broadcast(a: &Dev, b: &Dev) -> Result<(Dev, Dev, Vec<usize>)> {
        let shape = broadcast_shapes(&a.shape, &b.shape)?;
        Ok((a.expand(&shape)?, b.expand(&shape)?, shape))
    }

    /// `a op b` elementwise with numpy broadcasting: both lifted to one rank (size-1 axes
    /// prepended, a free reshape), then burn's broadcasting arithmetic — nothing is expanded in
    /// memory, and autodiff sums the gradient over broadcast axes. `Max` / `Min` expand.
    pub fn ew(a: &Dev, b: &Dev, op: BinOp) -> Result<Dev> {
        let shape = broadcast_shapes(&a.shape, &b.shape)?;
        let lift = |d: &Dev| -> Result<Dev> {
            let mut s = vec![1; shape.len() - d.rank()];
            s.extend_from_slice(&d.shape);
            d.reshape(&s)
        };
        let (x, y) = if matches!(op, BinOp::Max | BinOp::Min) { (a.expand(&shape)?, b.expand(&shape)?) } else { (lift(a)?, lift(b)?) };
        let r = physical(&shape).len();
        let out = ranked!(r, D => Self::of(elementwise::<D>(op, x.t::<D>(), y.t::<D>())?));
        Ok(out.with_logical(shape))
    }

    /// The sub-tensor `ranges` (one per axis, step 1).
    pub fn slice(&self, ranges: &[Range<usize>]) -> Result<Self> {
        if ranges.iter().zip(&self.shape).all(|(r, &s)| r.start == 0 && r.end == s) {
            return Ok(self.clone());
        }
        let shape: Vec<usize> = ranges.iter().map(|r| r.end - r.start).collect();
        let out = ranked!(self.prank(), D => Self::of(self.t::<D>().slice(ranges)));
        Ok(out.with_logical(shape))
    }

    /// Elements `idx` along `axis` (gradient: scatter-add).
    pub fn select(&self, axis: usize, idx: &[usize]) -> Result<Self> {
        let device = self.device();
        let ind = Tensor::<1, Int>::from_data(
            TensorData::new(idx.iter().map(|&i| i as i64).collect::<Vec<_>>(), [idx.len()]),
            &device,
        );
        let mut shape = self.shape.clone();
        shape[axis] = idx.len();
        let out = ranked!(self.prank(), D => Self::of(self.t::<D>().select(axis, ind)));
        Ok(out.with_logical(shape))
    }

    /// Concatenation along `axis`.
    pub fn cat(parts: &[Dev], axis: usize) -> Result<Self> {
        let first = parts.first().ok_or_else(|| Error::Shape("Concat of nothing".into()))?;
        if parts.len() == 1 {
            return Ok(first.clone());
        }
        Ok(ranked!(first.prank(), D => Self::of(Tensor::cat(parts.iter().map(|p| p.t::<D>()).collect(), axis))))
    }

    /// Sums (`mean`: means) over `axes`, kept as size 1.
    pub fn reduce(&self, axes: &[usize], mean: bool) -> Result<Self> {
        let mut t = self.clone();
        for &a in axes {
            t = ranked!(t.prank(), D => Self::of(if mean { t.t::<D>().mean_dim(a) } else { t.t::<D>().sum_dim(a) }));
        }
        Ok(t)
    }

    /// Maxima (`min`: minima) over `axes`, kept as size 1.
    pub fn reduce_max(&self, axes: &[usize], min: bool) -> Result<Self> {
        let mut t = self.clone();
        for &a in axes {
            t = ranked!(t.prank(), D => Self::of(if min { t.t::<D>().min_dim(a) } else { t.t::<D>().max_dim(a) }));
        }
        Ok(t)
    }

    /// Batched matrix product of operands of equal rank ≥ 2 and equal batch dimensions.
    pub fn matmul(a: &Dev, b: &Dev) -> Result<Self> {
        Ok(ranked!(a.prank(), D => Self::of(a.t::<D>().matmul(b.t::<D>()))))
    }

    /// Softmax (`log`: log-softmax) along `axis`.
    pub fn softmax(&self, axis: usize, log: bool) -> Result<Self> {
        use burn::tensor::activation::{log_softmax, softmax};
        Ok(ranked!(self.prank(), D => Self::of(if log { log_softmax(self.t::<D>(), axis) } else { softmax(self.t::<D>(), axis) })))
    }

    /// `mask ? value : self` with a host mask broadcast to this shape.
    pub fn mask_where(&self, mask: &HostTensor, value: &Dev) -> Result<Self> {
        let m = mask.broadcast_to(&self.shape)?;
        let p = physical(&self.shape);
        let device = self.device();
        let data = TensorData::new(m.to_bool(), Shape::from(p.clone()));
        let v = value.expand(&self.shape)?;
        Ok(ranked!(p.len(), D => {
            let mask = Tensor::<D, Bool>::from_data(data, &device);
            Self::of(self.t::<D>().mask_where(mask, v.t::<D>()))
        })
        .with_logical(self.shape.clone()))
    }

    /// Constant padding (`pads[k]` before and after axis `k`) or edge / reflect padding.
    pub fn pad(&self, pads: &[(usize, usize)], mode: burn::tensor::ops::PadMode) -> Result<Self> {
        if pads.iter().all(|&(a, b)| a == 0 && b == 0) {
            return Ok(self.clone());
        }
        let shape: Vec<usize> = self.shape.iter().zip(pads).map(|(&s, &(a, b))| s + a + b).collect();
        let out = ranked!(self.prank(), D => Self::of(self.t::<D>().pad(pads.to_vec(), mode)));
        Ok(out.with_logical(shape))
    }

    /// The values, read back (tests and checks; waits for the device).
    pub fn to_host(&self) -> Result<HostTensor> {
        let v = self.flat()?.into_data().try_to_vec::<f32>().map_err(|e| Error::Model(format!("reading a tensor: {e:?}")))?;
        Ok(HostTensor::f32(self.shape.clone(), v))
    }
}
