//! MediaPipe's selfie segmenter on the real `.tflite` files: masks against MediaPipe's own
//! outputs (`../shared/fixtures/reference/selfie`, max |Δ| ≤ 1e-3, thresholded agreement
//! ≥ 99.9 %) on the CPU and on wgpu, the input gradient against finite differences, an
//! untargeted ε = 4/255 attack, the "vanish" attack (targeted class background inside the
//! person's mask), the "appear" attack (a painted square of background → person, APGD and
//! PGD), and the errors of bad model files.

mod common;

use std::time::Instant;

use advseg::attack::{AttackKind, AttackSpec, BatchImage, ClassRef, GoalKind, GoalMaps, Radius, run_attack};
use advseg::backend;
use advseg::model::Segmenter;
use advseg::model::selfie::SelfieNet;
use advseg::util::block_on;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};

const MODELS: [(&str, &str); 2] = [("selfie", "selfie_segmentation"), ("selfie-landscape", "selfie_segmentation_landscape")];
const IMAGES: [&str; 6] = ["photos_astronaut", "photos_chelsea", "photos_motorcycle_left", "voc_294", "voc_474", "voc_8"];

/// A reference: the input `[1, 3, H, W]` in [0, 1], its u8 pixels (HWC) and MediaPipe's mask.
struct Reference {
    x01: Vec<f32>,
    rgb: Vec<u8>,
    mask: Vec<f32>,
    h: usize,
    w: usize,
}

fn reference(file_stem: &str, image: &str) -> Reference {
    let r = common::reference(&format!("selfie/{file_stem}__{image}.safetensors"));
    let (shape, rgb) = &r["input_rgb_u8"];
    let (h, w) = (shape[0], shape[1]);
    assert_eq!(shape, &[h, w, 3]);
    let mut x01 = vec![0.0; 3 * h * w];
    let (_, xs) = &r["x01"];
    for p in 0..h * w {
        for c in 0..3 {
            x01[c * h * w + p] = xs[p * 3 + c];
        }
    }
    assert_eq!(r["mask"].0, [h, w]);
    Reference { x01, rgb: rgb.iter().map(|&v| v as u8).collect(), mask: r["mask"].1.clone(), h, w }
}

fn weights_dir() -> std::path::PathBuf {
    std::env::var_os("ADVSEG_WEIGHTS_DIR").map(Into::into).unwrap_or_else(|| common::shared().join("weights"))
}

fn load(model: &str, device: &Device) -> Segmenter {
    let spec = advseg::model::zoo::spec(model).unwrap();
    let bytes = std::fs::read(weights_dir().join(spec.weights_file)).unwrap();
    Segmenter::from_bytes(spec, &bytes, device).unwrap()
}

/// Person probability `[N, H·W]` of a batch, as MediaPipe's mask: softmax of the logits, class 1.
fn masks(seg: &Segmenter, x: Tensor<4>) -> Vec<f32> {
    let logits = seg.logits(x).unwrap();
    let [n, _, h, w] = logits.dims();
    let z = logits.clone().narrow(1, 1, 1) - logits.narrow(1, 0, 1);
    sigmoid(z).reshape([n, h * w]).into_data().try_to_vec::<f32>().unwrap()
}

fn check_masks(device: &Device, tag: &str) {
    for (model, stem) in MODELS {
        let seg = load(model, device);
        let refs: Vec<Reference> = IMAGES.iter().map(|i| reference(stem, i)).collect();
        let (h, w) = (refs[0].h, refs[0].w);
        let data: Vec<f32> = refs.iter().flat_map(|r| r.x01.clone()).collect();
        let x = Tensor::<4>::from_data(TensorData::new(data, [refs.len(), 3, h, w]), device);
        let _ = masks(&seg, x.clone().narrow(0, 0, 1)); // warm-up
        let t = Instant::now();
        let got = masks(&seg, x);
        let secs = t.elapsed().as_secs_f64();
        println!("[{tag}] {model} {w}×{h}: forward of {} images {:.0} ms ({:.0} ms/image)", refs.len(), secs * 1e3, secs * 1e3 / refs.len() as f64);
        for (k, (r, image)) in refs.iter().zip(IMAGES).enumerate() {
            let m = &got[k * h * w..(k + 1) * h * w];
            let diff = common::max_abs_diff(m, &r.mask);
            let agree = m.iter().zip(&r.mask).filter(|(a, b)| (**a > 0.5) == (**b > 0.5)).count() as f64 / (h * w) as f64;
            println!("[{tag}] {model} {image}: max |mask − MediaPipe| = {diff:.2e}, thresholded agreement {:.4} %", agree * 100.0);
            assert!(diff <= 1e-3, "[{tag}] {model} {image}: max abs mask difference {diff} > 1e-3");
            assert!(agree >= 0.999, "[{tag}] {model} {image}: thresholded masks agree on {agree} < 99.9 %");
        }
    }
}

