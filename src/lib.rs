//! # advseg
//!
//! Adversarial attacks and defenses on semantic segmentation networks, in Rust on burn: the
//! same core runs natively (CLI, tests) and in the browser (WebAssembly + WebGPU).
//!
//! The modules are layers; each imports only from the layers above it in this list (checked
//! by `tests/layers.rs`; `docs/architecture.md` says where each concept lives):
//!
//! 1. foundation — [`error`] (the one error type), [`backend`] (the only place naming devices),
//!    [`util`] (the blocking executor, fractions, RNG, timing, thread loops);
//! 2. [`data`] — class maps and the one `VOID`, datasets (classes, palettes), labelled folders;
//! 3. [`resize`] — the OpenCV / Pillow scalers as coefficient matrices;
//! 4. [`image`] — decoding, `[0, 1]` planar images, resizing, label PNGs, colour maps;
//! 5. [`metrics`] — confusion matrices, map scores, L∞ / L2 / PSNR;
//! 6. [`model`] — the networks, the zoo, weights and the `SegModel` interface;
//! 7. [`defense`] — multi-scale inference and input reconstruction (EOT / BPDA as a model);
//! 8. [`attack`] — the attack spec, the PGD loop, goals, losses, norms and reports;
//! 9. [`scaling`] — the image-scaling attack and its defenses;
//! 10. [`experiment`] — experiment files, the runner, transfer matrices and tables (native);
//! 11. front ends — the `advseg` CLI (`src/bin/advseg/`) and [`web`] (wasm32 only).

pub mod error;
pub mod backend;
pub mod util;
pub mod data;
pub mod resize;
pub mod image;
pub mod metrics;
pub mod model;
pub mod defense;
pub mod attack;
pub mod scaling;
#[cfg(not(target_arch = "wasm32"))]
pub mod experiment;
#[cfg(target_arch = "wasm32")]
pub mod web;
