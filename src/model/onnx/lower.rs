//! onnx-ir's typed nodes → our [`Op`]s: settings taken from each node's config (which already
//! resolved every opset's attribute-or-input variants), weights of convolutions taken out of
//! the inputs. A node we do not run is an error naming it.

use onnx_ir::Node;
use onnx_ir::node::padding::{AutoPad, PaddingConfig2d};

use super::host::HostTensor;
use super::op::{Coord, ConvOp, ConvTransposeOp, Nearest, Op, PadSrc, PoolOp, Reduce, ResizeOp, Src, Unary};
use crate::error::{Error, Result};
use crate::model::onnx::host::BinOp;

/// The weights of a (transposed) convolution, on the host.
#[derive(Debug, Clone)]
pub struct HostConv {
    /// `[O, I/g, kh, kw]` (transposed: `[I, O/g, kh, kw]`), row-major.
    pub weight: Vec<f32>,
    /// Its shape.
    pub shape: [usize; 4],
    /// Bias `[O]`.
    pub bias: Option<Vec<f32>>,
}

/// What lowering one node gives: the op, and whether it reads only its first input (the others
/// were weights, moved into `convs` / `tconvs`); otherwise it reads every input, by position.
pub struct Lowered {
    /// The operation.
    pub op: Op,
    /// Only input 0 is read.
    pub first_only: bool,
}

/// Convolution weights collected while lowering.
#[derive(Default)]
pub struct Weights {
    /// Convolutions.
    pub convs: Vec<HostConv>,
    /// Transposed convolutions.
    pub tconvs: Vec<HostConv>,
}

fn same(a: &AutoPad) -> Option<bool> {
    match a {
        AutoPad::SameUpper => Some(true),
        AutoPad::SameLower => Some(false),
        _ => None,
    }
}

/// A pooling's settings from onnx-ir's config fields.
fn pool(kernel: [usize; 2], stride: [usize; 2], dilation: [usize; 2], padding: &PaddingConfig2d, auto: &AutoPad, ceil: bool, count_pad: bool) -> PoolOp {
    PoolOp { kernel, stride, dilation, pads: pads4(padding), same: same(auto), ceil, count_pad }
}

fn pads4(p: &PaddingConfig2d) -> [usize; 4] {
    let (t, l, b, r) = p.as_tuple();
    [t, l, b, r]
}

/// A constant input's values, or an error naming what is missing.
fn constant(node: &Node, k: usize, what: &str) -> Result<HostTensor> {
    let arg = node.inputs().get(k).filter(|a| !a.is_optional());
    match arg.and_then(|a| a.value()) {
        Some(d) => HostTensor::from_onnx(&d),
        None => Err(Error::Model(format!("its {what} (input {k}) is computed in the graph; only constant {what}s are supported"))),
    }
}

fn conv_weights(node: &Node, w: &mut Vec<HostConv>) -> Result<usize> {
    let weight = constant(node, 1, "weight")?;
    let shape: [usize; 4] = weight
        .shape
        .clone()
        .try_into()
        .map_err(|_| Error::Model(format!("a 2-D convolution weight of shape {:?}", weight.shape)))?;
    let bias = match node.inputs().get(2).filter(|a| !a.is_optional()) {
        Some(_) => Some(constant(node, 2, "bias")?.to_f32()),
        None => None,
    };
    w.push(HostConv { weight: weight.to_f32(), shape, bias });
    Ok(w.len() - 1)
}

macro_rules! src {
    ($e:expr, $Static:path, $Runtime:path, $f:expr) => {
        match $e {
            $Static(v) => Src::Static($f(v)),
            $Runtime(r) => Src::Input(r.input_index),
        }
    };
}

fn id<T: Clone>(v: &T) -> T {
    v.clone()
}

fn to_i64(v: &Vec<usize>) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

