//! The experiment runner: per model, the clean scores, then every attack × ε × seed against the
//! undefended model, each defense non-adaptively and adaptively; then the transfer matrix.

use std::ops::Range;

use burn::tensor::Device;

use super::detail::{detail, image_scores};
use super::file::ExperimentFile;
use super::items::{Item, for_model, inputs, load_items};
use super::result::{AttackRow, DefenseScore, ExperimentProgress, ExperimentResult, ModelResult, Score};
use super::transfer::transfer_matrix;
use crate::attack::{AttackSpec, Goal, GoalInputs, GoalKind, Mask, PgdConfig, run_with_restarts};
use crate::data::ClassMap;
use crate::defense::{DefenseConfig, Defended};
use crate::error::Result;
use crate::image::RgbImage01;
use crate::metrics::compare_maps;
use crate::metrics::distance::pooled_psnr;
use crate::model::{SegModel, Segmenter, batch_tensor, predict_batched};
use crate::util::block_on;

/// Predicted maps of `model` on `images`, `batch` at a time.
pub(crate) fn predict(model: &dyn SegModel, images: &[RgbImage01], batch: usize, device: &Device) -> Result<Vec<ClassMap>> {
    block_on(predict_batched(model, images, batch, device))
}

/// Scores of `maps` against ground truth (and the target maps, where given; `skip` excluded).
pub(crate) fn score(maps: &[ClassMap], items: &[Item], targets: Option<&[ClassMap]>, skip: Option<usize>, k: usize) -> Result<Score> {
    let gts: Vec<ClassMap> = items.iter().map(|it| it.gt.clone()).collect();
    let m = compare_maps(maps, &gts, k)?;
    let target_agreement = match targets {
        None => None,
        Some(t) => {
            let keep: Vec<usize> = (0..maps.len()).filter(|&i| Some(i) != skip).collect();
            let p: Vec<ClassMap> = keep.iter().map(|&i| maps[i].clone()).collect();
            let r: Vec<ClassMap> = keep.iter().map(|&i| t[i].clone()).collect();
            Some(if p.is_empty() { 0.0 } else { compare_maps(&p, &r, k)?.agreement })
        }
    };
    Ok(Score { miou: m.miou, pixel_accuracy: m.pixel_accuracy, target_agreement })
}

/// The goal of one attack on one model, resolved per batch of the image set.
pub(crate) struct SetGoal<'a> {
    spec: &'a AttackSpec,
    seg: &'a Segmenter,
    size: (usize, usize),
    names: Vec<String>,
    ground_truth: Vec<Option<ClassMap>>,
    clean: &'a [ClassMap],
    target_map: Option<ClassMap>,
    mask: Option<Mask>,
}

impl<'a> SetGoal<'a> {
    /// `clean`: the model's clean maps of the whole set (targeted-image takes its target there).
    pub(crate) fn new(spec: &'a AttackSpec, seg: &'a Segmenter, items: &[Item], clean: &'a [ClassMap]) -> Result<Self> {
        let size = seg.spec.native_size;
        let (target_map, mask) = spec.read_goal_files(size.0, size.1)?;
        Ok(SetGoal {
            spec,
            seg,
            size,
            names: items.iter().map(|it| it.name.clone()).collect(),
            ground_truth: items.iter().map(|it| Some(it.gt.clone())).collect(),
            clean,
            target_map,
            mask,
        })
    }

    /// The goal of the images `r` of the set.
    fn of(&self, r: Range<usize>) -> Result<Goal> {
        self.spec.goal(&GoalInputs {
            model: self.seg.spec,
            width: self.size.0,
            height: self.size.1,
            batch: r.len(),
            names: &self.names[r.clone()],
            ground_truth: &self.ground_truth[r],
            set_clean: Some(self.clean),
            set_ground_truth: Some(&self.ground_truth),
            target_map: self.target_map.clone(),
            mask: self.mask.clone(),
        })
    }

    /// The image left out of the target agreement (the target image itself).
    fn skip(&self) -> Option<usize> {
        match self.spec.goal {
            GoalKind::TargetedImage => self.spec.target_index.map(|k| k - 1),
            _ => None,
        }
    }
}

