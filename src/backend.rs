//! The only place that names concrete devices.
//!
//! burn 0.22 picks the backend at run time through [`Device`]. Everything else in the crate
//! takes a `&Device` and stays backend-agnostic.

use burn::tensor::Device;

#[cfg(not(target_arch = "wasm32"))]
use crate::error::{Error, Result};

/// The CPU backend (burn's `flex`, the fastest CPU backend in 0.22).
pub fn cpu() -> Device {
    Device::flex()
}

/// The same device with reverse-mode autodiff enabled (for attacks).
pub fn autodiff(device: &Device) -> Device {
    device.clone().autodiff()
}

/// The native wgpu device (Vulkan, Metal or DX12, whichever the machine offers).
///
/// Fails where no adapter exists. On Linux without a Vulkan driver, wgpu can fall back to an
/// OpenGL adapter that computes wrong numbers: the parity test on wgpu guards against that.
/// The runtime can be registered once per process, so the first outcome (device or error) is
/// kept and every later call returns it.
#[cfg(not(target_arch = "wasm32"))]
pub fn wgpu() -> Result<Device> {
    static WGPU: std::sync::OnceLock<std::result::Result<Device, String>> = std::sync::OnceLock::new();
    WGPU.get_or_init(|| {
        std::panic::catch_unwind(|| Device::wgpu_options().init())
            .map_err(|_| "no wgpu adapter could be initialised".to_string())?
            .map_err(|e| format!("wgpu initialisation failed: {e}"))
    })
    .clone()
    .map_err(Error::Backend)
}

/// The browser's WebGPU device, initialised asynchronously (the only way on wasm).
#[cfg(target_arch = "wasm32")]
pub async fn webgpu() -> Result<Device, String> {
    Device::wgpu_options().init_async().await.map_err(|e| format!("{e}"))
}

/// A device by name: `cpu` or `wgpu`.
#[cfg(not(target_arch = "wasm32"))]
pub fn by_name(name: &str) -> Result<Device> {
    match name {
        "cpu" | "flex" => Ok(cpu()),
        "wgpu" | "gpu" => wgpu(),
        other => Err(Error::InvalidArgument(format!("unknown backend '{other}' (expected cpu or wgpu)"))),
    }
}

/// A human-readable name of the device: the adapter's own name on wgpu (e.g. `llvmpipe (LLVM
/// 15.0.7, 256 bits)` for Mesa's software Vulkan), `CPU (flex)` otherwise.
pub fn describe(device: &Device) -> String {
    match device.identity() {
        Some(id) => format!("{} [{}]", id.name, id.fingerprint),
        None => "CPU (flex)".to_string(),
    }
}
