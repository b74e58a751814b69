//! MediaPipe's selfie segmenter (person vs background; the network behind video-call
//! background blur — MediaPipe model card "Selfie Segmentation", Google 2021), natively in burn
//! and loaded directly from the published `.tflite` (float16 weights widened to float32).
//!
//! The network follows the file's graph ([`super::selfie_plan`]) in NCHW. TensorFlow's rules
//! are kept where they differ from PyTorch's: `SAME` padding puts the odd pixel after (explicit
//! asymmetric zero padding), bilinear resizing uses half-pixel centres (an exact matrix product,
//! [`tf_bilinear_matrix`]), and the final MediaPipe operator `Convolution2DTransposeBias` is a
//! transposed convolution with bias.
//!
//! Input: RGB in [0, 1], no mean/std (MediaPipe feeds the image in [0, 1]). Output: the graph
//! ends in a sigmoid giving the person probability `p`; the network returns the two logits
//! `[0, z]` with `p = σ(z)`, so softmax over them is `[1 − p, p]` and every loss, goal and
//! metric of the crate applies unchanged (class 0 background, class 1 person).

use burn::module::{Module, Param};
use burn::tensor::activation::{relu, sigmoid};
use burn::tensor::module::{avg_pool2d, conv_transpose2d, conv2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions, ConvTransposeOptions, PadMode};
use burn::tensor::{Device, Tensor, TensorData};

use super::layers::{resample, tf_bilinear_matrix};
use super::relu6_op::relu6;
use super::selfie_plan;
use super::selfie_steps::{Act, HostConv, Plan, Step, StepKind};
use crate::error::Result;
use crate::model::convert::tflite;

/// The weights of one (transposed) convolution.
#[derive(Module, Debug)]
pub struct ConvWeights {
    /// Kernel (burn layout).
    pub weight: Param<Tensor<4>>,
    /// Bias.
    pub bias: Param<Tensor<1>>,
}

impl ConvWeights {
    fn from_host(c: &mut HostConv, device: &Device) -> Self {
        let w = Tensor::<4>::from_data(TensorData::new(std::mem::take(&mut c.weight), c.shape), device);
        let n = c.bias.len();
        let b = Tensor::<1>::from_data(TensorData::new(std::mem::take(&mut c.bias), [n]), device);
        Self { weight: Param::from_tensor(w), bias: Param::from_tensor(b) }
    }
}

/// The selfie segmentation network.
#[derive(Module, Debug)]
pub struct SelfieNet {
    convs: Vec<ConvWeights>,
    transposed: Vec<ConvWeights>,
    /// The operators and their settings (weights moved into the fields above).
    #[module(skip)]
    plan: Plan,
}

impl SelfieNet {
    /// Load from the bytes of a selfie `.tflite` (`file` names it in errors) for an input of
    /// `height × width`; bad files (not TFLite, truncated, other tensor shapes or operators)
    /// give an error naming the file and the problem.
    pub fn from_tflite(file: &str, bytes: &[u8], height: usize, width: usize, device: &Device) -> Result<Self> {
        let model = tflite::read(file, bytes)?;
        let mut plan = selfie_plan::build(file, &model, [height, width])?;
        let convs = plan.convs.iter_mut().map(|c| ConvWeights::from_host(c, device)).collect();
        let transposed = plan.transposed.iter_mut().map(|c| ConvWeights::from_host(c, device)).collect();
        Ok(Self { convs, transposed, plan })
    }

    /// Input (height, width) the network was built for.
    pub fn size(&self) -> [usize; 2] {
        self.plan.size
    }

    /// `[N, 3, H, W]` in [0, 1] → logits `[N, 2, H, W]` = `[0, z]`, person probability `σ(z)`.
    pub fn forward(&self, x01: Tensor<4>) -> Tensor<4> {
        let z = self.person_logit(x01);
        Tensor::cat(vec![z.zeros_like(), z], 1)
    }

