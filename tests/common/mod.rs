//! Helpers shared by the integration tests: fixture paths and reference tensors.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::PathBuf;

/// `../shared` beside the checkout (override with `ADVSEG_SHARED`).
pub fn shared() -> PathBuf {
    std::env::var_os("ADVSEG_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

pub fn fixtures() -> PathBuf {
    shared().join("fixtures")
}

/// Records that `test` skips its checks, and why (printed past the capture, counted by
/// `scripts/test.sh`; a failure under `ADVSEG_FORBID_SKIPS=1`): see `advseg::util::test_skip`.
pub fn skip(test: &str, reason: &str) {
    advseg::util::test_skip::skip(test, reason)
}

/// `true` (after recording the skip with [`skip`]) when the shared fixtures are absent — a
/// fresh clone without `../shared`: the test then skips instead of failing on a missing file.
pub fn skip_without_fixtures(test: &str) -> bool {
    let missing = !fixtures().join("images").is_dir();
    if missing {
        skip(
            test,
            &format!(
                "the shared fixtures ({}) are absent; put ../shared beside the checkout or set ADVSEG_SHARED",
                fixtures().display()
            ),
        );
    }
    missing
}

/// The wgpu device, or `None` after recording the skip when there is no adapter — unless
/// `ADVSEG_REQUIRE_WGPU=1` (`scripts/test.sh` sets it unless told otherwise), where a missing
/// adapter fails the test: without Mesa's Vulkan driver wgpu would not run at all.
pub fn wgpu_or_skip(test: &str) -> Option<burn::tensor::Device> {
    match advseg::backend::wgpu() {
        Ok(device) => {
            println!("{test}: wgpu adapter {}", advseg::backend::describe(&device));
            Some(device)
        }
        Err(e) => {
            if std::env::var("ADVSEG_REQUIRE_WGPU").is_ok_and(|v| v == "1") {
                panic!("{test}: wgpu is required (ADVSEG_REQUIRE_WGPU=1) but unavailable: {e}");
            }
            skip(test, &format!("no wgpu adapter ({e}); install mesa-vulkan-drivers, or set ADVSEG_REQUIRE_WGPU=1 to fail instead"));
            None
        }
    }
}

/// A reference file's tensors: name → (shape, f32 values; U8 tensors converted).
pub fn reference(file: &str) -> HashMap<String, (Vec<usize>, Vec<f32>)> {
    let path = fixtures().join("reference").join(file);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        let vals: Vec<f32> = match view.dtype() {
            safetensors::Dtype::F32 => view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            safetensors::Dtype::U8 => view.data().iter().map(|&b| b as f32).collect(),
            other => panic!("unexpected dtype {other:?} for {name}"),
        };
        out.insert(name, (view.shape().to_vec(), vals));
    }
    out
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
    for (&x, &y) in a.iter().zip(b) {
        ab += x as f64 * y as f64;
        aa += x as f64 * x as f64;
        bb += y as f64 * y as f64;
    }
    ab / (aa.sqrt() * bb.sqrt())
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}
