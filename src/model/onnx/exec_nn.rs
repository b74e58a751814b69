//! The network ops of an interpreted graph on the device: convolutions (weights from the
//! network, the adjoint backward of `layers::Conv` where it applies), pooling, resizing as
//! separable matrix products (exact and differentiable on every backend), padding,
//! normalisations, matrix products and attention.

use burn::tensor::module::{avg_pool2d, conv_transpose2d, conv2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, ConvTransposeOptions, MaxPoolOptions, PadMode};
use burn::tensor::Device;

use super::dev::Dev;
use super::exec::{Args, Ctx, reduce_axes};
use super::exec_norm;
use super::host::{self, BinOp, HostTensor, axis, normalise_indices, numel};
use super::op::{Coord, ConvOp, ConvTransposeOp, Nearest, Op, PadSrc, PoolOp, Reduce, ResizeOp, Src};
use crate::error::{Error, Result};
use crate::model::layers::resample;
use crate::model::prelu_op::prelu_channels;

/// Run a network op.
pub fn run(op: &Op, args: &Args, cx: &Ctx) -> Result<Dev> {
    let d = &cx.device;
    let x = || args.get(0)?.dev(d);
    match op {
        Op::Conv(c) => conv(c, &x()?, cx),
        Op::ConvTranspose(c) => conv_transpose(c, &x()?, cx),
        Op::Affine | Op::BatchNorm { .. } | Op::LayerNorm { .. } | Op::InstanceNorm { .. } | Op::GroupNorm { .. } => exec_norm::run(op, args, d),
        Op::Softmax { axis, log } => x()?.softmax(*axis, *log),
        Op::MaxPool(p) => pool(p, &x()?, true),
        Op::AvgPool(p) => pool(p, &x()?, false),
        Op::GlobalPool { max } => {
            let v = x()?;
            let axes: Vec<usize> = (2..v.rank()).collect();
            if *max { v.reduce_max(&axes, false) } else { v.reduce(&axes, true) }
        }
        Op::Reduce { kind, axes, keep, noop } => reduce(*kind, axes.as_ref(), *keep, *noop, &x()?, args),
        Op::Resize(r) => resize(r, &x()?, args),
        Op::Pad { pads, value, mode } => pad(&x()?, pads, value, *mode, args),
        Op::MatMul => matmul(&x()?, &args.get(1)?.dev(d)?),
        Op::Gemm { alpha, beta, trans_a, trans_b } => gemm(x()?, args, d, *alpha, *beta, *trans_a, *trans_b),
        Op::Linear { transpose_weight } => linear(&x()?, args, d, *transpose_weight),
        Op::DepthToSpace { block, crd } => depth_to_space(&x()?, *block, *crd),
        Op::SpaceToDepth { block } => space_to_depth(&x()?, *block),
        Op::Attention { scale, q_heads, kv_heads, causal } => attention(args, d, *scale, *q_heads, *kv_heads, *causal),
        other => Err(Error::Model(format!("{other:?} has no device form"))),
    }
}

/// ReduceMean/Sum/Max/Min/SumSquare/L2 on the device (ReduceProd: host values only).
fn reduce(kind: Reduce, axes: Option<&Src<Vec<i64>>>, keep: bool, noop: bool, v: &Dev, args: &Args) -> Result<Dev> {
    let ax = reduce_axes(args, axes, v.rank(), noop)?;
    let r = match kind {
        Reduce::Mean => v.reduce(&ax, true)?,
        Reduce::Sum => v.reduce(&ax, false)?,
        Reduce::Max => v.reduce_max(&ax, false)?,
        Reduce::Min => v.reduce_max(&ax, true)?,
        Reduce::SumSquare => v.map(|t| t.clone() * t)?.reduce(&ax, false)?,
        Reduce::L2 => v.map(|t| t.clone() * t)?.reduce(&ax, false)?.map(|t| t.sqrt())?,
        Reduce::Prod => return Err(Error::Model("ReduceProd of values computed from the image".into())),
    };
    if keep {
        Ok(r)
    } else {
        let shape: Vec<usize> = v.shape().iter().enumerate().filter(|(i, _)| !ax.contains(i)).map(|(_, &s)| s).collect();
        r.reshape(&shape)
    }
}

