//! The transfer matrix: perturbations crafted on each source model, rounded to 8 bits,
//! resized to each target model's input and scored there.

use burn::tensor::Device;

use super::file::{ExperimentFile, TransferSpec};
use super::items::{Item, inputs};
use super::result::TransferResult;
use super::runner::{SetGoal, craft, predict, score};
use crate::error::{Error, Result};
use crate::image::{self as imaging, ResizeMethod, RgbImage01};
use crate::model::Segmenter;

pub(crate) fn transfer_matrix(
    exp: &ExperimentFile,
    t: &TransferSpec,
    items: &[Item],
    ad: &Device,
    tick: &mut dyn FnMut(String),
) -> Result<TransferResult> {
    let a = exp
        .attacks
        .iter()
        .find(|a| a.name.as_deref() == Some(t.attack.as_str()))
        .ok_or_else(|| Error::InvalidArgument(format!("transfer attack '{}' not found", t.attack)))?;
    let cfg = a.pgd_config(t.eps.value, exp.seeds[0])?;
    let segs: Vec<Segmenter> = t.models.iter().map(|m| Segmenter::load(m, ad)).collect::<Result<_>>()?;
    // each model's inputs and clean maps: the clean row, and the start and goal of its attack
    let mut clean_miou = Vec::new();
    let mut clean_runs = Vec::new();
    for s in &segs {
        tick(format!("transfer: clean {}", s.spec.name));
        let (w, h) = s.spec.native_size;
        let x = inputs(items, w, h)?;
        let maps = predict(s, &x, exp.batch, ad)?;
        clean_miou.push(score(&maps, items, None, None, s.spec.num_classes())?.miou);
        clean_runs.push((x, maps));
    }
    let (mut miou, mut pa) = (Vec::new(), Vec::new());
    for (src, (x, clean)) in segs.iter().zip(&clean_runs) {
        tick(format!("transfer: craft on {}", src.spec.name));
        let goal = SetGoal::new(a, src, items, clean)?;
        let c = craft(src, x, &goal, &cfg, exp.batch, ad)?;
        let adv8: Vec<image::RgbImage> = c.images.iter().map(imaging::from_tensor01).collect::<Result<_>>()?;
        let (mut row_m, mut row_p) = (Vec::new(), Vec::new());
        for dst in &segs {
            tick(format!("transfer: {} → {}", src.spec.name, dst.spec.name));
            let (dw, dh) = dst.spec.native_size;
            let xd: Vec<RgbImage01> = adv8
                .iter()
                .map(|im| Ok(imaging::to_tensor01(&imaging::resize(im, dw as u32, dh as u32, ResizeMethod::PilBilinear)?)))
                .collect::<Result<_>>()?;
            let s = score(&predict(dst, &xd, exp.batch, ad)?, items, None, None, dst.spec.num_classes())?;
            row_m.push(s.miou);
            row_p.push(s.pixel_accuracy);
        }
        miou.push(row_m);
        pa.push(row_p);
    }
    Ok(TransferResult {
        models: t.models.clone(),
        attack: t.attack.clone(),
        eps: t.eps.text.clone(),
        n_images: items.len(),
        clean_miou,
        miou,
        pixel_accuracy: pa,
    })
}

