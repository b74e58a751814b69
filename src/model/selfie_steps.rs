//! The steps of the selfie network's plan ([`super::selfie_plan`] builds them from the
//! `.tflite`, [`super::selfie::SelfieNet`] executes them): what each computes and which tensor
//! slots it reads and writes.

/// An activation applied after an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    /// None.
    None,
    /// `max(0, x)`.
    Relu,
    /// `min(max(0, x), 6)`.
    Relu6,
}

/// A convolution (or transposed convolution) with its weights in burn's layout.
#[derive(Debug, Clone)]
pub struct HostConv {
    /// The weight tensor's name in the file.
    pub name: String,
    /// Weights: `[O, I/groups, kh, kw]` (transposed: `[I, O, kh, kw]`), row-major.
    pub weight: Vec<f32>,
    /// Their shape.
    pub shape: [usize; 4],
    /// Bias `[O]`.
    pub bias: Vec<f32>,
    /// Stride (height, width).
    pub stride: [usize; 2],
    /// Dilation (height, width).
    pub dilation: [usize; 2],
    /// Channel groups.
    pub groups: usize,
    /// Zero padding (top, bottom, left, right); for a transposed convolution, the rows and
    /// columns cropped from its full output.
    pub pad: [usize; 4],
    /// Fused activation.
    pub act: Act,
}

/// What one step computes.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Convolution number `k` of [`Plan::convs`].
    Conv(usize),
    /// Transposed convolution number `k` of [`Plan::transposed`].
    ConvTranspose(usize),
    /// `x · relu6(x + 3) / 6`.
    HardSwish,
    /// `max(0, x)`.
    Relu,
    /// `clamp(x, 0, 6)`.
    Relu6,
    /// `1 / (1 + e^{−x})`.
    Sigmoid,
    /// Broadcasting sum, then an activation.
    Add(Act),
    /// Broadcasting product, then an activation.
    Mul(Act),
    /// Mean over the whole height and width.
    GlobalAvgPool,
    /// `VALID` average pooling.
    AvgPool {
        /// Window (height, width).
        filter: [usize; 2],
        /// Stride (height, width).
        stride: [usize; 2],
    },
    /// Bilinear resize to `out` (height, width) with TensorFlow's sampling rules.
    Resize {
        /// Output (height, width).
        out: [usize; 2],
        /// `align_corners`.
        align_corners: bool,
        /// `half_pixel_centers`.
        half_pixel_centers: bool,
    },
}

/// One step: reads `inputs` (tensor slots), writes `output`, then drops the slots in `free`.
#[derive(Debug, Clone)]
pub struct Step {
    /// What it computes.
    pub kind: StepKind,
    /// Slots read.
    pub inputs: Vec<usize>,
    /// Slot written.
    pub output: usize,
    /// Slots no later step reads.
    pub free: Vec<usize>,
}

/// The whole network as steps over tensor slots (the file's tensor indices).
#[derive(Debug, Clone)]
pub struct Plan {
    /// Steps in execution order (the final `LOGISTIC` is left out: see [`Plan::logit`]).
    pub steps: Vec<Step>,
    /// The slot of the input image.
    pub input: usize,
    /// The slot holding the person logit (the input of the graph's final `LOGISTIC`).
    pub logit: usize,
    /// Number of slots.
    pub slots: usize,
    /// Input (height, width).
    pub size: [usize; 2],
    /// Convolutions.
    pub convs: Vec<HostConv>,
    /// Transposed convolutions.
    pub transposed: Vec<HostConv>,
}