/// Gemm: `alpha · A' · B' + beta · C`.
fn gemm(mut a: Dev, args: &Args, d: &Device, alpha: f32, beta: f32, trans_a: bool, trans_b: bool) -> Result<Dev> {
    let mut b = args.get(1)?.dev(d)?;
    if trans_a {
        a = a.permute(&[1, 0])?;
    }
    if trans_b {
        b = b.permute(&[1, 0])?;
    }
    let mut y = Dev::matmul(&a, &b)?;
    if alpha != 1.0 {
        y = y.map(|t| t.mul_scalar(alpha))?;
    }
    match args.opt(2) {
        Some(c) if beta != 0.0 => {
            let c = c.dev(d)?.map(|t| t.mul_scalar(beta))?;
            Dev::ew(&y, &c, BinOp::Add)
        }
        _ => Ok(y),
    }
}

/// onnx-ir's Linear (MatMul + Add, or a plain Gemm): `x · W (+ b)`.
fn linear(v: &Dev, args: &Args, d: &Device, transpose_weight: bool) -> Result<Dev> {
    let mut w = args.get(1)?.dev(d)?;
    if transpose_weight {
        w = w.permute(&[1, 0])?;
    }
    let y = matmul(v, &w)?;
    match args.opt(2) {
        Some(b) => Dev::ew(&y, &b.dev(d)?, BinOp::Add),
        None => Ok(y),
    }
}

/// DepthToSpace in DCR or CRD order.
fn depth_to_space(v: &Dev, b: usize, crd: bool) -> Result<Dev> {
    let [n, c, h, w] = dims4(v)?;
    let cb = c / (b * b);
    let (t, perm) = if crd {
        (v.reshape(&[n, cb, b, b, h, w])?, [0, 1, 4, 2, 5, 3])
    } else {
        (v.reshape(&[n, b, b, cb, h, w])?, [0, 3, 4, 1, 5, 2])
    };
    t.permute(&perm)?.reshape(&[n, cb, h * b, w * b])
}

/// SpaceToDepth (DCR order).
fn space_to_depth(v: &Dev, b: usize) -> Result<Dev> {
    let [n, c, h, w] = dims4(v)?;
    v.reshape(&[n, c, h / b, b, w / b, b])?.permute(&[0, 3, 5, 1, 2, 4])?.reshape(&[n, c * b * b, h / b, w / b])
}

fn dims4(v: &Dev) -> Result<[usize; 4]> {
    v.shape().try_into().map_err(|_| Error::Shape(format!("expected an [N, C, H, W] tensor, got {:?}", v.shape())))
}

/// PReLU: the one-pass per-channel op for `[N, C, H, W]` with per-channel (or one) slope,
/// otherwise `max(0, x) + slope · min(0, x)` broadcast.
pub fn prelu(x: &Dev, slope: &Dev) -> Result<Dev> {
    let n = numel(slope.shape());
    if x.rank() == 4 {
        let c = x.shape()[1];
        let per_channel = n == c && slope.shape().iter().filter(|&&s| s != 1).count() <= 1
            && (slope.rank() < 3 || slope.shape()[slope.rank() - 3] == c);
        if per_channel || n == 1 {
            let alpha = if n == 1 { slope.reshape(&[1, 1, 1, 1])?.expand(&[1, c, 1, 1])? } else { slope.reshape(&[1, c, 1, 1])? };
            return Ok(Dev::of(prelu_channels(x.t::<4>(), alpha.t::<4>())));
        }
    }
    let pos = x.map(|t| t.clamp_min(0.0))?;
    let neg = Dev::ew(&x.map(|t| t.clamp_max(0.0))?, slope, BinOp::Mul)?;
    Dev::ew(&pos, &neg, BinOp::Add)
}

/// GatherElements with host indices: flat positions into the flattened data.
pub fn gather_elements(v: &Dev, ax: usize, indices: &HostTensor) -> Result<Dev> {
    let shape = v.shape().to_vec();
    if indices.shape.len() != shape.len() {
        return Err(Error::Shape(format!("GatherElements indices {:?} for data {shape:?}", indices.shape)));
    }
    let st = host::strides(&shape);
    let ix = normalise_indices(&indices.to_i64(), shape[ax])?;
    let ist = host::strides(&indices.shape);
    let flat: Vec<usize> = (0..ix.len())
        .map(|p| {
            (0..shape.len()).map(|dd| if dd == ax { ix[p] * st[dd] } else { (p / ist[dd]) % indices.shape[dd] * st[dd] }).sum()
        })
        .collect();
    v.reshape(&[numel(&shape)])?.select(0, &flat)?.reshape(&indices.shape)
}

