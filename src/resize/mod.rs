//! The resize layer: the downscalers of OpenCV and Pillow as coefficient matrices (exact
//! `L · X · R` products), used by image I/O, the networks' input pipeline, multi-scale
//! inference and the image-scaling attack alike.

pub mod kind;
pub mod opencv;
pub mod opencv_u8;
pub mod pillow;
pub mod scaler;
pub mod sparse;

pub use kind::{MAX_SIDE, ScalerKind};
pub use scaler::Scaler;
pub use sparse::SparseMatrix;
