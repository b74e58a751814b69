//! Every zoo model on every shared image: the argmax map agrees with PyTorch's reference map on
//! ≥ 99.5 % of pixels, and the logit vectors at pixel (0, 0) and at the centre match
//! `checks.json` (PyTorch, 4 decimals) within 2e-3. Preprocessing as the references: Pillow
//! bilinear resize of the uint8 image to the model input, `/255`.

mod common;

use advseg::backend;
use advseg::image::{self as imaging, ResizeMethod};
use advseg::model::{Segmenter, batch_tensor};

/// (zoo name, reference folder, input width, height)
const MODELS: [(&str, &str, usize, usize); 8] = [
    ("espnetv2-voc", "espnetv2_s_2.0_pascal_384x384", 384, 384),
    ("espnetv2-voc-s1.0", "espnetv2_s_1.0_pascal_384x384", 384, 384),
    ("espnetv2-voc-s0.5", "espnetv2_s_0.5_pascal_384x384", 384, 384),
    ("deeplabv3-mnv2-voc", "deeplabv3_mnv2_257_voc", 257, 257),
    ("espnetv2-city", "espnetv2_s_2.0_city_1024x512", 1024, 512),
    ("espnetv2-city-s1.0", "espnetv2_s_1.0_city_1024x512", 1024, 512),
    ("espnetv2-city-s0.5", "espnetv2_s_0.5_city_1024x512", 1024, 512),
    ("espnetv2-city", "espnetv2_s_2.0_city_1024x512_at_512x256", 512, 256),
];

fn images_for(folder: &str) -> Vec<(String, String)> {
    // (checks.json key, image path relative to fixtures/images)
    if folder.contains("city") {
        let n = "frankfurt_000000_000294_leftImg8bit";
        return vec![(format!("cityscapes/{n}"), format!("cityscapes/{n}.png"))];
    }
    let mut v: Vec<(String, String)> = ["0", "1", "8", "20", "23", "114", "166", "294", "417", "474"]
        .iter()
        .map(|n| (format!("voc/{n}"), format!("voc/{n}.png")))
        .collect();
    for p in ["astronaut", "chelsea", "coffee", "horse", "motorcycle_left"] {
        v.push((format!("photos/{p}"), format!("photos/{p}.png")));
    }
    v
}

#[test]
fn argmax_and_logits_match_pytorch_for_every_model_and_image() {
    if common::skip_without_fixtures("argmax_and_logits_match_pytorch_for_every_model_and_image") {
        return;
    }
    let device = backend::cpu();
    let checks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(common::fixtures().join("reference/checks.json")).unwrap()).unwrap();
    let mut worst = 1.0f64;
    for (name, folder, w, h) in MODELS {
        let seg = Segmenter::load(name, &device).unwrap();
        for (key, rel) in images_for(folder) {
            let img = imaging::load(&common::fixtures().join("images").join(&rel)).unwrap();
            let img = imaging::resize(&img, w as u32, h as u32, ResizeMethod::PilBilinear).unwrap();
            let x = batch_tensor(&[imaging::to_tensor01(&img)], &device).unwrap();
            let logits = seg.logits(x).unwrap();
            let c = logits.dims()[1];
            let values = logits.clone().into_data().try_to_vec::<f32>().unwrap();
            let at = |y: usize, xx: usize| -> Vec<f32> { (0..c).map(|k| values[k * h * w + y * w + xx]).collect() };
            let check = &checks[folder][&key];
            let cy = check["center_yx"][0].as_u64().unwrap() as usize;
            let cx = check["center_yx"][1].as_u64().unwrap() as usize;
            for (field, got) in [("logits_at_y0_x0", at(0, 0)), ("logits_at_center", at(cy, cx))] {
                let want: Vec<f32> = check[field].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
                let d = common::max_abs_diff(&got, &want);
                assert!(d <= 2e-3, "{name} {key} {field}: max diff {d}");
            }
            let map = advseg::util::block_on(advseg::model::argmax_maps(logits, c)).unwrap().remove(0);
            let (reference, rw, rh) =
                imaging::load_label_png(&common::fixtures().join(format!("reference/argmax/{folder}/{}.png", key.replace('/', "_"))))
                    .unwrap();
            assert_eq!((rw, rh), (w, h));
            let agree = advseg::metrics::agreement(&map.data, &reference, None).unwrap();
            worst = worst.min(agree);
            assert!(agree >= 0.995, "{name} on {key} at {w}x{h}: argmax agreement {agree:.5} < 0.995");
        }
    }
    println!("worst argmax agreement over all models and images: {worst:.5}");
}

#[test]
fn city_output_19_is_void_in_maps() {
    if common::skip_without_fixtures("city_output_19_is_void_in_maps") {
        return;
    }
    // channel 19 of the Cityscapes models is untrained: if it wins, the map says void (255)
    let device = backend::cpu();
    let seg = Segmenter::load("espnetv2-city-s0.5", &device).unwrap();
    let mut logits = vec![0f32; 20 * 2];
    logits[19 * 2] = 5.0; // pixel 0 → 19
    logits[3 * 2 + 1] = 5.0; // pixel 1 → 3
    let t = burn::tensor::Tensor::<4>::from_data(burn::tensor::TensorData::new(logits, [1, 20, 1, 2]), &device);
    let map = advseg::util::block_on(advseg::model::argmax_maps(t, seg.spec.num_classes())).unwrap().remove(0);
    assert_eq!(map.data, vec![255, 3]);
}

