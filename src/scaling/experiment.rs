//! The image-scaling attack against a segmentation pipeline, and the defenses measured on it.
//!
//! The pipeline under attack takes a large image (the *full size*), downscales it with a real
//! library's scaler to the network's input size (the *model size*) and segments that. The
//! experiment (Quiring et al., "Adversarial Preprocessing: Understanding and Preventing
//! Image-Scaling Attacks", USENIX Security 2020, applied to segmentation):
//!
//! 1. brings the source to the full size and the target to the model size (Pillow bilinear
//!    where they differ, as the reference models' preprocessing does);
//! 2. crafts the attack image `A = scaling_attack(source, target)` ([`scaling_attack`]);
//! 3. segments `A` at full size (the network is fully convolutional: this is what a person, or a
//!    pipeline without downscaling, sees) and compares it with the source's full-size map;
//! 4. segments `down(A)` (the library's exact 8-bit scaler, [`Scaler::apply_u8`]) and compares
//!    it with the target's map (the network on the target at the model size);
//! 5. for each [`Defense`] — none, Quiring's median and random reconstruction of the pixels the
//!    scaler reads ([`reconstruct`]), and area scaling ([`robust_alternative`]) — runs the
//!    defended pipeline on the attack image and on the clean source and reports how far the
//!    result is from the target's map and from the clean pipeline's map;
//! 6. optionally builds the adaptive attack against the median defense
//!    ([`adaptive_median_attack`]) and runs it through the same defenses.
//!
//! Maps are compared by pixel agreement and by mIoU with the reference map as ground truth
//! ([`MapMetrics::compare`]).
//!
//! A target *map* instead of a target image is the job of [`super::map_target`]: it crafts the
//! target image with a targeted PGD at the model size, then runs this experiment on it.

use image::RgbImage;

use super::attack::scaling_attack;
use super::defense::{adaptive_median_attack, robust_alternative};
use super::pipeline::{Pipelines, abs_diff_stats, changed_fraction, defense_list, fit, resolve_sizes, variant_tag};
use super::report::{
    AdaptiveSummary, AttackSummary, AttackVariant, Defense, DefenseReport, DefenseRow, ExperimentSeconds,
    ScalingArtifacts, ScalingExperimentConfig, ScalingReport,
};
use crate::data::ClassMap;
use crate::error::{Error, Result};
use crate::image as imaging;
use crate::metrics::MapMetrics;
use crate::metrics::distance::psnr_u8;
use crate::model::zoo::ModelSpec;
use crate::model::{Segmenter, predict_batched};
use crate::util::Timer;

/// Everything computed before the network runs: the images to segment, by name.
struct Prepared {
    spec: &'static ModelSpec,
    cfg: ScalingExperimentConfig,
    model: (usize, usize),
    full: (usize, usize),
    source_size: (usize, usize),
    target_size: (usize, usize),
    source: RgbImage,
    target: RgbImage,
    attack: super::attack::ScalingAttackResult,
    adaptive: Option<(super::defense::AdaptiveMedianResult, f64)>,
    /// (defense, variant, psnr vs source of the pre-scaling image, network input)
    rows: Vec<(Defense, AttackVariant, f64, RgbImage)>,
    /// clean pipeline input per defense
    clean: Vec<(Defense, RgbImage)>,
    full_maps: bool,
    defense_seconds: f64,
}

impl Prepared {
    /// The images to segment, in a fixed order: model-size ones first, then full-size ones.
    fn jobs(&self) -> Vec<(String, &RgbImage)> {
        let mut jobs: Vec<(String, &RgbImage)> = vec![("target".into(), &self.target)];
        for (d, img) in &self.clean {
            jobs.push((format!("{}_source", d.name()), img));
        }
        for (d, v, _, img) in &self.rows {
            jobs.push((format!("{}_{}", d.name(), variant_tag(*v)), img));
        }
        if self.full_maps {
            jobs.push(("source_full".into(), &self.source));
            jobs.push(("attack_full".into(), &self.attack.attack_u8));
            if let Some((a, _)) = &self.adaptive {
                jobs.push(("adaptive_full".into(), &a.image));
            }
        }
        jobs
    }
}