/// `(before, after)` padding of a SAME convolution / pooling along one axis.
fn same_pad(input: usize, kernel: usize, stride: usize, dilation: usize, upper: bool) -> (usize, usize) {
    let out = input.div_ceil(stride);
    let total = ((out - 1) * stride + (kernel - 1) * dilation + 1).saturating_sub(input);
    let small = total / 2;
    if upper { (small, total - small) } else { (total - small, small) }
}

fn conv(c: &ConvOp, x: &Dev, cx: &Ctx) -> Result<Dev> {
    let [_, _, h, w] = dims4(x)?;
    let layer = &cx.net.convs[c.k];
    let [_, _, kh, kw] = layer.weight.dims();
    let (t, l, b, r) = match c.same {
        Some(upper) => {
            let (t, b) = same_pad(h, kh, c.stride[0], c.dilation[0], upper);
            let (l, r) = same_pad(w, kw, c.stride[1], c.dilation[1], upper);
            (t, l, b, r)
        }
        None => (c.pads[0], c.pads[1], c.pads[2], c.pads[3]),
    };
    if cx.net.square[c.k] && c.same.is_none() {
        return Ok(Dev::of(layer.forward(x.t::<4>())));
    }
    let opts = ConvOptions::new_with_padding(c.stride, [(t, b), (l, r)], c.dilation, c.groups);
    Ok(Dev::of(conv2d(x.t::<4>(), layer.weight.val(), layer.bias.as_ref().map(|p| p.val()), opts)))
}

fn conv_transpose(c: &ConvTransposeOp, x: &Dev, cx: &Ctx) -> Result<Dev> {
    let [_, _, h, w] = dims4(x)?;
    let wt = &cx.net.tconvs[c.k];
    let [_, _, kh, kw] = wt.weight.dims();
    let full = |i: usize, k: usize, a: usize| c.stride[a] * (i - 1) + (k - 1) * c.dilation[a] + 1;
    let (fh, fw) = (full(h, kh, 0), full(w, kw, 1));
    // (begin, end) cropped from the full output per axis; `extra` rows of bias only past it
    let crop = |a: usize, f: usize, i: usize| -> (usize, i64) {
        if let Some(shape) = c.out_shape {
            let total = (f + c.out_pad[a]) as i64 - shape[a] as i64;
            let t = total.max(0) as usize;
            let small = t / 2;
            return if c.same == Some(false) { (t - small, shape[a] as i64) } else { (small, shape[a] as i64) };
        }
        if let Some(upper) = c.same {
            let out = i * c.stride[a];
            let t = (f + c.out_pad[a]).saturating_sub(out);
            let small = t / 2;
            let begin = if upper { small } else { t - small };
            return (begin, out as i64);
        }
        (c.pads[a], (f + c.out_pad[a]) as i64 - 2 * c.pads[a] as i64)
    };
    let (bh, oh) = crop(0, fh, h);
    let (bw, ow) = crop(1, fw, w);
    let (oh, ow) = (oh.max(0) as usize, ow.max(0) as usize);
    // burn's (PyTorch's) transposed convolution with the output padding as extra rows
    let extra_h = (bh + oh).saturating_sub(fh);
    let extra_w = (bw + ow).saturating_sub(fw);
    let opts = ConvTransposeOptions::new(c.stride, [0, 0], [extra_h, extra_w], c.dilation, c.groups);
    let y = conv_transpose2d(x.t::<4>(), wt.weight.val(), wt.bias.as_ref().map(|p| p.val()), opts);
    let y = Dev::of(y);
    let s = y.shape().to_vec();
    y.slice(&[0..s[0], 0..s[1], bh..bh + oh, bw..bw + ow])
}

fn pool(p: &PoolOp, x: &Dev, max: bool) -> Result<Dev> {
    let [_, _, h, w] = dims4(x)?;
    let (t, l, b, r) = match p.same {
        Some(upper) => {
            let (t, b) = same_pad(h, p.kernel[0], p.stride[0], p.dilation[0], upper);
            let (l, r) = same_pad(w, p.kernel[1], p.stride[1], p.dilation[1], upper);
            (t, l, b, r)
        }
        None => (p.pads[0], p.pads[1], p.pads[2], p.pads[3]),
    };
    let padding = [(t, b), (l, r)];
    if max {
        let opts = MaxPoolOptions { kernel_size: p.kernel, stride: p.stride, padding, dilation: p.dilation, ceil_mode: p.ceil };
        return Ok(Dev::of(max_pool2d(x.t::<4>(), opts)));
    }
    if p.dilation != [1, 1] {
        return Err(Error::Model("dilated average pooling is not supported".into()));
    }
    let opts = AvgPoolOptions { kernel_size: p.kernel, stride: p.stride, padding, count_include_pad: p.count_pad, ceil_mode: p.ceil };
    Ok(Dev::of(avg_pool2d(x.t::<4>(), opts)))
}

