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
#[cfg(all(not(target_arch = "wasm32"), feature = "gpu"))]
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

/// The `index`-th discrete GPU through wgpu (several GPUs on one host: one shard each).
/// Kept per index like [`wgpu`].
#[cfg(all(not(target_arch = "wasm32"), feature = "gpu"))]
pub fn wgpu_gpu(index: usize) -> Result<Device> {
    use std::collections::HashMap;
    use std::sync::Mutex;
    static GPUS: std::sync::OnceLock<Mutex<HashMap<usize, std::result::Result<Device, String>>>> = std::sync::OnceLock::new();
    let mut map = GPUS.get_or_init(|| Mutex::new(HashMap::new())).lock().unwrap_or_else(|e| e.into_inner());
    map.entry(index)
        .or_insert_with(|| {
            let kind = burn::tensor::DeviceKind::DiscreteGpu(index);
            std::panic::catch_unwind(|| Device::wgpu_options().device_kind(kind).init())
                .map_err(|_| format!("no discrete GPU {index} could be initialised through wgpu"))?
                .map_err(|e| format!("wgpu initialisation of discrete GPU {index} failed: {e}"))
        })
        .clone()
        .map_err(Error::Backend)
}

/// The browser's WebGPU device, initialised asynchronously (the only way on wasm) once per
/// wasm instance and kept: a second initialisation fails ("a server is still registered"), so
/// every later session (another model, an ONNX file) gets the same device.
#[cfg(all(target_arch = "wasm32", feature = "gpu"))]
pub async fn webgpu() -> Result<Device, String> {
    thread_local! {
        static WEBGPU: std::cell::RefCell<Option<Device>> = const { std::cell::RefCell::new(None) };
    }
    if let Some(d) = WEBGPU.with(|w| w.borrow().clone()) {
        return Ok(d);
    }
    let d = Device::wgpu_options().init_async().await.map_err(|e| format!("{e}"))?;
    WEBGPU.with(|w| *w.borrow_mut() = Some(d.clone()));
    Ok(d)
}

/// Why a device other than the CPU is refused in a build without the `gpu` feature (the
/// CPU-only bundle that `scripts/demo.sh` serves first on a cold build).
pub const NO_GPU: &str = "this build has no GPU backend (built without the `gpu` feature, e.g. the CPU-only \
     bundle that scripts/demo.sh serves while the full one builds: reload the page when it says so)";

/// Without the `gpu` feature: no wgpu device.
#[cfg(all(not(target_arch = "wasm32"), not(feature = "gpu")))]
pub fn wgpu() -> Result<Device> {
    Err(Error::Backend(NO_GPU.into()))
}

/// Without the `gpu` feature: no wgpu device.
#[cfg(all(not(target_arch = "wasm32"), not(feature = "gpu")))]
pub fn wgpu_gpu(_index: usize) -> Result<Device> {
    Err(Error::Backend(NO_GPU.into()))
}

/// Without the `gpu` feature: no WebGPU device.
#[cfg(all(target_arch = "wasm32", not(feature = "gpu")))]
pub async fn webgpu() -> Result<Device, String> {
    Err(NO_GPU.into())
}

/// A device by name: `cpu`, `wgpu` (the adapter wgpu prefers) or `wgpu:N` (the N-th
/// discrete GPU, from 0).
#[cfg(not(target_arch = "wasm32"))]
pub fn by_name(name: &str) -> Result<Device> {
    match name {
        "cpu" | "flex" => Ok(cpu()),
        "wgpu" | "gpu" => wgpu(),
        other => match other.strip_prefix("wgpu:").map(str::parse::<usize>) {
            Some(Ok(i)) => wgpu_gpu(i),
            _ => Err(Error::InvalidArgument(format!("unknown backend '{other}' (expected cpu, wgpu or wgpu:N)"))),
        },
    }
}

/// A human-readable name of the device: the adapter's own name on wgpu (e.g. `llvmpipe (LLVM
/// 15.0.7, 256 bits)` for Mesa's software Vulkan), `CPU (flex)` otherwise.
pub fn describe(device: &Device) -> String {
    #[cfg(feature = "gpu")]
    if let Some(id) = device.identity() {
        return format!("{} [{}]", id.name, id.fingerprint);
    }
    let _ = device;
    "CPU (flex)".to_string()
}
