//! The downscale-then-segment pipeline under attack: sizes, the defended pipelines and small
//! image comparisons.

use image::RgbImage;

use super::defense::{Reconstruction, reconstruct, robust_alternative};
use super::report::{AttackVariant, Defense, ScalingExperimentConfig};
use crate::error::{Error, Result};
use crate::image::{self as imaging, ResizeMethod};
use crate::model::zoo::ModelSpec;
use crate::resize::{MAX_SIDE, Scaler, ScalerKind};

// ------------------------------------------------------------------ sizes and pipelines

/// Model size and full size for `spec` under `cfg`. Errors: ratio 0 or > 64, a model size the
/// model does not take, a full size smaller than the model size or above the scaler's limit.
pub fn resolve_sizes(spec: &ModelSpec, cfg: &ScalingExperimentConfig) -> Result<((usize, usize), (usize, usize))> {
    let model = match cfg.model_size {
        Some(s) => s,
        None if spec.accepts(256, 256) => (256, 256),
        None => spec.native_size,
    };
    spec.check_size(model.0, model.1)?;
    let full = match cfg.full_size {
        Some(f) => f,
        None => {
            if !(1..=64).contains(&cfg.ratio) {
                return Err(Error::InvalidArgument(format!(
                    "ratio = {} must be in 1..=64",
                    cfg.ratio
                )));
            }
            (model.0 * cfg.ratio, model.1 * cfg.ratio)
        }
    };
    if full.0 < model.0 || full.1 < model.1 || full.0 > MAX_SIDE || full.1 > MAX_SIDE {
        return Err(Error::InvalidArgument(format!(
            "full size {}x{} must be at least the model size {}x{} and at most {MAX_SIDE} per side",
            full.0, full.1, model.0, model.1
        )));
    }
    Ok((model, full))
}

pub(super) fn fit(img: &RgbImage, (w, h): (usize, usize), what: &str) -> Result<RgbImage> {
    if img.width() == 0 || img.height() == 0 {
        return Err(Error::Image(format!("the {what} image is empty ({}x{})", img.width(), img.height())));
    }
    if (img.width() as usize, img.height() as usize) == (w, h) {
        Ok(img.clone())
    } else {
        imaging::resize(img, w as u32, h as u32, ResizeMethod::PilBilinear)
    }
}

/// The scalers of the defended pipelines.
pub(crate) struct Pipelines {
    pub(crate) scaler: Scaler,
    pub(crate) area: Scaler,
    pub(crate) seed: u64,
}

impl Pipelines {
    pub(crate) fn new(kind: ScalerKind, full: (usize, usize), model: (usize, usize), seed: u64) -> Result<Self> {
        Ok(Pipelines {
            scaler: Scaler::new(kind, full.0, full.1, model.0, model.1)?,
            area: Scaler::new(robust_alternative(kind), full.0, full.1, model.0, model.1)?,
            seed,
        })
    }

    pub(crate) fn scaler_of(&self, d: Defense) -> &Scaler {
        if d == Defense::AreaScaling { &self.area } else { &self.scaler }
    }

    /// The full-size image the defended pipeline scales, and the network input it makes.
    pub(crate) fn run(&self, d: Defense, img: &RgbImage) -> Result<(Option<RgbImage>, RgbImage)> {
        let pre = match d {
            Defense::Median => Some(reconstruct(img, &self.scaler, Reconstruction::Median)?),
            Defense::Random => Some(reconstruct(img, &self.scaler, Reconstruction::Random { seed: self.seed })?),
            Defense::None | Defense::AreaScaling => None,
        };
        let down = self.scaler_of(d).apply_u8(pre.as_ref().unwrap_or(img))?;
        Ok((pre, down))
    }
}

pub(crate) fn defense_list(cfg: &ScalingExperimentConfig) -> Vec<Defense> {
    let mut out = vec![Defense::None];
    for &d in &cfg.defenses {
        if !out.contains(&d) {
            out.push(d);
        }
    }
    out
}

pub(crate) fn changed_fraction(a: &RgbImage, b: &RgbImage) -> f64 {
    let n = (a.width() as usize * a.height() as usize).max(1);
    a.as_raw().chunks_exact(3).zip(b.as_raw().chunks_exact(3)).filter(|(x, y)| x != y).count() as f64 / n as f64
}

pub(crate) fn abs_diff_stats(a: &RgbImage, b: &RgbImage) -> (u8, f64) {
    let n = a.as_raw().len().max(1) as f64;
    let mut max = 0u8;
    let mut sum = 0u64;
    for (x, y) in a.as_raw().iter().zip(b.as_raw()) {
        let d = x.abs_diff(*y);
        max = max.max(d);
        sum += d as u64;
    }
    (max, sum as f64 / n)
}

pub(super) fn variant_tag(v: AttackVariant) -> &'static str {
    match v {
        AttackVariant::Standard => "attack",
        AttackVariant::AdaptiveMedian => "adaptive",
        AttackVariant::Given => "image",
    }
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::zoo;

    #[test]
    fn sizes_and_names() {
        let voc = zoo::spec("espnetv2-voc").unwrap();
        let cfg = ScalingExperimentConfig::default();
        assert_eq!(resolve_sizes(voc, &cfg).unwrap(), ((256, 256), (1024, 1024)));
        let dl = zoo::spec("deeplabv3-mnv2-voc").unwrap();
        assert_eq!(resolve_sizes(dl, &cfg).unwrap(), ((257, 257), (1028, 1028)));
        let bad = ScalingExperimentConfig { ratio: 0, ..Default::default() };
        assert!(resolve_sizes(voc, &bad).unwrap_err().to_string().contains("ratio = 0"));
        let bad = ScalingExperimentConfig { model_size: Some((250, 250)), ..Default::default() };
        assert!(resolve_sizes(voc, &bad).unwrap_err().to_string().contains("250×250"));
        let bad = ScalingExperimentConfig { full_size: Some((100, 2000)), ..Default::default() };
        assert!(resolve_sizes(voc, &bad).unwrap_err().to_string().contains("100x2000"));
        for d in Defense::ALL {
            assert_eq!(d.name().parse::<Defense>().unwrap(), d);
        }
        assert_eq!("area".parse::<Defense>().unwrap(), Defense::AreaScaling);
        assert!("blur".parse::<Defense>().unwrap_err().to_string().contains("'blur'"));
        let mut cfg = ScalingExperimentConfig { defenses: vec![Defense::Median, Defense::None, Defense::Median], ..Default::default() };
        assert_eq!(defense_list(&cfg), vec![Defense::None, Defense::Median]);
        cfg.defenses.clear();
        assert_eq!(defense_list(&cfg), vec![Defense::None]);
    }
}
