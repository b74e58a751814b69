//! Any segmentation network as ONNX: read with burn's `onnx-ir` parser (typed nodes, every
//! opset's attributes resolved, constants folded), interpreted with burn tensor ops so input
//! gradients work on every backend, registered in the zoo at run time.
//!
//! - [`read`]: checks (size, format, operators, external data) and the parse;
//! - [`describe`]: what the user says about the network (metadata, sidecar TOML, flags, form);
//! - [`lower`] / [`op`] / [`plan`]: nodes → steps over value slots, BatchNorms folded;
//! - [`host`] (its arithmetic in [`host_arith`]) / [`dev`]: host values (shape arithmetic, indices) and device tensors of any rank;
//! - [`exec`]: running a step — [`exec_host`] (host forms), [`exec_dev`] (elementwise, layout
//!   and indexing on the device), [`exec_nn`] (network ops), [`exec_norm`]
//!   (normalisations), [`shape`] (the layout ops' shape rules);
//! - [`net`]: [`OnnxNet`], the graph as a burn module with its pre/postprocessing;
//! - [`model`]: [`OnnxModel`], a file made ready (description resolved, one dry run);
//! - [`registry`]: the models loaded at run time, each with its zoo entry.
//!
//! `docs/onnx.md` is the user's side: keys, the operator table, limits.

pub mod describe;
pub mod dev;
pub mod exec;
pub mod exec_dev;
pub mod exec_host;
pub mod exec_nn;
pub mod exec_norm;
pub mod host;
pub mod host_arith;
pub mod lower;
pub mod model;
pub mod net;
pub mod op;
pub mod plan;
pub mod read;
pub mod registry;
pub mod shape;

pub use describe::OnnxDescription;
pub use model::OnnxModel;
pub use net::OnnxNet;
