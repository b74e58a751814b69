//! The execution plan of MediaPipe's selfie segmenter, read from its `.tflite` file: the
//! operators in order, each with the tensors it reads and writes, and the convolution weights
//! (float16 in the file, widened to float32) in burn's layouts.
//!
//! The graph (MediaPipe model card "Selfie Segmentation", 2021; a MobileNetV3-style encoder —
//! Howard et al., "Searching for MobileNetV3", ICCV 2019 — with squeeze-excitation, hard-swish
//! and a small decoder) is followed as the file states it, so both published variants (256×256
//! and 144×256) load through the same code. Every operator is checked while the plan is built:
//! its weights must be constant, their shapes must fit the incoming channels, and the output
//! shape it produces must be the one the file declares. A file that fails any check is rejected
//! with its name and the offending tensor, so the network never meets a shape it cannot take.

use std::collections::HashMap;

use crate::error::{Error, Result};
use super::selfie_steps::{Act, HostConv, Plan, Step, StepKind};
use crate::model::convert::tflite::{TfOperator, TfOptions, TfPadding, TfTensor, TfliteModel, op};

/// NHWC shape of a tensor while the plan is built.
type Shape = [usize; 4];

/// Build the plan of `model` (read from `file`) for an input of `size` = (height, width).
pub fn build(file: &str, model: &TfliteModel, size: [usize; 2]) -> Result<Plan> {
    let mut b = Builder {
        file,
        m: model,
        shapes: vec![None; model.tensors.len()],
        dequant: HashMap::new(),
        producer: HashMap::new(),
        steps: Vec::new(),
        convs: Vec::new(),
        transposed: Vec::new(),
    };
    let input = b.single(&model.inputs, "inputs")?;
    let output = b.single(&model.outputs, "outputs")?;
    let [h, w] = size;
    b.expect_declared(input, [1, h, w, 3], "input")?;
    b.expect_declared(output, [1, h, w, 1], "output")?;
    b.shapes[input] = Some([1, h, w, 3]);
    for (i, o) in model.operators.iter().enumerate() {
        b.operator(i, o)?;
    }
    let logit = b.logit_of(output)?;
    let mut steps = b.steps;
    free_lists(&mut steps, logit);
    Ok(Plan { steps, input, logit, slots: model.tensors.len(), size, convs: b.convs, transposed: b.transposed })
}

/// Fill each step's `free` with the slots it is the last reader of (never `keep`).
fn free_lists(steps: &mut [Step], keep: usize) {
    let mut last = HashMap::new();
    for (i, s) in steps.iter().enumerate() {
        for &k in &s.inputs {
            last.insert(k, i);
        }
    }
    for (i, s) in steps.iter_mut().enumerate() {
        let mut free: Vec<usize> = s.inputs.iter().copied().filter(|k| last[k] == i && *k != keep).collect();
        free.dedup();
        s.free = free;
    }
}

/// A readable name of an operator.
fn op_name(o: &TfOperator) -> String {
    match (o.opcode, &o.custom_code) {
        (_, Some(c)) => format!("custom '{c}'"),
        (op::ADD, _) => "ADD".into(),
        (op::AVERAGE_POOL_2D, _) => "AVERAGE_POOL_2D".into(),
        (op::CONV_2D, _) => "CONV_2D".into(),
        (op::DEPTHWISE_CONV_2D, _) => "DEPTHWISE_CONV_2D".into(),
        (op::DEQUANTIZE, _) => "DEQUANTIZE".into(),
        (op::LOGISTIC, _) => "LOGISTIC".into(),
        (op::MUL, _) => "MUL".into(),
        (op::MEAN, _) => "MEAN".into(),
        (op::RELU, _) => "RELU".into(),
        (op::RELU6, _) => "RELU6".into(),
        (op::RESIZE_BILINEAR, _) => "RESIZE_BILINEAR".into(),
        (op::HARD_SWISH, _) => "HARD_SWISH".into(),
        (c, _) => format!("builtin operator {c}"),
    }
}

/// The MediaPipe custom operator of the last upsampling (a transposed convolution with bias).
pub const TRANSPOSE_CONV_BIAS: &str = "Convolution2DTransposeBias";

