//! Defenses against adversarial perturbations, and the adaptive attacks that test them.
//!
//! - [`multiscale`]: multi-scale (and mirrored) inference, a [`SegModel`] of its own;
//! - [`reconstruct`]: input reconstruction (JPEG, bit depth, median, Gaussian, total variation);
//! - [`Defended`]: a reconstruction [`Pipeline`] in front of the plain or the multi-scale
//!   network, as one [`SegModel`].
//!
//! A defense is only worth what it keeps against an attacker who knows it. Every evaluation
//! in this crate reports two numbers side by side:
//!
//! - **non-adaptive**: the perturbation is crafted against the undefended network and then fed
//!   to the defended one (the attacker ignores the defense);
//! - **adaptive**: the perturbation is crafted against the [`Defended`] model itself. Multi-scale
//!   inference is differentiable, so PGD differentiates through all scales and flips at once
//!   (expectation over the transformations, Athalye et al., "Synthesizing Robust Adversarial
//!   Examples", ICML 2018). The reconstructions are not (rounding, JPEG, medians), so their
//!   backward pass is replaced by the identity: BPDA (Athalye, Carlini & Wagner, "Obfuscated
//!   Gradients Give a False Sense of Security", ICML 2018). The forward pass is always the
//!   true defended model.

pub mod multiscale;
pub mod reconstruct;

use burn::config::Config;
use burn::tensor::{Device, Tensor};

use crate::attack::SegModel;
use crate::error::{self, Error};
use crate::image_io::RgbImage01;
use crate::model::{ClassMap, Segmenter, argmax_maps_async, batch_tensor};
pub use multiscale::{Combine, MultiScale, MultiScaleConfig};
pub use reconstruct::{Pipeline, Reconstruction};

/// A defense: an optional reconstruction pipeline, then the plain or multi-scale network.
#[derive(Config, Debug, PartialEq)]
pub struct DefenseConfig {
    /// Reconstruction steps before the network (empty: none).
    #[config(default = "Pipeline::default()")]
    pub reconstruct: Pipeline,
    /// Multi-scale inference (`None`: the network at the input size only).
    pub multiscale: Option<MultiScaleConfig>,
}

impl DefenseConfig {
    /// A short description, e.g. `jpeg:75 → ms(0.5,1)+flip/mean`, or `none`.
    pub fn label(&self) -> String {
        match (self.reconstruct.is_empty(), &self.multiscale) {
            (true, None) => "none".into(),
            (false, None) => self.reconstruct.to_string(),
            (true, Some(m)) => m.label(),
            (false, Some(m)) => format!("{} → {}", self.reconstruct, m.label()),
        }
    }

    /// Check every part.
    pub fn validate(&self) -> error::Result<()> {
        for r in &self.reconstruct.0 {
            r.validate()?;
        }
        if let Some(m) = &self.multiscale {
            m.validate()?;
        }
        Ok(())
    }
}

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
    pub async fn predict_async(&self, images: &[RgbImage01], device: &Device) -> error::Result<Vec<ClassMap>> {
        let rebuilt: Vec<RgbImage01> = images.iter().map(|im| self.pipeline.apply(im)).collect::<error::Result<_>>()?;
        let x = batch_tensor(&rebuilt, device)?;
        argmax_maps_async(self.network.logits(x)?, self.num_classes).await
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
