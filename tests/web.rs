//! The browser API in a real browser (`wasm-pack test --headless --chrome`, see
//! `scripts/web_test.sh`): a real model loaded from its weights' bytes through
//! `Session::create`, segmentation of a sample image compared with the reference map that the
//! native code reproduces (`tests/zoo.rs`), a 2-step attack and its invariants, errors that
//! quote the bad value, cancellation — once on the CPU backend and once on WebGPU (Chromium's
//! software adapter with `--enable-unsafe-webgpu`, from `webdriver.json`).
#![cfg(target_arch = "wasm32")]

use advseg::image as imaging;
use advseg::web::Session;
use js_sys::{Array, Function, Reflect, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

// In a dedicated worker, as in the demo: the page stays responsive to the WebDriver while the
// network runs.
wasm_bindgen_test_configure!(run_in_dedicated_worker);

const MODEL: &str = "deeplabv3-mnv2-voc";
// the shared fixtures are found through ADVSEG_SHARED at build time (scripts/env.sh sets it)
const WEIGHTS: &[u8] = include_bytes!("../weights/deeplabv3_mnv2_257_voc.safetensors");
const IMAGE: &[u8] = include_bytes!(concat!(env!("ADVSEG_SHARED"), "/fixtures/images/voc/294.png"));
/// PyTorch's argmax map of DeepLab on voc/294 at 257×257; the native code agrees with it on
/// ≥ 99.999 % of pixels (tests/zoo.rs).
const REFERENCE: &[u8] =
    include_bytes!(concat!(env!("ADVSEG_SHARED"), "/fixtures/reference/argmax/deeplabv3_mnv2_257_voc/voc_294.png"));

fn get(v: &JsValue, key: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(key)).unwrap()
}

fn num(v: &JsValue, key: &str) -> f64 {
    get(v, key).as_f64().unwrap_or_else(|| panic!("{key} is not a number"))
}

fn bytes_at(v: &JsValue, key: &str, i: u32) -> Vec<u8> {
    Uint8Array::from(Array::from(&get(v, key)).get(i)).to_vec()
}

fn images(list: &[&[u8]]) -> Array {
    list.iter().map(|b| JsValue::from(Uint8Array::from(*b))).collect()
}

async fn session(backend: &str) -> Session {
    Session::create(MODEL.into(), WEIGHTS.to_vec(), backend.into()).await.map_err(JsValue::from).unwrap()
}

async fn settle(p: js_sys::Promise) -> Result<JsValue, String> {
    JsFuture::from(p).await.map_err(|e| {
        e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())).unwrap_or_else(|| format!("{e:?}"))
    })
}

/// The error message of a call that must fail (a success is reported without its large value).
async fn failure(p: js_sys::Promise, what: &str) -> String {
    match settle(p).await {
        Ok(_) => panic!("{what}: succeeded, but should have failed"),
        Err(e) => e,
    }
}