struct Builder<'a> {
    file: &'a str,
    m: &'a TfliteModel,
    shapes: Vec<Option<Shape>>,
    /// DEQUANTIZE outputs → their constant inputs.
    dequant: HashMap<usize, usize>,
    /// Output slot → (step index, operator code).
    producer: HashMap<usize, (usize, i32)>,
    steps: Vec<Step>,
    convs: Vec<HostConv>,
    transposed: Vec<HostConv>,
}

impl Builder<'_> {
    fn err(&self, msg: String) -> Error {
        Error::Weights(format!("{}: {msg}", self.file))
    }

    fn tensor(&self, k: i32) -> Result<(usize, &TfTensor)> {
        usize::try_from(k)
            .ok()
            .and_then(|i| self.m.tensors.get(i).map(|t| (i, t)))
            .ok_or_else(|| self.err(format!("tensor index {k} is out of range ({} tensors)", self.m.tensors.len())))
    }

    fn single(&self, list: &[i32], what: &str) -> Result<usize> {
        match list {
            [k] => Ok(self.tensor(*k)?.0),
            _ => Err(self.err(format!("the graph has {} {what}, expected 1", list.len()))),
        }
    }

    fn expect_declared(&self, k: usize, want: Shape, what: &str) -> Result<()> {
        let t = &self.m.tensors[k];
        if t.shape != want {
            return Err(self.err(format!("{what} tensor '{}' has shape {:?}, expected {want:?} (NHWC)", t.name, t.shape)));
        }
        Ok(())
    }

    /// The computed shape of an activation input of operator `i`.
    fn shape(&self, i: usize, k: i32) -> Result<(usize, Shape)> {
        let (idx, t) = self.tensor(k)?;
        let s = self.shapes[idx].ok_or_else(|| {
            self.err(format!("operator {i} reads tensor '{}' before any operator computes it", t.name))
        })?;
        Ok((idx, s))
    }

    /// Constant float data of input `k` of operator `i` (directly or through a DEQUANTIZE).
    fn constant(&self, i: usize, k: i32, shape: &[usize]) -> Result<Vec<f32>> {
        let (idx, t) = self.tensor(k)?;
        let src = if t.data.is_some() { t } else {
            let &from = self.dequant.get(&idx).ok_or_else(|| self.err(format!("operator {i}: '{}' is not a constant", t.name)))?;
            &self.m.tensors[from]
        };
        if src.shape != shape {
            return Err(self.err(format!("operator {i}: weights '{}' have shape {:?}, the incoming tensor needs {shape:?}", src.name, src.shape)));
        }
        src.to_f32().map_err(|e| self.err(e.to_string()))
    }

    fn input(&self, o: &TfOperator, n: usize) -> Result<i32> {
        o.inputs.get(n).copied().ok_or_else(|| self.err(format!("{} has {} inputs, expected more than {n}", op_name(o), o.inputs.len())))
    }

    fn operator(&mut self, i: usize, o: &TfOperator) -> Result<()> {
        let out = self.single(&o.outputs, &format!("outputs at operator {i} ({})", op_name(o)))?;
        if o.opcode == op::DEQUANTIZE {
            let (from, _) = self.tensor(self.input(o, 0)?)?;
            self.dequant.insert(out, from);
            return Ok(());
        }
        let (x, xs) = self.shape(i, self.input(o, 0)?)?;
        let (kind, inputs, shape) = match (o.opcode, o.custom_code.as_deref()) {
            (op::CONV_2D | op::DEPTHWISE_CONV_2D, _) => self.conv(i, o, xs)?,
            (_, Some(TRANSPOSE_CONV_BIAS)) => self.conv_transpose(i, o, xs)?,
            (op::HARD_SWISH, _) => (StepKind::HardSwish, vec![x], xs),
            (op::RELU, _) => (StepKind::Relu, vec![x], xs),
            (op::RELU6, _) => (StepKind::Relu6, vec![x], xs),
            (op::LOGISTIC, _) => (StepKind::Sigmoid, vec![x], xs),
            (op::ADD | op::MUL, _) => self.binary(i, o, x, xs)?,
            (op::AVERAGE_POOL_2D, _) => self.pool(i, o, x, xs)?,
            (op::MEAN, _) => self.mean(i, o, x, xs)?,
            (op::RESIZE_BILINEAR, _) => self.resize(i, o, x, xs)?,
            _ => return Err(self.err(format!("operator {i} ({}) is not supported by the native network", op_name(o)))),
        };
        let declared = &self.m.tensors[out];
        if declared.shape != shape {
            return Err(self.err(format!(
                "operator {i} ({}) writes '{}' declared as {:?}, but its inputs give {shape:?}",
                op_name(o),
                declared.name,
                declared.shape
            )));
        }
        self.shapes[out] = Some(shape);
        self.producer.insert(out, (self.steps.len(), o.opcode));
        self.steps.push(Step { kind, inputs, output: out, free: Vec::new() });
        Ok(())
    }

    fn act(&self, i: usize, code: u8) -> Result<Act> {
        match code {
            0 => Ok(Act::None),
            1 => Ok(Act::Relu),
            3 => Ok(Act::Relu6),
            c => Err(self.err(format!("operator {i}: fused activation {c} is not supported"))),
        }
    }

    fn conv(&mut self, i: usize, o: &TfOperator, xs: Shape) -> Result<(StepKind, Vec<usize>, Shape)> {
        let TfOptions::Conv { padding, stride, dilation, activation } = o.options else {
            return Err(self.err(format!("operator {i} ({}) has no convolution options", op_name(o))));
        };
        let (wi, wt) = self.tensor(self.input(o, 1)?)?;
        let src = self.dequant.get(&wi).map(|&k| &self.m.tensors[k]).unwrap_or(wt);
        let depthwise = o.opcode == op::DEPTHWISE_CONV_2D;
        let &[a, kh, kw, _] = src.shape.as_slice() else {
            return Err(self.err(format!("operator {i}: weights '{}' have shape {:?}, expected 4 dimensions", src.name, src.shape)));
        };
        let cin = xs[3];
        let (cout, file_shape, perm, shape, groups) = if depthwise {
            (cin, [1, kh, kw, cin], [3, 0, 1, 2], [cin, 1, kh, kw], cin)
        } else {
            (a, [a, kh, kw, cin], [0, 3, 1, 2], [a, cin, kh, kw], 1)
        };
        let weight = permute4(&self.constant(i, o.inputs[1], &file_shape)?, file_shape, perm);
        let bias = self.bias(i, o, cout)?;
        let (oh, top, bottom) = out_size(self, i, xs[1], kh, stride.0, dilation.0, padding)?;
        let (ow, left, right) = out_size(self, i, xs[2], kw, stride.1, dilation.1, padding)?;
        let act = self.act(i, activation)?;
        self.convs.push(HostConv {
            name: src.name.clone(),
            weight,
            shape,
            bias,
            stride: [stride.0, stride.1],
            dilation: [dilation.0, dilation.1],
            groups,
            pad: [top, bottom, left, right],
            act,
        });
        let x = self.tensor(o.inputs[0])?.0;
        Ok((StepKind::Conv(self.convs.len() - 1), vec![x], [xs[0], oh, ow, cout]))
    }

    fn bias(&self, i: usize, o: &TfOperator, cout: usize) -> Result<Vec<f32>> {
        match o.inputs.get(2) {
            Some(&k) if k >= 0 => self.constant(i, k, &[cout]),
            _ => Ok(vec![0.0; cout]),
        }
    }

    /// MediaPipe's `Convolution2DTransposeBias`: inputs (x, weights `[O, kh, kw, I]`, bias),
    /// custom options = `TfLiteTransposeConvParams` (padding, stride_width, stride_height as
    /// int32; padding 1 = SAME, 2 = VALID).
    fn conv_transpose(&mut self, i: usize, o: &TfOperator, xs: Shape) -> Result<(StepKind, Vec<usize>, Shape)> {
        let opts: Vec<i32> = o.custom_options.chunks_exact(4).map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
        let &[padding, sw, sh] = opts.as_slice() else {
            return Err(self.err(format!("operator {i} ({TRANSPOSE_CONV_BIAS}): custom options {:?} are not (padding, stride_w, stride_h)", o.custom_options)));
        };
        let (sh, sw) = (usize::try_from(sh).unwrap_or(0), usize::try_from(sw).unwrap_or(0));
        if sh == 0 || sw == 0 || !(padding == 1 || padding == 2) {
            return Err(self.err(format!("operator {i} ({TRANSPOSE_CONV_BIAS}): unsupported padding {padding} / strides {sh}×{sw}")));
        }
        let (wi, wt) = self.tensor(self.input(o, 1)?)?;
        let src = self.dequant.get(&wi).map(|&k| &self.m.tensors[k]).unwrap_or(wt);
        let &[cout, kh, kw, _] = src.shape.as_slice() else {
            return Err(self.err(format!("operator {i}: weights '{}' have shape {:?}, expected 4 dimensions", src.name, src.shape)));
        };
        let file_shape = [cout, kh, kw, xs[3]];
        let weight = permute4(&self.constant(i, o.inputs[1], &file_shape)?, file_shape, [3, 0, 1, 2]);
        let bias = self.bias(i, o, cout)?;
        let crop = |inp: usize, k: usize, s: usize| -> Result<(usize, usize, usize)> {
            let full = (inp - 1) * s + k;
            let out = if padding == 1 { inp * s } else { full };
            if full < out {
                return Err(self.err(format!("operator {i} ({TRANSPOSE_CONV_BIAS}): kernel {k} is smaller than stride {s}")));
            }
            let total = full - out;
            Ok((out, total / 2, total - total / 2))
        };
        let (oh, top, bottom) = crop(xs[1], kh, sh)?;
        let (ow, left, right) = crop(xs[2], kw, sw)?;
        self.transposed.push(HostConv {
            name: src.name.clone(),
            weight,
            shape: [xs[3], cout, kh, kw],
            bias,
            stride: [sh, sw],
            dilation: [1, 1],
            groups: 1,
            pad: [top, bottom, left, right],
            act: Act::None,
        });
        let x = self.tensor(o.inputs[0])?.0;
        Ok((StepKind::ConvTranspose(self.transposed.len() - 1), vec![x], [xs[0], oh, ow, cout]))
    }

    fn binary(&self, i: usize, o: &TfOperator, x: usize, xs: Shape) -> Result<(StepKind, Vec<usize>, Shape)> {
        let (y, ys) = self.shape(i, self.input(o, 1)?)?;
        let mut out = [0; 4];
        for d in 0..4 {
            out[d] = match (xs[d], ys[d]) {
                (a, b) if a == b => a,
                (1, b) => b,
                (a, 1) => a,
                _ => return Err(self.err(format!("operator {i} ({}): shapes {xs:?} and {ys:?} do not broadcast", op_name(o)))),
            };
        }
        let act = match o.options {
            TfOptions::Elementwise { activation } => self.act(i, activation)?,
            _ => Act::None,
        };
        let kind = if o.opcode == op::ADD { StepKind::Add(act) } else { StepKind::Mul(act) };
        Ok((kind, vec![x, y], out))
    }

    fn pool(&self, i: usize, o: &TfOperator, x: usize, xs: Shape) -> Result<(StepKind, Vec<usize>, Shape)> {
        let TfOptions::Pool { padding, stride, filter, activation } = o.options else {
            return Err(self.err(format!("operator {i} (AVERAGE_POOL_2D) has no pooling options")));
        };
        if activation != 0 || (padding == TfPadding::Same && (xs[1] % stride.0 != 0 || xs[2] % stride.1 != 0 || filter != stride)) {
            return Err(self.err(format!("operator {i} (AVERAGE_POOL_2D): padding {padding:?} / activation {activation} on {xs:?} is not supported")));
        }
        if filter.0 > xs[1] || filter.1 > xs[2] {
            return Err(self.err(format!("operator {i} (AVERAGE_POOL_2D): window {filter:?} is larger than its input {xs:?}")));
        }
        if filter == (xs[1], xs[2]) {
            return Ok((StepKind::GlobalAvgPool, vec![x], [xs[0], 1, 1, xs[3]]));
        }
        let out = [xs[0], (xs[1] - filter.0) / stride.0 + 1, (xs[2] - filter.1) / stride.1 + 1, xs[3]];
        Ok((StepKind::AvgPool { filter: [filter.0, filter.1], stride: [stride.0, stride.1] }, vec![x], out))
    }

    /// `MEAN` over height and width (axes 1 and 2 of NHWC), kept as size-1 axes.
    fn mean(&self, i: usize, o: &TfOperator, x: usize, xs: Shape) -> Result<(StepKind, Vec<usize>, Shape)> {
        let (_, t) = self.tensor(self.input(o, 1)?)?;
        let mut axes = t.to_i32().map_err(|e| self.err(format!("operator {i} (MEAN): {e}")))?;
        axes.sort_unstable();
        if axes != [1, 2] {
            return Err(self.err(format!("operator {i} (MEAN): axes {axes:?} are not supported (only [1, 2], height and width)")));
        }
        Ok((StepKind::GlobalAvgPool, vec![x], [xs[0], 1, 1, xs[3]]))
    }

    fn resize(&self, i: usize, o: &TfOperator, x: usize, xs: Shape) -> Result<(StepKind, Vec<usize>, Shape)> {
        let (_, t) = self.tensor(self.input(o, 1)?)?;
        let size = t.to_i32().map_err(|e| self.err(format!("operator {i} (RESIZE_BILINEAR): {e}")))?;
        let &[nh, nw] = size.as_slice() else {
            return Err(self.err(format!("operator {i} (RESIZE_BILINEAR): size '{}' is {size:?}, expected [height, width]", t.name)));
        };
        let (nh, nw) = match (usize::try_from(nh), usize::try_from(nw)) {
            (Ok(h), Ok(w)) if h > 0 && w > 0 => (h, w),
            _ => return Err(self.err(format!("operator {i} (RESIZE_BILINEAR): size {size:?} is not positive"))),
        };
        let TfOptions::Resize { align_corners, half_pixel_centers } = o.options else {
            return Err(self.err(format!("operator {i} (RESIZE_BILINEAR) has no resize options")));
        };
        Ok((StepKind::Resize { out: [nh, nw], align_corners, half_pixel_centers }, vec![x], [xs[0], nh, nw, xs[3]]))
    }

    /// The slot of the logit: the graph output must come from a `LOGISTIC`, whose step is
    /// removed (the network returns the logit; sigmoid of it is the file's output).
    fn logit_of(&mut self, output: usize) -> Result<usize> {
        match self.producer.get(&output) {
            Some(&(s, op::LOGISTIC)) if s + 1 == self.steps.len() => {
                let step = self.steps.pop().expect("the last step");
                Ok(step.inputs[0])
            }
            _ => Err(self.err(format!(
                "the output '{}' is not computed by a final LOGISTIC (sigmoid) operator",
                self.m.tensors[output].name
            ))),
        }
    }
}

