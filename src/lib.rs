//! # advseg
//!
//! Adversarial attacks and defenses on semantic segmentation networks, in Rust on burn: the
//! same core runs natively (CLI, tests) and in the browser (WebAssembly + WebGPU).
//!
//! - [`attack`]: the PGD family (untargeted, targeted to an image's map, a class or a painted
//!   map; CE, SegPGD and CosPGD losses; L∞ and L2), running on any autodiff device;
//! - [`model`]: ESPNetv2 (VOC, Cityscapes) and DeepLabV3-MobileNetV2 (VOC) with their pretrained
//!   weights, images in [0, 1] RGB in, logits out;
//! - [`metrics`]: confusion matrices, mIoU, pixel accuracy, agreement, L∞/L2/PSNR;
//! - [`image_io`]: decoding, resizing as Pillow does, colour maps and overlays;
//! - [`scaling`]: OpenCV/Pillow scalers as coefficient matrices, the image-scaling attack
//!   (Quiring et al., USENIX Security 2020) and its defenses;
//! - [`defense`]: multi-scale inference and input reconstruction, with the adaptive attacks
//!   (EOT, BPDA) that test them;
//! - [`experiment`]: the experiment runner (TOML in; clean / attacked / defended tables and the
//!   transfer matrix out);
//! - [`backend`]: the one place that picks devices (CPU `flex`, `wgpu`, autodiff).

pub mod attack;
pub mod backend;
pub mod defense;
pub mod error;
#[cfg(not(target_arch = "wasm32"))]
pub mod experiment;
pub mod image_io;
pub mod metrics;
pub mod model;
pub mod scaling;
#[cfg(target_arch = "wasm32")]
pub mod web;
