//! What an attack aims for: a per-pixel reference map and a direction.
//!
//! An untargeted goal pushes predictions *away* from a reference (the clean prediction or the
//! ground truth); a targeted goal pulls them *towards* a target map: the map of another image
//! of the batch, one class everywhere, or an arbitrary (e.g. painted) class-index map,
//! optionally only inside a [`Mask`]. Every goal resolves to one reference map per image at
//! the input size, with [`VOID`] marking pixels the loss ignores; the PGD loop only needs that
//! map and the sign (targeted or not).

use crate::error::{Error, Result};
use crate::data::{VOID, nearest_resize_map};
use crate::data::ClassMap;

/// A per-pixel selection (row-major, `true` = inside).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height × width` flags.
    pub data: Vec<bool>,
}

impl Mask {
    /// Wrap flags, checking `data.len() == width × height` ([`Error::Shape`] otherwise).
    pub fn new(width: usize, height: usize, data: Vec<bool>) -> Result<Self> {
        if width.checked_mul(height) != Some(data.len()) {
            return Err(Error::Shape(format!(
                "a {width}×{height} mask needs {} flags, got {}",
                width.saturating_mul(height),
                data.len()
            )));
        }
        Ok(Mask { width, height, data })
    }

    /// The mask of a grey or class-index image: non-zero pixels are inside.
    pub fn from_map(map: &ClassMap) -> Self {
        Mask { width: map.width, height: map.height, data: map.data.iter().map(|&v| v != 0).collect() }
    }

    /// An axis-aligned rectangle `[x0, x0 + w) × [y0, y0 + h)` (clipped to the image).
    pub fn rect(width: usize, height: usize, x0: usize, y0: usize, w: usize, h: usize) -> Self {
        let mut data = vec![false; width * height];
        for y in y0.min(height)..(y0.saturating_add(h)).min(height) {
            for x in x0.min(width)..(x0.saturating_add(w)).min(width) {
                data[y * width + x] = true;
            }
        }
        Mask { width, height, data }
    }
}

/// Where the map of a [`Target::Image`] goal comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum MapSource {
    /// The model's clean prediction for that image.
    Predicted,
    /// A ground-truth map for that image (any size: nearest-resized to the input size).
    GroundTruth(ClassMap),
}

/// The target of a targeted goal.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Every image of the batch is pushed to the map of image `index` (0-based) of the batch,
    /// nearest-resized to the input size where it differs.
    Image {
        /// 0-based index into the batch.
        index: usize,
        /// Predicted or ground-truth map of that image.
        source: MapSource,
    },
    /// One class everywhere.
    Class(u8),
    /// Arbitrary class-index maps at exactly the input size ([`VOID`] = don't care): one map
    /// for the whole batch, or one per image.
    Map(Vec<ClassMap>),
}

/// Restricts a targeted goal to part of the image.
#[derive(Debug, Clone, PartialEq)]
pub struct Region {
    /// Pixels where the target applies (exactly the input size).
    pub mask: Mask,
    /// Outside the mask: `true` asks the attack to keep the clean prediction there, `false`
    /// leaves those pixels out of the loss.
    pub keep_outside: bool,
}

/// What an attack aims for.
#[derive(Debug, Clone, PartialEq)]
pub enum Goal {
    /// Push predictions away from a reference map.
    Untargeted {
        /// `None`: the clean prediction. `Some`: one ground-truth map per image (any size:
        /// nearest-resized to the input size; [`VOID`] pixels are ignored).
        ground_truth: Option<Vec<ClassMap>>,
    },
    /// Pull predictions towards a target map.
    Targeted {
        /// The target.
        target: Target,
        /// Optional restriction to a region.
        region: Option<Region>,
    },
}

impl Goal {
    /// Untargeted, against the clean prediction.
    pub fn untargeted() -> Self {
        Goal::Untargeted { ground_truth: None }
    }

    /// Untargeted, against ground truth (one map per image; void pixels ignored).
    pub fn untargeted_vs_ground_truth(maps: Vec<ClassMap>) -> Self {
        Goal::Untargeted { ground_truth: Some(maps) }
    }

