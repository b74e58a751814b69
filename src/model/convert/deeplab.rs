//! The DeepLab TFLite model → the tensors the project loads: the initializers of the ONNX graph
//! that tflite2onnx 0.4.1 (+ onnx-simplifier) makes of it (`../shared/weights/MODELS.md` §5),
//! under the same names, types and layouts:
//!
//! - `CONV_2D` weights, TFLite OHWI → ONNX OIHW; `DEPTHWISE_CONV_2D` weights, TFLite `[1, H, W,
//!   C]` → ONNX `[C, 1, H, W]`; biases unchanged (float16 constants become float32);
//! - `RESIZE_BILINEAR` sizes, int32 `[H, W]` → int64 `[N, C, H, W]` (N, C from the op's NHWC
//!   output);
//! - the constants tflite2onnx adds: `TFLITE2ONNX_Scalar_float32_0.0` / `_6.0` (`float32[1]`,
//!   the `Clip` bounds of fused ReLU6) and `TFLITE2ONNX_EmptyTensor` (`float32[0]`, `Resize`'s
//!   unused roi / scales), when the graph has such activations / resizes.
//!
//! Every constant tensor of the model must be consumed by one of those rules; anything else is
//! an error, so a different model cannot be converted half-way without notice.

use std::collections::BTreeSet;

use super::tensor::{RawTensor, TensorSet};
use super::tflite::{TfliteModel, op};
use crate::error::{Error, Result};

/// Fused activation code of ReLU6 in TFLite's `ActivationFunctionType`.
const RELU6: u8 = 3;

/// Convert a parsed DeepLab TFLite model (`what` names the file in errors).
pub fn onnx_initializers(what: &str, m: &TfliteModel) -> Result<TensorSet> {
    let mut out = TensorSet::new();
    let mut used = BTreeSet::new();
    let (mut relu6, mut resize) = (false, false);
    // a constant operand: anything computed (e.g. by DEQUANTIZE) means another model
    let tensor = |i: i32| {
        let t = usize::try_from(i).ok().and_then(|i| m.tensors.get(i).map(|t| (i, t))).ok_or_else(|| {
            Error::Weights(format!("{what}: operator input {i} is not a tensor index"))
        })?;
        if t.1.data.is_none() {
            return Err(Error::Weights(format!(
                "{what}: operand '{}' is computed, not a constant; this is not the DeepLab model this \
                 converter knows",
                t.1.name
            )));
        }
        Ok(t)
    };
    for o in &m.operators {
        match o.opcode {
            op::CONV_2D | op::DEPTHWISE_CONV_2D => {
                let (wi, w) = tensor(*o.inputs.get(1).unwrap_or(&-1))?;
                let values = w.to_f32()?;
                let [a, h, kw, b] = w.shape[..] else {
                    return Err(Error::Weights(format!("{what}: weights '{}' have shape {:?}, not 4-D", w.name, w.shape)));
                };
                let t = if o.opcode == op::CONV_2D {
                    RawTensor::from_f32(vec![a, b, h, kw], &ohwi_to_oihw(&values, [a, h, kw, b]))?
                } else {
                    RawTensor::from_f32(vec![a * b, 1, h, kw], &ohwi_to_oihw(&values, [a, h, kw, b]))?
                };
                out.insert(w.name.clone(), t);
                used.insert(wi);
                if let Some(&bi) = o.inputs.get(2).filter(|&&i| i >= 0) {
                    let (bi, bias) = tensor(bi)?;
                    out.insert(bias.name.clone(), RawTensor::from_f32(bias.shape.clone(), &bias.to_f32()?)?);
                    used.insert(bi);
                }
                relu6 |= o.fused_activation == Some(RELU6);
            }
            op::RESIZE_BILINEAR => {
                let (si, size) = tensor(*o.inputs.get(1).unwrap_or(&-1))?;
                let y = o.outputs.first().and_then(|&i| m.tensors.get(usize::try_from(i).ok()?)).ok_or_else(|| {
                    Error::Weights(format!("{what}: a resize has no output tensor"))
                })?;
                let hw = size.to_i32()?;
                let (&[n, _, _, c], &[h, w]) = (&y.shape[..], &hw[..]) else {
                    return Err(Error::Weights(format!(
                        "{what}: resize '{}' has output shape {:?} and size {hw:?}",
                        y.name, y.shape
                    )));
                };
                out.insert(size.name.clone(), RawTensor::from_i64(vec![4], &[n as i64, c as i64, h as i64, w as i64])?);
                used.insert(si);
                resize = true;
            }
            _ => {}
        }
    }
    if let Some(t) = m.tensors.iter().enumerate().find(|(i, t)| t.data.is_some() && !used.contains(i)) {
        return Err(Error::Weights(format!(
            "{what}: constant tensor '{}' ({:?} {:?}) is not used by a convolution or resize; this is \
             not the DeepLab model this converter knows",
            t.1.name, t.1.dtype, t.1.shape
        )));
    }
    if relu6 {
        out.insert("TFLITE2ONNX_Scalar_float32_0.0".into(), RawTensor::from_f32(vec![1], &[0.0])?);
        out.insert("TFLITE2ONNX_Scalar_float32_6.0".into(), RawTensor::from_f32(vec![1], &[6.0])?);
    }
    if resize {
        out.insert("TFLITE2ONNX_EmptyTensor".into(), RawTensor::from_f32(vec![0], &[])?);
    }
    Ok(out)
}