fn prepare(
    spec: &'static ModelSpec,
    source: &RgbImage,
    target: &RgbImage,
    cfg: &ScalingExperimentConfig,
) -> Result<Prepared> {
    let (model, full) = resolve_sizes(spec, cfg)?;
    if cfg.batch == 0 {
        return Err(Error::InvalidArgument("batch = 0: at least one image per forward pass".into()));
    }
    let source_size = (source.width() as usize, source.height() as usize);
    let target_size = (target.width() as usize, target.height() as usize);
    let src = fit(source, full, "source")?;
    let tgt = fit(target, model, "target")?;
    let pipes = Pipelines::new(cfg.scaler, full, model, cfg.seed)?;
    let attack = scaling_attack(&src, &tgt, &pipes.scaler, &cfg.attack)?;
    let adaptive = if cfg.adaptive_median {
        let t = Timer::start();
        let a = adaptive_median_attack(&attack.attack_u8, &pipes.scaler, cfg.adaptive_passes)?;
        Some((a, t.seconds()))
    } else {
        None
    };
    let t = Timer::start();
    let mut rows = Vec::new();
    let mut clean = Vec::new();
    for d in defense_list(cfg) {
        clean.push((d, pipes.run(d, &src)?.1));
        let mut variants = vec![(AttackVariant::Standard, &attack.attack_u8)];
        if let Some((a, _)) = &adaptive {
            variants.push((AttackVariant::AdaptiveMedian, &a.image));
        }
        for (v, img) in variants {
            let (pre, down) = pipes.run(d, img)?;
            let psnr = psnr_u8(pre.as_ref().unwrap_or(img), &src)?;
            rows.push((d, v, psnr, down));
        }
    }
    let defense_seconds = t.seconds();
    let full_maps = cfg.full_size_maps && spec.accepts(full.0, full.1);
    Ok(Prepared {
        spec,
        cfg: cfg.clone(),
        model,
        full,
        source_size,
        target_size,
        source: src,
        target: tgt,
        attack,
        adaptive,
        rows,
        clean,
        full_maps,
        defense_seconds,
    })
}

fn finish(p: Prepared, maps: Vec<ClassMap>, forward_seconds: f64, total: &Timer) -> Result<ScalingReport> {
    let names: Vec<String> = p.jobs().into_iter().map(|(n, _)| n).collect();
    if names.len() != maps.len() {
        return Err(Error::Backend(format!("{} maps for {} images", maps.len(), names.len())));
    }
    let maps = Named(names.into_iter().zip(maps).collect());
    let get = |name: &str| maps.get(name);
    let k = p.spec.num_classes();
    let target_map = get("target")?;
    let defenses = defense_rows(&p, &maps)?;
    let full_map_vs_source = if p.full_maps {
        Some(MapMetrics::compare(get("attack_full")?, get("source_full")?, k)?)
    } else {
        None
    };
    let adaptive = adaptive_summary(&p, &maps)?;
    let attack_map = get("none_attack")?;
    let source_map = get("none_source")?;
    let report_attack = AttackSummary {
        method: p.attack.method,
        seconds: p.attack.solve_seconds,
        psnr_vs_source: p.attack.psnr_vs_source,
        max_abs_down_minus_target: p.attack.max_abs_down_minus_target,
        max_abs_real_down_minus_target: p.attack.max_abs_real_down_minus_target,
        changed_pixels: changed_fraction(&p.attack.attack_u8, &p.source),
        stats: p.attack.stats.clone(),
    };
    let down_map_vs_target = MapMetrics::compare(attack_map, target_map, k)?;
    let down_map_vs_source = MapMetrics::compare(attack_map, source_map, k)?;
    let clean_down_map_vs_target = MapMetrics::compare(source_map, target_map, k)?;
    let mut inputs = vec![("target".to_string(), p.target.clone())];
    for (d, img) in &p.clean {
        inputs.push((format!("{}_source", d.name()), img.clone()));
    }
    for (d, v, _, img) in &p.rows {
        inputs.push((format!("{}_{}", d.name(), variant_tag(*v)), img.clone()));
    }
    let seconds = ExperimentSeconds {
        attack: p.attack.solve_seconds,
        adaptive: p.adaptive.as_ref().map_or(0.0, |a| a.1),
        defenses: p.defense_seconds,
        forward: forward_seconds,
        total: total.seconds(),
    };
    Ok(ScalingReport {
        model: p.spec.name.to_string(),
        scaler: p.cfg.scaler,
        source_size: p.source_size,
        target_size: p.target_size,
        full_size: p.full,
        model_size: p.model,
        eps: p.cfg.attack.eps,
        attack: report_attack,
        full_map_vs_source,
        down_map_vs_target,
        down_map_vs_source,
        clean_down_map_vs_target,
        adaptive,
        defenses,
        seconds,
        artifacts: ScalingArtifacts {
            source: p.source,
            target: p.target,
            attack: p.attack.attack_u8,
            adaptive: p.adaptive.map(|(a, _)| a.image),
            inputs,
            maps: maps.0,
        },
    })
}

