//! The operations of an interpreted graph, with their settings resolved from onnx-ir's nodes
//! ([`super::lower`] builds them, [`super::exec`] runs them).

use super::host::{BinOp, HostTensor};

/// A parameter given either in the file (an attribute or a constant input) or by an input that
/// is computed while running (shape arithmetic): the input's index among the node's inputs.
#[derive(Debug, Clone, PartialEq)]
pub enum Src<T> {
    /// Known when the graph is read.
    Static(T),
    /// Input number `k` of the node (a host value when the node runs).
    Input(usize),
}

/// An elementwise function of one tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unary {
    /// `max(0, x)`
    Relu,
    /// `1 / (1 + e^−x)`
    Sigmoid,
    /// `tanh x`
    Tanh,
    /// The error function.
    Erf,
    /// `√x`
    Sqrt,
    /// `e^x`
    Exp,
    /// `ln x`
    Log,
    /// `−x`
    Neg,
    /// `|x|`
    Abs,
    /// `1 / x`
    Reciprocal,
    /// `⌊x⌋`
    Floor,
    /// `⌈x⌉`
    Ceil,
    /// Round half to even.
    Round,
    /// `sign x`
    Sign,
    /// Gaussian error linear unit (`tanh`: the tanh approximation).
    Gelu {
        /// Tanh approximation.
        tanh: bool,
    },
    /// `x · relu6(x + 3) / 6`
    HardSwish,
    /// `clamp(αx + β, 0, 1)`
    HardSigmoid {
        /// Slope.
        alpha: f64,
        /// Offset.
        beta: f64,
    },
    /// `x` if `x ≥ 0` else `αx`.
    LeakyRelu(f64),
    /// `x` if `x > 0` else `α(e^x − 1)`.
    Elu(f64),
    /// `γ·elu_α(x)`
    Selu {
        /// α
        alpha: f64,
        /// γ
        gamma: f64,
    },
    /// `max(0, x) + min(0, α(e^{x/α} − 1))`
    Celu(f64),
    /// `x` if `x > α` else 0.
    ThresholdedRelu(f64),
    /// `ln(1 + e^x)`
    Softplus,
    /// `x / (1 + |x|)`
    Softsign,
    /// `x · tanh(softplus x)`
    Mish,
    /// `x · σ(αx)`
    Swish(f64),
    /// Logical not.
    Not,
}

/// A reduction over axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    /// Mean.
    Mean,
    /// Sum.
    Sum,
    /// Maximum.
    Max,
    /// Minimum.
    Min,
    /// Product (host values only).
    Prod,
    /// Sum of squares.
    SumSquare,
    /// `√Σx²`
    L2,
}

/// Settings of a 2-D convolution; weights are [`super::plan::Plan::convs`]`[k]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvOp {
    /// Index of the weights.
    pub k: usize,
    /// Stride (height, width).
    pub stride: [usize; 2],
    /// Dilation (height, width).
    pub dilation: [usize; 2],
    /// Channel groups.
    pub groups: usize,
    /// Explicit padding (top, left, bottom, right), unless `same`.
    pub pads: [usize; 4],
    /// `SAME_UPPER` (`Some(true)`) / `SAME_LOWER` (`Some(false)`): padding from the input size.
    pub same: Option<bool>,
}

/// Settings of a 2-D transposed convolution; weights are [`super::plan::Plan::tconvs`]`[k]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvTransposeOp {
    /// Index of the weights.
    pub k: usize,
    /// Stride.
    pub stride: [usize; 2],
    /// Dilation.
    pub dilation: [usize; 2],
    /// Padding removed from each side of the full output (height, width).
    pub pads: [usize; 2],
    /// Extra rows / columns at the end (`output_padding`).
    pub out_pad: [usize; 2],
    /// Channel groups.
    pub groups: usize,
    /// `output_shape` attribute (height, width).
    pub out_shape: Option<[usize; 2]>,
    /// `SAME_UPPER` / `SAME_LOWER`.
    pub same: Option<bool>,
}