/// Source position of output `i` along an axis (`scale` = output / input as ONNX uses it).
fn source(coord: Coord, i: usize, inp: usize, out: usize, scale: f64) -> f64 {
    let i = i as f64;
    match coord {
        Coord::HalfPixel => (i + 0.5) / scale - 0.5,
        Coord::PytorchHalfPixel => {
            if out > 1 { (i + 0.5) / scale - 0.5 } else { 0.0 }
        }
        Coord::AlignCorners => {
            if out > 1 { i * (inp as f64 - 1.0) / (out as f64 - 1.0) } else { 0.0 }
        }
        Coord::Asymmetric => i / scale,
        Coord::TfHalfPixelForNn => (i + 0.5) / scale,
    }
}

/// Row-major `[out, inp]` matrix of ONNX Resize along one axis.
pub fn resize_matrix(r: &ResizeOp, out: usize, inp: usize, scale: f64) -> Vec<f32> {
    let mut m = vec![0.0f32; out * inp];
    let last = inp as f64 - 1.0;
    for i in 0..out {
        let s = source(r.coord, i, inp, out, scale);
        if r.linear {
            let s = s.clamp(0.0, last);
            let lo = s.floor() as usize;
            let hi = (lo + 1).min(inp - 1);
            let f = s - lo as f64;
            m[i * inp + lo] += (1.0 - f) as f32;
            m[i * inp + hi] += f as f32;
        } else {
            let frac = s - s.floor();
            let j = match r.nearest {
                Nearest::RoundPreferFloor => if frac == 0.5 { s.floor() } else { s.round() },
                Nearest::RoundPreferCeil => if frac == 0.5 { s.ceil() } else { s.round() },
                Nearest::Floor => s.floor(),
                Nearest::Ceil => s.ceil(),
            };
            m[i * inp + j.clamp(0.0, last) as usize] = 1.0;
        }
    }
    m
}

fn resize(r: &ResizeOp, x: &Dev, args: &Args) -> Result<Dev> {
    let shape = x.shape().to_vec();
    let rank = shape.len();
    // onnx-ir gives file constants for the spatial axes only (after N and C, `axes` already
    // applied); values computed in the graph come as ONNX has them (every axis, or `axes`)
    let spatial: Vec<usize> = (2.min(rank)..rank).collect();
    let given: Vec<usize> = r.axes.clone().unwrap_or_else(|| (0..rank).collect());
    let mut axes = given.clone();
    // output size and scale per axis
    let mut out = shape.clone();
    let mut scale: Vec<f64> = vec![1.0; rank];
    let sizes = match &r.sizes {
        Some(Src::Static(v)) if !v.is_empty() => {
            axes = spatial.clone();
            Some(v.clone())
        }
        Some(s) => Some(args.ints(s)?).filter(|v| !v.is_empty()),
        None => None,
    };
    let scales = match &r.scales {
        Some(Src::Static(v)) if !v.is_empty() && sizes.is_none() => {
            axes = spatial.clone();
            Some(v.clone())
        }
        Some(Src::Static(_)) => None,
        Some(Src::Input(k)) => Some(args.host(*k)?.to_f32()).filter(|v| !v.is_empty()),
        None => None,
    };
    let n = sizes.as_ref().map(Vec::len).or(scales.as_ref().map(Vec::len)).unwrap_or(0);
    if n != axes.len() {
        return Err(Error::Shape(format!("Resize of a rank-{rank} tensor with {n} sizes or scales")));
    }
    if let Some(sz) = sizes {
        for (j, &a) in axes.iter().enumerate() {
            out[a] = usize::try_from(sz[j]).map_err(|_| Error::Shape(format!("Resize to size {}", sz[j])))?;
            scale[a] = out[a] as f64 / shape[a] as f64;
        }
    } else if let Some(sc) = scales {
        for (j, &a) in axes.iter().enumerate() {
            scale[a] = f64::from(sc[j]);
            out[a] = (shape[a] as f64 * scale[a]).floor() as usize;
        }
    } else {
        return Err(Error::Model("Resize without scales or sizes".into()));
    }
    if rank != 4 || out[0] != shape[0] || out[1] != shape[1] {
        return Err(Error::Model(format!("Resize of {shape:?} to {out:?}: only the last two axes of an [N, C, H, W] tensor can be resized")));
    }
    let a_h = resize_matrix(r, out[2], shape[2], scale[2]);
    let a_w = resize_matrix(r, out[3], shape[3], scale[3]);
    Ok(Dev::of(resample(x.t::<4>(), out[2], a_h, out[3], a_w)))
}

