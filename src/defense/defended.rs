//! [`Defended`]: a defense in front of a network, as one [`SegModel`] whose forward pass is the
//! true defended model and whose backward pass is BPDA through the reconstruction and exact
//! (EOT) through the scales.

use burn::tensor::{Device, Tensor};

use super::config::DefenseConfig;
use super::multiscale::MultiScale;
use super::reconstruct::Pipeline;
use crate::data::ClassMap;
use crate::error::{self, Error};
use crate::image::RgbImage01;
use crate::model::{SegModel, Segmenter, argmax_maps, batch_tensor};

/// The network behind a [`Defended`] model.
#[derive(Debug, Clone)]
pub enum Network {
    /// The network at the input size.
    Plain(Segmenter),
    /// Multi-scale inference.
    MultiScale(MultiScale),
}

impl Network {
    fn logits(&self, x01: Tensor<4>) -> error::Result<Tensor<4>> {
        match self {
            Network::Plain(s) => s.logits(x01),
            Network::MultiScale(m) => m.logits(x01),
        }
    }
}

/// A defended model: `network(reconstruct(x))`. As a [`SegModel`] its forward pass is the true
/// defended model and its gradient passes through the reconstruction as the identity (BPDA),
/// and through multi-scale inference exactly (EOT over the scales).
#[derive(Debug, Clone)]
pub struct Defended {
    /// Reconstruction applied to every image first.
    pub pipeline: Pipeline,
    /// The network.
    pub network: Network,
    num_classes: usize,
}

impl Defended {
    /// The defense `cfg` around `seg`.
    pub fn new(seg: Segmenter, cfg: &DefenseConfig) -> error::Result<Self> {
        cfg.validate()?;
        let num_classes = seg.spec.num_classes();
        let network = match &cfg.multiscale {
            Some(m) => Network::MultiScale(MultiScale::new(seg, m.clone())?),
            None => Network::Plain(seg),
        };
        Ok(Self { pipeline: cfg.reconstruct.clone(), network, num_classes })
    }

    /// Apply the reconstruction to a batch: the forward value of `x01 + (r(x) − x)` where the
    /// difference is a constant, so the gradient with respect to `x01` is the identity.
    fn reconstruct(&self, x01: Tensor<4>) -> error::Result<Tensor<4>> {
        if self.pipeline.is_empty() {
            return Ok(x01);
        }
        self.reconstruct_host(x01)
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn reconstruct_host(&self, x01: Tensor<4>) -> error::Result<Tensor<4>> {
        use burn::tensor::TensorData;
        let dims = x01.dims();
        let [n, _, h, w] = dims;
        let device = x01.device();
        let host: Vec<f32> = x01
            .clone()
            .detach()
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| Error::Backend(format!("reading the images for reconstruction failed: {e:?}")))?;
        let per = 3 * h * w;
        let mut delta = Vec::with_capacity(host.len());
        for i in 0..n {
            let img = RgbImage01::new(w, h, host[i * per..(i + 1) * per].to_vec())?;
            let r = self.pipeline.apply(&img)?;
            delta.extend(r.data.iter().zip(&img.data).map(|(a, b)| a - b));
        }
        Ok(x01 + Tensor::<4>::from_data(TensorData::new(delta, dims), &device))
    }

    #[cfg(target_arch = "wasm32")]
    fn reconstruct_host(&self, _x01: Tensor<4>) -> error::Result<Tensor<4>> {
        Err(Error::InvalidArgument(format!(
            "the reconstruction '{}' runs on host images: in the browser apply Pipeline::apply to the images first",
            self.pipeline
        )))
    }
}

impl Defended {
    /// The defended model's class maps for host images (all of one size), read asynchronously
    /// (works on every target, the browser included): the reconstruction runs on the host
    /// images, then the network.
    pub async fn predict(&self, images: &[RgbImage01], device: &Device) -> error::Result<Vec<ClassMap>> {
        let rebuilt: Vec<RgbImage01> = images.iter().map(|im| self.pipeline.apply(im)).collect::<error::Result<_>>()?;
        let x = batch_tensor(&rebuilt, device)?;
        argmax_maps(self.network.logits(x)?, self.num_classes).await
    }
}

impl SegModel for Defended {
    /// `[N, 3, H, W]` in `[0, 1]` → logits `[N, outputs, H, W]` of the defended model.
    fn logits(&self, x01: Tensor<4>) -> error::Result<Tensor<4>> {
        let x = self.reconstruct(x01)?;
        self.network.logits(x)
    }

    fn num_classes(&self) -> usize {
        self.num_classes
    }
}