    /// Targeted: every image to the clean prediction of image `index` (0-based).
    pub fn to_image(index: usize) -> Self {
        Goal::Targeted { target: Target::Image { index, source: MapSource::Predicted }, region: None }
    }

    /// Targeted: every image to the ground-truth map `gt` of image `index` (0-based).
    pub fn to_image_ground_truth(index: usize, gt: ClassMap) -> Self {
        Goal::Targeted { target: Target::Image { index, source: MapSource::GroundTruth(gt) }, region: None }
    }

    /// Targeted: one class everywhere.
    pub fn to_class(class: u8) -> Self {
        Goal::Targeted { target: Target::Class(class), region: None }
    }

    /// Targeted: to a class-index map (one for all images, or one per image).
    pub fn to_maps(maps: Vec<ClassMap>) -> Self {
        Goal::Targeted { target: Target::Map(maps), region: None }
    }

    /// Restrict a targeted goal to `mask` (no effect on untargeted goals, which have no region).
    pub fn within(self, mask: Mask, keep_outside: bool) -> Self {
        match self {
            Goal::Targeted { target, .. } => Goal::Targeted { target, region: Some(Region { mask, keep_outside }) },
            other => other,
        }
    }

    /// Whether the goal is targeted (the loss is descended instead of ascended).
    pub fn is_targeted(&self) -> bool {
        matches!(self, Goal::Targeted { .. })
    }

    /// The reference map of every image at the input size `width × height` ([`VOID`] =
    /// ignored pixel), given the clean predictions of the batch.
    ///
    /// Errors quote the offending value: a class `≥ num_classes`, a target index outside the
    /// batch, a ground-truth list of the wrong length, a target map or mask whose size is not
    /// the input size, a goal that leaves no pixel to attack.
    pub fn resolve(&self, clean: &[ClassMap], num_classes: usize, width: usize, height: usize) -> Result<Vec<ClassMap>> {
        let n = clean.len();
        let maps: Vec<ClassMap> = match self {
            Goal::Untargeted { ground_truth: None } => clean.to_vec(),
            Goal::Untargeted { ground_truth: Some(gts) } => {
                if gts.len() != n {
                    return Err(Error::InvalidArgument(format!(
                        "{} ground-truth maps given for a batch of {n} images",
                        gts.len()
                    )));
                }
                gts.iter()
                    .enumerate()
                    .map(|(i, gt)| fit(gt, num_classes, width, height, &format!("ground-truth map {}", i + 1)))
                    .collect::<Result<_>>()?
            }
            Goal::Targeted { target, region } => {
                let targets = target_maps(target, clean, num_classes, width, height)?;
                match region {
                    None => targets,
                    Some(r) => within_region(targets, clean, r, width, height)?,
                }
            }
        };
        if maps.iter().all(|m| m.data.iter().all(|&v| v == VOID)) {
            return Err(Error::InvalidArgument(
                "the goal leaves no pixel to attack: every reference pixel is void (255)".into(),
            ));
        }
        Ok(maps)
    }
}