fn pad(x: &Dev, pads: &PadSrc, value: &Src<f32>, mode: u8, args: &Args) -> Result<Dev> {
    let rank = x.rank();
    let signed: Vec<(i64, i64)> = match pads {
        PadSrc::Static(v) => {
            let mut p = vec![(0i64, 0i64); rank.saturating_sub(v.len())];
            p.extend(v.iter().map(|&(a, b)| (a as i64, b as i64)));
            p
        }
        PadSrc::Input(k, axes) => {
            let raw = args.host(*k)?.to_i64();
            let axes: Vec<usize> = match axes {
                Some(a) => args.ints(a)?.iter().map(|&v| axis(v, rank)).collect::<Result<_>>()?,
                None => (0..rank).collect(),
            };
            if raw.len() != 2 * axes.len() {
                return Err(Error::Shape(format!("Pad amounts {raw:?} for {} axes", axes.len())));
            }
            let mut p = vec![(0, 0); rank];
            for (j, &a) in axes.iter().enumerate() {
                p[a] = (raw[j], raw[j + axes.len()]);
            }
            p
        }
    };
    // negative amounts crop
    let shape = x.shape().to_vec();
    let crop: Vec<_> = signed.iter().zip(&shape).map(|(&(a, b), &s)| (-a).max(0) as usize..s - (-b).max(0) as usize).collect();
    let x = x.slice(&crop)?;
    let pairs: Vec<(usize, usize)> = signed.iter().map(|&(a, b)| (a.max(0) as usize, b.max(0) as usize)).collect();
    let v = match value {
        Src::Static(v) => *v,
        Src::Input(k) => match args.opt(*k) {
            Some(h) => h.host().map(|h| h.scalar_f64()).transpose()?.unwrap_or(0.0) as f32,
            None => 0.0,
        },
    };
    let m = match mode {
        0 => PadMode::Constant(v),
        1 => PadMode::Reflect,
        _ => PadMode::Edge,
    };
    x.pad(&pairs, m)
}

