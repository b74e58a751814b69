//! Test helpers shared by the loops' unit tests: a per-pixel linear toy model, random batches,
//! one goal of every kind, and the checks every loop must pass.

use burn::tensor::{Device, Tensor, TensorData};

use super::outcome::AttackResult;
use crate::attack::loops::norm::Norm;
use crate::attack::losses::loss::LossKind;
use crate::attack::settings::PgdConfig;
use crate::attack::spec::goal::{Goal, Mask};
use crate::backend;
use crate::data::{ClassMap, VOID};
use crate::error::{Error, Result};
use crate::metrics;
use crate::model::SegModel;
use crate::util::SplitMix64;

/// A per-pixel linear classifier: logits = W·rgb + b, class = the dominant colour channel.
pub struct Toy {
    w: Tensor<3>,
    b: Tensor<3>,
}

impl Toy {
    pub fn new(d: &Device) -> Self {
        let w = vec![4.0f32, -2.0, -2.0, -2.0, 4.0, -2.0, -2.0, -2.0, 4.0];
        Toy {
            w: Tensor::from_data(TensorData::new(w, [1, 3, 3]), d),
            b: Tensor::from_data(TensorData::new(vec![0.1f32, 0.0, -0.1], [1, 3, 1]), d),
        }
    }
}

impl SegModel for Toy {
    fn logits(&self, x: Tensor<4>) -> Result<Tensor<4>> {
        let [n, c, h, w] = x.dims();
        if c != 3 {
            return Err(Error::Shape(format!("toy takes 3 channels, got {c}")));
        }
        let z = self.w.clone().repeat_dim(0, n).matmul(x.reshape([n, 3, h * w])).add(self.b.clone());
        Ok(z.reshape([n, 3, h, w]))
    }
    fn num_classes(&self) -> usize {
        3
    }
}

/// `n` random `h × w` images (host values and the batch).
pub fn batch(seed: u64, n: usize, h: usize, w: usize, d: &Device) -> (Vec<f32>, Tensor<4>) {
    let mut r = SplitMix64::new(seed);
    let v: Vec<f32> = (0..n * 3 * h * w).map(|_| r.next_f64() as f32).collect();
    (v.clone(), Tensor::from_data(TensorData::new(v, [n, 3, h, w]), d))
}

/// `n` random `h × w` images on the 8-bit grid (as decoded PNGs are).
pub fn grid_batch(seed: u64, n: usize, h: usize, w: usize, d: &Device) -> (Vec<f32>, Tensor<4>) {
    let (v, _) = batch(seed, n, h, w, d);
    let v: Vec<f32> = v.iter().map(|&x| (x * 255.0).round() / 255.0).collect();
    (v.clone(), Tensor::from_data(TensorData::new(v, [n, 3, h, w]), d))
}

/// One goal of every kind for 5×4 batches of 3.
pub fn goals() -> Vec<Goal> {
    let gt = ClassMap { width: 5, height: 4, data: (0..20).map(|i| (i % 3) as u8).collect() };
    let painted = ClassMap { width: 5, height: 4, data: (0..20).map(|i| if i % 4 == 0 { VOID } else { 2 }).collect() };
    vec![
        Goal::untargeted(),
        Goal::untargeted_vs_ground_truth(vec![gt.clone(); 3]),
        Goal::to_image(1),
        Goal::to_image_ground_truth(0, ClassMap { width: 1, height: 1, data: vec![1] }),
        Goal::to_class(0),
        Goal::to_maps(vec![painted]),
        Goal::to_class(2).within(Mask::rect(5, 4, 1, 1, 3, 2), true),
    ]
}

/// The result of the loop `run` for every norm, goal and loss of `losses` (from a random start;
/// `step_size` where the loop takes one) stays in `[0, 1]` and in the ε-ball, its perturbation
/// is the adversarial image minus the clean one, its batch and goal are the input's, and it ran
/// `steps` steps with one history record per iterate (`exact_steps`; DAG may stop earlier).
pub fn check_invariants(run: fn(&Goal, &PgdConfig, Tensor<4>) -> Result<AttackResult>, steps: usize, exact_steps: bool, losses: &[LossKind], step_size: Option<f64>) {
    let d = backend::cpu();
    let (xs, x) = batch(1, 3, 4, 5, &d);
    for norm in [Norm::Linf, Norm::L2] {
        for goal in goals() {
            for &loss in losses {
                let eps = if norm == Norm::L2 { 0.5 } else { 0.1 };
                let cfg = PgdConfig::new().with_eps(eps).with_steps(steps).with_norm(norm).with_loss(loss).with_step_size(step_size).with_random_start(true);
                let r = run(&goal, &cfg, x.clone()).unwrap();
                assert_eq!((r.adversarial.images.len(), r.targeted), (3, goal.is_targeted()));
                if exact_steps {
                    assert_eq!((r.history.len(), r.steps_run), (steps + 1, steps), "{norm} {loss} {goal:?}");
                }
                for (i, img) in r.adversarial.images.iter().enumerate() {
                    assert!(img.data.iter().all(|v| (0.0..=1.0).contains(v)));
                    let delta: Vec<f32> = img.data.iter().zip(&xs[i * 60..(i + 1) * 60]).map(|(a, b)| a - b).collect();
                    assert!(norm.measure(&delta) <= eps + 1e-5, "{norm} {loss} {goal:?}: image {i}");
                    assert_eq!(delta, r.perturbation[i]);
                }
            }
        }
    }
}