/// Lower one node. `Ok(None)` for nodes that produce nothing to run (constants).
pub fn lower(node: &Node, w: &mut Weights) -> Result<Option<Lowered>> {
    match node {
        Node::Constant(_) => return Ok(None),
        Node::ArgMax(_) | Node::ArgMin(_) => {
            return Err(Error::Model(
                "the graph computes class indices (ArgMax/ArgMin): attacks need the scores, so export the network without its final argmax".into(),
            ));
        }
        _ => {}
    }
    let found = match elementwise(node) {
        Some(l) => Some(l),
        None => match network(node, w)? {
            Some(l) => Some(l),
            None => layout(node)?,
        },
    };
    let (op, first_only) = found.ok_or_else(|| Error::Model(format!("the operator {} is not supported", node.node_type())))?;
    Ok(Some(Lowered { op, first_only }))
}

/// Elementwise and activation nodes (`None`: not one of them).
fn elementwise(node: &Node) -> Option<(Op, bool)> {
    use onnx_ir::node as n;
    let un = |u: Unary| (Op::Unary(u), false);
    let bin = |b: BinOp| (Op::Binary(b), false);
    Some(match node {
        Node::Identity(_) | Node::Dropout(_) => (Op::Identity, false),
        Node::Relu(_) => un(Unary::Relu),
        Node::Sigmoid(_) => un(Unary::Sigmoid),
        Node::Tanh(_) => un(Unary::Tanh),
        Node::Erf(_) => un(Unary::Erf),
        Node::Sqrt(_) => un(Unary::Sqrt),
        Node::Exp(_) => un(Unary::Exp),
        Node::Log(_) => un(Unary::Log),
        Node::Neg(_) => un(Unary::Neg),
        Node::Abs(_) => un(Unary::Abs),
        Node::Reciprocal(_) => un(Unary::Reciprocal),
        Node::Floor(_) => un(Unary::Floor),
        Node::Ceil(_) => un(Unary::Ceil),
        Node::Round(_) => un(Unary::Round),
        Node::Sign(_) => un(Unary::Sign),
        Node::Not(_) => un(Unary::Not),
        Node::Softplus(_) => un(Unary::Softplus),
        Node::Softsign(_) => un(Unary::Softsign),
        Node::Mish(_) => un(Unary::Mish),
        Node::HardSwish(_) => un(Unary::HardSwish),
        Node::Gelu(g) => un(Unary::Gelu { tanh: matches!(g.config.approximate, n::gelu::GeluApproximate::Tanh) }),
        Node::HardSigmoid(h) => un(Unary::HardSigmoid { alpha: h.config.alpha, beta: h.config.beta }),
        Node::LeakyRelu(l) => un(Unary::LeakyRelu(l.config.alpha)),
        Node::Elu(e) => un(Unary::Elu(e.config.alpha)),
        Node::Selu(s) => un(Unary::Selu { alpha: s.config.alpha, gamma: s.config.gamma }),
        Node::Celu(c) => un(Unary::Celu(c.config.alpha)),
        Node::ThresholdedRelu(t) => un(Unary::ThresholdedRelu(t.config.alpha)),
        Node::Swish(s) => un(Unary::Swish(s.config.alpha)),
        Node::Clip(c) => {
            let f = |i: &Option<n::clip::ClipInput>| {
                i.as_ref().map(|v| match v {
                    n::clip::ClipInput::Static(s) => Src::Static(s.clone().elem::<f64>()),
                    n::clip::ClipInput::Runtime(r) => Src::Input(r.input_index),
                })
            };
            (Op::Clip { min: f(&c.config.min), max: f(&c.config.max) }, false)
        }
        Node::PRelu(_) => (Op::PRelu, false),
        Node::Add(_) => bin(BinOp::Add),
        Node::Sub(_) => bin(BinOp::Sub),
        Node::Mul(_) => bin(BinOp::Mul),
        Node::Div(_) => bin(BinOp::Div),
        Node::Pow(_) => bin(BinOp::Pow),
        Node::Mod(m) => bin(if m.config.fmod { BinOp::Fmod } else { BinOp::Mod }),
        Node::Equal(_) => bin(BinOp::Equal),
        Node::Less(_) => bin(BinOp::Less),
        Node::LessOrEqual(_) => bin(BinOp::LessOrEqual),
        Node::Greater(_) => bin(BinOp::Greater),
        Node::GreaterOrEqual(_) => bin(BinOp::GreaterOrEqual),
        Node::And(_) => bin(BinOp::And),
        Node::Or(_) => bin(BinOp::Or),
        Node::Xor(_) => bin(BinOp::Xor),
        Node::Max(_) => (Op::Variadic(BinOp::Max, false), false),
        Node::Min(_) => (Op::Variadic(BinOp::Min, false), false),
        Node::Sum(_) => (Op::Variadic(BinOp::Add, false), false),
        Node::Mean(_) => (Op::Variadic(BinOp::Add, true), false),
        Node::Where(_) => (Op::Where, false),
        _ => return None,
    })
}