/// Settings of a 2-D pooling.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolOp {
    /// Window.
    pub kernel: [usize; 2],
    /// Stride.
    pub stride: [usize; 2],
    /// Dilation.
    pub dilation: [usize; 2],
    /// Padding (top, left, bottom, right).
    pub pads: [usize; 4],
    /// `SAME_UPPER` / `SAME_LOWER`.
    pub same: Option<bool>,
    /// Output size rounded up.
    pub ceil: bool,
    /// Average pooling: padded zeros count.
    pub count_pad: bool,
}

/// How a resize maps output to input coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coord {
    /// `(i + ½)/s − ½`
    HalfPixel,
    /// Half pixel, but 0 for an output of length 1.
    PytorchHalfPixel,
    /// `i · (in − 1)/(out − 1)`
    AlignCorners,
    /// `i / s`
    Asymmetric,
    /// TensorFlow's nearest-neighbour half pixel: `(i + ½)/s`.
    TfHalfPixelForNn,
}

/// How nearest resizing rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nearest {
    /// Round, halves down.
    RoundPreferFloor,
    /// Round, halves up.
    RoundPreferCeil,
    /// `⌊x⌋`
    Floor,
    /// `⌈x⌉`
    Ceil,
}

/// Settings of a resize (nearest or linear, as separable matrix products).
#[derive(Debug, Clone, PartialEq)]
pub struct ResizeOp {
    /// Linear (else nearest).
    pub linear: bool,
    /// Coordinate transformation.
    pub coord: Coord,
    /// Nearest rounding.
    pub nearest: Nearest,
    /// Scales per axis.
    pub scales: Option<Src<Vec<f32>>>,
    /// Output sizes per axis.
    pub sizes: Option<Src<Vec<i64>>>,
    /// Axes the scales / sizes refer to (default: all).
    pub axes: Option<Vec<usize>>,
}

/// Padding amounts of a `Pad`.
#[derive(Debug, Clone, PartialEq)]
pub enum PadSrc {
    /// Per axis (before, after), from the end of the rank if shorter.
    Static(Vec<(usize, usize)>),
    /// From input `k` (ONNX order: all befores, then all afters), for `axes` if given.
    Input(usize, Option<Src<Vec<i64>>>),
}

