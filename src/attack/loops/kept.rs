//! What every loop returns: per image, its most successful iterate by the goal's own measure —
//! untargeted the fewest valid pixels still on the reference (the lowest pixel accuracy against
//! the clean prediction or the ground truth), targeted the most pixels on the target — ties to
//! the later iterate, the start included, so no image ends less attacked than it started.
//!
//! The comparison runs on the device ([`Kept::update`]: per-image counts of won pixels, one
//! masked select), so a loop that reads the device only every few steps
//! ([`super::readback`]) keeps the same iterate as one that reads every step. Only the iterate
//! index of each kept point is read, once, at the end ([`Kept::steps`]).
//!
//! This is what the authors of APGD (auto-attack's `x_best_adv`) and SEA (`x_best_adv` of
//! `apgd_train`, per image the lowest accuracy) return; APGD's highest-loss point serves only
//! as its restart point.

use burn::tensor::{Int, Tensor, TensorData};

use super::readback::hits;
use crate::attack::losses::loss::PixelTargets;
use crate::error::{Error, Result};

/// Per image, the number of valid pixels of the predictions `pred` `[N, 1, H, W]` that the
/// attack has won: off the reference (untargeted) or on the target (targeted); `[N]`, exact
/// below 2²⁴ pixels.
pub fn won(pred: Tensor<4, Int>, targets: &PixelTargets, targeted: bool) -> Tensor<1> {
    let on_reference = hits(pred, targets);
    if targeted {
        return on_reference;
    }
    let valid: Vec<f32> = targets.valid_per_image.iter().map(|&v| v as f32).collect();
    let n = valid.len();
    Tensor::<1>::from_data(TensorData::new(valid, [n]), &on_reference.device()).sub(on_reference)
}

/// Per image, `a` where `choose` is 1 and `b` where it is 0 (`choose`: `[N]` of 0 / 1; an exact
/// selection, `a·1 + b·0`).
pub(in crate::attack) fn blend(choose: Tensor<1>, a: Tensor<4>, b: Tensor<4>) -> Tensor<4> {
    let n = choose.dims()[0];
    let m = choose.reshape([n, 1, 1, 1]);
    b.mul(m.clone().neg().add_scalar(1.0)).add(a.mul(m))
}

/// Each image's most successful iterate so far, on the device.
#[derive(Debug, Clone)]
pub struct Kept {
    /// The kept iterates `[N, 3, H, W]`.
    x: Tensor<4>,
    /// Their won pixels `[N]`.
    won: Tensor<1>,
    /// Their iterate indices `[N]` (as floats, exact).
    step: Tensor<1>,
}

impl Kept {
    /// Start from iterate `t` `x` with its won pixels `won`.
    pub fn new(x: Tensor<4>, won: Tensor<1>, t: usize) -> Self {
        let step = won.zeros_like().add_scalar(t as f64);
        Kept { x, won, step }
    }

    /// Keep iterate `t` `x` for every image where it wins at least as many pixels as the kept
    /// one (ties to the later iterate).
    pub fn update(&mut self, x: &Tensor<4>, won: Tensor<1>, t: usize) {
        let better = won.clone().greater_equal(self.won.clone()).float();
        self.x = blend(better.clone(), x.clone(), self.x.clone());
        self.step = self.step.clone().mul(better.clone().neg().add_scalar(1.0)).add(better.mul_scalar(t as f64));
        self.won = self.won.clone().max_pair(won);
    }

    /// The kept iterates.
    pub fn x(&self) -> Tensor<4> {
        self.x.clone()
    }

    /// Replace the kept iterates by `x` (e.g. projected onto a smaller ball), keeping their
    /// counts and steps.
    pub fn set_x(&mut self, x: Tensor<4>) {
        self.x = x;
    }

    /// The iterate index of each kept point (one read).
    pub async fn steps(&self) -> Result<Vec<usize>> {
        let data = self.step.clone().into_data_async().await.map_err(|e| Error::Backend(format!("reading the kept steps failed: {e:?}")))?;
        let v = data.try_into_vec_as::<f32>().map_err(|e| Error::Backend(format!("reading the kept steps failed: {e:?}")))?;
        Ok(v.into_iter().map(|s| s.round() as usize).collect())
    }
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;
    use crate::backend;
    use crate::data::{ClassMap, VOID};
    use crate::util::block_on;

    fn t1(v: Vec<f32>) -> Tensor<1> {
        let n = v.len();
        Tensor::from_data(TensorData::new(v, [n]), &backend::cpu())
    }

    fn t4(v: f32, n: usize) -> Tensor<4> {
        Tensor::<4>::zeros([n, 1, 1, 2], &backend::cpu()).add_scalar(v)
    }

    fn host(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_into_vec_as::<f32>().unwrap()
    }

    #[test]
    fn keeps_the_most_successful_iterate_per_image_ties_to_the_later() {
        let mut k = Kept::new(t4(0.0, 3), t1(vec![2.0, 5.0, 1.0]), 0);
        k.update(&t4(1.0, 3), t1(vec![3.0, 4.0, 1.0]), 1);
        k.update(&t4(2.0, 3), t1(vec![1.0, 5.0, 0.0]), 2);
        assert_eq!(host(k.x()), vec![1.0, 1.0, 2.0, 2.0, 1.0, 1.0]);
        assert_eq!(block_on(k.steps()).unwrap(), vec![1, 2, 1]);
    }

    #[test]
    fn won_pixels_count_valid_pixels_off_or_on_the_reference() {
        let d = backend::cpu();
        let refs = [ClassMap { width: 3, height: 1, data: vec![0, 1, VOID] }, ClassMap { width: 3, height: 1, data: vec![2, 2, 2] }];
        let t = PixelTargets::new(&refs, &d).unwrap();
        let pred = Tensor::<4, Int>::from_data(TensorData::new(vec![0i64, 2, 1, 2, 0, 0], [2, 1, 1, 3]), &d);
        let v = |targeted| won(pred.clone(), &t, targeted).into_data().try_into_vec_as::<f32>().unwrap();
        assert_eq!(v(false), vec![1.0, 2.0]);
        assert_eq!(v(true), vec![1.0, 1.0]);
    }
}
