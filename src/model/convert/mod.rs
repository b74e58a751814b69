//! Converters from the original, published weight files to the tensors the project loads —
//! written here, without Python or torch: PyTorch checkpoints (legacy and zip formats, through a
//! minimal pickle reader), TFLite flatbuffers, and the fetch pipeline (download, sha256 of the
//! original, conversion, content hash, atomic write) behind `advseg weights fetch`.

pub mod deeplab;
#[cfg(not(target_arch = "wasm32"))]
pub mod download;
#[cfg(not(target_arch = "wasm32"))]
pub mod fetch;
pub mod original;
pub mod pickle;
pub mod pth;
pub mod tensor;
pub mod tflite;
pub mod tflite_options;
pub mod zip;

pub use original::{convert, convert_entry};
pub use tensor::{DType, RawTensor, TensorSet, content_hash, from_safetensors, to_safetensors};
