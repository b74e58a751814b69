//! The one implementation of "attack a batch" behind the CLI's `attack`, the page's
//! `Session.attack` and its worker pool: spec → [`Setup`] (validated spec, settings, goal,
//! defended model) → the attack of `spec.kind` ([`crate::attack::run_with_restarts`] around
//! [`crate::attack::run_kind`]) → defended maps → [`AttackReport`] and the images and maps to
//! show or save ([`assemble`]).

use burn::tensor::Tensor;
use image::RgbImage;

use crate::attack::ensemble::restarts::{self, run_with_restarts};
use crate::attack::ensemble::{sea, worst_case};
use crate::attack::loops::common::Observer;
use crate::attack::loops::outcome::AttackResult;
use crate::attack::losses::loss::LossKind;
use crate::attack::report::attack_report::{ATTACK_SCHEMA, AttackReport, DefenseInfo, Named, References, scores};
use crate::attack::report::budget::Budget;
use crate::attack::settings::{AttackKind, Member, PgdConfig};
use crate::attack::spec::attack_spec::{AttackSpec, GoalKind};
use crate::attack::spec::goal::{Goal, Mask};
use crate::attack::spec::goal_from_spec::GoalInputs;
use crate::data::ClassMap;
use crate::defense::Defended;
use crate::error::{Error, Result};
use crate::image::{RgbImage01, from_tensor01, to_tensor01};
use crate::model::{Segmenter, batch_tensor};

/// One image of the batch, already at the input size.
#[derive(Debug, Clone)]
pub struct BatchImage {
    /// Its name (e.g. the file stem).
    pub name: String,
    /// Where it came from (a path), if known.
    pub input: Option<String>,
    /// The image at the input size.
    pub image: RgbImage,
    /// Its ground-truth map (any size), if known.
    pub ground_truth: Option<ClassMap>,
}

/// The maps a caller supplies instead of the spec's files: the page's painted map, or what a
/// native front end read from `target_map` / `mask` ([`AttackSpec::read_goal_files`]).
#[derive(Debug, Clone, Default)]
pub struct GoalMaps {
    /// The target map of `targeted-map`.
    pub target_map: Option<ClassMap>,
    /// The mask of a targeted goal.
    pub mask: Option<Mask>,
}

/// Images and maps of a run, in batch order.
#[derive(Debug, Clone)]
pub struct AttackImages {
    /// The adversarial images rounded to 8 bits.
    pub adversarial: Vec<RgbImage>,
    /// `x_adv − x` of the real-valued images (planar CHW).
    pub perturbation: Vec<Vec<f32>>,
    /// Clean predictions.
    pub clean_maps: Vec<ClassMap>,
    /// Predictions on the 8-bit adversarial images.
    pub adversarial_maps: Vec<ClassMap>,
    /// The goal's reference maps (the target maps for targeted goals).
    pub reference_maps: Vec<ClassMap>,
    /// The defended model on the clean and on the 8-bit adversarial images.
    pub defended: Option<(Vec<ClassMap>, Vec<ClassMap>)>,
}

/// What [`run_attack`] returns.
#[derive(Debug, Clone)]
pub struct AttackOutput {
    /// The report (`backend` and `seconds` are for the caller to fill).
    pub report: AttackReport,
    /// The images and maps.
    pub images: AttackImages,
}

/// The defended model's maps of the clean and of the 8-bit adversarial images (with a defense).
async fn defended_maps(
    defended: Option<&Defended>,
    clean: &[RgbImage01],
    adversarial: &[RgbImage01],
    device: &burn::tensor::Device,
) -> Result<Option<(Vec<ClassMap>, Vec<ClassMap>)>> {
    match defended {
        Some(d) => Ok(Some((d.predict(clean, device).await?, d.predict(adversarial, device).await?))),
        None => Ok(None),
    }
}

/// The defended model of `spec.defense`, with its description.
fn defended_model(model: &Segmenter, spec: &AttackSpec) -> Result<Option<(Defended, DefenseInfo)>> {
    let Some(d) = &spec.defense else { return Ok(None) };
    let cfg = d.config()?;
    Ok(Some((Defended::new(model.clone(), &cfg)?, DefenseInfo { label: cfg.label(), adaptive: d.adaptive })))
}

