//! [`OnnxNet`]: an interpreted ONNX graph as a burn module — weights on the device, the plan
//! run step by step with burn tensor ops (so autodiff gives input gradients on every backend),
//! wrapped in the model's described preprocessing (channel order, range, mean/std, layout) and
//! postprocessing (probabilities to log-probabilities, one-channel scores to two classes,
//! scores smaller than the input resized).

use std::sync::Arc;

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

use super::dev::Dev;
use super::exec::{Args, Ctx, Value, run};
use super::model::{OnnxModel, Prep};
use super::plan::{Plan, node_error};
use super::describe::OutputResize;
use crate::error::{Error, Result};
use crate::model::layers::{Conv, resample};

/// The weights of a transposed convolution.
#[derive(Module, Debug)]
pub struct TransposedConv {
    /// `[I, O/g, kh, kw]`
    pub weight: Param<Tensor<4>>,
    /// `[O]`
    pub bias: Option<Param<Tensor<1>>>,
}

/// An ONNX graph on a device.
#[derive(Module, Debug)]
pub struct OnnxNet {
    /// Convolutions (BatchNorms folded in).
    pub convs: Vec<Conv>,
    /// Transposed convolutions.
    pub tconvs: Vec<TransposedConv>,
    /// Device copies of the float constants the steps read as tensors (flattened).
    pub consts: Vec<Param<Tensor<1>>>,
    /// Per convolution: square, symmetric and "same" where stride 1 — `Conv::forward` applies
    /// (with its adjoint backward).
    #[module(skip)]
    pub square: Vec<bool>,
    /// The plan and the pre/postprocessing.
    #[module(skip)]
    pub model: Arc<OnnxModel>,
}

fn square_conv(op: &super::op::ConvOp, shape: [usize; 4]) -> bool {
    let [_, _, kh, kw] = shape;
    let p = op.pads;
    let sym = p.iter().all(|&v| v == p[0]);
    let same = p[0] == op.dilation[0] * (kh - 1) / 2;
    kh == kw && op.stride[0] == op.stride[1] && op.dilation[0] == op.dilation[1] && sym && op.same.is_none()
        && (same || op.stride[0] != 1 || kh % 2 == 0)
}

impl OnnxNet {
    /// The network of `model` on `device` (parameters never require gradients).
    pub fn new(model: Arc<OnnxModel>, device: &Device) -> Self {
        let plan = &model.plan;
        let mut square = vec![false; plan.convs.len()];
        for st in &plan.steps {
            if let super::op::Op::Conv(c) = &st.op {
                square[c.k] = square_conv(c, plan.convs[c.k].shape);
            }
        }
        let ops: Vec<Option<&super::op::ConvOp>> = (0..plan.convs.len())
            .map(|k| plan.steps.iter().find_map(|st| match &st.op { super::op::Op::Conv(c) if c.k == k => Some(c), _ => None }))
            .collect();
        let convs = plan
            .convs
            .iter()
            .zip(&ops)
            .map(|(c, op)| Conv {
                weight: Param::from_tensor(Tensor::from_data(TensorData::new(c.weight.clone(), c.shape), device)),
                bias: c.bias.as_ref().map(|b| Param::from_tensor(Tensor::from_data(TensorData::new(b.clone(), [b.len()]), device))),
                stride: op.map_or(1, |o| o.stride[0]),
                padding: op.map_or(0, |o| o.pads[0]),
                dilation: op.map_or(1, |o| o.dilation[0]),
                groups: op.map_or(1, |o| o.groups),
            })
            .collect();
        let tconvs = plan
            .tconvs
            .iter()
            .map(|c| TransposedConv {
                weight: Param::from_tensor(Tensor::from_data(TensorData::new(c.weight.clone(), c.shape), device)),
                bias: c.bias.as_ref().map(|b| Param::from_tensor(Tensor::from_data(TensorData::new(b.clone(), [b.len()]), device))),
            })
            .collect();
        let consts = plan
            .consts
            .iter()
            .filter(|c| c.device)
            .map(|c| {
                let v = c.value.to_f32();
                let n = v.len();
                Param::from_tensor(Tensor::from_data(TensorData::new(v, [n]), device))
            })
            .collect();
        Self { convs, tconvs, consts, square, model }.no_grad()
    }

    /// `[N, 3, H, W]` in `[0, 1]` → scores `[N, classes, H, W]` (logits, or log-probabilities for
    /// a graph that outputs probabilities).
    pub fn forward(&self, x01: Tensor<4>) -> Result<Tensor<4>> {
        let [_, _, h, w] = x01.dims();
        finish(self.scores(x01)?, &self.model.prep, h, w)
    }