/// `[A, H, W, B]` → `[A, B, H, W]`: TFLite OHWI → ONNX OIHW; for depthwise weights (`A = 1`)
/// the result `[1, C, H, W]` has the bytes of ONNX's `[C, 1, H, W]`.
fn ohwi_to_oihw(v: &[f32], [a, h, w, b]: [usize; 4]) -> Vec<f32> {
    let mut out = vec![0.0; v.len()];
    for o in 0..a {
        for y in 0..h {
            for x in 0..w {
                for i in 0..b {
                    out[((o * b + i) * h + y) * w + x] = v[((o * h + y) * w + x) * b + i];
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tflite::tests::{Node, model, operator, tensor};
    use super::super::tflite::{self, op};
    use super::*;

    fn f32s(v: &[f32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    fn values(t: &RawTensor) -> Vec<f32> {
        t.data.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect()
    }

    /// conv (OHWI [2,1,2,3], ReLU6) → depthwise ([1,1,2,2]) → resize to 4x4.
    fn tiny(extra_constant: bool) -> Vec<u8> {
        let conv_w: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let conv_opts = Node::Table(vec![None, Some(Node::Scalar(1)), Some(Node::Scalar(1)), Some(Node::Scalar(RELU6 as u32))]);
        let mut tensors = vec![
            tensor("in", &[1, 3, 3, 3], 0, 0),
            tensor("c/weights", &[2, 1, 2, 3], 0, 1),
            tensor("c/bias", &[2], 0, 2),
            tensor("c/out", &[1, 3, 2, 2], 0, 0),
            tensor("d/weights", &[1, 1, 2, 2], 1, 3),
            tensor("d/out", &[1, 3, 1, 2], 0, 0),
            tensor("r/size", &[2], 2, 4),
            tensor("r/out", &[1, 4, 4, 2], 0, 0),
        ];
        let half: Vec<u8> = [0x3c00u16, 0x4000, 0x4200, 0x4400].iter().flat_map(|h| h.to_le_bytes()).collect();
        let mut buffers = vec![vec![], f32s(&conv_w), f32s(&[0.5, -0.5]), half, [4i32, 4].iter().flat_map(|v| v.to_le_bytes()).collect()];
        if extra_constant {
            tensors.push(tensor("stray", &[1], 0, 5));
            buffers.push(f32s(&[1.0]));
        }
        model(
            &[op::CONV_2D as u32, op::DEPTHWISE_CONV_2D as u32, op::RESIZE_BILINEAR as u32],
            tensors,
            vec![
                operator(0, &[0, 1, 2], &[3], Some((1, conv_opts))),
                operator(1, &[3, 4, -1], &[5], None),
                operator(2, &[5, 6], &[7], None),
            ],
            buffers,
        )
    }

    #[test]
    fn layouts_names_and_added_constants() {
        let m = tflite::read("tiny.tflite", &tiny(false)).unwrap();
        let t = onnx_initializers("tiny.tflite", &m).unwrap();
        let names: Vec<&str> = t.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["TFLITE2ONNX_EmptyTensor", "TFLITE2ONNX_Scalar_float32_0.0", "TFLITE2ONNX_Scalar_float32_6.0", "c/bias", "c/weights", "d/weights", "r/size"]
        );
        let w = &t["c/weights"];
        assert_eq!(w.shape, [2, 3, 1, 2]);
        // OHWI v[o][0][x][i] = o*6 + x*3 + i  →  OIHW order (o, i, x)
        assert_eq!(values(w), [0., 3., 1., 4., 2., 5., 6., 9., 7., 10., 8., 11.]);
        assert_eq!(t["d/weights"].shape, [2, 1, 1, 2]);
        assert_eq!(values(&t["d/weights"]), [1., 3., 2., 4.]);
        assert_eq!(t["r/size"], RawTensor::from_i64(vec![4], &[1, 2, 4, 4]).unwrap());
        assert_eq!(t["TFLITE2ONNX_EmptyTensor"].shape, [0]);
        assert_eq!(values(&t["TFLITE2ONNX_Scalar_float32_6.0"]), [6.0]);
    }

    #[test]
    fn an_unknown_constant_is_an_error() {
        let m = tflite::read("other.tflite", &tiny(true)).unwrap();
        let e = onnx_initializers("other.tflite", &m).unwrap_err().to_string();
        assert!(e.contains("other.tflite") && e.contains("'stray'"), "{e}");
    }
}