/// The target map of every image of a batch of `clean.len()` images (before any region).
fn target_maps(target: &Target, clean: &[ClassMap], num_classes: usize, width: usize, height: usize) -> Result<Vec<ClassMap>> {
    let n = clean.len();
    Ok(match target {
        Target::Image { index, source } => {
            if *index >= n {
                return Err(Error::InvalidArgument(format!(
                    "target image index {index} is outside the batch of {n} images (0-based: 0..={})",
                    n.saturating_sub(1)
                )));
            }
            let map = match source {
                MapSource::Predicted => clean[*index].clone(),
                MapSource::GroundTruth(gt) => {
                    fit(gt, num_classes, width, height, &format!("ground-truth map of target image {index}"))?
                }
            };
            vec![map; n]
        }
        Target::Class(c) => {
            if usize::from(*c) >= num_classes {
                return Err(Error::InvalidArgument(format!(
                    "target class {c} is out of range: the model has {num_classes} classes (0..={})",
                    num_classes.saturating_sub(1)
                )));
            }
            vec![ClassMap { width, height, data: vec![*c; width * height] }; n]
        }
        Target::Map(maps) => {
            if maps.len() != 1 && maps.len() != n {
                return Err(Error::InvalidArgument(format!(
                    "{} target maps given for a batch of {n} images (give 1 or {n})",
                    maps.len()
                )));
            }
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                let m = &maps[if maps.len() == 1 { 0 } else { i }];
                if (m.width, m.height) != (width, height) || m.data.len() != width * height {
                    return Err(Error::Shape(format!(
                        "target map {} is {}×{} ({} values) but the images are {width}×{height}",
                        if maps.len() == 1 { 1 } else { i + 1 },
                        m.width,
                        m.height,
                        m.data.len()
                    )));
                }
                check_classes(&m.data, num_classes, "target map")?;
                out.push(m.clone());
            }
            out
        }
})
}

/// `targets` inside the region's mask; outside it the clean class (`keep_outside`) or void.
fn within_region(targets: Vec<ClassMap>, clean: &[ClassMap], region: &Region, width: usize, height: usize) -> Result<Vec<ClassMap>> {
    let mask = &region.mask;
    if (mask.width, mask.height) != (width, height) || mask.data.len() != width * height {
        return Err(Error::Shape(format!("mask is {}×{} but the images are {width}×{height}", mask.width, mask.height)));
    }
    Ok(targets
        .into_iter()
        .zip(clean)
        .map(|(t, c)| {
            let data = t
                .data
                .iter()
                .zip(&c.data)
                .zip(&mask.data)
                .map(|((&tv, &cv), &inside)| {
                    if inside {
                        tv
                    } else if region.keep_outside {
                        cv
                    } else {
                        VOID
                    }
                })
                .collect();
            ClassMap { width, height, data }
        })
        .collect())
}

/// Check the classes of `map` and nearest-resize it to `width × height` where needed.
fn fit(map: &ClassMap, num_classes: usize, width: usize, height: usize, what: &str) -> Result<ClassMap> {
    if map.data.len() != map.width * map.height {
        return Err(Error::Shape(format!(
            "{what} is {}×{} but has {} values",
            map.width,
            map.height,
            map.data.len()
        )));
    }
    check_classes(&map.data, num_classes, what)?;
    if (map.width, map.height) == (width, height) {
        return Ok(map.clone());
    }
    let data = nearest_resize_map(&map.data, map.width, map.height, width, height)?;
    Ok(ClassMap { width, height, data })
}

