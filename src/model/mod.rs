//! The model layer: pretrained segmentation networks implemented natively in burn, the zoo
//! that names them, their weights, and the [`SegModel`] interface attacks and defenses use.
//!
//! [`Segmenter`] is the entry point: a zoo model (see [`zoo`]) with its weights, taking images
//! in [0, 1] RGB (`[N, 3, H, W]`) and returning logits at the input size. Normalisation happens
//! inside the networks. Any other network comes in as ONNX ([`onnx`]), registered in the zoo
//! at run time.

pub mod conv_adjoint;
pub mod convert;
pub mod deeplab_mnv2;
pub mod espnetv2;
pub mod layers;
pub mod onnx;
pub mod predict;
pub mod prelu_op;
pub mod relu6_op;
pub mod seg_model;
pub mod segmenter;
pub mod selfie;
pub mod selfie_plan;
pub mod selfie_steps;
pub mod weights;
pub mod zoo;

pub use predict::{argmax_maps, batch_tensor, predict_batched};
pub use seg_model::SegModel;
pub use segmenter::{Network, Segmenter};
