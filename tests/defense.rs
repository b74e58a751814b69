//! Defenses, adaptive attacks, transferability and the experiment runner on the real weights
//! and the shared VOC images (protocol of `advseg eval`: Pillow-bilinear resize to the model's
//! size, nearest resize of the maps to the label size, one confusion matrix, void ignored).

mod common;

use std::time::Instant;

use advseg::model::SegModel;
use advseg::backend;
use advseg::defense::{DefenseConfig, Defended, MultiScale, MultiScaleConfig, Pipeline};
use advseg::experiment::{self, ExperimentFile, ExperimentResult, Score};
use advseg::image::{self as imaging, ResizeMethod};
use advseg::model::{Segmenter, batch_tensor};

fn shared_env() {
    // the experiment files name images as "shared:…"; point that at the fixtures' parent
    // SAFETY: set once, before any thread of this test reads it, to the same value
    unsafe { std::env::set_var("ADVSEG_SHARED", common::shared()) };
}

fn run(text: &str) -> ExperimentResult {
    shared_env();
    let exp = ExperimentFile::parse(text).unwrap();
    let start = Instant::now();
    let mut last = String::new();
    let r = experiment::run(&exp, &backend::cpu(), &mut |p| {
        if p.message != last {
            eprintln!("  [{:>3}/{}] {} ({:.0} s)", p.done, p.total, p.message, start.elapsed().as_secs_f64());
            last = p.message.clone();
        }
    })
    .unwrap();
    eprintln!("{}", r.to_markdown());
    r
}

/// Multi-scale inference with the scale set {1.0} and no flip is the plain model, bit for bit,
/// and reconstruction-free `Defended` models too.
#[test]
fn single_scale_equals_the_plain_model() {
    if common::skip_without_fixtures("single_scale_equals_the_plain_model") {
        return;
    }
    let device = backend::cpu();
    for (model, name) in [("espnetv2-voc", "294"), ("deeplabv3-mnv2-voc", "8")] {
        let seg = Segmenter::load(model, &device).unwrap();
        let (w, h) = seg.spec.native_size;
        let img = imaging::load(&common::fixtures().join(format!("images/voc/{name}.png"))).unwrap();
        let x01 = imaging::to_tensor01(&imaging::resize(&img, w as u32, h as u32, ResizeMethod::PilBilinear).unwrap());
        let x = batch_tensor(&[x01], &device).unwrap();
        let plain = seg.logits(x.clone()).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let cfg = MultiScaleConfig::new().with_scales(vec![1.0]).with_flip(false);
        let ms = MultiScale::new(seg.clone(), cfg.clone()).unwrap();
        let got = ms.logits(x.clone()).unwrap().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(plain, got, "{model}: multi-scale {{1.0}} differs from the plain model");
        let d = Defended::new(seg.clone(), &DefenseConfig::new().with_multiscale(Some(cfg))).unwrap();
        assert_eq!(plain, d.logits(x.clone()).unwrap().into_data().try_to_vec::<f32>().unwrap());
        // the default set: four scales snap to ESPNetv2's valid sizes; DeepLab takes 257 only
        let sizes = MultiScale::new(seg.clone(), MultiScaleConfig::new()).unwrap().branch_sizes(w, h);
        match model {
            "espnetv2-voc" => assert_eq!(sizes, vec![(192, 192), (288, 288), (384, 384), (480, 480)]),
            _ => assert_eq!(sizes, vec![(257, 257)]),
        }
        // a flipped-only defense keeps the map mostly and changes the logits
        let flip = MultiScale::new(seg.clone(), MultiScaleConfig::new().with_scales(vec![1.0])).unwrap();
        let f = flip.logits(x.clone()).unwrap().into_data().try_to_vec::<f32>().unwrap();
        assert_ne!(plain, f);
        // JPEG in front: the forward pass is the network on the re-encoded image
        let jpeg = Defended::new(seg.clone(), &DefenseConfig::new().with_reconstruct(Pipeline::parse("jpeg:75").unwrap())).unwrap();
        let img01 = imaging::to_tensor01(&imaging::resize(&img, w as u32, h as u32, ResizeMethod::PilBilinear).unwrap());
        let rec = Pipeline::parse("jpeg:75").unwrap().apply(&img01).unwrap();
        let want = seg.logits(batch_tensor(&[rec], &device).unwrap()).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let got = jpeg.logits(x).unwrap().into_data().try_to_vec::<f32>().unwrap();
        let diff = common::max_abs_diff(&want, &got);
        assert!(diff < 1e-4, "{model}: BPDA forward differs from the defended model by {diff}");
        // the host-side path (the browser's) gives the same maps as the model path
        let maps = advseg::util::block_on(jpeg.predict(std::slice::from_ref(&img01), &device)).unwrap();
        let via_model = advseg::util::block_on(advseg::model::argmax_maps(jpeg.logits(batch_tensor(&[img01], &device).unwrap()).unwrap(), 21)).unwrap();
        assert_eq!(maps, via_model);
    }
}