/// Reading every 3rd iterate gives the same attack as reading every one (`run`: a loop on the
/// toy model), for every goal, L∞ and L2; only the history is sparser.
pub fn check_sparse_reads(run: fn(&Goal, &PgdConfig, Tensor<4>) -> Result<AttackResult>) {
    let d = backend::cpu();
    let (_, x) = batch(5, 3, 4, 5, &d);
    for goal in goals() {
        for norm in [Norm::Linf, Norm::L2] {
            let cfg = PgdConfig::new().with_eps(0.1).with_steps(7).with_norm(norm).with_random_start(true).with_seed(3);
            let every = run(&goal, &cfg, x.clone()).unwrap();
            let sparse = run(&goal, &cfg.clone().with_progress_every(3), x.clone()).unwrap();
            let pixels = |r: &AttackResult| r.adversarial.images.iter().flat_map(|i| i.data.clone()).collect::<Vec<f32>>();
            assert_eq!(pixels(&every), pixels(&sparse), "{goal:?} {norm:?}");
            assert_eq!(every.adversarial.maps, sparse.adversarial.maps, "{goal:?} {norm:?}");
            assert_eq!(every.adversarial.per_image, sparse.adversarial.per_image, "{goal:?} {norm:?}");
            // the iterates read are t = 0, 3, 6 and the last, and they read the same
            let kept: Vec<_> = every.history.iter().filter(|r| [0, 3, 6, 7].contains(&r.step)).cloned().collect();
            assert_eq!(sparse.history, kept, "{goal:?} {norm:?}");
        }
    }
}

/// The loop `run` returns, per image, its most successful iterate: at least as successful as
/// every iterate of a run on that image alone (the history's agreement is then the image's),
/// ties to the later one, and never less successful than the start — for every goal and norm.
pub fn check_most_successful(run: fn(&Goal, &PgdConfig, Tensor<4>) -> Result<AttackResult>) {
    let d = backend::cpu();
    let (_, x) = batch(9, 3, 4, 5, &d);
    let gt = ClassMap { width: 5, height: 4, data: (0..20).map(|i| (i % 3) as u8).collect() };
    let painted = ClassMap { width: 5, height: 4, data: (0..20).map(|i| if i % 4 == 0 { VOID } else { 2 }).collect() };
    let single = [
        Goal::untargeted(),
        Goal::untargeted_vs_ground_truth(vec![gt]),
        Goal::to_class(0),
        Goal::to_maps(vec![painted]),
        Goal::to_class(2).within(Mask::rect(5, 4, 1, 1, 3, 2), true),
    ];
    for goal in single {
        for (norm, eps) in [(Norm::Linf, 0.08), (Norm::L2, 0.4)] {
            let cfg = PgdConfig::new().with_eps(eps).with_steps(6).with_norm(norm).with_step_size(Some(eps / 2.0));
            for i in 0..3 {
                let one = x.clone().narrow(0, i, 1);
                let r = run(&goal, &cfg, one).unwrap();
                let s = &r.adversarial.per_image[0];
                let success = |a: f64| if r.targeted { a } else { 1.0 - a };
                let best = r.history.iter().map(|h| success(h.mean_agreement)).fold(f64::NEG_INFINITY, f64::max);
                let got = success(s.agreement_reference);
                assert!((got - best).abs() < 1e-12, "{goal:?} {norm} image {i}: kept {got}, best seen {best}");
                let k = s.kept_step.expect("a kept step");
                let at_k = r.history.iter().rev().find(|h| h.step == k).map(|h| success(h.mean_agreement));
                assert_eq!(at_k, Some(got), "{goal:?} {norm} image {i}: kept step {k}");
                assert!(r.history.iter().filter(|h| h.step > k).all(|h| success(h.mean_agreement) < got), "ties go to the later iterate");
                let before = metrics::agreement(&r.clean_maps[0].data, &r.reference_maps[0].data, Some(VOID)).unwrap();
                assert!(got >= success(before), "{goal:?} {norm} image {i}: less attacked than the clean image");
            }
        }
    }
}
