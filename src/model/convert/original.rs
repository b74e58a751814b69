//! From an original weights file (as published upstream) to the tensors the project loads:
//! which converter a manifest `format` names, and the check of the result's content hash.

use super::tensor::{TensorSet, content_hash};
use super::{deeplab, pth, tflite};
use crate::error::{Error, Result};
use crate::model::weights::ManifestEntry;

/// Manifest `format` of PyTorch checkpoints (legacy or zip): the state dict as is.
pub const FORMAT_PTH: &str = "pth-state-dict";
/// Manifest `format` of the DeepLab TFLite model: its ONNX initializers (see `deeplab.rs`).
pub const FORMAT_DEEPLAB_TFLITE: &str = "tflite-deeplab-onnx";

/// Convert the bytes of an original in the given format (`what` names it in errors).
pub fn convert(format: &str, what: &str, bytes: &[u8]) -> Result<TensorSet> {
    match format {
        FORMAT_PTH => pth::read(what, bytes),
        FORMAT_DEEPLAB_TFLITE => deeplab::onnx_initializers(what, &tflite::read(what, bytes)?),
        other => Err(Error::Weights(format!(
            "unknown original format '{other}' (known: {FORMAT_PTH}, {FORMAT_DEEPLAB_TFLITE})"
        ))),
    }
}

/// Convert the original of a manifest entry and check the result against the entry's content
/// hash (`what` names the original in errors).
pub fn convert_entry(entry: &ManifestEntry, what: &str, bytes: &[u8]) -> Result<TensorSet> {
    let original = entry.original.as_ref().ok_or_else(|| {
        Error::Weights(format!("'{}' has no original recorded in weights/manifest.json", entry.file))
    })?;
    let tensors = convert(&original.format, what, bytes)?;
    let got = content_hash(&tensors);
    match &entry.content_sha256 {
        Some(want) if *want != got => Err(Error::Weights(format!(
            "converting {what} gave tensors with content hash {got}, expected {want} for '{}' \
             ({} tensors); the converter and the manifest disagree",
            entry.file,
            tensors.len()
        ))),
        _ => Ok(tensors),
    }
}

/// The safetensors metadata written with converted weights.
pub fn metadata(entry: &ManifestEntry) -> Vec<(&'static str, String)> {
    let mut m = vec![("licence", entry.licence.clone()), ("converted_by", "advseg weights fetch".to_string())];
    if let Some(o) = &entry.original {
        m.push(("source", o.url.clone()));
        m.push(("source_sha256", o.sha256.clone()));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_formats_and_wrong_inputs_name_the_problem() {
        let e = convert("onnx", "m.onnx", b"").unwrap_err().to_string();
        assert!(e.contains("'onnx'") && e.contains(FORMAT_PTH), "{e}");
        let e = convert(FORMAT_DEEPLAB_TFLITE, "m.pth", &[0x80, 2]).unwrap_err().to_string();
        assert!(e.contains("m.pth is not a TFLite model"), "{e}");
        let e = convert(FORMAT_PTH, "m.tflite", b"\x1c\0\0\0TFL3").unwrap_err().to_string();
        assert!(e.contains("m.tflite is not a PyTorch checkpoint"), "{e}");
    }
}