/// The target image's name (targeted-image), the target class and its name (targeted-class).
fn target_names(spec: &AttackSpec, model: &Segmenter, names: &[String]) -> Result<(Option<String>, Option<u8>, Option<String>)> {
    let image = match spec.goal {
        GoalKind::TargetedImage => spec.target_index.and_then(|k| names.get(k - 1).cloned()),
        _ => None,
    };
    let class = match (&spec.goal, &spec.target_class) {
        (GoalKind::TargetedClass, Some(c)) => Some(c.resolve(model.spec)?),
        _ => None,
    };
    Ok((image, class, class.map(|c| model.spec.classes()[usize::from(c)].to_string())))
}

/// An attack set up on a batch: what [`run_attack`], the page's pool ([`super::pool`]) and the
/// experiments ([`crate::experiment`]) share — the spec validated once, the images checked
/// against the model, the loop's settings, the goal and the defended model.
pub struct Setup {
    /// The spec, validated, with its kind's defaults for the model written out
    /// ([`AttackSpec::for_model`]).
    pub spec: AttackSpec,
    /// The loop's settings (8-bit results on).
    pub cfg: PgdConfig,
    /// The goal, resolved against the batch.
    pub goal: Goal,
    /// With `spec.defense`: the defended model and its description.
    pub defense: Option<(Defended, DefenseInfo)>,
    /// The clean images in `[0, 1]`.
    pub clean01: Vec<RgbImage01>,
}

impl Setup {
    /// Set up `spec` on the batch `images` (all of the model's input size), with the caller's
    /// maps, the target image's map where the caller resolved it (a part of a batch, a chunk of
    /// an experiment: [`GoalInputs::target_image`]) and `seed` for the random start.
    pub fn new(model: &Segmenter, images: &[BatchImage], spec: &AttackSpec, maps: GoalMaps, target_image: Option<ClassMap>, seed: u64) -> Result<Setup> {
        spec.validate()?;
        let spec = &spec.for_model(model.spec);
        let first = images.first().ok_or_else(|| Error::InvalidArgument("no images given (an empty batch)".into()))?;
        let (w, h) = (first.image.width() as usize, first.image.height() as usize);
        model.spec.check_size(w, h)?;
        if spec.losses_used().contains(&LossKind::BalancedCeVoc) && model.spec.num_classes() != 21 {
            return Err(Error::InvalidArgument(format!(
                "loss 'balanced-ce-voc' weighs PASCAL VOC's 21 classes; {} has {} (use 'balanced-ce')",
                model.spec.name,
                model.spec.num_classes()
            )));
        }
        if let Some(b) = images.iter().find(|b| (b.image.width() as usize, b.image.height() as usize) != (w, h)) {
            return Err(Error::Shape(format!("image '{}' is {}×{}, the batch {w}×{h}: resize every image to one size", b.name, b.image.width(), b.image.height())));
        }
        let cfg = spec.pgd_config(spec.radius()?.value, seed)?.with_quantize(true);
        let names: Vec<String> = images.iter().map(|b| b.name.clone()).collect();
        let ground_truth: Vec<Option<ClassMap>> = images.iter().map(|b| b.ground_truth.clone()).collect();
        let inputs = GoalInputs { target_map: maps.target_map, mask: maps.mask, target_image, ..GoalInputs::batch(model.spec, (w, h), &names, &ground_truth) };
        let goal = spec.goal(&inputs)?;
        let defense = defended_model(model, spec)?;
        let clean01 = images.iter().map(|b| to_tensor01(&b.image)).collect();
        Ok(Setup { spec: spec.clone(), cfg, goal, defense, clean01 })
    }

    /// The batch as a tensor on `model`'s device.
    pub fn batch(&self, model: &Segmenter) -> Result<Tensor<4>> {
        batch_tensor(&self.clean01, &model.device())
    }

    /// The top-level runs of the attack (its restarts, SEA's losses or a worst case's attacks;
    /// one run otherwise) — what the pool shares out.
    pub fn runs(&self) -> Vec<Member> {
        top_level_runs(self.spec.kind, &self.cfg)
    }

    /// Run the whole attack: on the defended model when the defense is adaptive (EOT / BPDA),
    /// else on `model`.
    pub async fn run(&self, model: &Segmenter, observer: Option<Observer<'_>>) -> Result<AttackResult> {
        let x = self.batch(model)?;
        match &self.defense {
            Some((d, info)) if info.adaptive => run_with_restarts(self.spec.kind, d, x, &self.goal, &self.cfg, observer).await,
            _ => run_with_restarts(self.spec.kind, model, x, &self.goal, &self.cfg, observer).await,
        }
    }
}