/// Network nodes: convolutions (their weights taken into `w`), normalisations, pooling,
/// reductions, resizing, matrix products and attention (`None`: not one of them).
fn network(node: &Node, w: &mut Weights) -> Result<Option<(Op, bool)>> {
    use onnx_ir::node as n;
    Ok(Some(match node {
        Node::MatMul(_) => (Op::MatMul, false),
        Node::Gemm(g) => {
            let c = &g.config;
            (Op::Gemm { alpha: c.alpha, beta: c.beta, trans_a: c.trans_a != 0, trans_b: c.trans_b != 0 }, false)
        }
        Node::Linear(l) => (Op::Linear { transpose_weight: l.config.transpose_weight }, false),
        Node::Conv2d(c) => {
            let cfg = &c.config;
            let k = conv_weights(node, &mut w.convs)?;
            let op = ConvOp {
                k,
                stride: cfg.stride,
                dilation: cfg.dilation,
                groups: cfg.groups,
                pads: pads4(&cfg.padding),
                same: same(&cfg.auto_pad),
            };
            (Op::Conv(op), true)
        }
        Node::ConvTranspose2d(c) => {
            let cfg = &c.config;
            let k = conv_weights(node, &mut w.tconvs)?;
            let op = ConvTransposeOp {
                k,
                stride: cfg.stride,
                dilation: cfg.dilation,
                pads: cfg.padding,
                out_pad: cfg.padding_out,
                groups: cfg.groups,
                out_shape: cfg.output_shape,
                same: same(&cfg.auto_pad),
            };
            (Op::ConvTranspose(op), true)
        }
        Node::BatchNormalization(b) => {
            let eps = match &b.config {
                n::batch_norm::BatchNormConfig::Static(s) => s.epsilon,
                n::batch_norm::BatchNormConfig::Runtime(r) => r.epsilon,
            };
            (Op::BatchNorm { eps }, false)
        }
        Node::LayerNormalization(l) => (Op::LayerNorm { axis: l.config.axis, eps: l.config.epsilon }, false),
        Node::InstanceNormalization(i) => (Op::InstanceNorm { eps: i.config.epsilon }, false),
        Node::GroupNormalization(g) => (Op::GroupNorm { groups: g.config.num_groups, eps: g.config.epsilon }, false),
        Node::Softmax(s) => (Op::Softmax { axis: s.config.axis, log: false }, false),
        Node::LogSoftmax(s) => (Op::Softmax { axis: s.config.axis, log: true }, false),
        Node::MaxPool2d(p) => {
            let c = &p.config;
            (Op::MaxPool(pool(c.kernel_size, c.strides, c.dilation, &c.padding, &c.auto_pad, c.ceil_mode, false)), false)
        }
        Node::AveragePool2d(p) => {
            let c = &p.config;
            (Op::AvgPool(pool(c.kernel_size, c.strides, c.dilation, &c.padding, &c.auto_pad, c.ceil_mode, c.count_include_pad)), false)
        }
        Node::GlobalAveragePool(_) => (Op::GlobalPool { max: false }, false),
        Node::GlobalMaxPool(_) => (Op::GlobalPool { max: true }, false),
        Node::ReduceMean(r) => reduce(Reduce::Mean, &r.config),
        Node::ReduceSum(r) => reduce(Reduce::Sum, &r.config),
        Node::ReduceMax(r) => reduce(Reduce::Max, &r.config),
        Node::ReduceMin(r) => reduce(Reduce::Min, &r.config),
        Node::ReduceProd(r) => reduce(Reduce::Prod, &r.config),
        Node::ReduceSumSquare(r) => reduce(Reduce::SumSquare, &r.config),
        Node::ReduceL2(r) => reduce(Reduce::L2, &r.config),
        Node::Resize(r) | Node::Upsample(r) => (Op::Resize(resize(&r.config)?), false),
        Node::Attention(a) => {
            let c = &a.config;
            if c.softcap != 0.0 || !matches!(c.qk_matmul_output_mode, n::attention::AttentionQkMatmulOutputMode::Matmul) {
                return Err(unsupported_setting("softcap or a qk_matmul_output_mode"));
            }
            (Op::Attention { scale: c.scale, q_heads: c.q_num_heads, kv_heads: c.kv_num_heads, causal: c.is_causal }, false)
        }
        _ => return Ok(None),
    }))
}