#[test]
fn masks_match_mediapipe_on_cpu() {
    if common::skip_without_fixtures("masks_match_mediapipe_on_cpu") {
        return;
    }
    check_masks(&backend::cpu(), "cpu");
}

#[test]
fn masks_match_mediapipe_on_wgpu() {
    if common::skip_without_fixtures("masks_match_mediapipe_on_wgpu") {
        return;
    }
    if let Some(device) = common::wgpu_or_skip("masks_match_mediapipe_on_wgpu") {
        check_masks(&device, "wgpu");
    }
}

/// `Σ` of the person logit over a 9×9 window around `(y, x)` (host sum in f64), per image.
fn window_sums(seg: &Segmenter, x: Tensor<4>, (y, xx): (usize, usize)) -> Vec<f64> {
    let [n, _, h, w] = x.dims();
    let logits = seg.logits(x).unwrap();
    let z = (logits.clone().narrow(1, 1, 1) - logits.narrow(1, 0, 1)).reshape([n, h * w]);
    let v = z.into_data().try_to_vec::<f32>().unwrap();
    (0..n)
        .map(|k| {
            let mut s = 0.0;
            for yy in y.saturating_sub(4)..(y + 5).min(h) {
                for x2 in xx.saturating_sub(4)..(xx + 5).min(w) {
                    s += f64::from(v[k * h * w + yy * w + x2]);
                }
            }
            s
        })
        .collect()
}

/// Autodiff's input gradient of the window sum vs central differences (h = 3e-4; larger steps cross ReLU kinks, smaller ones drown in float32 rounding) at the
/// pixels of largest gradient, for both models.
#[test]
fn input_gradient_matches_finite_differences() {
    if common::skip_without_fixtures("input_gradient_matches_finite_differences") {
        return;
    }
    let cpu = backend::cpu();
    let ad = backend::autodiff(&cpu);
    for (model, stem) in MODELS {
        let r = reference(stem, "voc_294");
        let (h, w) = (r.h, r.w);
        let centre = (h / 2, w / 2);
        let seg = load(model, &ad);
        let x = Tensor::<4>::from_data(TensorData::new(r.x01.clone(), [1, 3, h, w]), &ad).require_grad();
        let logits = seg.logits(x.clone()).unwrap();
        let z = logits.clone().narrow(1, 1, 1) - logits.narrow(1, 0, 1);
        let win = z.slice([0..1, 0..1, centre.0 - 4..centre.0 + 5, centre.1 - 4..centre.1 + 5]).sum();
        let g = x.grad(&win.backward()).unwrap().into_data().try_to_vec::<f32>().unwrap();
        // the 4 input values (any channel) with the largest |gradient|
        let mut order: Vec<usize> = (0..g.len()).collect();
        order.sort_by(|&a, &b| g[b].abs().total_cmp(&g[a].abs()));
        let picks = &order[..4];
        let eps = 3e-4f32;
        let mut batch = Vec::new();
        for &i in picks {
            for s in [eps, -eps] {
                let mut v = r.x01.clone();
                v[i] += s;
                batch.extend(v);
            }
        }
        let plain = load(model, &cpu);
        let xb = Tensor::<4>::from_data(TensorData::new(batch, [2 * picks.len(), 3, h, w]), &cpu);
        let sums = window_sums(&plain, xb, centre);
        for (k, &i) in picks.iter().enumerate() {
            let fd = (sums[2 * k] - sums[2 * k + 1]) / (2.0 * f64::from(eps));
            let a = f64::from(g[i]);
            let rel = (fd - a).abs() / fd.abs().max(a.abs());
            println!("{model}: input {i}: autodiff {a:.5}, finite difference {fd:.5}, relative error {rel:.2e}");
            assert!(rel <= 1e-2, "{model}: input {i}: autodiff {a} vs finite difference {fd} (relative error {rel})");
        }
    }
}

