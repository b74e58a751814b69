//! Pretrained segmentation networks, implemented natively in burn.
//!
//! [`Segmenter`] is the entry point: a zoo model (see [`zoo`]) with its weights, taking images
//! in [0, 1] RGB (`[N, 3, H, W]`) and returning logits at the input size. Normalisation happens
//! inside the networks.

pub mod convert;
pub mod deeplab_mnv2;
pub mod espnetv2;
pub mod layers;
pub mod weights;
pub mod zoo;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::image_io::RgbImage01;
use deeplab_mnv2::{DeepLabV3, DeepLabV3Config};
use espnetv2::{EspNetV2, EspNetV2Config};
use weights::TensorStore;
use zoo::{Arch, ModelSpec, VOID};

/// One of the supported architectures.
#[derive(Module, Debug)]
pub enum Network {
    /// ESPNetv2.
    EspNetV2(EspNetV2),
    /// DeepLabV3-MobileNetV2.
    DeepLabV3(DeepLabV3),
}

impl Network {
    /// `[N, 3, H, W]` in [0, 1] → logits `[N, C, H, W]`.
    pub fn forward(&self, x01: Tensor<4>) -> Tensor<4> {
        match self {
            Network::EspNetV2(m) => m.forward(x01),
            Network::DeepLabV3(m) => m.forward(x01),
        }
    }
}

/// A class-index map (`u8` per pixel, row-major; [`zoo::VOID`] = void).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassMap {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height × width` class indices.
    pub data: Vec<u8>,
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
    /// Build from the bytes of the model's weights file (checked against the manifest's sha256).
    pub fn from_bytes(spec: &'static ModelSpec, bytes: &[u8], device: &Device) -> Result<Self> {
        weights::verify(spec.weights_file, bytes)?;
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
        };
        Ok(Self { spec, net: net.no_grad() })
    }

    /// Load a zoo model by name from `weights/` (native only).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn load(name: &str, device: &Device) -> Result<Self> {
        let spec = zoo::spec(name)?;
        let bytes = weights::read_verified(spec.weights_file)?;
        Self::from_bytes(spec, &bytes, device)
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
        Ok(self.net.forward(x01))
    }

    /// Class maps of a batch (argmax; outputs beyond the dataset's classes become void).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn predict(&self, x01: Tensor<4>) -> Result<Vec<ClassMap>> {
        let logits = self.logits(x01)?;
        argmax_maps(logits, self.spec.num_classes())
    }

    /// [`Self::predict`] reading the result asynchronously (required on wasm).
    pub async fn predict_async(&self, x01: Tensor<4>) -> Result<Vec<ClassMap>> {
        argmax_maps_async(self.logits(x01)?, self.spec.num_classes()).await
    }
}

/// [`argmax_maps`] reading the result asynchronously (required on wasm).
pub async fn argmax_maps_async(logits: Tensor<4>, num_classes: usize) -> Result<Vec<ClassMap>> {
    let [n, _, h, w] = logits.dims();
    let data = logits
        .argmax(1)
        .into_data_async()
        .await
        .map_err(|e| Error::Backend(format!("reading the class maps failed: {e:?}")))?;
    maps_from_data(data, n, h, w, num_classes)
}

/// Argmax over channels, synchronously read. Classes ≥ `num_classes` become [`VOID`].
#[cfg(not(target_arch = "wasm32"))]
pub fn argmax_maps(logits: Tensor<4>, num_classes: usize) -> Result<Vec<ClassMap>> {
    let [n, _, h, w] = logits.dims();
    let data = logits.argmax(1).into_data();
    maps_from_data(data, n, h, w, num_classes)
}

/// Class maps from argmax data `[N, 1, H, W]` (classes `≥ num_classes` become [`VOID`]).
pub(crate) fn maps_from_data(data: TensorData, n: usize, h: usize, w: usize, num_classes: usize) -> Result<Vec<ClassMap>> {
    let idx: Vec<i64> = data.convert::<i64>().try_to_vec::<i64>().map_err(|e| Error::Backend(format!("{e:?}")))?;
    if idx.len() != n * h * w {
        return Err(Error::Shape(format!("argmax returned {} values for [{n}, {h}, {w}]", idx.len())));
    }
    Ok(idx
        .chunks(h * w)
        .map(|c| ClassMap {
            width: w,
            height: h,
            data: c.iter().map(|&k| if (k as usize) < num_classes { k as u8 } else { VOID }).collect(),
        })
        .collect())
}

/// Stack same-size images into a `[N, 3, H, W]` tensor.
pub fn batch_tensor(images: &[RgbImage01], device: &Device) -> Result<Tensor<4>> {
    let first = images.first().ok_or_else(|| Error::InvalidArgument("empty image batch".into()))?;
    let (w, h) = (first.width, first.height);
    let mut data = Vec::with_capacity(images.len() * 3 * w * h);
    for (i, im) in images.iter().enumerate() {
        if im.width != w || im.height != h {
            return Err(Error::Shape(format!(
                "image {} of the batch is {}×{}, the first is {w}×{h}: a batch needs one size",
                i + 1,
                im.width,
                im.height
            )));
        }
        if im.data.len() != 3 * w * h {
            return Err(Error::Shape(format!("image {} has {} values, expected {}", i + 1, im.data.len(), 3 * w * h)));
        }
        data.extend_from_slice(&im.data);
    }
    Ok(Tensor::from_data(TensorData::new(data, [images.len(), 3, h, w]), device))
}