/// Layout, indexing and shape nodes (`None`: not one of them).
fn layout(node: &Node) -> Result<Option<(Op, bool)>> {
    use onnx_ir::node as n;
    Ok(Some(match node {
        Node::Pad(p) => (pad(&p.config), false),
        Node::Reshape(r) => {
            let shape = src!(&r.config.shape, n::reshape::ReshapeInput::Static, n::reshape::ReshapeInput::Runtime, id);
            (Op::Reshape { shape, allowzero: r.config.allowzero == Some(1) }, false)
        }
        Node::Flatten(f) => (Op::Flatten { axis: f.config.axis }, false),
        Node::Squeeze(s) => {
            let axes = s.config.axes.as_ref().map(|a| src!(a, n::squeeze::SqueezeInput::Static, n::squeeze::SqueezeInput::Runtime, id));
            (Op::Squeeze { axes }, false)
        }
        Node::Unsqueeze(u) => {
            let axes = src!(&u.config, n::unsqueeze::UnsqueezeConfig::Static, n::unsqueeze::UnsqueezeConfig::Runtime, id);
            (Op::Unsqueeze { axes }, false)
        }
        Node::Transpose(t) => (Op::Transpose { perm: t.config.perm.clone() }, false),
        Node::Expand(e) => {
            let shape = src!(&e.config, n::expand::ExpandConfig::Static, n::expand::ExpandConfig::Runtime, id);
            (Op::Expand { shape }, false)
        }
        Node::Concat(c) => (Op::Concat { axis: c.config.axis }, false),
        Node::Split(s) => {
            let c = &s.config;
            let sizes = c.split_sizes.as_ref().map(|v| src!(v, n::split::SplitSizesInput::Static, n::split::SplitSizesInput::Runtime, id));
            (Op::Split { axis: c.axis, sizes, size: c.split_size }, false)
        }
        Node::Slice(s) => {
            let c = &s.config;
            let f = |v: &n::slice::SliceInput| src!(v, n::slice::SliceInput::Static, n::slice::SliceInput::Runtime, id);
            let op = Op::Slice {
                starts: f(&c.starts),
                ends: f(&c.ends),
                axes: c.axes.as_ref().map(f),
                steps: c.steps.as_ref().map(f),
            };
            (op, false)
        }
        Node::Gather(g) => (Op::Gather { axis: g.config.axis }, false),
        Node::GatherND(g) => (Op::GatherNd { batch_dims: g.config.batch_dims }, false),
        Node::GatherElements(g) => (Op::GatherElements { axis: g.config.axis }, false),
        Node::Shape(s) => (Op::Shape { start: s.config.start, end: s.config.end }, false),
        Node::Size(_) => (Op::Size, false),
        Node::Cast(c) => (Op::Cast(cast_kind(c.config.to)), false),
        Node::ConstantOfShape(c) => {
            let shape = src!(&c.config.shape, n::constant_of_shape::ConstantOfShapeShape::Static, n::constant_of_shape::ConstantOfShapeShape::Runtime, id);
            let value = match &c.config.value {
                Some(d) => HostTensor::from_onnx(d)?,
                None => HostTensor::f32(vec![1], vec![0.0]),
            };
            (Op::ConstantOfShape { shape, value }, false)
        }
        Node::Range(r) => {
            let f = |v: &n::range::RangeInput| match v {
                n::range::RangeInput::Static(i) => Src::Static(*i as f64),
                n::range::RangeInput::StaticFloat(x) => Src::Static(*x),
                n::range::RangeInput::Runtime(r) => Src::Input(r.input_index),
            };
            (Op::Range { start: f(&r.config.start), limit: f(&r.config.limit), delta: f(&r.config.delta) }, false)
        }
        Node::Tile(t) => {
            let repeats = src!(&t.config.repeats, n::tile::TileInput::Static, n::tile::TileInput::Runtime, id);
            (Op::Tile { repeats }, false)
        }
        Node::DepthToSpace(d) => {
            let crd = matches!(d.config.mode, n::depth_to_space::DepthToSpaceMode::Crd);
            (Op::DepthToSpace { block: d.config.block_size, crd }, false)
        }
        Node::SpaceToDepth(s) => (Op::SpaceToDepth { block: s.config.block_size }, false),
        _ => return Ok(None),
    }))
}