/// The maps of a run by name.
struct Named(Vec<(String, ClassMap)>);

impl Named {
    fn get(&self, name: &str) -> Result<&ClassMap> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, m)| m)
            .ok_or_else(|| Error::Backend(format!("map '{name}' was not computed")))
    }
}

/// One row per defended pipeline and attack variant.
fn defense_rows(p: &Prepared, maps: &Named) -> Result<Vec<DefenseRow>> {
    let k = p.spec.num_classes();
    let target_map = maps.get("target")?;
    let mut defenses = Vec::new();
    for (d, v, psnr, down) in &p.rows {
        let map = maps.get(&format!("{}_{}", d.name(), variant_tag(*v)))?;
        let clean = maps.get(&format!("{}_source", d.name()))?;
        let (max, mean) = abs_diff_stats(down, &p.target);
        defenses.push(DefenseRow {
            defense: *d,
            variant: *v,
            scaler: if *d == Defense::AreaScaling { robust_alternative(p.cfg.scaler) } else { p.cfg.scaler },
            psnr_vs_source: Some(*psnr),
            max_abs_down_minus_target: Some(max),
            mean_abs_down_minus_target: Some(mean),
            down_map_vs_target: Some(MapMetrics::compare(map, target_map, k)?),
            down_map_vs_source: Some(MapMetrics::compare(map, clean, k)?),
        });
    }
    Ok(defenses)
}

/// The adaptive attack against the median defense, if it ran.
fn adaptive_summary(p: &Prepared, maps: &Named) -> Result<Option<AdaptiveSummary>> {
    let Some((a, secs)) = &p.adaptive else { return Ok(None) };
    let k = p.spec.num_classes();
    Ok(Some(AdaptiveSummary {
        seconds: *secs,
        passes: a.passes,
        windows_matched: a.windows_matched as f64 / a.windows.max(1) as f64,
        psnr_vs_source: psnr_u8(&a.image, &p.source)?,
        changed_pixels: changed_fraction(&a.image, &p.source),
        full_map_vs_source: if p.full_maps {
            Some(MapMetrics::compare(maps.get("adaptive_full")?, maps.get("source_full")?, k)?)
        } else {
            None
        },
    }))
}

/// Segments 8-bit images with the model: consecutive images of one size go through the
/// network together, at most `batch` per forward pass.
pub async fn segment_images(seg: &Segmenter, images: &[&RgbImage], batch: usize) -> Result<Vec<ClassMap>> {
    let images01: Vec<_> = images.iter().map(|i| imaging::to_tensor01(i)).collect();
    predict_batched(seg, &images01, batch, &seg.device()).await
}

/// Runs the segmentation experiment (see the module documentation): the scaling attack hiding
/// `target` in `source` for `seg`'s pipeline, the maps at full and model size, the adaptive
/// attack and the defense table. `source` is resized to the full size and `target` to the model
/// size (Pillow bilinear) where they differ.
///
/// Errors: invalid sizes or configuration ([`resolve_sizes`], [`scaling_attack`]), empty images,
/// backend failures.
pub async fn run_experiment(
    seg: &Segmenter,
    source: &RgbImage,
    target: &RgbImage,
    cfg: &ScalingExperimentConfig,
) -> Result<ScalingReport> {
    let total = Timer::start();
    let p = prepare(seg.spec, source, target, cfg)?;
    let t = Timer::start();
    let maps = {
        let jobs = p.jobs();
        let imgs: Vec<&RgbImage> = jobs.iter().map(|(_, i)| *i).collect();
        segment_images(seg, &imgs, cfg.batch).await?
    };
    let fwd = t.seconds();
    finish(p, maps, fwd, &total)
}