fn batch_image(name: &str, r: &Reference) -> BatchImage {
    let image = image::RgbImage::from_raw(r.w as u32, r.h as u32, r.rgb.clone()).unwrap();
    BatchImage { name: name.into(), input: None, image, ground_truth: None }
}

/// Share of the clean person pixels (class 1) the attack turned to background, per image.
fn vanished(clean: &[advseg::data::ClassMap], adv: &[advseg::data::ClassMap], inside: Option<&[bool]>) -> Vec<f64> {
    clean
        .iter()
        .zip(adv)
        .map(|(c, a)| {
            let person: Vec<usize> = (0..c.data.len()).filter(|&p| c.data[p] == 1 && inside.is_none_or(|m| m[p])).collect();
            person.iter().filter(|&&p| a.data[p] == 0).count() as f64 / person.len().max(1) as f64
        })
        .collect()
}

/// Untargeted APGD, ε = 4/255 (L∞, 20 steps), on voc_294 and photos_astronaut: at least half of
/// each image's person pixels become background.
#[test]
fn untargeted_attack_removes_the_person() {
    if common::skip_without_fixtures("untargeted_attack_removes_the_person") {
        return;
    }
    let device = backend::autodiff(&backend::cpu());
    let seg = load("selfie", &device);
    let names = ["voc_294", "photos_astronaut"];
    let images: Vec<BatchImage> = names.iter().map(|n| batch_image(n, &reference("selfie_segmentation", n))).collect();
    let spec = AttackSpec { kind: AttackKind::Apgd, eps: vec![Radius::parse("4/255", "eps").unwrap()], steps: Some(20), ..AttackSpec::default() };
    let t = Instant::now();
    let out = block_on(run_attack(&seg, &images, &spec, GoalMaps::default(), None)).unwrap();
    let moved = vanished(&out.images.clean_maps, &out.images.adversarial_maps, None);
    for (n, f) in names.iter().zip(&moved) {
        println!("untargeted ε = 4/255: {n}: {:.1} % of the person pixels → background ({:.1} s)", f * 100.0, t.elapsed().as_secs_f64());
        assert!(*f >= 0.5, "{n}: only {f} of the person pixels moved to background");
    }
}

/// "Vanish": targeted class background inside the clean person mask, the rest kept
/// (`goal = "targeted-class"`, `target_class = "background"`, `mask`, `keep_outside`).
#[test]
fn vanish_attack_turns_the_person_into_background() {
    if common::skip_without_fixtures("vanish_attack_turns_the_person_into_background") {
        return;
    }
    let device = backend::autodiff(&backend::cpu());
    let seg = load("selfie", &device);
    let r = reference("selfie_segmentation", "voc_294");
    let person: Vec<bool> = r.mask.iter().map(|&p| p > 0.5).collect();
    // the mask file, as `advseg attack --mask FILE` reads it (non-black = inside)
    let mask_png = std::env::temp_dir().join(format!("advseg-vanish-mask-{}.png", std::process::id()));
    image::GrayImage::from_raw(r.w as u32, r.h as u32, person.iter().map(|&p| if p { 255 } else { 0 }).collect())
        .unwrap()
        .save(&mask_png)
        .unwrap();
    let spec = AttackSpec {
        goal: GoalKind::TargetedClass,
        target_class: Some(ClassRef::Name("background".into())),
        mask: Some(mask_png.display().to_string()),
        keep_outside: true,
        eps: vec![Radius::parse("4/255", "eps").unwrap()],
        steps: Some(10),
        ..AttackSpec::default()
    };
    let (target_map, mask) = spec.read_goal_files(r.w, r.h).unwrap();
    std::fs::remove_file(&mask_png).unwrap();
    assert_eq!(mask.as_ref().unwrap().data, person);
    let maps = GoalMaps { target_map, mask };
    let out = block_on(run_attack(&seg, &[batch_image("voc_294", &r)], &spec, maps, None)).unwrap();
    let gone = vanished(&out.images.clean_maps, &out.images.adversarial_maps, Some(&person))[0];
    let (c, a) = (&out.images.clean_maps[0], &out.images.adversarial_maps[0]);
    let outside: Vec<usize> = (0..person.len()).filter(|&p| !person[p]).collect();
    let kept = outside.iter().filter(|&&p| c.data[p] == a.data[p]).count() as f64 / outside.len() as f64;
    println!("vanish ε = 4/255: voc_294: {:.1} % of the person → background, {:.2} % of the rest kept", gone * 100.0, kept * 100.0);
    assert!(gone >= 0.9, "vanish: only {gone} of the person pixels became background");
    assert!(kept >= 0.99, "vanish: only {kept} of the pixels outside the mask kept their class");
}