/// The outcome of one attack run over all images (in chunks).
pub(crate) struct Crafted {
    pub images: Vec<RgbImage01>,
    pub maps: Vec<ClassMap>,
    pub targets: Vec<ClassMap>,
    pub linf: f64,
    pub psnrs: Vec<f64>,
}

/// Attack `images` in batches of `batch` with the family of the goal's spec (`kind`) and `cfg`.
pub(crate) fn craft(
    model: &dyn SegModel,
    images: &[RgbImage01],
    goal: &SetGoal<'_>,
    cfg: &PgdConfig,
    batch: usize,
    device: &Device,
) -> Result<Crafted> {
    let mut out = Crafted { images: Vec::new(), maps: Vec::new(), targets: Vec::new(), linf: 0.0, psnrs: Vec::new() };
    for start in (0..images.len()).step_by(batch) {
        let r = start..(start + batch).min(images.len());
        let x = batch_tensor(&images[r.clone()], device)?;
        let res = block_on(run_with_restarts(goal.spec.kind, model, x, &goal.of(r)?, cfg, None))?;
        let o = res.adversarial;
        out.linf = out.linf.max(o.linf);
        out.psnrs.extend(o.per_image.iter().map(|s| s.psnr));
        out.images.extend(o.images);
        out.maps.extend(o.maps);
        out.targets.extend(res.reference_maps);
    }
    Ok(out)
}

/// Run an experiment on `device` (any backend; autodiff is added). `on_progress` sees each
/// task as it starts.
pub fn run(exp: &ExperimentFile, device: &Device, on_progress: &mut dyn FnMut(&ExperimentProgress)) -> Result<ExperimentResult> {
    exp.validate()?;
    let ad = crate::backend::autodiff(device);
    let mut skipped = Vec::new();
    let items = load_items(&exp.images, exp.max_images, &mut skipped)?;
    let defenses: Vec<(String, DefenseConfig, bool)> =
        exp.defenses.iter().map(|d| Ok((d.label(), d.config()?, d.adaptive))).collect::<Result<_>>()?;
    let n_adaptive = defenses.iter().filter(|d| d.2).count();
    let runs_per_attack: usize =
        exp.attacks.iter().map(|a| a.eps.len() * if a.random_start { exp.seeds.len() } else { 1 }).sum();
    let transfer_items = match exp.transfer.as_ref().and_then(|t| t.images.as_ref()) {
        Some(source) => Some(load_items(source, exp.max_images, &mut skipped)?),
        None => None,
    };
    let total = exp.models.len() * (1 + defenses.len() + runs_per_attack * (1 + defenses.len() + n_adaptive))
        + exp.transfer.as_ref().map_or(0, |t| t.models.len() * (2 + t.models.len()));
    let mut done = 0usize;
    let mut tick = |msg: String| {
        on_progress(&ExperimentProgress { done, total, message: msg });
        done += 1;
    };
    let mut seconds = Vec::new();
    let mut models = Vec::new();
    for name in &exp.models {
        let t0 = std::time::Instant::now();
        let seg = Segmenter::load(name, &ad)?;
        let model_items = for_model(&items, seg.spec.dataset);
        models.push(run_model(exp, &seg, &model_items, &defenses, &ad, &mut tick)?);
        seconds.push((name.clone(), t0.elapsed().as_secs_f64()));
    }
    let transfer = match &exp.transfer {
        None => None,
        Some(t) => {
            let t0 = std::time::Instant::now();
            let titems = transfer_items.as_deref().unwrap_or(&items);
            let r = transfer_matrix(exp, t, titems, &ad, &mut tick)?;
            seconds.push(("transfer".into(), t0.elapsed().as_secs_f64()));
            Some(r)
        }
    };
    on_progress(&ExperimentProgress { done: total, total, message: "done".into() });
    Ok(ExperimentResult {
        experiment: exp.clone(),
        images: items.iter().map(|it| it.name.clone()).collect(),
        skipped,
        models,
        transfer,
        seconds,
    })
}

