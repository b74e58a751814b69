//! Doing one work unit ([`super::unit`]): load its images, run its models, attacks and
//! defenses, and tally the maps ([`Tally`]). The result is a file's worth of counts and rows
//! that [`super::assemble`] adds up with the other units'.

use std::cell::RefCell;
use std::collections::HashMap;

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::craft::{ChunkGoal, TargetImage, craft, predict};
use super::file::ExperimentFile;
use super::items::{Item, ItemRef, for_model, inputs, load};
use super::tally::Tally;
use super::unit::{Task, Unit};
use crate::attack::AttackSpec;
use crate::data::ClassMap;
use crate::defense::{DefenseConfig, Defended};
use crate::error::Result;
use crate::image::{self as imaging, ResizeMethod, RgbImage01};
use crate::model::Segmenter;
use crate::util::{Exact, Timer};

/// What one unit measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    /// The unit's key.
    pub key: String,
    /// The unit, for people reading the file.
    pub description: String,
    /// Clean: the undefended model; attack: the undefended model on the crafted images;
    /// adaptive: the defended model on the images crafted against it; transfer-clean: the
    /// model on clean images.
    pub main: Option<Tally>,
    /// Clean and attack: each defense (on clean / on the crafted images, non-adaptive);
    /// transfer-craft: each transfer model on the crafted images.
    pub each: Vec<Tally>,
    /// Attack with a targeted goal: the clean maps against the targets.
    pub clean_target: Option<Tally>,
    /// Attack: the largest L∞ of the crafted images (0 for the others).
    pub linf: Exact,
    /// Attack: each crafted image's PSNR (dB; infinite where unchanged).
    pub psnrs: Vec<Exact>,
    /// Attack and adaptive: seconds the crafting took.
    pub craft_seconds: f64,
    /// Seconds the whole unit took.
    pub seconds: f64,
}

/// Does units, keeping the models it loaded.
pub(crate) struct Worker<'a> {
    exp: &'a ExperimentFile,
    items: &'a [ItemRef],
    transfer_items: &'a [ItemRef],
    ad: Device,
    defenses: Vec<DefenseConfig>,
    models: HashMap<String, Segmenter>,
    /// Clean maps by (model, transfer set?, first image of the batch): a batch's clean maps
    /// serve its clean pass, the targets of `targeted-image` goals and the clean agreement with
    /// targets; the same maps whichever unit computes them first.
    clean: RefCell<HashMap<(String, bool, usize), Vec<ClassMap>>>,
}

/// A chunk of images ready for one model: labels in its classes, inputs at its size.
struct Chunk {
    items: Vec<Item>,
    x: Vec<RgbImage01>,
}

impl<'a> Worker<'a> {
    /// `ad`: an autodiff device.
    pub(crate) fn new(exp: &'a ExperimentFile, items: &'a [ItemRef], transfer_items: &'a [ItemRef], ad: Device) -> Result<Self> {
        let defenses = exp.defenses.iter().map(|d| d.config()).collect::<Result<_>>()?;
        Ok(Worker { exp, items, transfer_items, ad, defenses, models: HashMap::new(), clean: RefCell::new(HashMap::new()) })
    }

    fn model(&mut self, name: &str) -> Result<Segmenter> {
        if !self.models.contains_key(name) {
            self.models.insert(name.to_string(), Segmenter::load(name, &self.ad)?);
        }
        Ok(self.models[name].clone())
    }

    fn chunk(&self, seg: &Segmenter, refs: &[ItemRef]) -> Result<Chunk> {
        let items = for_model(&load(refs)?, seg.spec.dataset);
        let (w, h) = seg.spec.native_size;
        let x = inputs(&items, w, h)?;
        Ok(Chunk { items, x })
    }

