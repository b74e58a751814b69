//! Crafting the adversarial images of one chunk of an experiment's images: the goal of an
//! attack for those images (a `targeted-image` goal takes the target image's clean map, which
//! may lie in another chunk), and the attack run with restarts.

use std::ops::Range;

use burn::tensor::Device;

use super::items::Item;
use crate::attack::{AttackSpec, Goal, GoalInputs, GoalKind, Mask, MapOrigin, PgdConfig, run_with_restarts};
use crate::data::ClassMap;
use crate::error::Result;
use crate::image::RgbImage01;
use crate::model::{SegModel, Segmenter, batch_tensor, predict_batched};
use crate::util::block_on;

/// Predicted maps of `model` on `images`, `batch` at a time.
pub(crate) fn predict(model: &dyn SegModel, images: &[RgbImage01], batch: usize, device: &Device) -> Result<Vec<ClassMap>> {
    block_on(predict_batched(model, images, batch, device))
}

/// The target image of a `targeted-image` goal: its clean map at the model's input size and its
/// ground truth.
pub(crate) struct TargetImage {
    pub clean: ClassMap,
    pub ground_truth: ClassMap,
}

/// The goal of one attack on one model for the images `range` of a set of `set_len` images.
pub(crate) struct ChunkGoal<'a> {
    pub spec: &'a AttackSpec,
    seg: &'a Segmenter,
    range: Range<usize>,
    names: Vec<String>,
    ground_truth: Vec<Option<ClassMap>>,
    target_image: Option<ClassMap>,
    target_map: Option<ClassMap>,
    mask: Option<Mask>,
}

impl<'a> ChunkGoal<'a> {
    /// `items`: the images `range` of the set; `target`: the target image where the goal has one.
    pub(crate) fn new(
        spec: &'a AttackSpec,
        seg: &'a Segmenter,
        items: &[Item],
        range: Range<usize>,
        set_len: usize,
        target: Option<TargetImage>,
    ) -> Result<Self> {
        let (w, h) = seg.spec.native_size;
        let (target_map, mask) = spec.read_goal_files(w, h)?;
        if let Some(k) = spec.target_index.filter(|_| spec.goal == GoalKind::TargetedImage)
            && k > set_len
        {
            return Err(crate::error::Error::InvalidArgument(format!("target_index {k} is beyond the {set_len} images")));
        }
        // the target image's map, whichever chunk it lies in
        let target_image = target.map(|t| match spec.target_source {
            MapOrigin::Predicted => t.clean,
            MapOrigin::GroundTruth => t.ground_truth,
        });
        Ok(ChunkGoal {
            spec,
            seg,
            range,
            names: items.iter().map(|it| it.name.clone()).collect(),
            ground_truth: items.iter().map(|it| Some(it.gt.clone())).collect(),
            target_image,
            target_map,
            mask,
        })
    }

    fn goal(&self) -> Result<Goal> {
        let (w, h) = self.seg.spec.native_size;
        self.spec.goal(&GoalInputs {
            model: self.seg.spec,
            width: w,
            height: h,
            batch: self.names.len(),
            names: &self.names,
            ground_truth: &self.ground_truth,
            target_image: self.target_image.clone(),
            target_map: self.target_map.clone(),
            mask: self.mask.clone(),
        })
    }

    /// The image of the chunk left out of the target agreement (the target image itself).
    pub(crate) fn skip(&self) -> Option<usize> {
        match self.spec.goal {
            GoalKind::TargetedImage => {
                let t = self.spec.target_index.unwrap_or(1) - 1;
                self.range.contains(&t).then(|| t - self.range.start)
            }
            _ => None,
        }
    }

    /// Whether the goal needs the target image's clean map (rather than its ground truth).
    pub(crate) fn needs_clean_target(spec: &AttackSpec) -> bool {
        spec.goal == GoalKind::TargetedImage && spec.target_source == MapOrigin::Predicted
    }
}

/// The outcome of one attack run over the images of a chunk.
pub(crate) struct Crafted {
    pub images: Vec<RgbImage01>,
    pub maps: Vec<ClassMap>,
    pub targets: Vec<ClassMap>,
    pub linf: f64,
    pub psnrs: Vec<f64>,
}

/// Attack `images` (one batch) with the family of the goal's spec (`kind`) and `cfg`.
pub(crate) fn craft(model: &dyn SegModel, images: &[RgbImage01], goal: &ChunkGoal<'_>, cfg: &PgdConfig, device: &Device) -> Result<Crafted> {
    let x = batch_tensor(images, device)?;
    let res = block_on(run_with_restarts(goal.spec.kind, model, x, &goal.goal()?, cfg, None))?;
    let o = res.adversarial;
    Ok(Crafted {
        linf: o.linf,
        psnrs: o.per_image.iter().map(|s| s.psnr).collect(),
        images: o.images,
        maps: o.maps,
        targets: res.reference_maps,
    })
}