/// "Appear": a painted square of background becomes person (`goal = "targeted-map"`, the rest
/// unpainted and kept, `keep_unpainted`), on voc_294 at ε = 8/255.
#[test]
fn appear_attack_paints_a_person_into_the_background() {
    if common::skip_without_fixtures("appear_attack_paints_a_person_into_the_background") {
        return;
    }
    let device = backend::autodiff(&backend::cpu());
    let seg = load("selfie", &device);
    let r = reference("selfie_segmentation", "voc_294");
    let background: Vec<bool> = r.mask.iter().map(|&p| p < 0.5).collect();
    // the first 64×64 square (on a 16-pixel grid) that is all background in MediaPipe's mask
    let side = 64;
    let (x0, y0) = (0..=(r.h - side))
        .step_by(16)
        .flat_map(|y| (0..=(r.w - side)).step_by(16).map(move |x| (x, y)))
        .find(|&(x, y)| (y..y + side).all(|yy| (x..x + side).all(|xx| background[yy * r.w + xx])))
        .expect("voc_294 has a 64×64 square of background");
    let painted: Vec<bool> = (0..r.w * r.h).map(|p| (x0..x0 + side).contains(&(p % r.w)) && (y0..y0 + side).contains(&(p / r.w))).collect();
    let target = advseg::data::ClassMap { width: r.w, height: r.h, data: painted.iter().map(|&p| if p { 1 } else { advseg::data::VOID }).collect() };
    let mut results = Vec::new();
    for kind in [AttackKind::Apgd, AttackKind::Pgd] {
        let spec = AttackSpec {
            kind,
            goal: GoalKind::TargetedMap,
            keep_unpainted: true,
            eps: vec![Radius::parse("8/255", "eps").unwrap()],
            steps: Some(20),
            ..AttackSpec::default()
        };
        let maps = GoalMaps { target_map: Some(target.clone()), mask: None };
        let out = block_on(run_attack(&seg, &[batch_image("voc_294", &r)], &spec, maps, None)).unwrap();
        let (c, a) = (&out.images.clean_maps[0], &out.images.adversarial_maps[0]);
        let inside: Vec<usize> = (0..painted.len()).filter(|&p| painted[p]).collect();
        let appeared = inside.iter().filter(|&&p| a.data[p] == 1).count() as f64 / inside.len() as f64;
        let outside: Vec<usize> = (0..painted.len()).filter(|&p| !painted[p]).collect();
        let kept = outside.iter().filter(|&&p| c.data[p] == a.data[p]).count() as f64 / outside.len() as f64;
        println!("appear {kind:?} ε = 8/255, 20 steps: square at ({x0}, {y0}): {:.1} % → person, {:.2} % of the rest kept", appeared * 100.0, kept * 100.0);
        results.push((kind, appeared, kept));
    }
    // measured: APGD 93.5 % of the square → person, 94.4 % of the rest kept; PGD 62.1 %, 96.8 %
    // (the person grows a little around the square)
    for &(kind, appeared, kept) in &results {
        assert!(appeared >= 0.5, "appear ({kind:?}): only {appeared} of the painted square became person");
        assert!(kept >= 0.9, "appear ({kind:?}): only {kept} of the unpainted pixels kept their class");
    }
    assert!(results[0].1 >= results[1].1, "APGD ({}) below PGD ({}) at the same budget", results[0].1, results[1].1);
}

