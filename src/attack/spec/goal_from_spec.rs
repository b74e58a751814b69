//! From an [`AttackSpec`] to a [`Goal`] — the one place a goal is resolved, for the CLI, the
//! page and its worker pool, and the experiments: what the front end knows about the batch
//! ([`GoalInputs`]) and the maps the spec names.

use crate::attack::spec::goal::{Goal, Mask};
use crate::attack::spec::attack_spec::{AttackSpec, GoalKind, MapOrigin};
use crate::data::{ClassMap, VOID};
use crate::error::{Error, Result};
use crate::model::zoo::ModelSpec;

fn invalid(msg: String) -> Error {
    Error::InvalidArgument(msg)
}

impl AttackSpec {
    /// The goal for a batch, from what the front end has: the model (class names), the
    /// input size, the batch size, ground truth per image, the maps read from `target_map` and
    /// `mask` (or the page's painted map) — see [`GoalInputs`].
    pub fn goal(&self, inp: &GoalInputs<'_>) -> Result<Goal> {
        let (w, h) = (inp.width, inp.height);
        let gt = |i: usize, key: &str| -> Result<ClassMap> {
            inp.ground_truth.get(i).cloned().flatten().ok_or_else(|| {
                invalid(format!("{key} needs a ground-truth map for image {} ({})", i + 1, inp.name(i)))
            })
        };
        let goal = match self.goal {
            GoalKind::Untargeted => match self.reference() {
                MapOrigin::Predicted => Goal::untargeted(),
                MapOrigin::GroundTruth => {
                    Goal::untargeted_vs_ground_truth((0..inp.batch).map(|i| gt(i, "reference = ground-truth")).collect::<Result<_>>()?)
                }
            },
            GoalKind::TargetedImage => {
                let k = self.target_index.unwrap_or(1);
                let idx = k - 1;
                match (&inp.target_image, self.target_source) {
                    // the caller resolved the target image's map (it lies outside this batch)
                    (Some(map), _) => Goal::to_maps(vec![map.resized(w, h)?]),
                    (None, MapOrigin::GroundTruth) => Goal::to_image_ground_truth(idx, gt(idx, "target_source = ground-truth")?),
                    (None, MapOrigin::Predicted) if idx < inp.batch => Goal::to_image(idx),
                    (None, MapOrigin::Predicted) => {
                        return Err(invalid(format!(
                            "target_index {k} is outside the batch of {n} image(s) (1..={n})",
                            n = inp.batch
                        )));
                    }
                }
            }
            GoalKind::TargetedClass => {
                let c = self.target_class.as_ref().ok_or_else(|| invalid("targeted-class needs target_class".into()))?;
                Goal::to_class(c.resolve(inp.model)?)
            }
            GoalKind::TargetedMap => {
                let map = inp.target_map.clone().ok_or_else(|| {
                    invalid("targeted-map needs a target map (target_map = FILE, or a painted map)".into())
                })?;
                let map = checked_map(map.resized(w, h)?, inp.model.num_classes())?;
                let painted = Mask::new(w, h, map.data.iter().map(|&c| c != VOID).collect())?;
                let goal = Goal::to_maps(vec![map]);
                if self.keep_unpainted { goal.within(painted, true) } else { goal }
            }
        };
        match (&inp.mask, self.is_targeted()) {
            (Some(m), true) => Ok(goal.within(m.clone(), self.keep_outside)),
            (Some(_), false) => Err(invalid("mask only applies to targeted goals".into())),
            (None, _) => Ok(goal),
        }
    }

    /// Read the files the spec names (`target_map`, `mask`) for an input of `width × height`
    /// (native front ends; the page supplies its painted map instead).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn read_goal_files(&self, width: usize, height: usize) -> Result<(Option<ClassMap>, Option<Mask>)> {
        let map = match &self.target_map {
            Some(p) => {
                let (data, mw, mh) = crate::image::load_label_png(std::path::Path::new(p))?;
                Some(ClassMap { width: mw, height: mh, data })
            }
            None => None,
        };
        let mask = match &self.mask {
            Some(p) => {
                let m = crate::image::load(std::path::Path::new(p))?;
                let (mw, mh) = (m.width() as usize, m.height() as usize);
                let flags: Vec<u8> = m.pixels().map(|px| u8::from(px.0.iter().any(|&v| v > 127))).collect();
                Some(Mask::from_map(&ClassMap { width: mw, height: mh, data: flags }.resized(width, height)?))
            }
            None => None,
        };
        Ok((map, mask))
    }
}