fn check_classes(data: &[u8], num_classes: usize, what: &str) -> Result<()> {
    if let Some((i, &v)) = data.iter().enumerate().find(|&(_, &v)| v != VOID && usize::from(v) >= num_classes) {
        return Err(Error::InvalidArgument(format!(
            "{what} has class {v} at pixel {i}, but the model has {num_classes} classes (0..={}) and 255 is void",
            num_classes.saturating_sub(1)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(w: usize, h: usize, data: Vec<u8>) -> ClassMap {
        ClassMap { width: w, height: h, data }
    }

    fn clean() -> Vec<ClassMap> {
        vec![map(2, 2, vec![0, 0, 1, 1]), map(2, 2, vec![2, 2, 2, 0]), map(2, 2, vec![3, 0, 3, 0])]
    }

    #[test]
    fn untargeted_uses_clean_or_resized_ground_truth() {
        let c = clean();
        assert_eq!(Goal::untargeted().resolve(&c, 4, 2, 2).unwrap(), c);
        let gts = vec![map(1, 1, vec![1]), map(2, 2, vec![VOID, 1, 2, 3]), map(4, 4, vec![2; 16])];
        let r = Goal::untargeted_vs_ground_truth(gts).resolve(&c, 4, 2, 2).unwrap();
        assert_eq!(r[0].data, vec![1; 4]);
        assert_eq!(r[1].data, vec![VOID, 1, 2, 3]);
        assert_eq!(r[2], map(2, 2, vec![2; 4]));
        let e = Goal::untargeted_vs_ground_truth(vec![map(1, 1, vec![0])]).resolve(&c, 4, 2, 2).unwrap_err();
        assert!(e.to_string().contains("1 ground-truth maps given for a batch of 3"), "{e}");
        let e = Goal::untargeted_vs_ground_truth(vec![map(1, 1, vec![9]); 3]).resolve(&c, 4, 2, 2).unwrap_err();
        assert!(e.to_string().contains("class 9"), "{e}");
    }

    #[test]
    fn target_image_broadcasts_its_map() {
        let c = clean();
        let r = Goal::to_image(1).resolve(&c, 4, 2, 2).unwrap();
        assert!(r.iter().all(|m| m.data == vec![2, 2, 2, 0]));
        let r = Goal::to_image_ground_truth(2, map(1, 2, vec![1, 3])).resolve(&c, 4, 2, 2).unwrap();
        assert!(r.iter().all(|m| m.data == vec![1, 1, 3, 3]));
        let e = Goal::to_image(3).resolve(&c, 4, 2, 2).unwrap_err().to_string();
        assert!(e.contains("index 3") && e.contains("batch of 3"), "{e}");
    }

    #[test]
    fn target_class_and_map_and_region() {
        let c = clean();
        let r = Goal::to_class(3).resolve(&c, 4, 2, 2).unwrap();
        assert!(r.iter().all(|m| m.data == vec![3; 4]));
        let e = Goal::to_class(21).resolve(&c, 21, 2, 2).unwrap_err().to_string();
        assert!(e.contains("target class 21") && e.contains("21 classes"), "{e}");

        let painted = map(2, 2, vec![1, VOID, 2, 3]);
        let r = Goal::to_maps(vec![painted.clone()]).resolve(&c, 4, 2, 2).unwrap();
        assert!(r.iter().all(|m| *m == painted));
        let e = Goal::to_maps(vec![map(3, 2, vec![0; 6])]).resolve(&c, 4, 2, 2).unwrap_err();
        assert!(matches!(&e, Error::Shape(s) if s.contains("3×2") && s.contains("2×2")), "{e}");
        let e = Goal::to_maps(vec![painted.clone(); 2]).resolve(&c, 4, 2, 2).unwrap_err();
        assert!(e.to_string().contains("2 target maps"), "{e}");
        let e = Goal::to_maps(vec![map(2, 2, vec![0, 7, 0, 0])]).resolve(&c, 4, 2, 2).unwrap_err();
        assert!(e.to_string().contains("class 7 at pixel 1"), "{e}");

        let mask = Mask::rect(2, 2, 0, 0, 2, 1); // top row
        let r = Goal::to_class(3).within(mask.clone(), false).resolve(&c, 4, 2, 2).unwrap();
        assert_eq!(r[0].data, vec![3, 3, VOID, VOID]);
        let r = Goal::to_class(3).within(mask, true).resolve(&c, 4, 2, 2).unwrap();
        assert_eq!(r[1].data, vec![3, 3, 2, 0]);
        let e = Goal::to_class(3).within(Mask::rect(3, 3, 0, 0, 1, 1), true).resolve(&c, 4, 2, 2).unwrap_err();
        assert!(e.to_string().contains("mask is 3×3"), "{e}");
        let e = Goal::to_maps(vec![map(2, 2, vec![VOID; 4])]).resolve(&c, 4, 2, 2).unwrap_err();
        assert!(e.to_string().contains("no pixel to attack"), "{e}");
    }

    #[test]
    fn masks() {
        assert!(Mask::new(2, 2, vec![true; 3]).is_err());
        let m = Mask::from_map(&map(2, 1, vec![0, 5]));
        assert_eq!(m.data, vec![false, true]);
        assert_eq!(Mask::rect(3, 2, 1, 1, 5, 5).data, vec![false, false, false, false, true, true]);
        assert!(Goal::untargeted().within(m, true) == Goal::untargeted());
    }
}