/// BPDA passes the gradient through the reconstruction as the identity; EOT differentiates
/// through every scale.
#[test]
fn adaptive_gradients_flow() {
    if common::skip_without_fixtures("adaptive_gradients_flow") {
        return;
    }
    let ad = backend::autodiff(&backend::cpu());
    let seg = Segmenter::load("deeplabv3-mnv2-voc", &ad).unwrap();
    let img = imaging::load(&common::fixtures().join("images/voc/8.png")).unwrap();
    let x01 = imaging::to_tensor01(&imaging::resize(&img, 257, 257, ResizeMethod::PilBilinear).unwrap());
    let grad_of = |m: &dyn SegModel| {
        let x = batch_tensor(std::slice::from_ref(&x01), &ad).unwrap().require_grad();
        let loss = m.logits(x.clone()).unwrap().narrow(1, 15, 1).mean();
        let g = loss.backward();
        x.grad(&g).unwrap().into_data().try_to_vec::<f32>().unwrap()
    };
    let bpda = Defended::new(seg.clone(), &DefenseConfig::new().with_reconstruct(Pipeline::parse("bits:5,median:3").unwrap())).unwrap();
    let g = grad_of(&bpda);
    assert!(g.iter().any(|v| *v != 0.0), "BPDA gradient is zero");
    // the BPDA gradient is the plain model's gradient at the reconstructed image
    let rec = Pipeline::parse("bits:5,median:3").unwrap().apply(&x01).unwrap();
    let xr = batch_tensor(&[rec], &ad).unwrap().require_grad();
    let lg = seg.logits(xr.clone()).unwrap().narrow(1, 15, 1).mean().backward();
    let want = xr.grad(&lg).unwrap().into_data().try_to_vec::<f32>().unwrap();
    assert!(common::cosine(&g, &want) > 0.9999, "{}", common::cosine(&g, &want));
    let ms = MultiScale::new(seg.clone(), MultiScaleConfig::new()).unwrap();
    let g = grad_of(&ms);
    assert!(g.iter().all(|v| v.is_finite()) && g.iter().any(|v| *v != 0.0));
}

fn cell(s: &Score) -> String {
    format!("{:.4}", s.miou)
}

