//! The image layer: decoding PNG/JPEG, planar `[0, 1]` images ([`RgbImage01`]), resizing as the
//! reference pipelines do, label PNGs, colour maps and overlays.
//!
//! Images cross the crate's API as [`RgbImage01`]: planar CHW `f32` data (planes R, G, B, each
//! `height * width` row-major) with values in `[0, 1]`. Everything here works without a file
//! system (for wasm32) except the `load*` / `save*` helpers, which wrap the byte-level functions.

pub mod colour;
pub mod decode;
pub mod delta_png;
pub mod png;
pub mod resize;
pub mod rgb01;
#[cfg(test)]
pub(crate) mod testing;

pub use colour::{colorize, overlay};
pub use decode::{MAX_PIXELS, decode, load};
pub use delta_png::{DeltaImage, decode_delta_png, encode_delta_png};
pub use png::{decode_label_png, encode_map_png, encode_png, load_label_map, load_label_png, load_pair, save_map_png, save_png};
pub use resize::{ResizeMethod, resize};
pub use rgb01::{RgbImage01, from_tensor01, quantize_8bit, to_tensor01};