fn options(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

fn agreement(a: &[u8], b: &[u8]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// Segmentation, a 2-step untargeted and a 2-step targeted attack, on `backend`.
async fn check_backend(backend: &str) {
    let s = session(backend).await;
    web_sys::console::log_1(&format!("backend {backend}: {}", s.backend()).into());
    assert_eq!(s.webgpu(), backend == "webgpu", "{}", s.backend());

    // segmentation vs the reference map
    let seg = settle(s.segment(images(&[IMAGE]), 257, 257, None)).await.unwrap();
    let seg2 = settle(s.segment(images(&[IMAGE]), 257, 257, None)).await.unwrap();
    web_sys::console::log_1(
        &format!("{backend}: segmentation {:.2} s (first), {:.2} s (second)", num(&seg, "seconds"), num(&seg2, "seconds")).into(),
    );
    let map = bytes_at(&seg, "maps", 0);
    assert_eq!(bytes_at(&seg2, "maps", 0), map, "segmentation is deterministic");
    let (reference, w, h) = imaging::decode_label_png(REFERENCE).unwrap();
    assert_eq!((w, h), (257, 257));
    let agree = agreement(&map, &reference);
    web_sys::console::log_1(&format!("{backend}: agreement with the reference map {agree:.6}").into());
    assert!(agree >= 0.999, "{backend}: agreement with the reference map {agree}");
    // the resized input equals the core's Pillow-exact resize
    let img = imaging::resize(&imaging::decode(IMAGE).unwrap(), 257, 257, imaging::ResizeMethod::PilBilinear).unwrap();
    assert_eq!(bytes_at(&seg, "images", 0), img.as_raw().to_vec());

    // 2-step untargeted attack: invariants
    let steps = Array::new();
    let log = steps.clone();
    let progress = Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |p: JsValue| {
        log.push(&p);
        JsValue::TRUE
    });
    let opts = options(&[("steps", 2.into()), ("eps", "8/255".into()), ("loss", "segpgd".into())]);
    let cb: &Function = progress.as_ref().unchecked_ref();
    let r = settle(s.attack(images(&[IMAGE]), 257, 257, opts, None, Some(cb.clone()), JsValue::UNDEFINED)).await.unwrap();
    let rep = get(&r, "report");
    assert_eq!(get(&rep, "schema").as_string().as_deref(), Some("advseg.attack/2"));
    assert_eq!(num(&rep, "steps_run"), 2.0);
    web_sys::console::log_1(&format!("{backend}: 2-step untargeted attack {:.2} s (first)", num(&rep, "seconds")).into());
    let attack_steps: Vec<JsValue> = steps.iter().filter(|p| get(p, "stage").as_string().as_deref() == Some("attack")).collect();
    assert_eq!(attack_steps.len(), 3, "one progress report per iterate x_0, x_1, x_2");
    // each report carries its iterate's class map per image (the page's batch overview draws them)
    for p in &attack_steps {
        assert_eq!(Array::from(&get(p, "maps")).length(), 1);
        assert_eq!(bytes_at(p, "maps", 0).len(), 257 * 257);
    }
    assert_eq!(bytes_at(&attack_steps[0], "maps", 0), map, "x_0 (no random start) is the clean image");
    let history = Array::from(&get(&rep, "history"));
    assert_eq!(history.length(), 3);
    // the clean map of the attack is the segmentation's map
    assert_eq!(bytes_at(&r, "clean_maps", 0), map);
    // the 8-bit adversarial image stays in the ε-ball (8/255 is a whole number of grey levels)
    let adv = bytes_at(&r, "adversarial", 0);
    let orig = bytes_at(&r, "images", 0);
    let linf = adv.iter().zip(&orig).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
    assert!(linf <= 8 && linf > 0, "L∞ {linf} grey levels");
    let q = get(&get(&rep, "overall"), "quantized");
    assert!((num(&q, "linf") * 255.0 - f64::from(linf)).abs() < 1e-3);
    // the PNG holds exactly the adversarial pixels
    let png = imaging::decode(&bytes_at(&r, "pngs", 0)).unwrap();
    assert_eq!(png.as_raw().to_vec(), adv);
    // the attack moved predictions off the clean map, and reports it consistently
    let adv_map = bytes_at(&r, "adversarial_maps", 0);
    let vs_clean = num(&get(&q, "vs_clean"), "agreement");
    assert!((vs_clean - agreement(&adv_map, &map)).abs() < 1e-9);
    assert!(vs_clean < 0.999, "{backend}: 2 steps of 8/255 left agreement at {vs_clean}");
    let psnr = num(&q, "psnr");
    assert!(psnr > 30.0 && psnr.is_finite(), "PSNR {psnr}");
    drop(progress);

    // 2-step targeted attack to class 15 (person): closer to the target than the clean map
    let opts = options(&[("steps", 2.into()), ("eps", "8/255".into()), ("goal", "targeted-class".into()), ("target_class", 15.into())]);
    let r = settle(s.attack(images(&[IMAGE]), 257, 257, opts, None, None, JsValue::UNDEFINED)).await.unwrap();
    let rep = get(&r, "report");
    web_sys::console::log_1(
        &format!("{backend}: 2-step targeted attack {:.2} s (warm): {:.3} PGD steps/s", num(&rep, "seconds"), 2.0 / num(&rep, "seconds")).into(),
    );
    let overall = get(&rep, "overall");
    let before = num(&get(&get(&overall, "clean"), "vs_target"), "agreement");
    let after = num(&get(&get(&overall, "quantized"), "vs_target"), "agreement");
    web_sys::console::log_1(&format!("{backend}: targeted agreement {before:.4} -> {after:.4}").into());
    assert!(after > before, "{backend}: targeted agreement {before} -> {after}");
}

#[wasm_bindgen_test]
async fn cpu_backend_segments_and_attacks() {
    check_backend("cpu").await;
}

#[wasm_bindgen_test]
async fn webgpu_backend_segments_and_attacks() {
    check_backend("webgpu").await;
}

/// "auto" never takes a software adapter: the test browser's only WebGPU adapter is SwiftShader
/// (60–90× slower than the CPU backend), so auto picks the CPU and says why.
#[wasm_bindgen_test]
async fn auto_skips_a_software_webgpu_adapter() {
    let s = session("auto").await;
    assert!(!s.webgpu(), "auto took WebGPU ({}) although the only adapter is software", s.backend());
    assert!(s.note().contains("software emulation"), "note: {}", s.note());
}

#[wasm_bindgen_test]
async fn errors_quote_the_bad_value_and_the_session_keeps_working() {
    let s = session("cpu").await;
    let bad = |pairs: &[(&str, JsValue)]| options(pairs);
    let cases: Vec<(JsValue, &str)> = vec![
        (bad(&[("goal", "sideways".into())]), "'sideways'"),
        (bad(&[("eps", (-3).into())]), "-3"),
        (bad(&[("loss", "hinge".into())]), "'hinge'"),
        (bad(&[("steps", 0.into())]), "steps = 0"),
        (bad(&[("goal", "targeted-class".into()), ("target_class", 42.into())]), "class 42"),
        (bad(&[("goal", "targeted-image".into()), ("target_index", 4.into())]), "target_index 4"),
        (bad(&[("colour", "red".into())]), "colour"),
    ];
    for (opts, want) in cases {
        let e = failure(s.attack(images(&[IMAGE]), 257, 257, opts, None, None, JsValue::UNDEFINED), want).await;
        assert!(e.contains(want), "error {e:?} does not quote {want:?}");
    }
    let e = failure(s.segment(images(&[b"not an image at all"]), 257, 257, None), "not an image").await;
    assert!(e.contains("image 1"), "{e}");
    let e = failure(s.segment(images(&[IMAGE]), 300, 200, None), "300×200").await;
    assert!(e.contains("300×200"), "{e}");
    let e = Session::create("no-such-model".into(), vec![1, 2, 3], "cpu".into()).await.err().map(JsValue::from).unwrap();
    assert!(format!("{:?}", e).contains("no-such-model"));
    let e = Session::create(MODEL.into(), vec![1, 2, 3], "cpu".into()).await.err().map(JsValue::from).unwrap();
    assert!(format!("{:?}", e).contains("sha256"));
    // a painted map: wrong size, then a class out of range
    let opts = || bad(&[("goal", "targeted-map".into()), ("steps", 1.into())]);
    let e = failure(s.attack(images(&[IMAGE]), 257, 257, opts(), Some(Uint8Array::from(&[1u8; 10][..])), None, JsValue::UNDEFINED), "10 pixels").await;
    assert!(e.contains("10 pixels"), "{e}");
    let mut painted = vec![255u8; 257 * 257];
    painted[257 * 3 + 2] = 77;
    let e = failure(s.attack(images(&[IMAGE]), 257, 257, opts(), Some(Uint8Array::from(&painted[..])), None, JsValue::UNDEFINED), "class 77").await;
    assert!(e.contains("class 77 at pixel (2, 3)"), "{e}");
    // still working
    assert!(settle(s.segment(images(&[IMAGE]), 257, 257, None)).await.is_ok());
}

#[wasm_bindgen_test]
async fn progress_returning_false_cancels_and_a_painted_map_attack_runs() {
    let s = session("cpu").await;
    let stop = Closure::<dyn FnMut(JsValue) -> JsValue>::new(|p: JsValue| {
        JsValue::from_bool(get(&p, "stage").as_string().as_deref() != Some("attack"))
    });
    let opts = options(&[("steps", 50.into())]);
    let e = failure(s.attack(images(&[IMAGE]), 257, 257, opts, None, Some(stop.as_ref().unchecked_ref::<Function>().clone()), JsValue::UNDEFINED), "cancel")
        .await;
    assert_eq!(e, "cancelled");
    // targeted-map: paint the top-left quarter "person"; unpainted pixels keep their class
    let mut painted = vec![255u8; 257 * 257];
    for y in 0..128 {
        for x in 0..128 {
            painted[y * 257 + x] = 15;
        }
    }
    let opts = options(&[("steps", 2.into()), ("goal", "targeted-map".into()), ("keep_unpainted", true.into())]);
    let r = settle(s.attack(images(&[IMAGE]), 257, 257, opts, Some(Uint8Array::from(&painted[..])), None, JsValue::UNDEFINED)).await.unwrap();
    let reference = bytes_at(&r, "reference_maps", 0);
    let clean = bytes_at(&r, "clean_maps", 0);
    assert_eq!(reference[0], 15);
    assert_eq!(reference[256 * 257 + 256], clean[256 * 257 + 256], "outside the paint the clean class is kept");
    let rep = get(&r, "report");
    let history = Array::from(&get(&rep, "history"));
    let (first, last) = (history.get(0), history.get(history.length() - 1));
    let overall = get(&rep, "overall");
    let before = num(&get(&get(&overall, "clean"), "vs_target"), "agreement");
    let after = num(&get(&get(&overall, "quantized"), "vs_target"), "agreement");
    web_sys::console::log_1(
        &format!("painted map: agreement {before:.4} -> {after:.4}, loss {} -> {}", num(&first, "loss"), num(&last, "loss")).into(),
    );
    assert!(num(&last, "loss") < num(&first, "loss"), "a targeted attack descends its loss");
}

#[wasm_bindgen_test]
async fn working_sizes_keep_the_aspect_and_follow_the_size_rule() {
    const SMALL: &[u8] = include_bytes!("../weights/espnetv2_s_0.5_pascal_384x384.safetensors");
    let s = Session::create("espnetv2-voc-s0.5".into(), SMALL.to_vec(), "cpu".into()).await.map_err(JsValue::from).unwrap();
    let size = |w, h, m| s.input_size(w, h, m).map_err(JsValue::from);
    assert_eq!(size(513, 513, 0).unwrap(), vec![384, 384], "the native longer side");
    assert_eq!(size(1000, 500, 0).unwrap(), vec![384, 192]);
    assert_eq!(size(500, 375, 512).unwrap(), vec![496, 368], "never upscaled, snapped to multiples of 16");
    assert_eq!(size(100, 3000, 256).unwrap(), vec![16, 256]);
    assert!(format!("{:?}", size(0, 10, 0).unwrap_err()).contains("0×10"));
    assert!(format!("{:?}", size(10, 10, 5).unwrap_err()).contains("max side 5"));
    assert_eq!(get(&s.info().map_err(JsValue::from).unwrap(), "classes").dyn_into::<Array>().unwrap().length(), 21);
    let dl = session("cpu").await;
    assert_eq!(dl.input_size(1000, 500, 0).map_err(JsValue::from).unwrap(), vec![257, 257], "DeepLab takes 257×257 only");
    // the scaling attack's model size: 256×256 where the model takes it
    assert_eq!(s.scaling_input_size().map_err(JsValue::from).unwrap(), vec![256, 256]);
    assert_eq!(dl.scaling_input_size().map_err(JsValue::from).unwrap(), vec![257, 257]);
}

#[wasm_bindgen_test]
fn the_page_gets_the_scalers_and_the_map_resize_from_the_core() {
    let list = Array::from(&advseg::web::list_scalers().map_err(JsValue::from).unwrap());
    let names: Vec<String> = list.iter().map(|s| get(&s, "name").as_string().unwrap()).collect();
    let core: Vec<&str> = advseg::resize::ScalerKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(names, core);
    let defaults: Vec<&String> =
        names.iter().zip(list.iter()).filter(|(_, s)| get(s, "default").as_bool() == Some(true)).map(|(n, _)| n).collect();
    assert_eq!(defaults, ["opencv-linear"], "one default, the page's scaler until now");
    assert_eq!(get(&list.get(9), "library").as_string().as_deref(), Some("pillow"));
    // 2×2 → 4×4 repeats each class, as the core's nearest resize
    let map = [1u8, 2, 3, 255];
    let big = advseg::web::resize_map(&map, 2, 2, 4, 4).map_err(JsValue::from).unwrap();
    assert_eq!(big, advseg::data::nearest_resize_map(&map, 2, 2, 4, 4).unwrap());
    assert_eq!(&big[..4], &[1, 1, 2, 2]);
    let e = advseg::web::resize_map(&map, 3, 2, 4, 4).map_err(JsValue::from).unwrap_err();
    assert!(format!("{e:?}").contains("3x2"), "{e:?}");
}

#[wasm_bindgen_test]
fn the_page_gets_the_attack_menus_from_the_core() {
    let c = advseg::web::list_attacks().map_err(JsValue::from).unwrap();
    let kinds = Array::from(&get(&c, "kinds"));
    let names: Vec<String> = kinds.iter().map(|k| get(&k, "name").as_string().unwrap()).collect();
    let core: Vec<&str> = advseg::attack::AttackKind::ALL.iter().map(|k| k.name()).collect();
    assert_eq!(names, core);
    assert_eq!(get(&kinds.get(0), "name").as_string().as_deref(), Some("apgd"));
    assert_eq!(get(&kinds.get(0), "default").as_bool(), Some(true), "APGD is the default attack");
    let losses: Vec<String> = Array::from(&get(&c, "losses")).iter().map(|l| get(&l, "name").as_string().unwrap()).collect();
    let core: Vec<String> = advseg::attack::LossKind::ALL.iter().map(ToString::to_string).collect();
    assert_eq!(losses, core);
    assert_eq!(Array::from(&get(&c, "sea_losses")).length(), 3);
    let rec: Vec<String> = Array::from(&get(&c, "reconstructions")).iter().map(|r| get(&r, "name").as_string().unwrap()).collect();
    assert!(rec.contains(&"jpeg:75".to_string()), "{rec:?}");
}

/// One SEA run (APGD with each of its three losses): progress over the whole ensemble, the
/// per-image winning loss in the report, the invariants; then a cancelled SEA run.
#[wasm_bindgen_test]
async fn sea_runs_in_the_browser_with_per_image_winners() {
    let s = session("cpu").await;
    let seen = Array::new();
    let log = seen.clone();
    let progress = Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |p: JsValue| {
        log.push(&p);
        JsValue::TRUE
    });
    let cb: &Function = progress.as_ref().unchecked_ref();
    let opts = options(&[("kind", "sea".into()), ("steps", 2.into()), ("eps", "8/255".into())]);
    let r = settle(s.attack(images(&[IMAGE]), 257, 257, opts, None, Some(cb.clone()), JsValue::UNDEFINED)).await.unwrap();
    let rep = get(&r, "report");
    let steps: Vec<f64> =
        seen.iter().filter(|p| get(p, "stage").as_string().as_deref() == Some("attack")).map(|p| num(&p, "step")).collect();
    web_sys::console::log_1(&format!("SEA: {} progress reports, steps {steps:?}, {:.2} s", steps.len(), num(&rep, "seconds")).into());
    assert!(steps.len() >= 6, "progress across the three members: {steps:?}");
    assert!(steps.windows(2).all(|w| w[1] >= w[0]), "the step counter runs over the whole ensemble: {steps:?}");
    let img = Array::from(&get(&rep, "images")).get(0);
    let winner = get(&img, "winning_loss").as_string().expect("winning_loss per image");
    // DeepLab is a VOC model: SEA's balanced loss has its authors' fixed class weights
    assert!(["masked-ce", "balanced-ce-voc", "js"].contains(&winner.as_str()), "{winner}");
    let adv = bytes_at(&r, "adversarial", 0);
    let orig = bytes_at(&r, "images", 0);
    assert!(adv.iter().zip(&orig).all(|(a, b)| a.abs_diff(*b) <= 8), "‖δ‖∞ ≤ 8/255");
    drop(progress);
    // cancel: the progress callback returns false at the first report
    let stop = Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |_p: JsValue| JsValue::FALSE);
    let cb: &Function = stop.as_ref().unchecked_ref();
    let opts = options(&[("kind", "sea".into()), ("steps", 5.into())]);
    let e = failure(s.attack(images(&[IMAGE]), 257, 257, opts, None, Some(cb.clone()), JsValue::UNDEFINED), "cancelled SEA").await;
    assert!(e.contains("cancel"), "{e}");
}