/// The top-level runs of an attack of family `kind` with settings `cfg`: the restarts when
/// there are several, else SEA's losses or a worst case's attacks, else the one run.
pub fn top_level_runs(kind: AttackKind, cfg: &PgdConfig) -> Vec<Member> {
    if cfg.restarts > 1 {
        restarts::members(kind, cfg)
    } else {
        match kind {
            AttackKind::Sea => sea::runs(cfg),
            AttackKind::WorstCase => worst_case::runs(cfg),
            _ => vec![Member { kind, cfg: cfg.clone(), label: kind.name().into(), loss: None }],
        }
    }
}

/// Attack `images` (all of one size) with `model` (on an autodiff device) as `spec` says.
/// `observer` sees the iterates read and may stop or cancel.
///
/// Errors: an invalid spec or goal (quoting the value), images of different sizes or of a size
/// the model cannot take, backend failures, cancellation.
pub async fn run_attack(
    model: &Segmenter,
    images: &[BatchImage],
    spec: &AttackSpec,
    maps: GoalMaps,
    observer: Option<Observer<'_>>,
) -> Result<AttackOutput> {
    let setup = Setup::new(model, images, spec, maps, None, spec.seed)?;
    let r = setup.run(model, observer).await?;
    let q = r.quantized.as_ref().ok_or_else(|| Error::Backend("the attack returned no 8-bit images".into()))?;
    let defended = defended_maps(setup.defense.as_ref().map(|(d, _)| d), &setup.clean01, &q.images, &model.device()).await?;
    assemble(model, images, &setup.spec, r, setup.defense.map(|(_, info)| info), defended)
}

/// The report and the images of a finished attack `r` on `images` (as [`run_attack`] returns
/// them): also how the parts of a batch split over several workers become one result
/// ([`crate::attack::pool::by_images`]), so both go through the same scoring.
pub fn assemble(
    model: &Segmenter,
    images: &[BatchImage],
    spec: &AttackSpec,
    r: AttackResult,
    defense: Option<DefenseInfo>,
    defended: Option<(Vec<ClassMap>, Vec<ClassMap>)>,
) -> Result<AttackOutput> {
    let first = images.first().ok_or_else(|| Error::InvalidArgument("no images given (an empty batch)".into()))?;
    let (w, h) = (first.image.width() as usize, first.image.height() as usize);
    let eps = spec.radius()?.value;
    let names: Vec<String> = images.iter().map(|b| b.name.clone()).collect();
    let inputs: Vec<Option<String>> = images.iter().map(|b| b.input.clone()).collect();
    let ground_truth: Vec<Option<ClassMap>> = images.iter().map(|b| b.ground_truth.clone()).collect();
    let q = r.quantized.as_ref().ok_or_else(|| Error::Backend("the attack returned no 8-bit images".into()))?;
    let refs = References {
        clean: &r.clean_maps,
        targets: r.targeted.then_some(r.reference_maps.as_slice()),
        ground_truth: &ground_truth,
        num_classes: model.spec.num_classes(),
    };
    let (per_image, overall) = scores(
        &r,
        &refs,
        &Named { names: &names, inputs: &inputs },
        defended.as_ref().map(|(c, a)| (c.as_slice(), a.as_slice())),
    )?;
    let (target_image, target_class, target_class_name) = target_names(spec, model, &names)?;
    let radius = spec.radius()?;
    let runs = top_level_runs(spec.kind, &spec.pgd_config(radius.value, spec.seed)?);
    let runs = if runs.len() > 1 { runs.into_iter().map(|m| m.label).collect() } else { Vec::new() };
    let budget = Budget::of(eps, &radius.text, spec.norm, q);
    let report = AttackReport {
        schema: ATTACK_SCHEMA,
        model: model.spec.name.to_string(),
        spec: spec.clone(),
        eps,
        input_size: [w, h],
        targeted: r.targeted,
        target_image,
        target_class,
        target_class_name,
        steps_run: r.steps_run,
        runs,
        budget,
        stopped_early: r.stopped_early,
        classes: model.spec.classes().iter().map(|c| c.to_string()).collect(),
        n_images: images.len(),
        n_images_with_ground_truth: ground_truth.iter().filter(|g| g.is_some()).count(),
        images: per_image,
        overall,
        defense,
        history: r.history.clone(),
        backend: String::new(),
        seconds: 0.0,
    };
    let adversarial = q.images.iter().map(from_tensor01).collect::<Result<Vec<_>>>()?;
    Ok(AttackOutput {
        report,
        images: AttackImages {
            adversarial,
            perturbation: r.perturbation,
            clean_maps: r.clean_maps,
            adversarial_maps: q.maps.clone(),
            reference_maps: r.reference_maps,
            defended,
        },
    })
}
