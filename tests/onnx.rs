//! ONNX networks brought by the user (`--model FILE.onnx`): the fixtures of
//! `tests/fixtures/onnx/` (made by `scripts/onnx_fixtures.py` with both PyTorch exporters) run
//! with PyTorch's logits and input gradients, the ONNX ESPNetv2 behaves as the native one, the
//! shared DeepLabV3 graph as the native DeepLabV3, an attack breaks every fixture, and bad files
//! are refused with messages that say what is wrong.

mod common;

use std::path::PathBuf;
use std::time::Instant;

use advseg::attack::{self, Goal, PgdConfig};
use advseg::backend;
use advseg::data::ClassMap;
use advseg::image::{self as imaging, ResizeMethod, RgbImage01};
use advseg::metrics::compare_maps;
use advseg::model::onnx::{OnnxDescription, OnnxModel, registry};
use advseg::model::zoo::{self, SizeRule};
use advseg::model::{Network, Segmenter, batch_tensor};
use advseg::util::block_on;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};

const VOC: [&str; 10] = ["0", "1", "8", "20", "23", "114", "166", "294", "417", "474"];

/// The networks of the fixture set (each exported twice: `_ts` and `_dynamo`).
const NETS: [&str; 5] = ["espnetv2_s0.5", "lraspp_mnv3", "deeplabv3_mnv3", "segformer", "opzoo"];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/onnx").join(name)
}

/// A fixture registered in the zoo (as `--model PATH` does) and loaded on `device`.
fn load(file: &str, device: &Device) -> Segmenter {
    let path = fixture(file);
    Segmenter::load(path.to_str().unwrap(), device).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// `name → (shape, values)` of a reference file.
fn reference(net: &str) -> std::collections::HashMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(fixture(&format!("{net}.ref.safetensors"))).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(name, v)| {
            let vals = v.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            (name, (v.shape().to_vec(), vals))
        })
        .collect()
}

fn tensor(shape: &[usize], v: &[f32], device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(v.to_vec(), [shape[0], shape[1], shape[2], shape[3]]), device)
}