/// Runs the defended pipelines of `cfg.defenses` (and the plain one) on a given full-size
/// `image` — e.g. a suspected attack image — and reports what each makes of it: against the
/// target's map when `target` is given, against the clean pipelines on `source` when given.
/// `image` fixes the full size (`cfg.full_size`/`ratio` are ignored); `source` is resized to it
/// and `target` to the model size where they differ.
pub async fn run_defenses(
    seg: &Segmenter,
    image: &RgbImage,
    source: Option<&RgbImage>,
    target: Option<&RgbImage>,
    cfg: &ScalingExperimentConfig,
) -> Result<DefenseReport> {
    let full = (image.width() as usize, image.height() as usize);
    let mut c = cfg.clone();
    c.full_size = Some(full);
    let (model, full) = resolve_sizes(seg.spec, &c)?;
    let pipes = Pipelines::new(cfg.scaler, full, model, cfg.seed)?;
    let src = source.map(|s| fit(s, full, "source")).transpose()?;
    let tgt = target.map(|t| fit(t, model, "target")).transpose()?;
    let mut inputs: Vec<(String, RgbImage)> = Vec::new();
    let mut psnrs = Vec::new();
    if let Some(t) = &tgt {
        inputs.push(("target".into(), t.clone()));
    }
    let list = defense_list(cfg);
    for &d in &list {
        let (pre, down) = pipes.run(d, image)?;
        psnrs.push(src.as_ref().map(|s| psnr_u8(pre.as_ref().unwrap_or(image), s)).transpose()?);
        inputs.push((format!("{}_image", d.name()), down));
        if let Some(s) = &src {
            inputs.push((format!("{}_source", d.name()), pipes.run(d, s)?.1));
        }
    }
    let imgs: Vec<&RgbImage> = inputs.iter().map(|(_, i)| i).collect();
    let maps = segment_images(seg, &imgs, cfg.batch.max(1)).await?;
    let k = seg.spec.num_classes();
    let find = |name: &str| inputs.iter().position(|(n, _)| n == name);
    let mut rows = Vec::new();
    for (i, &d) in list.iter().enumerate() {
        let Some(ii) = find(&format!("{}_image", d.name())) else { continue };
        let map = &maps[ii];
        let down = &inputs[ii].1;
        let (stats, vs_t) = match (&tgt, find("target")) {
            (Some(t), Some(ti)) => (Some(abs_diff_stats(down, t)), Some(MapMetrics::compare(map, &maps[ti], k)?)),
            _ => (None, None),
        };
        let vs_s = match find(&format!("{}_source", d.name())) {
            Some(si) => Some(MapMetrics::compare(map, &maps[si], k)?),
            None => None,
        };
        rows.push(DefenseRow {
            defense: d,
            variant: AttackVariant::Given,
            scaler: pipes.scaler_of(d).kind,
            psnr_vs_source: psnrs[i],
            max_abs_down_minus_target: stats.map(|s| s.0),
            mean_abs_down_minus_target: stats.map(|s| s.1),
            down_map_vs_target: vs_t,
            down_map_vs_source: vs_s,
        });
    }
    let maps: Vec<(String, ClassMap)> = inputs.iter().map(|(n, _)| n.clone()).zip(maps).collect();
    Ok(DefenseReport {
        model: seg.spec.name.to_string(),
        scaler: cfg.scaler,
        full_size: full,
        model_size: model,
        defenses: rows,
        artifacts: ScalingArtifacts {
            source: src.unwrap_or_else(|| image.clone()),
            target: tgt.unwrap_or_default(),
            attack: image.clone(),
            adaptive: None,
            inputs,
            maps,
        },
    })
}