/// What a front end knows when it turns a spec into a [`Goal`].
#[derive(Clone)]
pub struct GoalInputs<'a> {
    /// The model (class names and count).
    pub model: &'a ModelSpec,
    /// Input width.
    pub width: usize,
    /// Input height.
    pub height: usize,
    /// Images in the batch.
    pub batch: usize,
    /// Image names (for messages); may be empty.
    pub names: &'a [String],
    /// Ground truth per image (`None` where there is none); may be empty.
    pub ground_truth: &'a [Option<ClassMap>],
    /// `targeted-image`: the target image's map (clean prediction or ground truth, as
    /// `target_source` says) when the caller resolved it because the image is not in this batch
    /// — a part of a batch split over workers, a chunk of an experiment's image set.
    pub target_image: Option<ClassMap>,
    /// The target map of `targeted-map` (read from `target_map`, or painted).
    pub target_map: Option<ClassMap>,
    /// The mask (read from `mask`).
    pub mask: Option<Mask>,
}

impl<'a> GoalInputs<'a> {
    /// A batch of `names.len()` images of `size` with their ground truth, no set and no maps.
    pub fn batch(model: &'a ModelSpec, size: (usize, usize), names: &'a [String], ground_truth: &'a [Option<ClassMap>]) -> Self {
        GoalInputs {
            model,
            width: size.0,
            height: size.1,
            batch: names.len(),
            names,
            ground_truth,
            target_image: None,
            target_map: None,
            mask: None,
        }
    }

    fn name(&self, i: usize) -> String {
        self.names.get(i).cloned().unwrap_or_else(|| format!("image {}", i + 1))
    }
}

/// A target map whose classes the model has (255 = don't care), with at least one class.
fn checked_map(map: ClassMap, num_classes: usize) -> Result<ClassMap> {
    if let Some((i, &c)) = map.data.iter().enumerate().find(|&(_, &c)| c != VOID && usize::from(c) >= num_classes) {
        return Err(invalid(format!(
            "the target map has class {c} at pixel ({}, {}): the model has {num_classes} classes",
            i % map.width,
            i / map.width
        )));
    }
    if map.data.iter().all(|&c| c == VOID) {
        return Err(invalid("the target map is empty: paint some pixels with a class first".into()));
    }
    Ok(map)
}


#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::zoo;

    #[test]
    fn goals_resolve() {
        let voc = zoo::spec("espnetv2-voc").unwrap();
        let base = GoalInputs {
            model: voc,
            width: 2,
            height: 2,
            batch: 2,
            names: &[],
            ground_truth: &[],
            target_image: None,
            target_map: None,
            mask: None,
        };
        let spec = AttackSpec::from_json(r#"{"goal": "targeted-class", "target_class": "person"}"#).unwrap();
        assert_eq!(spec.goal(&base).unwrap(), Goal::to_class(15));
        let spec = AttackSpec::from_json(r#"{"goal": "targeted-image", "target_index": 2}"#).unwrap();
        assert_eq!(spec.goal(&base).unwrap(), Goal::to_image(1));
        let spec3 = AttackSpec::from_json(r#"{"goal": "targeted-image", "target_index": 3}"#).unwrap();
        assert!(spec3.goal(&base).unwrap_err().to_string().contains("target_index 3"));
        // a painted map with unpainted pixels kept
        let painted = ClassMap { width: 2, height: 2, data: vec![15, VOID, VOID, 15] };
        let spec = AttackSpec::from_json(r#"{"goal": "targeted-map", "keep_unpainted": true}"#).unwrap();
        let g = spec.goal(&GoalInputs { target_map: Some(painted.clone()), ..base.clone() }).unwrap();
        let mask = Mask::new(2, 2, vec![true, false, false, true]).unwrap();
        assert_eq!(g, Goal::to_maps(vec![painted]).within(mask, true));
        let bad = ClassMap { width: 2, height: 2, data: vec![40, VOID, VOID, 15] };
        let e = spec.goal(&GoalInputs { target_map: Some(bad), ..base }).unwrap_err().to_string();
        assert!(e.contains("class 40"), "{e}");
    }
}