/// One operation.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// Output = input.
    Identity,
    /// Elementwise function.
    Unary(Unary),
    /// `clamp(x, min, max)`.
    Clip {
        /// Lower bound.
        min: Option<Src<f64>>,
        /// Upper bound.
        max: Option<Src<f64>>,
    },
    /// `x` if `x ≥ 0` else `slope · x` (slope broadcast).
    PRelu,
    /// Elementwise with broadcasting.
    Binary(BinOp),
    /// Elementwise over any number of inputs (`Max`, `Min`, `Sum`, `Mean`).
    Variadic(BinOp, bool),
    /// `cond ? x : y`.
    Where,
    /// numpy `matmul`.
    MatMul,
    /// `α·A'B' + β·C`.
    Gemm {
        /// α
        alpha: f32,
        /// β
        beta: f32,
        /// Transpose A.
        trans_a: bool,
        /// Transpose B.
        trans_b: bool,
    },
    /// `x · W (+ b)`, `W` stored `[out, in]` when `transpose_weight`.
    Linear {
        /// Weight stored transposed.
        transpose_weight: bool,
    },
    /// 2-D convolution.
    Conv(ConvOp),
    /// 2-D transposed convolution.
    ConvTranspose(ConvTransposeOp),
    /// `x · scale + shift` with per-channel constants (an eval-mode BatchNorm, folded).
    Affine,
    /// BatchNormalization with statistics computed in the graph.
    BatchNorm {
        /// ε
        eps: f64,
    },
    /// Normalisation over the axes from `axis` on, then scale and bias.
    LayerNorm {
        /// First normalised axis.
        axis: i64,
        /// ε
        eps: f64,
    },
    /// Per-channel normalisation over the spatial axes.
    InstanceNorm {
        /// ε
        eps: f64,
    },
    /// Normalisation over channel groups.
    GroupNorm {
        /// Groups.
        groups: usize,
        /// ε
        eps: f64,
    },
    /// Softmax (`log`: log-softmax) along an axis.
    Softmax {
        /// Axis.
        axis: usize,
        /// Log-softmax.
        log: bool,
    },
    /// Max pooling.
    MaxPool(PoolOp),
    /// Average pooling.
    AvgPool(PoolOp),
    /// Mean (`max`: maximum) over all spatial axes.
    GlobalPool {
        /// Maximum instead of mean.
        max: bool,
    },
    /// Reduction.
    Reduce {
        /// Which.
        kind: Reduce,
        /// Axes (`None`: all, unless `noop`).
        axes: Option<Src<Vec<i64>>>,
        /// Keep reduced axes as size 1.
        keep: bool,
        /// No axes means identity.
        noop: bool,
    },
    /// Resize.
    Resize(ResizeOp),
    /// Padding.
    Pad {
        /// Amounts.
        pads: PadSrc,
        /// Constant value.
        value: Src<f32>,
        /// 0 constant, 1 reflect, 2 edge.
        mode: u8,
    },
    /// Reshape (0 copies a dimension unless `allowzero`, −1 is inferred).
    Reshape {
        /// Target.
        shape: Src<Vec<i64>>,
        /// Zeros are literal.
        allowzero: bool,
    },
    /// Flatten to 2-D at `axis`.
    Flatten {
        /// Split axis.
        axis: usize,
    },
    /// Drop size-1 axes.
    Squeeze {
        /// Axes (`None`: every size-1 axis).
        axes: Option<Src<Vec<i64>>>,
    },
    /// Insert size-1 axes.
    Unsqueeze {
        /// Axes of the output.
        axes: Src<Vec<i64>>,
    },
    /// Permute axes.
    Transpose {
        /// Permutation (empty: reverse).
        perm: Vec<i64>,
    },
    /// Broadcast to a shape.
    Expand {
        /// Target shape.
        shape: Src<Vec<i64>>,
    },
    /// Concatenate.
    Concat {
        /// Axis.
        axis: usize,
    },
    /// Split into outputs.
    Split {
        /// Axis.
        axis: usize,
        /// Sizes.
        sizes: Option<Src<Vec<usize>>>,
        /// Chunk size.
        size: Option<usize>,
    },
    /// Strided sub-tensor.
    Slice {
        /// Starts.
        starts: Src<Vec<i64>>,
        /// Ends.
        ends: Src<Vec<i64>>,
        /// Axes.
        axes: Option<Src<Vec<i64>>>,
        /// Steps.
        steps: Option<Src<Vec<i64>>>,
    },
    /// Take along an axis.
    Gather {
        /// Axis.
        axis: usize,
    },
    /// Take by index tuples.
    GatherNd {
        /// Leading batch axes.
        batch_dims: usize,
    },
    /// Take elementwise along an axis.
    GatherElements {
        /// Axis.
        axis: usize,
    },
    /// The input's shape (`start..end`).
    Shape {
        /// First axis.
        start: usize,
        /// End axis.
        end: usize,
    },
    /// Number of elements.
    Size,
    /// Change element type (0 float, 1 integer, 2 bool).
    Cast(u8),
    /// A tensor filled with one value.
    ConstantOfShape {
        /// Shape.
        shape: Src<Vec<i64>>,
        /// The value (a one-element tensor).
        value: HostTensor,
    },
    /// `start, start + delta, … < limit`.
    Range {
        /// Start.
        start: Src<f64>,
        /// Limit.
        limit: Src<f64>,
        /// Step.
        delta: Src<f64>,
    },
    /// Repeat along axes.
    Tile {
        /// Repeats.
        repeats: Src<Vec<usize>>,
    },
    /// Move channel blocks into space.
    DepthToSpace {
        /// Block size.
        block: usize,
        /// `CRD` order (else `DCR`).
        crd: bool,
    },
    /// Move space into channel blocks.
    SpaceToDepth {
        /// Block size.
        block: usize,
    },
    /// `softmax(Q Kᵀ · scale + mask) V`.
    Attention {
        /// Scale (default `1/√d`).
        scale: Option<f64>,
        /// Query heads (3-D inputs).
        q_heads: Option<usize>,
        /// Key/value heads (3-D inputs).
        kv_heads: Option<usize>,
        /// Causal mask.
        causal: bool,
    },
}