    /// The clean maps of the batch of `set` (the transfer set or not) that starts at image
    /// `start` and whose inputs are `x`.
    fn clean_maps(&self, seg: &Segmenter, transfer: bool, start: usize, x: &[RgbImage01]) -> Result<Vec<ClassMap>> {
        let key = (seg.spec.name.to_string(), transfer, start);
        if let Some(m) = self.clean.borrow().get(&key) {
            return Ok(m.clone());
        }
        let maps = predict(seg, x, self.exp.batch, &self.ad)?;
        self.clean.borrow_mut().insert(key, maps.clone());
        Ok(maps)
    }

    /// The target image of `spec`'s goal in the (transfer) set (its clean map from the
    /// prediction of its own batch, as the clean pass computes it).
    fn target(&self, spec: &AttackSpec, seg: &Segmenter, transfer: bool, index: Option<usize>) -> Result<Option<TargetImage>> {
        let set = if transfer { self.transfer_items } else { self.items };
        let Some(t) = index.filter(|&t| t < set.len()) else { return Ok(None) };
        let b = self.exp.batch;
        let start = (t / b) * b;
        let c = self.chunk(seg, &set[start..(start + b).min(set.len())])?;
        let clean = match ChunkGoal::needs_clean_target(spec) {
            true => self.clean_maps(seg, transfer, start, &c.x)?.swap_remove(t - start),
            false => ClassMap { width: 0, height: 0, data: Vec::new() },
        };
        Ok(Some(TargetImage { clean, ground_truth: c.items[t - start].gt.clone() }))
    }

    /// Do `unit`.
    pub(crate) fn run(&mut self, unit: &Unit) -> Result<UnitResult> {
        let t0 = Timer::start();
        let mut r = UnitResult {
            key: unit.key.clone(),
            description: unit.description.clone(),
            main: None,
            each: Vec::new(),
            clean_target: None,
            linf: Exact(0.0),
            psnrs: Vec::new(),
            craft_seconds: 0.0,
            seconds: 0.0,
        };
        let (exp, ad, b) = (self.exp, self.ad.clone(), self.exp.batch);
        let range = unit.images.clone();
        match unit.task {
            Task::Clean { model } => {
                let seg = self.model(&exp.models[model])?;
                let c = self.chunk(&seg, &self.items[range.clone()])?;
                let k = seg.spec.num_classes();
                r.main = Some(Tally::of(&self.clean_maps(&seg, false, range.start, &c.x)?, &c.items, None, None, k)?);
                for cfg in &self.defenses {
                    let d = Defended::new(seg.clone(), cfg)?;
                    r.each.push(Tally::of(&predict(&d, &c.x, b, &ad)?, &c.items, None, None, k)?);
                }
            }
            Task::Attack { model, attack, eps, seed } => {
                self.with_setting(unit, model, attack, eps, seed, |w, seg, c, goal, cfg| {
                    let tc = Timer::start();
                    let crafted = craft(seg, &c.x, goal, cfg, &ad)?;
                    r.craft_seconds = tc.seconds();
                    let (k, skip) = (seg.spec.num_classes(), goal.skip());
                    let targets = goal.spec.is_targeted().then_some(crafted.targets.as_slice());
                    r.main = Some(Tally::of(&crafted.maps, &c.items, targets, skip, k)?);
                    if targets.is_some() {
                        let clean = w.clean_maps(seg, false, unit.images.start, &c.x)?;
                        r.clean_target = Some(Tally::of(&clean, &c.items, targets, skip, k)?);
                    }
                    for cfg in &w.defenses {
                        let d = Defended::new(seg.clone(), cfg)?;
                        r.each.push(Tally::of(&predict(&d, &crafted.images, b, &ad)?, &c.items, targets, skip, k)?);
                    }
                    r.linf = Exact(crafted.linf);
                    r.psnrs = crafted.psnrs.iter().map(|&p| Exact(p)).collect();
                    Ok(())
                })?;
            }
            Task::Adaptive { model, attack, eps, seed, defense } => {
                self.with_setting(unit, model, attack, eps, seed, |w, seg, c, goal, cfg| {
                    let d = Defended::new(seg.clone(), &w.defenses[defense])?;
                    let tc = Timer::start();
                    let crafted = craft(&d, &c.x, goal, cfg, &ad)?;
                    r.craft_seconds = tc.seconds();
                    let targets = goal.spec.is_targeted().then_some(crafted.targets.as_slice());
                    r.main = Some(Tally::of(&crafted.maps, &c.items, targets, goal.skip(), seg.spec.num_classes())?);
                    Ok(())
                })?;
            }
            Task::TransferClean { model } => {
                let seg = self.model(&self.transfer_spec()?.models[model])?;
                let c = self.chunk(&seg, &self.transfer_items[range.clone()])?;
                let maps = self.clean_maps(&seg, true, range.start, &c.x)?;
                r.main = Some(Tally::of(&maps, &c.items, None, None, seg.spec.num_classes())?);
            }
            Task::TransferCraft { source } => r.each = self.transfer_craft(unit, source)?,
        }
        r.seconds = t0.seconds();
        Ok(r)
    }