/// Each defense on the images `crafted` against the undefended model, and (where adaptive)
/// on images crafted against the defended model itself.
#[allow(clippy::too_many_arguments)]
fn defense_scores(
    defended: &[(String, Defended, bool)],
    crafted: &Crafted,
    x: &[RgbImage01],
    goal: &SetGoal<'_>,
    cfg: &PgdConfig,
    items: &[Item],
    exp: &ExperimentFile,
    ad: &Device,
    label: &str,
    tick: &mut dyn FnMut(String),
) -> Result<Vec<DefenseScore>> {
    let (skip, k, targeted) = (goal.skip(), goal.seg.spec.num_classes(), goal.spec.is_targeted());
    let targets = targeted.then_some(crafted.targets.as_slice());
    let mut dscores = Vec::new();
    for (dn, d, adaptive) in defended {
        tick(format!("{label}, {dn} (non-adaptive)"));
        let non_adaptive = score(&predict(d, &crafted.images, exp.batch, ad)?, items, targets, skip, k)?;
        let adaptive = if *adaptive {
            tick(format!("{label}, {dn} (adaptive)"));
            let ca = craft(d, x, goal, cfg, exp.batch, ad)?;
            Some(score(&ca.maps, items, targeted.then_some(ca.targets.as_slice()), skip, k)?)
        } else {
            None
        };
        dscores.push(DefenseScore { defense: dn.clone(), non_adaptive, adaptive });
    }
    Ok(dscores)
}

/// Everything measured on one model.
fn run_model(
    exp: &ExperimentFile,
    seg: &Segmenter,
    items: &[Item],
    defenses: &[(String, DefenseConfig, bool)],
    ad: &Device,
    tick: &mut dyn FnMut(String),
) -> Result<ModelResult> {
    let name = seg.spec.name;
    let k = seg.spec.num_classes();
    let (w, h) = seg.spec.native_size;
    let x = inputs(items, w, h)?;
    tick(format!("{name}: clean"));
    let clean_maps = predict(seg, &x, exp.batch, ad)?;
    let clean = score(&clean_maps, items, None, None, k)?;
    let defended: Vec<(String, Defended, bool)> = defenses
        .iter()
        .map(|(dn, cfg, adaptive)| Ok((dn.clone(), Defended::new(seg.clone(), cfg)?, *adaptive)))
        .collect::<Result<_>>()?;
    let mut clean_defended = Vec::new();
    for (dn, d, _) in &defended {
        tick(format!("{name}: clean, {dn}"));
        clean_defended.push((dn.clone(), score(&predict(d, &x, exp.batch, ad)?, items, None, None, k)?));
    }
    let mut rows = Vec::new();
    for a in &exp.attacks {
        let goal = SetGoal::new(a, seg, items, &clean_maps)?;
        let skip = goal.skip();
        let seeds: &[u64] = if a.random_start { &exp.seeds } else { &exp.seeds[..1] };
        for eps in &a.eps {
            for &seed in seeds {
                let cfg = a.pgd_config(eps.value, seed)?;
                let label = format!("{name}: {} ε={}", a.label(), eps.text);
                tick(format!("{label} seed {seed}"));
                let t0 = crate::util::Timer::start();
                let c = craft(seg, &x, &goal, &cfg, exp.batch, ad)?;
                let seconds = t0.seconds();
                let targets = a.is_targeted().then_some(c.targets.as_slice());
                let attacked = score(&c.maps, items, targets, skip, k)?;
                let clean_target_agreement = match targets {
                    Some(_) => score(&clean_maps, items, targets, skip, k)?.target_agreement,
                    None => None,
                };
                let dscores = defense_scores(&defended, &c, &x, &goal, &cfg, items, exp, ad, &label, tick)?;
                rows.push(AttackRow {
                    attack: a.label(),
                    eps: eps.text.clone(),
                    eps_value: eps.value,
                    seed,
                    attacked,
                    clean_target_agreement,
                    linf: c.linf,
                    psnr: pooled_psnr(&c.psnrs),
                    seconds,
                    defenses: dscores,
                    per_image: image_scores(&c.maps, items, targets, skip, k)?,
                    detail: detail(&c.maps, items, k)?,
                });
            }
        }
    }
    Ok(ModelResult {
        model: name.to_string(),
        input_size: (w, h),
        n_images: items.len(),
        clean,
        clean_defended,
        attacks: rows,
        classes: seg.spec.classes().iter().map(|c| c.to_string()).collect(),
        clean_per_image: image_scores(&clean_maps, items, None, None, k)?,
        clean_detail: detail(&clean_maps, items, k)?,
    })
}