/// An ONNX network from its bytes, as the page's drop zone brings it: registered (read and run
/// once), loaded on the CPU and on WebGPU, segmenting alike, attacked; a bad file is refused
/// with a message and registers nothing.
#[wasm_bindgen_test]
async fn an_onnx_model_from_bytes_segments_and_attacks() {
    const ONNX: &[u8] = include_bytes!("fixtures/onnx/opzoo_dynamo.onnx");
    let name = "opzoo_dynamo.onnx";
    let e = advseg::web::register_onnx("broken.onnx".into(), ONNX[..ONNX.len() / 3].to_vec(), None).err().map(JsValue::from).unwrap();
    assert!(format!("{e:?}").contains("broken.onnx"), "{e:?}");
    let e = Session::create("broken.onnx".into(), vec![], "cpu".into()).await.err().map(JsValue::from).unwrap();
    assert!(format!("{e:?}").contains("broken.onnx"), "{e:?}");
    let info = advseg::web::register_onnx(name.into(), ONNX.to_vec(), Some(r#"{"channels": "BGR"}"#.into())).map_err(JsValue::from).unwrap();
    assert_eq!((num(&info, "native_width"), num(&info, "native_height"), num(&info, "outputs")), (48.0, 48.0, 5.0));
    let mut maps = Vec::new();
    for backend in ["cpu", "webgpu"] {
        let s = Session::create(name.into(), vec![], backend.into()).await.map_err(JsValue::from).unwrap();
        let seg = settle(s.segment(images(&[IMAGE]), 48, 48, None)).await.unwrap();
        maps.push(bytes_at(&seg, "maps", 0));
        let opts = options(&[("kind", "pgd".into()), ("steps", 3.into()), ("eps", "8/255".into())]);
        let r = settle(s.attack(images(&[IMAGE]), 48, 48, opts, None, None, JsValue::UNDEFINED)).await.unwrap();
        let q = get(&get(&get(&r, "report"), "overall"), "quantized");
        let vs_clean = num(&get(&q, "vs_clean"), "agreement");
        web_sys::console::log_1(&format!("onnx {backend} ({}): 3-step PGD, agreement with clean {vs_clean:.4}", s.backend()).into());
        assert!(vs_clean < 0.8, "{backend}: the attack left agreement at {vs_clean}");
    }
    let agree = agreement(&maps[0], &maps[1]);
    assert!(agree >= 0.99, "CPU and WebGPU maps agree on {agree}");
}