    /// The person logit `[N, 1, H, W]` (MediaPipe's mask is its sigmoid).
    pub fn person_logit(&self, x01: Tensor<4>) -> Tensor<4> {
        let mut slots: Vec<Option<Tensor<4>>> = vec![None; self.plan.slots];
        slots[self.plan.input] = Some(x01);
        for step in &self.plan.steps {
            let inputs: Vec<Tensor<4>> =
                step.inputs.iter().map(|&k| slots[k].clone().expect("the plan computes every input first")).collect();
            let y = self.step(step, inputs);
            for &k in &step.free {
                slots[k] = None;
            }
            slots[step.output] = Some(y);
        }
        slots[self.plan.logit].take().expect("the plan computes the logit")
    }

    fn step(&self, step: &Step, mut inputs: Vec<Tensor<4>>) -> Tensor<4> {
        let x = inputs.remove(0);
        match &step.kind {
            StepKind::Conv(k) => conv(&self.plan.convs[*k], &self.convs[*k], x),
            StepKind::ConvTranspose(k) => conv_t(&self.plan.transposed[*k], &self.transposed[*k], x),
            StepKind::HardSwish => x.clone() * relu6(x + 3.0) / 6.0,
            StepKind::Relu => relu(x),
            StepKind::Relu6 => relu6(x),
            StepKind::Sigmoid => sigmoid(x),
            StepKind::Add(a) => activate(broadcast(x, inputs.remove(0), |a, b| a + b), *a),
            StepKind::Mul(a) => activate(broadcast(x, inputs.remove(0), |a, b| a * b), *a),
            StepKind::GlobalAvgPool => {
                let [n, c, h, w] = x.dims();
                x.reshape([n, c, h * w]).mean_dim(2).reshape([n, c, 1, 1])
            }
            StepKind::AvgPool { filter, stride } => avg_pool2d(
                x,
                AvgPoolOptions { kernel_size: *filter, stride: *stride, padding: [(0, 0), (0, 0)], count_include_pad: false, ceil_mode: false },
            ),
            StepKind::Resize { out, align_corners, half_pixel_centers } => {
                let [_, _, h, w] = x.dims();
                let a_h = tf_bilinear_matrix(out[0], h, *align_corners, *half_pixel_centers);
                let a_w = tf_bilinear_matrix(out[1], w, *align_corners, *half_pixel_centers);
                resample(x, out[0], a_h, out[1], a_w)
            }
        }
    }
}

fn activate(x: Tensor<4>, act: Act) -> Tensor<4> {
    match act {
        Act::None => x,
        Act::Relu => relu(x),
        Act::Relu6 => relu6(x),
    }
}

/// `f(a, b)` after expanding size-1 axes of either to the other's size.
fn broadcast(a: Tensor<4>, b: Tensor<4>, f: impl Fn(Tensor<4>, Tensor<4>) -> Tensor<4>) -> Tensor<4> {
    let (da, db) = (a.dims(), b.dims());
    let out: [usize; 4] = std::array::from_fn(|i| da[i].max(db[i]));
    let a = if da == out { a } else { a.expand(out) };
    let b = if db == out { b } else { b.expand(out) };
    f(a, b)
}

/// A convolution with TensorFlow padding (asymmetric `SAME` padding made explicit).
fn conv(c: &HostConv, w: &ConvWeights, x: Tensor<4>) -> Tensor<4> {
    let [top, bottom, left, right] = c.pad;
    let (x, pad) = if top == bottom && left == right {
        (x, [top, left])
    } else {
        (x.pad((left, right, top, bottom), PadMode::Constant(0.0)), [0, 0])
    };
    let y = conv2d(x, w.weight.val(), Some(w.bias.val()), ConvOptions::new(c.stride, pad, c.dilation, c.groups));
    activate(y, c.act)
}

/// A transposed convolution, cropped to TensorFlow's output size.
fn conv_t(c: &HostConv, w: &ConvWeights, x: Tensor<4>) -> Tensor<4> {
    let y = conv_transpose2d(x, w.weight.val(), Some(w.bias.val()), ConvTransposeOptions::new(c.stride, [0, 0], [0, 0], [1, 1], 1));
    let [top, bottom, left, right] = c.pad;
    let y = if c.pad == [0; 4] {
        y
    } else {
        let [n, ch, h, wd] = y.dims();
        y.slice([0..n, 0..ch, top..h - bottom, left..wd - right])
    };
    activate(y, c.act)
}
