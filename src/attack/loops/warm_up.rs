//! Warming a model up for attacks at a working size.
//!
//! On WebGPU/wgpu every kernel is compiled the first time it runs for a given shape: measured on
//! an H200 (docs/results.md), ESPNetv2's first forward at 384² takes 7.8 s and its first gradient
//! 7.2 s more, against 31 ms and 53 ms warm. [`warm_up`] runs one step of the attack loop on a
//! mid-grey batch of the working size, so that the user's first real step costs what the later
//! ones do. On the CPU backend it only costs one step.

use burn::tensor::{Device, Tensor, TensorData};

use crate::attack::dispatch::run_kind;
use crate::attack::spec::goal::Goal;
use crate::attack::settings::PgdConfig;
use crate::attack::spec::attack_spec::AttackKind;
use crate::error::Result;
use crate::model::SegModel;

/// Run one untargeted step of `kind` (forward, loss, backward, update, projection, the
/// read-backs of the progress report) on a `batch × 3 × height × width` mid-grey input; the
/// result is discarded. `model` lives on `device`, an autodiff device.
pub async fn warm_up<M: SegModel + ?Sized>(
    model: &M,
    device: &Device,
    kind: AttackKind,
    batch: usize,
    width: usize,
    height: usize,
) -> Result<()> {
    let n = batch.max(1) * 3 * width * height;
    let x = Tensor::<4>::from_data(TensorData::new(vec![0.5f32; n], [batch.max(1), 3, height, width]), device);
    let cfg = PgdConfig::new().with_eps(1.0 / 255.0).with_steps(1);
    run_kind(kind, model, x, &Goal::untargeted(), &cfg, None).await?;
    Ok(())
}

#[cfg(test)]
#[cfg(not(target_arch = "wasm32"))]
mod tests {
    use super::*;
    use crate::attack::loops::testing::Toy;
    use crate::backend;

    #[test]
    fn runs_one_step_of_each_kind() {
        let d = backend::autodiff(&backend::cpu());
        for kind in [AttackKind::Pgd, AttackKind::Apgd] {
            crate::util::block_on(warm_up(&Toy::new(&d), &d, kind, 2, 4, 4)).unwrap();
        }
    }
}
