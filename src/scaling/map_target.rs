//! The scaling attack towards a target *map*: the attacker wants the pipeline to output a chosen
//! class map (painted, another image's map, one class), not the map of a given image.
//!
//! Two attacks are chained:
//!
//! 1. a targeted attack (the craft spec's kind, PGD by default) at the model size crafts the *target image*:
//!    it starts from the pipeline's own downscale of the source, `down(S)`, and moves it within
//!    an L∞ ball until the network outputs the wanted map; the result is rounded to 8 bits;
//! 2. the image-scaling attack ([`super::run_experiment`]) hides that target image in the
//!    full-size source.
//!
//! Starting from `down(S)` matters: the target image then differs from what the pipeline would
//! see anyway by at most the PGD's ε, so the scaling attack has little to change and the attack
//! image stays much closer to the source than with an unrelated target image (the report gives
//! PSNR(attack, source) to compare). The report scores every map of the experiment against the
//! wanted map as well as against the crafted target's map.

use image::RgbImage;
use serde::Serialize;

use super::experiment::run_experiment;
use super::pipeline::{fit, resolve_sizes, variant_tag};
use super::report::{AttackVariant, Defense, ScalingExperimentConfig, ScalingReport};
use crate::attack::loops::common::Observer;
use crate::attack::{AttackKind, run_with_restarts};
use crate::attack::{Goal, PgdConfig};
use crate::data::ClassMap;
use crate::error::{Error, Result};
use crate::image as imaging;
use crate::metrics::MapMetrics;
use crate::metrics::distance::psnr_u8;
use crate::model::{Segmenter, batch_tensor};
use crate::resize::Scaler;

/// The targeted PGD that crafted the target image, in a [`MapTargetReport`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CraftSummary {
    /// ε of the PGD (pixel units in `[0, 1]`).
    pub eps: f64,
    /// Gradient steps taken.
    pub steps_run: usize,
    /// `‖target − down(S)‖∞` of the 8-bit target image, in grey levels.
    pub linf_grey_levels: u8,
    /// PSNR (dB) of the 8-bit target image against `down(S)`.
    pub psnr_vs_down_source: f64,
}

/// One defense row of the experiment scored against the wanted map.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WantedRow {
    /// The defense.
    pub defense: Defense,
    /// The attack image.
    pub variant: AttackVariant,
    /// The defended pipeline's map vs the wanted map.
    pub map_vs_wanted: MapMetrics,
}

/// Result of [`run_map_experiment_async`].
#[derive(Debug, Clone, Serialize)]
pub struct MapTargetReport {
    /// How the target image was crafted.
    pub craft: CraftSummary,
    /// The clean pipeline's map (on `down(S)`) vs the wanted map: the baseline.
    pub clean_vs_wanted: MapMetrics,
    /// The network's map on the 8-bit target image vs the wanted map (what PGD achieved).
    pub target_vs_wanted: MapMetrics,
    /// The undefended pipeline's map on the attack image vs the wanted map (the end result).
    pub attack_vs_wanted: MapMetrics,
    /// Every (defense, attack image) row of the experiment vs the wanted map.
    pub defenses_vs_wanted: Vec<WantedRow>,
    /// The scaling experiment on the crafted target image (its `target` is that image).
    pub scaling: ScalingReport,
    /// The wanted map at the model size.
    #[serde(skip)]
    pub wanted: ClassMap,
}

/// A map of the wanted class `class` everywhere, at `width × height`.
pub fn class_map(class: u8, width: usize, height: usize) -> ClassMap {
    ClassMap { width, height, data: vec![class; width * height] }
}

/// Runs the map-target experiment (see the module documentation): `source` is brought to the
/// full size of `cfg` (Pillow bilinear where it differs), `wanted` to the model size (nearest
/// neighbour where it differs; [`crate::data::VOID`] pixels are "don't care"). The target image
/// is crafted by the attack family `kind` with the settings `pgd` (8-bit quantisation is
/// switched on) through [`run_with_restarts`], the dispatch every attack goes through. `seg` should be loaded on an
/// autodiff device ([`crate::backend::autodiff`]); `observer` sees the PGD's iterates and may
/// cancel.
///
/// Errors: those of [`resolve_sizes`], [`pgd`] (invalid PGD settings, a class out of
/// range in `wanted`, a map without any valid pixel) and [`run_experiment`].
pub async fn run_map_experiment(
    seg: &Segmenter,
    source: &RgbImage,
    wanted: &ClassMap,
    kind: AttackKind,
    pgd: &PgdConfig,
    cfg: &ScalingExperimentConfig,
    observer: Option<Observer<'_>>,
) -> Result<MapTargetReport> {
    let (model, full) = resolve_sizes(seg.spec, cfg)?;
    if wanted.width == 0 || wanted.height == 0 {
        return Err(Error::InvalidArgument(format!(
            "the wanted map is empty ({}x{})",
            wanted.width, wanted.height
        )));
    }
    let wanted = wanted.resized(model.0, model.1)?;
    let src = fit(source, full, "source")?;
    let down_source = Scaler::new(cfg.scaler, full.0, full.1, model.0, model.1)?.apply_u8(&src)?;

    let device = seg.device();
    let x = batch_tensor(&[imaging::to_tensor01(&down_source)], &device)?;
    let pgd_cfg = pgd.clone().with_quantize(true);
    let crafted = run_with_restarts(kind, seg, x, &Goal::to_maps(vec![wanted.clone()]), &pgd_cfg, observer).await?;
    let steps_run = crafted.steps_run;
    let target01 = crafted
        .quantized
        .and_then(|q| q.images.into_iter().next())
        .ok_or_else(|| Error::Backend("the PGD returned no quantised image".into()))?;
    let target = imaging::from_tensor01(&target01)?;
    let linf = target.as_raw().iter().zip(down_source.as_raw()).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
    let craft = CraftSummary {
        eps: pgd_cfg.eps,
        steps_run,
        linf_grey_levels: linf,
        psnr_vs_down_source: psnr_u8(&target, &down_source)?,
    };

    let scaling = run_experiment(seg, &src, &target, cfg).await?;
    let k = seg.spec.num_classes();
    let score = |name: &str| -> Result<MapMetrics> {
        let map = scaling
            .artifacts
            .map(name)
            .ok_or_else(|| Error::Backend(format!("the experiment computed no '{name}' map")))?;
        MapMetrics::compare(map, &wanted, k)
    };
    let mut defenses_vs_wanted = Vec::with_capacity(scaling.defenses.len());
    for row in &scaling.defenses {
        defenses_vs_wanted.push(WantedRow {
            defense: row.defense,
            variant: row.variant,
            map_vs_wanted: score(&format!("{}_{}", row.defense.name(), variant_tag(row.variant)))?,
        });
    }
    Ok(MapTargetReport {
        craft,
        clean_vs_wanted: score("none_source")?,
        target_vs_wanted: score("target")?,
        attack_vs_wanted: score("none_attack")?,
        defenses_vs_wanted,
        scaling,
        wanted,
    })
}