/// The issue's acceptance numbers on ESPNetv2 (VOC, s = 2.0), untargeted L∞ PGD ε = 4/255,
/// 10 steps of ε/4, CE against the clean prediction, on the first two shared VOC images:
/// multi-scale inference raises the attacked mIoU by ≥ 0.10 and the EOT attack brings it back
/// below that; JPEG (q = 75) and median (3×3) each raise it and BPDA lowers it again. (Measured
/// with `advseg eval` on this file: attacked 0.0000, multi-scale 0.6262 → EOT 0.0004, JPEG
/// 0.1754 → 0.0007, median 0.1761 → 0.0001; two images take half the CPU time of four, whose
/// margins were smaller: 0.0031, 0.3765 → 0.0136, 0.1116 → 0.0314, 0.1046 → 0.0025.)
#[test]
fn defenses_help_non_adaptively_and_fall_to_adaptive_attacks() {
    if common::skip_without_fixtures("defenses_help_non_adaptively_and_fall_to_adaptive_attacks") {
        return;
    }
    let r = run(r#"
name = "acceptance"
images = "shared:fixtures/images/voc"
models = ["espnetv2-voc"]
max_images = 2
batch = 1

[[attacks]]
name = "pgd-ce"
kind = "pgd"
eps = ["4/255"]
steps = 10

[[defenses]]
name = "multi-scale"
multiscale = { scales = [0.5, 0.75, 1.0, 1.25], flip = true }

[[defenses]]
name = "jpeg-75"
reconstruct = ["jpeg:75"]

[[defenses]]
name = "median-3"
reconstruct = ["median:3"]
"#);
    let m = &r.models[0];
    assert!(m.clean.miou > 0.7, "clean mIoU {}", m.clean.miou);
    let row = &m.attacks[0];
    let attacked = row.attacked.miou;
    assert!(attacked < 0.1, "attacked mIoU {attacked}");
    assert!(row.linf <= 4.0 / 255.0 + 1e-6);
    for d in &row.defenses {
        let (na, ad) = (&d.non_adaptive, d.adaptive.as_ref().unwrap());
        eprintln!("{}: attacked {attacked:.4} → non-adaptive {} → adaptive {}", d.defense, cell(na), cell(ad));
        let need = if d.defense == "multi-scale" { 0.10 } else { 0.0 };
        assert!(na.miou >= attacked + need, "{}: non-adaptive {} vs attacked {attacked}", d.defense, na.miou);
        assert!(na.miou > attacked, "{}", d.defense);
        assert!(ad.miou < na.miou, "{}: adaptive {} not below non-adaptive {}", d.defense, ad.miou, na.miou);
    }
}

/// The transfer matrix: white-box (diagonal) entries are the strongest of each row.
#[test]
fn transfer_matrix_diagonal_is_strongest() {
    if common::skip_without_fixtures("transfer_matrix_diagonal_is_strongest") {
        return;
    }
    let r = run(r#"
name = "transfer"
images = "shared:fixtures/images/voc"
models = ["deeplabv3-mnv2-voc"]
max_images = 4
batch = 2

[[attacks]]
name = "pgd-ce"
kind = "pgd"
eps = ["4/255"]
steps = 5

[transfer]
models = ["espnetv2-voc-s0.5", "espnetv2-voc-s1.0", "deeplabv3-mnv2-voc"]
attack = "pgd-ce"
eps = "4/255"
"#);
    let t = r.transfer.as_ref().unwrap();
    assert_eq!(t.miou.len(), 3);
    for (i, row) in t.miou.iter().enumerate() {
        for (j, v) in row.iter().enumerate() {
            if i != j {
                assert!(row[i] < *v, "row {}: white-box {} not below transfer to {} ({v})", t.models[i], row[i], t.models[j]);
            }
        }
    }
}

/// Same file, same JSON (a library run and a CLI run); a corrupt image is reported and skipped,
/// the rest evaluated; the CLI writes both reports.
#[test]
fn experiments_are_reproducible_and_survive_bad_images() {
    if common::skip_without_fixtures("experiments_are_reproducible_and_survive_bad_images") {
        return;
    }
    shared_env();
    let dir = std::env::temp_dir().join(format!("advseg-exp-{}", std::process::id()));
    let images = dir.join("images");
    std::fs::create_dir_all(&images).unwrap();
    let voc = common::fixtures().join("images/voc");
    for n in ["8", "294"] {
        for suffix in ["", "_label"] {
            std::fs::copy(voc.join(format!("{n}{suffix}.png")), images.join(format!("{n}{suffix}.png"))).unwrap();
        }
    }
    std::fs::write(images.join("1bad.png"), b"\x89PNG\r\n\x1a\nnot really").unwrap();
    std::fs::copy(voc.join("8_label.png"), images.join("1bad_label.png")).unwrap();
    let text = format!(
        r#"
name = "repro"
images = "{}"
models = ["deeplabv3-mnv2-voc"]
seeds = [3, 4]

[[attacks]]
name = "pgd-rs"
kind = "pgd"
eps = ["8/255"]
steps = 2
random_start = true

[[attacks]]
name = "to-person"
goal = "targeted-class"
target_class = "person"
eps = ["8/255"]
steps = 2

[[defenses]]
name = "bits-4"
reconstruct = ["bits:4"]

[[defenses]]
name = "flip"
multiscale = {{ scales = [1.0], flip = true }}
adaptive = false
"#,
        images.display()
    );
    // one run through the library here; the second run of the same file, through the CLI
    // below, must give the same JSON byte for byte (reproducible, and one path from file to result)
    let a = run(&text);
    assert_eq!(a.images, vec!["294".to_string(), "8".to_string()]);
    assert_eq!(a.skipped.len(), 1, "{:?}", a.skipped);
    assert!(a.skipped[0].image.ends_with("1bad.png"));
    let rows = &a.models[0].attacks;
    assert_eq!(rows.len(), 3, "random start runs once per seed, the targeted attack once");
    assert_ne!(rows[0].attacked, rows[1].attacked, "seeds 3 and 4 gave the same attack");
    let t = &rows[2];
    assert!(t.attacked.target_agreement.unwrap() > t.clean_target_agreement.unwrap());
    assert!(t.defenses[1].adaptive.is_none());
    // per image, per class and by object size
    let m = &a.models[0];
    assert_eq!((m.classes.len(), m.classes[15].as_str()), (21, "person"));
    let names: Vec<&str> = m.clean_per_image.iter().map(|s| s.image.as_str()).collect();
    assert_eq!(names, ["294", "8"]);
    for row in std::iter::once((&m.clean_per_image, &m.clean_detail, &m.clean)).chain(rows.iter().map(|r| (&r.per_image, &r.detail, &r.attacked))) {
        let (per_image, detail, pooled) = row;
        assert_eq!(per_image.len(), 2);
        assert!(per_image.iter().all(|s| (0.0..=1.0).contains(&s.miou) && (0.0..=1.0).contains(&s.pixel_accuracy)));
        let iou: Vec<f64> = detail.per_class_iou.iter().flatten().copied().collect();
        assert_eq!(detail.per_class_iou.len(), 21);
        assert!((iou.iter().sum::<f64>() / iou.len() as f64 - pooled.miou).abs() < 1e-9, "{iou:?} vs {}", pooled.miou);
        let b = &detail.by_size;
        assert!(b.small.objects + b.medium.objects + b.large.objects > 0 && b.large.accuracy.is_some());
    }
    // the targeted row's per-image target agreement averages to its pooled one
    let ta: Vec<f64> = t.per_image.iter().filter_map(|s| s.target_agreement).collect();
    assert!((ta.iter().sum::<f64>() / 2.0 - t.attacked.target_agreement.unwrap()).abs() < 1e-9, "{ta:?}");

    // the CLI: results.md and results.json
    let file = dir.join("exp.toml");
    std::fs::write(&file, &text).unwrap();
    let out = dir.join("out");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_advseg"))
        .args(["eval", "--experiment", file.to_str().unwrap(), "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.contains("bits-4: adaptive") && md.contains("Agreement with the target map"), "{md}");
    assert!(md.contains("Per image") && md.contains("| person |") && md.contains("by ground-truth object size"), "{md}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("1bad.png"));
    let json = std::fs::read_to_string(out.join("results.json")).unwrap();
    assert_eq!(json, a.to_json().unwrap(), "two runs of one experiment (the library's, the CLI's) differ");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_advseg"))
        .args(["eval", "--experiment", dir.join("missing.toml").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.toml"));
    std::fs::remove_dir_all(&dir).ok();
}