/// numpy `matmul` (1-D operands promoted, batch axes broadcast); a 2-D right operand takes the
/// left one's batch axes as rows.
pub fn matmul(a: &Dev, b: &Dev) -> Result<Dev> {
    let (ra, rb) = (a.rank(), b.rank());
    let a2 = if ra == 1 { a.reshape(&[1, a.shape()[0]])? } else { a.clone() };
    let b2 = if rb == 1 { b.reshape(&[b.shape()[0], 1])? } else { b.clone() };
    let (sa, sb) = (a2.shape().to_vec(), b2.shape().to_vec());
    let (m, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let n = sb[sb.len() - 1];
    if sb[sb.len() - 2] != k {
        return Err(Error::Shape(format!("MatMul of {:?} and {:?}", a.shape(), b.shape())));
    }
    let batch_a = &sa[..sa.len() - 2];
    let mut y = if sb.len() == 2 {
        let rows = numel(batch_a) * m;
        let y = Dev::matmul(&a2.reshape(&[rows, k])?, &b2)?;
        let mut s = batch_a.to_vec();
        s.extend([m, n]);
        y.reshape(&s)?
    } else {
        let batch = host::broadcast_shapes(batch_a, &sb[..sb.len() - 2])?;
        let mut ta = batch.clone();
        ta.extend([m, k]);
        let mut tb = batch.clone();
        tb.extend([k, n]);
        Dev::matmul(&a2.expand(&ta)?, &b2.expand(&tb)?)?
    };
    let mut s = y.shape().to_vec();
    if rb == 1 {
        s.pop();
    }
    if ra == 1 {
        s.remove(s.len() - if rb == 1 { 1 } else { 2 });
    }
    if s != y.shape() {
        y = y.reshape(&s)?;
    }
    Ok(y)
}

fn attention(args: &Args, d: &Device, scale: Option<f64>, q_heads: Option<usize>, kv_heads: Option<usize>, causal: bool) -> Result<Dev> {
    let (q, k, v) = (args.get(0)?.dev(d)?, args.get(1)?.dev(d)?, args.get(2)?.dev(d)?);
    let three = q.rank() == 3;
    let heads = |t: &Dev, h: Option<usize>| -> Result<Dev> {
        if !three {
            return Ok(t.clone());
        }
        let h = h.ok_or_else(|| Error::Model("3-D Attention without head counts".into()))?;
        let s = t.shape();
        t.reshape(&[s[0], s[1], h, s[2] / h])?.permute(&[0, 2, 1, 3])
    };
    let (q, mut k, mut v) = (heads(&q, q_heads)?, heads(&k, kv_heads)?, heads(&v, kv_heads)?);
    let (hq, hk) = (q.shape()[1], k.shape()[1]);
    if hq != hk {
        let rep: Vec<usize> = (0..hq).map(|i| i / (hq / hk)).collect();
        k = k.select(1, &rep)?;
        v = v.select(1, &rep)?;
    }
    let dim = q.shape()[3];
    let s = scale.unwrap_or(1.0 / (dim as f64).sqrt()) as f32;
    let kt = k.permute(&[0, 1, 3, 2])?;
    let mut scores = Dev::matmul(&q, &kt.expand(&[q.shape()[0], hq, dim, kt.shape()[3]])?)?.map(|t| t.mul_scalar(s))?;
    let (sq, sk) = (scores.shape()[2], scores.shape()[3]);
    if let Some(mask) = args.opt(3) {
        scores = match mask.host() {
            Some(h) if !h.is_float() => {
                let keep = h.to_bool();
                let neg = HostTensor::bool(h.shape.clone(), keep.into_iter().map(|b| !b).collect());
                scores.mask_where(&neg, &Dev::upload(&HostTensor::f32(vec![], vec![f32::NEG_INFINITY]), d)?)?
            }
            _ => Dev::ew(&scores, &mask.dev(d)?, BinOp::Add)?,
        };
    }
    if causal {
        let m = HostTensor::bool(vec![sq, sk], (0..sq * sk).map(|i| i % sk > i / sk).collect());
        scores = scores.mask_where(&m, &Dev::upload(&HostTensor::f32(vec![], vec![f32::NEG_INFINITY]), d)?)?;
    }
    let p = scores.softmax(3, false)?;
    let y = Dev::matmul(&p, &v)?;
    if three {
        let s = y.shape().to_vec();
        return y.permute(&[0, 2, 1, 3])?.reshape(&[s[0], s[2], s[1] * s[3]]);
    }
    Ok(y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(linear: bool, coord: Coord, nearest: Nearest) -> ResizeOp {
        ResizeOp { linear, coord, nearest, scales: None, sizes: None, axes: None }
    }

    #[test]
    fn resize_matrices_follow_onnx() {
        // linear half-pixel 2 → 4 (PyTorch align_corners = False): sources −.25, .25, .75, 1.25
        let m = resize_matrix(&op(true, Coord::HalfPixel, Nearest::Floor), 4, 2, 2.0);
        assert_eq!(m, vec![1.0, 0.0, 0.75, 0.25, 0.25, 0.75, 0.0, 1.0]);
        // align corners 2 → 3: 0, .5, 1
        let m = resize_matrix(&op(true, Coord::AlignCorners, Nearest::Floor), 3, 2, 1.5);
        assert_eq!(m, vec![1.0, 0.0, 0.5, 0.5, 0.0, 1.0]);
        // nearest asymmetric floor (PyTorch 'nearest') 3 → 6
        let m = resize_matrix(&op(false, Coord::Asymmetric, Nearest::Floor), 6, 3, 2.0);
        let picks: Vec<usize> = m.chunks(3).map(|r| r.iter().position(|&v| v == 1.0).unwrap()).collect();
        assert_eq!(picks, vec![0, 0, 1, 1, 2, 2]);
        // round_prefer_ceil with half-pixel 4 → 2: sources 0.5, 2.5 → 1, 3
        let m = resize_matrix(&op(false, Coord::HalfPixel, Nearest::RoundPreferCeil), 2, 4, 0.5);
        let picks: Vec<usize> = m.chunks(4).map(|r| r.iter().position(|&v| v == 1.0).unwrap()).collect();
        assert_eq!(picks, vec![1, 3]);
    }

    #[test]
    fn same_padding_puts_the_odd_pixel_after() {
        assert_eq!(same_pad(5, 3, 2, 1, true), (1, 1));
        assert_eq!(same_pad(6, 3, 2, 1, true), (0, 1));
        assert_eq!(same_pad(6, 3, 2, 1, false), (1, 0));
    }
}