/// Truncated files, other files and files of the wrong size are rejected, naming the file.
#[test]
fn bad_model_files_give_clear_errors() {
    if common::skip_without_fixtures("bad_model_files_give_clear_errors") {
        return;
    }
    let cpu = backend::cpu();
    let bytes = std::fs::read(weights_dir().join("selfie_segmentation.tflite")).unwrap();
    for cut in [100, bytes.len() / 4, bytes.len() / 2] {
        let e = SelfieNet::from_tflite("selfie_segmentation.tflite", &bytes[..cut], 256, 256, &cpu).unwrap_err().to_string();
        assert!(e.contains("selfie_segmentation.tflite") && e.contains("truncated"), "{cut}: {e}");
    }
    let land = std::fs::read(weights_dir().join("selfie_segmentation_landscape.tflite")).unwrap();
    let e = SelfieNet::from_tflite("selfie_segmentation_landscape.tflite", &land, 256, 256, &cpu).unwrap_err().to_string();
    assert!(e.contains("selfie_segmentation_landscape.tflite") && e.contains("[1, 144, 256, 3]"), "{e}");
    let e = SelfieNet::from_tflite("deeplab.tflite", &std::fs::read(weights_dir().join("deeplabv3_mnv2_257_voc.tflite")).unwrap(), 256, 256, &cpu)
        .unwrap_err()
        .to_string();
    assert!(e.contains("deeplab.tflite"), "{e}");
    let spec = advseg::model::zoo::spec("selfie").unwrap();
    let e = Segmenter::from_bytes(spec, &bytes[..1000], &cpu).unwrap_err().to_string();
    assert!(e.contains("selfie_segmentation.tflite") && e.contains(spec_sha(spec)), "{e}");
}

fn spec_sha(spec: &advseg::model::zoo::ModelSpec) -> &'static str {
    if spec.name == "selfie" { "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c" } else { "" }
}

fn advseg(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_advseg")).args(args).env("ADVSEG_WEIGHTS_DIR", weights_dir()).output().expect("advseg runs")
}

/// `advseg segment --model selfie`, an untargeted `advseg attack`, and the "vanish" command:
///
/// ```text
/// advseg attack --model selfie --mode targeted-class --target-class background \
///     --mask OUT/294_clean_map.png --keep-outside --eps 4/255 --steps 10 --out VANISH 294.png
/// ```
///
/// (the clean map's person colour is non-black, background black: it is the person's mask).
#[test]
fn cli_segments_attacks_and_vanishes() {
    if common::skip_without_fixtures("cli_segments_attacks_and_vanishes") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("advseg-cli-selfie-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let img = common::fixtures().join("images/voc/294.png").display().to_string();
    let (seg, att, van) = (dir.join("seg"), dir.join("att"), dir.join("van"));
    let out = advseg(&["segment", "--model", "selfie-landscape", "--out", seg.to_str().unwrap(), &img]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("person") && stdout.contains("background"), "{stdout}");
    let map = image::open(seg.join("294_map.png")).unwrap();
    assert_eq!((map.width(), map.height()), (256, 144));
    let out = advseg(&["attack", "--model", "selfie", "--eps", "4/255", "--steps", "5", "--out", att.to_str().unwrap(), &img]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(att.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["model"], "selfie");
    // VOC 294's label becomes person/background: the clean prediction nearly matches it
    let clean_gt = report["images"][0]["clean"]["vs_ground_truth"]["pixel_accuracy"].as_f64().unwrap();
    assert!(clean_gt > 0.99, "{clean_gt}");
    let mask = att.join("294_clean_map.png");
    let out = advseg(&[
        "attack", "--model", "selfie", "--mode", "targeted-class", "--target-class", "background", "--mask", mask.to_str().unwrap(),
        "--keep-outside", "--eps", "4/255", "--steps", "10", "--out", van.to_str().unwrap(), &img,
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(van.join("report.json")).unwrap()).unwrap();
    let hit = report["images"][0]["quantized"]["vs_target"]["agreement"].as_f64().unwrap();
    println!("vanish (CLI): 8-bit adversarial agrees with the target (person → background, rest kept) on {:.2} %", hit * 100.0);
    assert!(hit > 0.99, "{hit}");
    std::fs::remove_dir_all(&dir).unwrap();
}