#[test]
fn bad_inputs_give_clear_errors() {
    if common::skip_without_fixtures("bad_inputs_give_clear_errors") {
        return;
    }
    let device = backend::cpu();
    let seg = Segmenter::load("espnetv2-voc-s0.5", &device).unwrap();
    let x = burn::tensor::Tensor::<4>::zeros([1, 3, 257, 257], &device);
    let e = seg.logits(x).unwrap_err().to_string();
    assert!(e.contains("257×257") && e.contains("espnetv2-voc-s0.5"), "{e}");
    let x = burn::tensor::Tensor::<4>::zeros([1, 1, 256, 256], &device);
    assert!(seg.logits(x).unwrap_err().to_string().contains("[1, 1, 256, 256]"));

    let dl = Segmenter::load("deeplabv3-mnv2-voc", &device).unwrap();
    let x = burn::tensor::Tensor::<4>::zeros([1, 3, 384, 384], &device);
    assert!(dl.logits(x).unwrap_err().to_string().contains("exactly 257×257"));

    // weights: a truncated copy is refused with the file name and the expected hash
    let spec = advseg::model::zoo::spec("espnetv2-voc-s0.5").unwrap();
    // (from the first weights folder that has it: $ADVSEG_WEIGHTS_DIR, then the crate's weights/)
    let path = advseg::model::weights::search_dirs().into_iter().map(|d| d.join(spec.weights_file)).find(|p| p.is_file()).unwrap();
    let bytes = std::fs::read(path).unwrap();
    let e = Segmenter::from_bytes(spec, &bytes[..bytes.len() / 2], &device).unwrap_err().to_string();
    assert!(e.contains(spec.weights_file) && e.contains("0b5ac7d0447e1ded78091dcfa21561c11c933f522c84eaa2980135a4d5e73039"), "{e}");
    // the right bytes under the wrong model: the hash check names the file
    let e = Segmenter::from_bytes(advseg::model::zoo::spec("espnetv2-voc").unwrap(), &bytes, &device).unwrap_err();
    assert!(e.to_string().contains("espnetv2_s_2.0_pascal_384x384.safetensors"), "{e}");
    // a truncated file that skips the hash check is still refused by the parser
    let e = advseg::model::weights::TensorStore::from_bytes(spec.weights_file, &bytes[..1000]).unwrap_err();
    assert!(e.to_string().contains(spec.weights_file), "{e}");
    // batch of mixed sizes
    let a = advseg::image::RgbImage01 { width: 2, height: 2, data: vec![0.0; 12] };
    let b = advseg::image::RgbImage01 { width: 3, height: 2, data: vec![0.0; 18] };
    let e = batch_tensor(&[a, b], &device).unwrap_err().to_string();
    assert!(e.contains("3×2") && e.contains("2×2"), "{e}");
}

/// The selfie models from the image files (this crate's Pillow-bilinear resize, as MediaPipe's
/// references were made): the share of person pixels (p > 0.5), the mean and the centre value
/// of the mask match `reference/selfie/checks.json`.
#[test]
fn selfie_models_reproduce_mediapipe_checks() {
    if common::skip_without_fixtures("selfie_models_reproduce_mediapipe_checks") {
        return;
    }
    let device = backend::cpu();
    let checks: serde_json::Value =
        serde_json::from_slice(&std::fs::read(common::fixtures().join("reference/selfie/checks.json")).unwrap()).unwrap();
    for (name, stem) in [("selfie", "selfie_segmentation"), ("selfie-landscape", "selfie_segmentation_landscape")] {
        let seg = Segmenter::load(name, &device).unwrap();
        let (w, h) = seg.spec.native_size;
        for (key, rel) in [("photos_astronaut", "photos/astronaut"), ("photos_chelsea", "photos/chelsea"), ("voc_294", "voc/294"), ("voc_8", "voc/8")] {
            let img = imaging::load(&common::fixtures().join(format!("images/{rel}.png"))).unwrap();
            let img = imaging::resize(&img, w as u32, h as u32, ResizeMethod::PilBilinear).unwrap();
            let logits = seg.logits(batch_tensor(&[imaging::to_tensor01(&img)], &device).unwrap()).unwrap();
            let z = logits.clone().narrow(1, 1, 1) - logits.narrow(1, 0, 1);
            let p = burn::tensor::activation::sigmoid(z).into_data().try_to_vec::<f32>().unwrap();
            let check = &checks[format!("{stem}__{key}")];
            assert_eq!(check["shape_hw"], serde_json::json!([h, w]), "{name} {key}");
            let share = p.iter().filter(|&&v| v > 0.5).count() as f64 / p.len() as f64;
            let mean = p.iter().map(|&v| f64::from(v)).sum::<f64>() / p.len() as f64;
            let centre = f64::from(p[(h / 2) * w + w / 2]);
            let want = |f: &str| check[f].as_f64().unwrap();
            println!("{name} {key}: person share {share:.6} (MediaPipe {}), mean {mean:.6} ({})", want("person_share_gt_0.5"), want("mask_mean"));
            assert!((share - want("person_share_gt_0.5")).abs() <= 1e-3, "{name} {key}: share {share}");
            assert!((mean - want("mask_mean")).abs() <= 1e-3, "{name} {key}: mean {mean}");
            assert!((centre - want("mask_at_center")).abs() <= 1e-2, "{name} {key}: centre {centre}");
        }
    }
}