    /// The graph's own output for a batch in `[0, 1]` (preprocessed as described; a graph with
    /// a batch of 1 runs image by image): before any resize or conversion.
    pub fn scores(&self, x01: Tensor<4>) -> Result<Tensor<4>> {
        let prep = &self.model.prep;
        let n = x01.dims()[0];
        let x = prepare(x01, prep)?;
        if prep.batch_one && n > 1 {
            let parts: Vec<Tensor<4>> = (0..n).map(|i| self.run_graph(x.clone().slice([i..i + 1]))).collect::<Result<_>>()?;
            return Ok(Tensor::cat(parts, 0));
        }
        self.run_graph(x)
    }

    /// The graph on its own input (preprocessed): its raw scores output.
    pub fn run_graph(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        let plan: &Plan = &self.model.plan;
        let device = x.device();
        let mut slots: Vec<Option<Value>> = vec![None; plan.slots];
        let mut k = 0;
        for c in &plan.consts {
            slots[c.slot] = Some(if c.device {
                let d = Dev::of(self.consts[k].val()).reshape(&c.value.shape)?;
                k += 1;
                Value::Both(c.value.clone(), d)
            } else {
                Value::Host(c.value.clone())
            });
        }
        slots[plan.input] = Some(Value::Dev(Dev::of(x)));
        let cx = Ctx { net: self, device };
        for st in &plan.steps {
            let args = Args(st.inputs.iter().map(|s| s.and_then(|s| slots[s].clone())).collect());
            let out = run(&st.op, &args, st.outputs.len(), &cx).map_err(|e| node_error(&st.name, &st.kind, self.model.opset, e))?;
            for &s in &st.free {
                slots[s] = None;
            }
            for (s, v) in st.outputs.iter().zip(out) {
                slots[*s] = Some(v);
            }
        }
        let out = slots[plan.output].take().ok_or_else(|| Error::Model("the graph computed no output".into()))?;
        let d = out.dev(&cx.device)?;
        if d.rank() != 4 {
            return Err(Error::Model(format!(
                "the graph's output has shape {:?}: scores must be [N, C, H, W] (or [N, H, W, C] with layout NHWC)",
                d.shape()
            )));
        }
        Ok(d.t::<4>())
    }
}

/// `[0, 1]` RGB NCHW → what the graph takes: channels flipped for BGR, then per channel (in
/// the graph's own order) `(x · range − mean) / std`, then NHWC if asked.
fn prepare(x01: Tensor<4>, p: &Prep) -> Result<Tensor<4>> {
    let device = x01.device();
    let mut x = if p.bgr { x01.flip([1]) } else { x01 };
    let scale: Vec<f32> = (0..3).map(|c| p.scale / p.std[c]).collect();
    let shift: Vec<f32> = (0..3).map(|c| -p.mean[c] / p.std[c]).collect();
    if scale.iter().any(|&s| s != 1.0) || shift.iter().any(|&s| s != 0.0) {
        let s = Tensor::<4>::from_data(TensorData::new(scale, [1, 3, 1, 1]), &device);
        let b = Tensor::<4>::from_data(TensorData::new(shift, [1, 3, 1, 1]), &device);
        x = x * s + b;
    }
    Ok(if p.nhwc { x.permute([0, 2, 3, 1]) } else { x })
}

/// The graph's scores → `[N, classes, H, W]` at the input size.
fn finish(y: Tensor<4>, p: &Prep, h: usize, w: usize) -> Result<Tensor<4>> {
    let mut y = if p.nhwc { y.permute([0, 3, 1, 2]) } else { y };
    if p.probabilities {
        y = y.clamp_min(1e-12).log();
    }
    let [_, c, oh, ow] = y.dims();
    if c == 1 {
        // one score per pixel: background 0 against the foreground logit
        let z = if p.probabilities { y.clone() - y.exp().neg().add_scalar(1.0).clamp_min(1e-12).log() } else { y };
        y = Tensor::cat(vec![z.zeros_like(), z], 1);
    }
    if (oh, ow) != (h, w) {
        let (a_h, a_w) = match p.resize {
            OutputResize::Bilinear => (super::exec_nn::resize_matrix(&half(true), h, oh, h as f64 / oh as f64), super::exec_nn::resize_matrix(&half(true), w, ow, w as f64 / ow as f64)),
            OutputResize::BilinearAlignCorners => (crate::model::layers::bilinear_align_corners_matrix(h, oh), crate::model::layers::bilinear_align_corners_matrix(w, ow)),
            OutputResize::Nearest => (super::exec_nn::resize_matrix(&half(false), h, oh, h as f64 / oh as f64), super::exec_nn::resize_matrix(&half(false), w, ow, w as f64 / ow as f64)),
        };
        y = resample(y, h, a_h, w, a_w);
    }
    Ok(y)
}

/// A half-pixel resize (linear or nearest, PyTorch's conventions).
fn half(linear: bool) -> super::op::ResizeOp {
    use super::op::{Coord, Nearest, ResizeOp};
    ResizeOp {
        linear,
        coord: if linear { Coord::HalfPixel } else { Coord::Asymmetric },
        nearest: Nearest::Floor,
        scales: None,
        sizes: None,
        axes: None,
    }
}
