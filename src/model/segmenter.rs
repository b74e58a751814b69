//! [`Segmenter`]: a zoo model with its weights on a device, images in `[0, 1]` in, logits out.

use burn::module::Module;
use burn::tensor::{Device, Tensor};

use super::deeplab_mnv2::{DeepLabV3, DeepLabV3Config};
use super::espnetv2::{EspNetV2, EspNetV2Config};
use super::onnx::{OnnxNet, registry};
use super::predict::argmax_maps;
use super::selfie::SelfieNet;
use super::weights::{self, TensorStore};
use super::zoo::{Arch, ModelSpec};
use crate::data::ClassMap;
use crate::error::{Error, Result};

/// One of the supported architectures.
#[derive(Module, Debug)]
pub enum Network {
    /// ESPNetv2.
    EspNetV2(EspNetV2),
    /// DeepLabV3-MobileNetV2.
    DeepLabV3(DeepLabV3),
    /// MediaPipe selfie segmentation.
    Selfie(SelfieNet),
    /// An ONNX network, interpreted.
    Onnx(OnnxNet),
}

impl Network {
    /// `[N, 3, H, W]` in [0, 1] → logits `[N, C, H, W]` (an ONNX graph can fail at run time,
    /// e.g. on a size it was not made for).
    pub fn forward(&self, x01: Tensor<4>) -> Result<Tensor<4>> {
        Ok(match self {
            Network::EspNetV2(m) => m.forward(x01),
            Network::DeepLabV3(m) => m.forward(x01),
            Network::Selfie(m) => m.forward(x01),
            Network::Onnx(m) => return m.forward(x01),
        })
    }
}


/// A zoo model with its weights loaded on a device.
#[derive(Debug, Clone)]
pub struct Segmenter {
    /// The zoo entry.
    pub spec: &'static ModelSpec,
    /// The network (parameters never require gradients).
    pub net: Network,
}

impl Segmenter {
    /// Build from the bytes of the model's weights file (checked against the manifest's sha256);
    /// an ONNX model comes from the registry (`bytes` unused: it was read when registered).
    pub fn from_bytes(spec: &'static ModelSpec, bytes: &[u8], device: &Device) -> Result<Self> {
        if spec.arch == Arch::Onnx {
            return Self::onnx(spec, device);
        }
        weights::verify(spec.weights_file, bytes)?;
        if spec.arch == Arch::Selfie {
            let (w, h) = spec.native_size;
            let net = SelfieNet::from_tflite(spec.weights_file, bytes, h, w, device)?;
            return Ok(Self { spec, net: Network::Selfie(net).no_grad() });
        }
        let store = TensorStore::from_bytes(spec.weights_file, bytes)?;
        Self::from_store(spec, &store, device)
    }

    /// Build from already-parsed tensors (no hash check).
    pub fn from_store(spec: &'static ModelSpec, store: &TensorStore, device: &Device) -> Result<Self> {
        let net = match spec.arch {
            Arch::EspNetV2 { s } => {
                Network::EspNetV2(EspNetV2Config::for_width(s, spec.num_outputs)?.init_from(store, device)?)
            }
            Arch::DeepLabV3MobileNetV2 => {
                Network::DeepLabV3(DeepLabV3Config::new().with_num_classes(spec.num_outputs).init_from(store, device)?)
            }
            Arch::Selfie | Arch::Onnx => {
                return Err(Error::Model(format!(
                    "model '{}' loads from its own file (Segmenter::from_bytes), not from safetensors tensors",
                    spec.name
                )));
            }
        };
        Ok(Self { spec, net: net.no_grad() })
    }

    /// An ONNX model of the registry on `device`.
    pub fn onnx(spec: &'static ModelSpec, device: &Device) -> Result<Self> {
        let model = registry::model(spec.name)?;
        Ok(Self { spec, net: Network::Onnx(OnnxNet::new(model, device)) })
    }

    /// Load a zoo model by name from `weights/`, or an ONNX file by its path (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(name: &str, device: &Device) -> Result<Self> {
        let spec = super::zoo::spec(name)?;
        if spec.arch == Arch::Onnx {
            return Self::onnx(spec, device);
        }
        let bytes = weights::read_verified(spec.weights_file)?;
        Self::from_bytes(spec, &bytes, device)
    }

    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.net.devices().into_iter().next().unwrap_or_else(crate::backend::cpu)
    }

    /// Check that `x01` is `[N, 3, H, W]` with a size this model takes.
    pub fn check_input(&self, x01: &Tensor<4>) -> Result<()> {
        let [n, c, h, w] = x01.dims();
        if n == 0 || c != 3 {
            return Err(Error::Shape(format!("expected a [N ≥ 1, 3, H, W] image batch, got [{n}, {c}, {h}, {w}]")));
        }
        self.spec.check_size(w, h)
    }

    /// Logits `[N, outputs, H, W]` for a batch `[N, 3, H, W]` in [0, 1].
    pub fn logits(&self, x01: Tensor<4>) -> Result<Tensor<4>> {
        self.check_input(&x01)?;
        self.net.forward(x01)
    }

    /// Class maps of a batch (argmax; outputs beyond the dataset's classes become void), read
    /// asynchronously (the only way on wasm; natively wrap in [`crate::util::block_on`]).
    pub async fn predict(&self, x01: Tensor<4>) -> Result<Vec<ClassMap>> {
        argmax_maps(self.logits(x01)?, self.spec.num_classes()).await
    }
}