/// Output size and (before, after) padding of a convolution along one axis (TensorFlow's
/// `SAME`: output `⌈in / s⌉`, the odd padding pixel after).
fn out_size(b: &Builder<'_>, i: usize, inp: usize, k: usize, s: usize, d: usize, p: TfPadding) -> Result<(usize, usize, usize)> {
    let eff = (k - 1) * d + 1;
    match p {
        TfPadding::Same => {
            let out = inp.div_ceil(s);
            let total = ((out - 1) * s + eff).saturating_sub(inp);
            Ok((out, total / 2, total - total / 2))
        }
        TfPadding::Valid if inp >= eff => Ok(((inp - eff) / s + 1, 0, 0)),
        TfPadding::Valid => Err(b.err(format!("operator {i}: kernel {eff} is larger than its input {inp}"))),
    }
}

/// Permute a row-major 4-d array: output axis `j` is input axis `perm[j]`.
pub fn permute4(src: &[f32], shape: [usize; 4], perm: [usize; 4]) -> Vec<f32> {
    let out_shape = perm.map(|p| shape[p]);
    let mut strides = [0; 4];
    let mut acc = 1;
    for a in (0..4).rev() {
        strides[a] = acc;
        acc *= shape[a];
    }
    let mut out = Vec::with_capacity(src.len());
    for a in 0..out_shape[0] {
        for b in 0..out_shape[1] {
            for c in 0..out_shape[2] {
                for d in 0..out_shape[3] {
                    let idx = [a, b, c, d];
                    let mut at = 0;
                    for j in 0..4 {
                        at += idx[j] * strides[perm[j]];
                    }
                    out.push(src[at]);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Tensor, TensorData};

    use crate::model::convert::tflite::tests::{Node, model_io, operator, tensor};
    use crate::model::convert::tflite::op;
    use crate::model::selfie::SelfieNet;

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    /// input `[1, 4, 4, 3]` → 1×1 CONV_2D (weights `w_shape`, bias 0.5) declared `conv_out` →
    /// LOGISTIC → `[1, 4, 4, 1]`.
    fn tiny(w_shape: &[i32], weights: &[f32], conv_out: &[i32], second: i32) -> Vec<u8> {
        let conv_opts = Node::Table(vec![Some(Node::Scalar(0)), Some(Node::Scalar(1)), Some(Node::Scalar(1)), Some(Node::Scalar(0))]);
        model_io(
            &[op::CONV_2D as u32, second as u32],
            vec![
                tensor("x", &[1, 4, 4, 3], 0, 0),
                tensor("w", w_shape, 0, 1),
                tensor("b", &[1], 0, 2),
                tensor("z", conv_out, 0, 0),
                tensor("p", &[1, 4, 4, 1], 0, 0),
            ],
            vec![operator(0, &[0, 1, 2], &[3], Some((1, conv_opts))), operator(1, &[3], &[4], None)],
            vec![vec![], f32s(weights), f32s(&[0.5])],
            Some((vec![0], vec![4])),
        )
    }

    fn good() -> Vec<u8> {
        tiny(&[1, 1, 1, 3], &[1.0, 2.0, 3.0], &[1, 4, 4, 1], op::LOGISTIC)
    }

    fn load(bytes: &[u8], side: usize) -> crate::error::Result<SelfieNet> {
        SelfieNet::from_tflite("tiny.tflite", bytes, side, side, &crate::backend::cpu())
    }

    #[test]
    fn a_tiny_graph_runs_and_returns_the_logit() {
        let net = load(&good(), 4).unwrap();
        let device = crate::backend::cpu();
        let x: Vec<f32> = (0..48).map(|v| v as f32 / 48.0).collect();
        let logits = net.forward(Tensor::from_data(TensorData::new(x.clone(), [1, 3, 4, 4]), &device));
        assert_eq!(logits.dims(), [1, 2, 4, 4]);
        let v = logits.into_data().try_to_vec::<f32>().unwrap();
        for p in 0..16 {
            assert_eq!(v[p], 0.0);
            let want = x[p] + 2.0 * x[16 + p] + 3.0 * x[32 + p] + 0.5;
            assert!((v[16 + p] - want).abs() < 1e-5, "{p}: {} vs {want}", v[16 + p]);
        }
    }

    #[test]
    fn bad_files_name_the_file_and_the_problem() {
        let e = load(&good(), 8).unwrap_err().to_string();
        assert!(e.contains("tiny.tflite") && e.contains("'x'") && e.contains("[1, 8, 8, 3]"), "{e}");
        let e = load(&tiny(&[1, 1, 1, 2], &[1.0, 2.0], &[1, 4, 4, 1], op::LOGISTIC), 4).unwrap_err().to_string();
        assert!(e.contains("tiny.tflite") && e.contains("'w'") && e.contains("[1, 1, 1, 2]"), "{e}");
        let e = load(&tiny(&[1, 1, 1, 3], &[1.0, 2.0, 3.0], &[1, 4, 4, 5], op::LOGISTIC), 4).unwrap_err().to_string();
        assert!(e.contains("'z'") && e.contains("declared as [1, 4, 4, 5]"), "{e}");
        let e = load(&tiny(&[1, 1, 1, 3], &[1.0, 2.0, 3.0], &[1, 4, 4, 1], op::RELU), 4).unwrap_err().to_string();
        assert!(e.contains("LOGISTIC"), "{e}");
        let e = load(&tiny(&[1, 1, 1, 3], &[1.0, 2.0, 3.0], &[1, 4, 4, 1], 2), 4).unwrap_err().to_string();
        assert!(e.contains("not supported"), "{e}");
        let e = load(b"PK\x03\x04 a zip", 4).unwrap_err().to_string();
        assert!(e.contains("tiny.tflite is not a TFLite model"), "{e}");
        let bytes = good();
        let e = load(&bytes[..bytes.len() / 2], 4).unwrap_err().to_string();
        assert!(e.contains("truncated"), "{e}");
    }

    #[test]
    fn permute_moves_axes() {
        // [1, 2, 1, 3] (OHWI) → [1, 3, 2, 1] (OIHW)
        let v: Vec<f32> = (0..6).map(|x| x as f32).collect();
        assert_eq!(super::permute4(&v, [1, 2, 1, 3], [0, 3, 1, 2]), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    }
}
