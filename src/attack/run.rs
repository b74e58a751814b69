//! The one implementation of "attack a batch" behind the CLI's `attack` and the page's
//! `Session.attack`: spec → goal and settings → (defended) model → the attack of `spec.kind`
//! ([`super::run_with_restarts`] around [`super::run_kind`]) → defended maps →
//! [`AttackReport`] and the images and maps to show or save.

use image::RgbImage;

use super::goal::{Goal, Mask};
use super::restarts::run_with_restarts;
use super::pgd::Observer;
use super::outcome::AttackResult;
use super::report::{ATTACK_SCHEMA, AttackReport, DefenseInfo, Named, References, scores};
use super::spec::{AttackSpec, GoalKind};
use super::spec_goal::GoalInputs;
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

/// The defended model of `spec.defense`, with its description.
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

/// The goal of `spec` for the batch `images` (all of the model's input size), with the
/// caller's maps.
pub fn batch_goal(model: &Segmenter, images: &[BatchImage], spec: &AttackSpec, maps: GoalMaps) -> Result<Goal> {
    let first = images.first().ok_or_else(|| Error::InvalidArgument("no images given (an empty batch)".into()))?;
    let (w, h) = (first.image.width() as usize, first.image.height() as usize);
    let names: Vec<String> = images.iter().map(|b| b.name.clone()).collect();
    let ground_truth: Vec<Option<ClassMap>> = images.iter().map(|b| b.ground_truth.clone()).collect();
    spec.goal(&GoalInputs { target_map: maps.target_map, mask: maps.mask, ..GoalInputs::batch(model.spec, (w, h), &names, &ground_truth) })
}

/// Attack `images` (all of one size) with `model` (on an autodiff device) as `spec` says.
/// `observer` sees every iterate and may stop or cancel.
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
    spec.validate()?;
    let first = images.first().ok_or_else(|| Error::InvalidArgument("no images given (an empty batch)".into()))?;
    let (w, h) = (first.image.width() as usize, first.image.height() as usize);
    model.spec.check_size(w, h)?;
    let eps = spec.radius()?.value;
    let cfg = spec.pgd_config(eps, spec.seed)?.with_quantize(true);
    let goal = batch_goal(model, images, spec, maps)?;
    let defense = defended_model(model, spec)?;
    let clean01: Vec<RgbImage01> = images.iter().map(|b| to_tensor01(&b.image)).collect();
    let device = model.device();
    let x = batch_tensor(&clean01, &device)?;
    let r = match &defense {
        // the adaptive attack differentiates through the defended model (EOT / BPDA)
        Some((d, info)) if info.adaptive => run_with_restarts(spec.kind, d, x, &goal, &cfg, observer).await?,
        _ => run_with_restarts(spec.kind, model, x, &goal, &cfg, observer).await?,
    };
    let q = r.quantized.as_ref().ok_or_else(|| Error::Backend("the attack returned no 8-bit images".into()))?;
    let defended = defended_maps(defense.as_ref().map(|(d, _)| d), &clean01, &q.images, &device).await?;
    assemble(model, images, spec, r, defense.map(|(_, info)| info), defended)
}

/// The report and the images of a finished attack `r` on `images` (as [`run_attack`] returns
/// them): also how the parts of a batch split over several workers become one result
/// ([`super::split`]), so both go through the same scoring.
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