    /// Call `f` with the model, the unit's images, the goal and the settings of one attack
    /// setting (`attack` × `eps` × `seed` on `model`).
    fn with_setting(
        &mut self,
        unit: &Unit,
        model: usize,
        attack: usize,
        eps: usize,
        seed: u64,
        f: impl FnOnce(&Self, &Segmenter, &Chunk, &ChunkGoal<'_>, &crate::attack::PgdConfig) -> Result<()>,
    ) -> Result<()> {
        let exp = self.exp;
        let seg = self.model(&exp.models[model])?;
        let spec = &exp.attacks[attack].for_model(seg.spec);
        let c = self.chunk(&seg, &self.items[unit.images.clone()])?;
        let target = self.target(spec, &seg, false, unit.task.target_image(exp))?;
        let goal = ChunkGoal::new(spec, &seg, &c.items, unit.images.clone(), self.items.len(), target)?;
        let cfg = spec.pgd_config(spec.eps[eps].value, seed)?;
        f(self, &seg, &c, &goal, &cfg)
    }

    /// The `[transfer]` section (transfer units exist only with one).
    fn transfer_spec(&self) -> Result<&'a super::file::TransferSpec> {
        self.exp.transfer.as_ref().ok_or_else(|| crate::error::Error::InvalidArgument("the experiment has no [transfer] section".into()))
    }

    /// Craft on transfer model `source`, round to 8 bits (what a saved file holds), resize to
    /// each transfer model's input (Pillow bilinear) and tally it there.
    fn transfer_craft(&mut self, unit: &Unit, source: usize) -> Result<Vec<Tally>> {
        let (exp, ad, b) = (self.exp, self.ad.clone(), self.exp.batch);
        let t = self.transfer_spec()?;
        let src = self.model(&t.models[source])?;
        let spec = &exp.transfer_attack()?.for_model(src.spec);
        let range = unit.images.clone();
        let c = self.chunk(&src, &self.transfer_items[range.clone()])?;
        let target = self.target(spec, &src, true, unit.task.target_image(exp))?;
        let goal = ChunkGoal::new(spec, &src, &c.items, range.clone(), self.transfer_items.len(), target)?;
        let crafted = craft(&src, &c.x, &goal, &spec.pgd_config(t.eps.value, exp.seeds[0])?, &ad)?;
        let adv8: Vec<image::RgbImage> = crafted.images.iter().map(imaging::from_tensor01).collect::<Result<_>>()?;
        // the batch's images with their labels, decoded once for all target models
        let raw = load(&self.transfer_items[range])?;
        let mut out = Vec::new();
        for name in &t.models {
            let dst = self.model(name)?;
            let (dw, dh) = dst.spec.native_size;
            let xd: Vec<RgbImage01> = adv8
                .iter()
                .map(|im| Ok(imaging::to_tensor01(&imaging::resize(im, dw as u32, dh as u32, ResizeMethod::PilBilinear)?)))
                .collect::<Result<_>>()?;
            let items = for_model(&raw, dst.spec.dataset);
            out.push(Tally::of(&predict(&dst, &xd, b, &ad)?, &items, None, None, dst.spec.num_classes())?);
        }
        Ok(out)
    }
}
