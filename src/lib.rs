//! # advseg
//!
//! Adversarial attacks and defenses on semantic segmentation networks, in Rust on burn: the
//! same core runs natively (CLI, tests) and in the browser (WebAssembly + WebGPU).
//!
//! - [`model`]: ESPNetv2 (VOC, Cityscapes) and DeepLabV3-MobileNetV2 (VOC) with their pretrained
//!   weights, images in [0, 1] RGB in, logits out;
//! - [`metrics`]: confusion matrices, mIoU, pixel accuracy, agreement, L∞/L2/PSNR;
//! - [`image_io`]: decoding, resizing as Pillow does, colour maps and overlays;
//! - [`scaling`]: OpenCV/Pillow scalers as coefficient matrices, the image-scaling attack
//!   (Quiring et al., USENIX Security 2020) and its defenses;
//! - [`backend`]: the one place that picks devices (CPU `flex`, `wgpu`, autodiff).

pub mod backend;
pub mod error;
pub mod image_io;
pub mod metrics;
pub mod model;
pub mod scaling;
