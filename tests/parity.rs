//! Parity with PyTorch on the real weights: logits (max abs ≤ 1e-3) and the input gradient of
//! mean CE against the clean argmax (cosine ≥ 0.999), for each reference file in
//! `../shared/fixtures/reference`.

mod common;

use advseg::backend;
use advseg::model::Segmenter;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};

const CASES: [(&str, &str); 3] = [
    ("espnetv2-voc", "espnetv2_s2.0_pascal_384x384__voc_294.safetensors"),
    ("deeplabv3-mnv2-voc", "deeplabv3_mnv2_257_voc__voc_294.safetensors"),
    ("espnetv2-city", "espnetv2_s2.0_city_1024x512__cityscapes_frankfurt_at_512x256.safetensors"),
];

/// The cases to check: all of [`CASES`], or those named in `ADVSEG_PARITY_MODELS` (a comma
/// list of zoo names; the GPU bench script uses it to leave out the largest reference file).
fn cases() -> Vec<(&'static str, &'static str)> {
    let only = std::env::var("ADVSEG_PARITY_MODELS").ok();
    let picked: Vec<_> =
        CASES.iter().copied().filter(|(m, _)| only.as_deref().is_none_or(|o| o.split(',').any(|n| n.trim() == *m))).collect();
    assert!(!picked.is_empty(), "ADVSEG_PARITY_MODELS={only:?} names none of {:?}", CASES.map(|c| c.0));
    picked
}

fn tensor4(device: &burn::tensor::Device, (shape, v): &(Vec<usize>, Vec<f32>)) -> Tensor<4> {
    Tensor::from_data(TensorData::new(v.clone(), [shape[0], shape[1], shape[2], shape[3]]), device)
}

/// Mean over pixels of CE(logits, target), the reference's loss.
fn mean_ce(logits: Tensor<4>, target: Tensor<3, Int>) -> Tensor<1> {
    let logp = log_softmax(logits, 1);
    let picked = logp.gather(1, target.unsqueeze_dim::<4>(1));
    picked.mean().neg()
}

fn check_logits(device: &burn::tensor::Device, tag: &str) {
    for (model, file) in cases() {
        let r = common::reference(file);
        let seg = Segmenter::load(model, device).unwrap();
        let logits = seg.logits(tensor4(device, &r["x01"])).unwrap();
        assert_eq!(logits.dims().to_vec(), r["logits"].0, "{model}");
        let got = logits.into_data().try_to_vec::<f32>().unwrap();
        let diff = common::max_abs_diff(&got, &r["logits"].1);
        println!("[{tag}] {model}: max |logits − PyTorch| = {diff:.2e}");
        assert!(diff <= 1e-3, "[{tag}] {model}: max abs logit difference {diff} > 1e-3");
    }
}

#[test]
fn logits_match_pytorch_on_cpu() {
    if common::skip_without_fixtures("logits_match_pytorch_on_cpu") {
        return;
    }
    check_logits(&backend::cpu(), "cpu");
}

/// Input gradient of mean CE against the clean argmax vs PyTorch's (cosine ≥ 0.999), on an
/// autodiff device over `device`.
fn check_gradients(device: &burn::tensor::Device, tag: &str) {
    let device = backend::autodiff(device);
    for (model, file) in cases() {
        let r = common::reference(file);
        let seg = Segmenter::load(model, &device).unwrap();
        let x = tensor4(&device, &r["x01"]).require_grad();
        let (ashape, avals) = &r["argmax"];
        let target = Tensor::<3, Int>::from_data(
            TensorData::new(avals.iter().map(|&v| v as i64).collect::<Vec<_>>(), [ashape[0], ashape[1], ashape[2]]),
            &device,
        );
        let loss = mean_ce(seg.logits(x.clone()).unwrap(), target);
        let loss_val = loss.clone().into_data().try_to_vec::<f32>().unwrap()[0];
        let grads = loss.backward();
        let g = x.grad(&grads).expect("input gradient").into_data().try_to_vec::<f32>().unwrap();
        let cos = common::cosine(&g, &r["grad_x01"].1);
        let sign = g.iter().zip(&r["grad_x01"].1).filter(|(a, b)| (a.signum() == b.signum()) || a.abs() < 1e-9).count()
            as f64
            / g.len() as f64;
        println!("[{tag}] {model}: loss {loss_val:.6} (ref {:.6}), gradient cosine {cos:.6}, sign agreement {sign:.5}", r["loss"].1[0]);
        assert!((loss_val - r["loss"].1[0]).abs() < 1e-4, "[{tag}] {model}: loss {loss_val} vs {}", r["loss"].1[0]);
        assert!(cos >= 0.999, "[{tag}] {model}: gradient cosine {cos} < 0.999");
    }
}

#[test]
fn input_gradient_matches_pytorch() {
    if common::skip_without_fixtures("input_gradient_matches_pytorch") {
        return;
    }
    check_gradients(&backend::cpu(), "cpu");
}

/// burn-wgpu on a real adapter (Vulkan through lavapipe in CI, a GPU's driver elsewhere).
#[test]
fn logits_match_pytorch_on_wgpu() {
    if common::skip_without_fixtures("logits_match_pytorch_on_wgpu") {
        return;
    }
    if let Some(device) = common::wgpu_or_skip("logits_match_pytorch_on_wgpu") {
        check_logits(&device, "wgpu")
    }
}

/// The input gradient through burn-wgpu's autodiff (the resizes are matrix products because
/// bilinear `interpolate` has no backward there).
#[test]
fn input_gradient_matches_pytorch_on_wgpu() {
    if common::skip_without_fixtures("input_gradient_matches_pytorch_on_wgpu") {
        return;
    }
    if let Some(device) = common::wgpu_or_skip("input_gradient_matches_pytorch_on_wgpu") {
        check_gradients(&device, "wgpu")
    }
}