/// A Pad's amounts, value and mode.
fn pad(c: &onnx_ir::node::pad::PadConfig) -> Op {
    use onnx_ir::node as n;
    let pads = match &c.pads {
        n::pad::PadInput::Static(v) => PadSrc::Static(v.clone()),
        n::pad::PadInput::Runtime { input, axes } => PadSrc::Input(
            input.input_index,
            axes.as_ref().map(|a| src!(a, n::pad::AxesInput::Static, n::pad::AxesInput::Runtime, to_i64)),
        ),
    };
    let value = src!(&c.constant_value, n::pad::ConstantValueInput::Static, n::pad::ConstantValueInput::Runtime, |v: &f32| *v);
    let mode = match c.mode {
        n::pad::PadMode::Constant => 0,
        n::pad::PadMode::Reflect => 1,
        n::pad::PadMode::Edge => 2,
    };
    Op::Pad { pads, value, mode }
}

fn unsupported_setting(what: &str) -> Error {
    Error::Model(format!("{what} is not supported"))
}

fn cast_kind(to: onnx_ir::DType) -> u8 {
    use onnx_ir::DType;
    match to {
        DType::Bool(_) => 2,
        DType::F64 | DType::F32 | DType::F16 | DType::BF16 | DType::Flex32 => 0,
        _ => 1,
    }
}

fn reduce(kind: Reduce, c: &onnx_ir::node::reduce::ReduceConfig) -> (Op, bool) {
    use onnx_ir::node::reduce::ReduceAxes;
    let axes = match &c.axes {
        ReduceAxes::Static(v) if v.is_empty() => None,
        ReduceAxes::Static(v) => Some(Src::Static(to_i64(v))),
        ReduceAxes::Runtime(r) => Some(Src::Input(r.input_index)),
    };
    (Op::Reduce { kind, axes, keep: c.keepdims, noop: c.noop_with_empty_axes }, false)
}