fn values(t: Tensor<4>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// Mean per-pixel cross-entropy of `logits` against their own argmax (the references' loss).
fn self_ce(logits: Tensor<4>) -> Tensor<1> {
    let target = logits.clone().detach().argmax(1);
    let logp = log_softmax(logits, 1);
    logp.gather(1, target).mean().neg()
}

fn onnx_net(seg: &Segmenter) -> &advseg::model::onnx::OnnxNet {
    match &seg.net {
        Network::Onnx(n) => n,
        _ => panic!("not an ONNX model"),
    }
}

/// The graph's output at every 2nd row and column (as the references store it).
fn every_second(t: Tensor<4>) -> Vec<f32> {
    let [n, c, h, w] = t.dims();
    let v = values(t);
    let mut out = Vec::new();
    for i in 0..n * c {
        for y in (0..h).step_by(2) {
            for x in (0..w).step_by(2) {
                out.push(v[(i * h + y) * w + x]);
            }
        }
    }
    out
}

#[test]
fn every_fixture_matches_pytorch_logits_and_input_gradient() {
    let device = backend::autodiff(&backend::cpu());
    let mut bad = Vec::new();
    for net in NETS {
        let r = reference(net);
        let (xs, xv) = &r["x01"];
        for exporter in ["ts", "dynamo"] {
            let file = format!("{net}_{exporter}.onnx");
            let t0 = Instant::now();
            let seg = load(&file, &device);
            let loaded = t0.elapsed().as_secs_f64();
            let x = tensor(xs, xv, &device).require_grad();
            let scores = onnx_net(&seg).scores(x.clone()).unwrap();
            let got = every_second(scores.clone().detach());
            let want = &r["logits"].1;
            assert_eq!(got.len(), want.len(), "{file}: output size");
            let err = common::max_abs_diff(&got, want);
            let logits = seg.logits(x.clone()).unwrap();
            let grads = self_ce(logits).backward();
            let g: Vec<f32> = x.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
            let cos = common::cosine(&g, &r["grad_x01"].1);
            println!("{file}: |logits − PyTorch| max {err:.2e}, gradient cosine {cos:.6} (load {loaded:.2} s)");
            if err > 1e-4 || cos < 0.999 {
                bad.push(format!("{file}: logits differ by {err}, gradient cosine {cos}"));
            }
        }
    }
    assert!(bad.is_empty(), "{bad:#?}");
}

#[test]
fn every_resize_mode_matches_onnxruntime() {
    let device = backend::cpu();
    let seg = load("resize_modes.onnx", &device);
    let r = reference("resize_modes");
    let (xs, xv) = &r["x01"];
    let got = values(onnx_net(&seg).scores(tensor(xs, xv, &device)).unwrap());
    let want = &r["logits"].1;
    assert_eq!(got.len(), want.len());
    // per mode (3 channels of 24 × 20 each)
    for (k, (g, w)) in got.chunks(3 * 24 * 20).zip(want.chunks(3 * 24 * 20)).enumerate() {
        let err = common::max_abs_diff(g, w);
        assert!(err < 1e-5, "resize mode {k}: {err}");
    }
}

/// The operators no network fixture has (one branch each, concatenated): onnxruntime's output,
/// and an input gradient that exists and is finite.
#[test]
fn the_other_operators_match_onnxruntime() {
    let device = backend::autodiff(&backend::cpu());
    let seg = load("more_ops.onnx", &device);
    let r = reference("more_ops");
    let (xs, xv) = &r["x01"];
    let x = tensor(xs, xv, &device).require_grad();
    let y = onnx_net(&seg).scores(x.clone()).unwrap();
    assert_eq!(y.dims(), [1, 129, 16, 16]);
    let got = values(y.clone().detach());
    let want = &r["logits"].1;
    let worst = got.iter().zip(want).enumerate().map(|(i, (a, b))| ((a - b).abs() / b.abs().max(1.0), i)).fold((0.0f32, 0), |m, v| if v.0 > m.0 { v } else { m });
    println!("more_ops: worst relative difference {:.2e} at channel {}", worst.0, worst.1 / 256);
    assert!(worst.0 < 1e-4, "channel {}: {} vs {}", worst.1 / 256, got[worst.1], want[worst.1]);
    let g: Vec<f32> = x.grad(&y.sum().backward()).unwrap().into_data().try_to_vec().unwrap();
    assert!(g.iter().all(|v| v.is_finite()) && g.iter().any(|&v| v != 0.0));
}

/// VOC images resized to `w × h`, batched, and their ground truth at the original size.
fn voc(names: &[&str], w: usize, h: usize, device: &Device) -> (Tensor<4>, Vec<RgbImage01>, Vec<ClassMap>) {
    let dir = common::fixtures().join("images/voc");
    let (images, gts): (Vec<RgbImage01>, Vec<ClassMap>) = names
        .iter()
        .map(|n| {
            let img = imaging::load(&dir.join(format!("{n}.png"))).unwrap();
            let img = imaging::resize(&img, w as u32, h as u32, ResizeMethod::PilBilinear).unwrap();
            let (gt, gw, gh) = imaging::load_label_png(&dir.join(format!("{n}_label.png"))).unwrap();
            (imaging::to_tensor01(&img), ClassMap { width: gw, height: gh, data: gt })
        })
        .unzip();
    (batch_tensor(&images, device).unwrap(), images, gts)
}

#[test]
fn the_shared_deeplab_graph_runs_as_the_native_network() {
    if common::skip_without_fixtures("the_shared_deeplab_graph_runs_as_the_native_network") {
        return;
    }
    let device = backend::autodiff(&backend::cpu());
    let path = common::shared().join("weights/deeplabv3_mnv2_257_voc.onnx");
    let bytes = std::fs::read(&path).unwrap();
    // the graph takes (rgb − 127.5) / 127.5: said here as the page's form or a sidecar would
    let desc = OnnxDescription::from_json(r#"{"mean": "0.5,0.5,0.5", "std": "0.5,0.5,0.5", "dataset": "voc"}"#).unwrap();
    let model = OnnxModel::from_bytes("deeplab.onnx", "deeplabv3_mnv2_257_voc.onnx", &bytes, Some(&path), &desc).unwrap();
    println!("deeplab graph: {} steps, {} BatchNorms folded", model.plan.steps.len(), model.plan.folded);
    let spec = registry::register(model);
    assert_eq!((spec.size_rule, spec.num_classes()), (SizeRule::Fixed(257, 257), 21));
    let onnx = Segmenter::onnx(spec, &device).unwrap();
    let native = Segmenter::load("deeplabv3-mnv2-voc", &device).unwrap();
    let (x, _, _) = voc(&["294", "20"], 257, 257, &device);
    let x = x.require_grad();
    let (a, b) = (onnx.logits(x.clone()).unwrap(), native.logits(x.clone()).unwrap());
    let err = common::max_abs_diff(&values(a.clone().detach()), &values(b.clone().detach()));
    let ga: Vec<f32> = x.grad(&self_ce(a).backward()).unwrap().into_data().try_to_vec().unwrap();
    let gb: Vec<f32> = x.grad(&self_ce(b).backward()).unwrap().into_data().try_to_vec().unwrap();
    let cos = common::cosine(&ga, &gb);
    println!("deeplab ONNX vs native: |logits| max {err:.2e}, gradient cosine {cos:.7}");
    assert!(err <= 1e-4, "logits differ by {err}");
    assert!(cos >= 0.999, "gradient cosine {cos}");
}

/// The ONNX ESPNetv2 (both exporters) against the native one on the 10 VOC images at 96×96:
/// clean mIoU and a seeded PGD attack's results.
#[test]
fn onnx_espnetv2_gives_the_native_miou_and_attack_results() {
    if common::skip_without_fixtures("onnx_espnetv2_gives_the_native_miou_and_attack_results") {
        return;
    }
    let device = backend::autodiff(&backend::cpu());
    let native = Segmenter::load("espnetv2-voc-s0.5", &device).unwrap();
    let (x, _, gts) = voc(&VOC, 96, 96, &backend::cpu());
    let k = 21;
    let cfg = PgdConfig::new().with_eps(4.0 / 255.0).with_steps(3).with_random_start(true).with_seed(7);
    let run = |seg: &Segmenter| {
        let r = block_on(attack::pgd(seg, x.clone(), &Goal::untargeted(), &cfg, None)).unwrap();
        let clean = compare_maps(&r.clean_maps, &gts, k).unwrap().miou;
        let adv = compare_maps(&r.adversarial.maps, &gts, k).unwrap().miou;
        (clean, adv, r)
    };
    let (nc, na, nr) = run(&native);
    for exporter in ["ts", "dynamo"] {
        let seg = load(&format!("espnetv2_s0.5_{exporter}.onnx"), &device);
        assert_eq!(seg.spec.classes(), native.spec.classes());
        let t0 = Instant::now();
        let (c, a, r) = run(&seg);
        let same: usize = r.adversarial.maps.iter().zip(&nr.adversarial.maps).map(|(p, q)| p.data.iter().zip(&q.data).filter(|(u, v)| u == v).count()).sum();
        let total: usize = nr.adversarial.maps.iter().map(|m| m.data.len()).sum();
        let agree = same as f64 / total as f64;
        println!(
            "espnetv2 s0.5 {exporter}: clean mIoU {c:.4} (native {nc:.4}), PGD ε=4/255 3 steps seed 7 mIoU {a:.4} (native {na:.4}), \
             adversarial maps agree on {:.4} of pixels ({:.1} s)",
            agree,
            t0.elapsed().as_secs_f64()
        );
        assert!((c - nc).abs() < 1e-3, "clean mIoU {c} vs native {nc}");
        assert!((a - na).abs() < 5e-3, "adversarial mIoU {a} vs native {na}");
        assert!(agree > 0.995, "adversarial maps agree on {agree}");
    }
}

#[test]
fn an_untargeted_attack_lowers_every_fixtures_accuracy() {
    if common::skip_without_fixtures("an_untargeted_attack_lowers_every_fixtures_accuracy") {
        return;
    }
    let device = backend::autodiff(&backend::cpu());
    for net in NETS {
        for exporter in ["ts", "dynamo"] {
            let file = format!("{net}_{exporter}.onnx");
            let seg = load(&file, &device);
            let (w, h) = seg.spec.native_size;
            let (x, _, _) = voc(&["1", "474"], w, h, &backend::cpu());
            let cfg = PgdConfig::new().with_eps(8.0 / 255.0).with_steps(5).with_random_start(false);
            let r = block_on(attack::pgd(&seg, x, &Goal::untargeted(), &cfg, None)).unwrap();
            let agreement = r.adversarial.vs_clean.agreement;
            println!("{file}: PGD ε=8/255 5 steps: accuracy vs the clean map 1 → {agreement:.4}");
            assert!(agreement < 0.6, "{file}: accuracy vs clean only fell to {agreement}");
        }
    }
}

#[test]
fn a_free_size_graph_takes_other_sizes_and_batches() {
    let device = backend::cpu();
    let seg = load("lraspp_mnv3_ts.onnx", &device);
    assert_eq!(seg.spec.size_rule, SizeRule::Multiple(32));
    assert_eq!(seg.spec.native_size, (64, 64));
    assert!(seg.spec.check_size(96, 64).is_ok() && seg.spec.check_size(100, 64).is_err());
    let x = Tensor::<4>::random([3, 3, 64, 96], burn::tensor::Distribution::Uniform(0.0, 1.0), &device);
    let y = seg.logits(x.clone()).unwrap();
    assert_eq!(y.dims(), [3, 6, 64, 96]);
    // a batch gives what its images give one by one
    let one = seg.logits(x.slice([1..2])).unwrap();
    let err = common::max_abs_diff(&values(y.slice([1..2])), &values(one));
    assert!(err < 1e-4, "batched vs single {err}");
}

#[test]
fn bad_files_are_refused_with_messages_that_say_why() {
    let device = backend::cpu();
    let none = OnnxDescription::default();
    let err = |bytes: &[u8], file: &str| OnnxModel::from_bytes(file, file, bytes, None, &none).unwrap_err().to_string();
    let good = std::fs::read(fixture("opzoo_ts.onnx")).unwrap();

    let e = err(b"\x89PNG\r\n\x1a\n not a model at all", "picture.onnx");
    assert!(e.contains("'picture.onnx' is not a readable ONNX model"), "{e}");
    let e = err(&good[..good.len() / 2], "cut.onnx");
    assert!(e.contains("'cut.onnx'") && (e.contains("truncated") || e.contains("not a readable")), "{e}");
    let e = err(&[], "empty.onnx");
    assert!(e.contains("empty"), "{e}");
    // an operator we do not run, named with its node and the opset
    let mut odd = good.clone();
    // (NodeProto.op_type is field 4: tag 0x22, then the length)
    let at = odd.windows(6).position(|w| w == b"\x22\x04Tanh").unwrap() + 2;
    odd[at..at + 4].copy_from_slice(b"Tanx");
    let e = err(&odd, "odd.onnx");
    assert!(e.contains("operator Tanx") && e.contains("opset 17") && e.contains("node '"), "{e}");
    // weights in a file that is not there
    let ext = fixture("bad_external.onnx");
    let e = OnnxModel::from_bytes("x", "bad_external.onnx", &std::fs::read(&ext).unwrap(), Some(&ext), &none).unwrap_err().to_string();
    assert!(e.contains("external-data file 'bad_external.onnx.data'") && e.contains("missing"), "{e}");
    let e = err(&std::fs::read(&ext).unwrap(), "bad_external.onnx");
    assert!(e.contains("separate file 'bad_external.onnx.data'"), "{e}");
    // an output that is not a score map
    let e = err(&std::fs::read(fixture("bad_output.onnx")).unwrap(), "bad_output.onnx");
    assert!(e.contains("[N, C, H, W]") && e.contains("[1, 768]"), "{e}");
    // a shape computed from the pixels
    let e = err(&std::fs::read(fixture("bad_dynamic.onnx")).unwrap(), "bad_dynamic.onnx");
    assert!(e.contains("node 'to_int'") && e.contains("Cast, opset 17") && e.contains("depend on the data"), "{e}");
    // too large (checked before anything is parsed)
    let e = err(&vec![0u8; 200 * 1024 * 1024 + 1], "huge.onnx");
    assert!(e.contains("'huge.onnx' is 209715201 bytes") && e.contains("up to 200 MiB"), "{e}");
    // a description that does not fit the graph
    let desc = OnnxDescription::from_pairs(&["classes=a,b,c,d,e,f,g".into()]).unwrap();
    let e = OnnxModel::from_bytes("x", "opzoo_ts.onnx", &good, None, &desc).unwrap_err().to_string();
    assert!(e.contains("7 classes") && e.contains("5 score channels"), "{e}");
    let e = zoo::spec("no/such/net.onnx").unwrap_err().to_string();
    assert!(e.contains("no/such/net.onnx"), "{e}");
    // nothing above was registered; a good file still loads
    assert!(registry::keys().iter().all(|k| !k.contains("bad")));
    let _ = load("opzoo_ts.onnx", &device);
}

/// SEA's fixed PASCAL VOC class weights go only to a network trained on VOC's classes: the
/// ESPNetv2 fixture (described `dataset = "voc"` in its metadata), not a graph whose classes are
/// its own (numbered), which SEA attacks with its per-image weights.
#[test]
fn sea_takes_the_voc_class_weights_only_for_a_voc_model() {
    let sea = attack::AttackSpec::from_json(r#"{"kind": "sea"}"#).unwrap();
    let voc = load("espnetv2_s0.5_ts.onnx", &backend::cpu()).spec;
    let own = load("opzoo_ts.onnx", &backend::cpu()).spec;
    assert!(voc.dataset_classes() && !own.dataset_classes());
    assert_eq!(sea.for_model(voc).losses, Some(attack::LossKind::SEA_VOC.to_vec()));
    assert_eq!(sea.for_model(own).losses, None);
}

/// burn-wgpu on a real adapter: the same logits and input gradient as the CPU backend.
#[test]
fn onnx_graphs_run_on_wgpu_with_gradients() {
    let Some(device) = common::wgpu_or_skip("onnx_graphs_run_on_wgpu_with_gradients") else { return };
    for file in ["opzoo_dynamo.onnx", "segformer_ts.onnx", "espnetv2_s0.5_dynamo.onnx"] {
        let mut out = Vec::new();
        let (w, h) = load(file, &backend::cpu()).spec.native_size;
        let x0 = Tensor::<4>::random([1, 3, h, w], burn::tensor::Distribution::Uniform(0.0, 1.0), &backend::cpu()).into_data();
        for d in [backend::autodiff(&backend::cpu()), backend::autodiff(&device)] {
            let seg = load(file, &d);
            let x = Tensor::<4>::from_data(x0.clone(), &d).require_grad();
            let y = seg.logits(x.clone()).unwrap();
            let g: Vec<f32> = x.grad(&self_ce(y.clone()).backward()).unwrap().into_data().try_to_vec().unwrap();
            out.push((values(y.detach()), g));
        }
        let err = common::max_abs_diff(&out[0].0, &out[1].0);
        let cos = common::cosine(&out[0].1, &out[1].1);
        println!("{file} on wgpu vs CPU: |logits| max {err:.2e}, gradient cosine {cos:.6}");
        assert!(err < 1e-3 && cos > 0.999, "{file}: {err} {cos}");
    }
}