fn resize(c: &onnx_ir::node::resize::ResizeConfig) -> Result<ResizeOp> {
    use onnx_ir::node::resize::{CoordinateTransformMode as C, KeepAspectRatioPolicy, NearestMode as N, ResizeMode, ResizeScales, ResizeSizes};
    let linear = match c.mode {
        ResizeMode::Nearest => false,
        ResizeMode::Linear => true,
        ResizeMode::Cubic => return Err(unsupported_setting("cubic resizing")),
    };
    if c.antialias != 0 && linear {
        return Err(unsupported_setting("antialiased resizing"));
    }
    if !matches!(c.keep_aspect_ratio_policy, KeepAspectRatioPolicy::Stretch) {
        return Err(unsupported_setting("keep_aspect_ratio_policy other than stretch"));
    }
    let coord = match c.coordinate_transformation_mode {
        C::HalfPixel => Coord::HalfPixel,
        C::PytorchHalfPixel => Coord::PytorchHalfPixel,
        C::AlignCorners => Coord::AlignCorners,
        C::Asymmetric => Coord::Asymmetric,
        C::TfHalfPixelForNn => Coord::TfHalfPixelForNn,
        C::TfCropAndResize => return Err(unsupported_setting("the tf_crop_and_resize coordinate mode")),
    };
    let nearest = match c.nearest_mode {
        N::RoundPreferFloor => Nearest::RoundPreferFloor,
        N::RoundPreferCeil => Nearest::RoundPreferCeil,
        N::Floor => Nearest::Floor,
        N::Ceil => Nearest::Ceil,
    };
    let scales = c.scales.as_ref().map(|s| match s {
        ResizeScales::Static(v) => Src::Static(v.clone()),
        ResizeScales::Runtime(r) => Src::Input(r.input_index),
    });
    let sizes = c.sizes.as_ref().map(|s| match s {
        ResizeSizes::Static(v) => Src::Static(to_i64(v)),
        ResizeSizes::Runtime(r) => Src::Input(r.input_index),
    });
    Ok(ResizeOp { linear, coord, nearest, scales, sizes, axes: c.axes.clone() })
}

/// The node inputs an op reads as host parameters (shapes, axes, amounts), not as tensors.
pub fn param_inputs(op: &Op) -> Vec<usize> {
    fn one<T>(s: &Src<T>, v: &mut Vec<usize>) {
        if let Src::Input(k) = s {
            v.push(*k);
        }
    }
    let mut v = Vec::new();
    match op {
        Op::Clip { min, max } => {
            min.iter().chain(max).for_each(|s| one(s, &mut v));
        }
        Op::Reduce { axes: Some(a), .. } | Op::Squeeze { axes: Some(a) } => one(a, &mut v),
        Op::Resize(r) => {
            r.scales.iter().for_each(|s| one(s, &mut v));
            r.sizes.iter().for_each(|s| one(s, &mut v));
        }
        Op::Pad { pads, value, .. } => {
            if let PadSrc::Input(k, axes) = pads {
                v.push(*k);
                axes.iter().for_each(|s| one(s, &mut v));
            }
            one(value, &mut v);
        }
        Op::Reshape { shape, .. } | Op::Expand { shape } | Op::ConstantOfShape { shape, .. } => one(shape, &mut v),
        Op::Unsqueeze { axes } => one(axes, &mut v),
        Op::Split { sizes: Some(s), .. } => one(s, &mut v),
        Op::Slice { starts, ends, axes, steps } => {
            one(starts, &mut v);
            one(ends, &mut v);
            axes.iter().chain(steps).for_each(|s| one(s, &mut v));
        }
        Op::Range { start, limit, delta } => {
            one(start, &mut v);
            one(limit, &mut v);
            one(delta, &mut v);
        }
        Op::Tile { repeats } => one(repeats, &mut v),
        _ => {}
    }
    v
}
