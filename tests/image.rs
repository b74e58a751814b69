//! Fixture tests of the image layer: Pillow's and OpenCV's resizes bit for bit on the shared
//! fixtures, the reference `[0, 1]` tensors, label PNGs and the clean metrics of the reference
//! pipeline.

mod common;

use std::path::{Path, PathBuf};

use advseg::image::{ResizeMethod, load, load_label_png, resize, to_tensor01};
use image::RgbImage;

fn shared() -> PathBuf {
    std::env::var_os("ADVSEG_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

fn fixtures() -> PathBuf {
    shared().join("fixtures")
}

/// Read one tensor of a safetensors file: (shape, little-endian f32 values).
fn safetensors_f32(path: &Path, name: &str) -> (Vec<usize>, Vec<f32>) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let t = &header[name];
    assert_eq!(t["dtype"], "F32");
    let shape: Vec<usize> = t["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let off = t["data_offsets"].as_array().unwrap();
    let (s, e) = (
        off[0].as_u64().unwrap() as usize,
        off[1].as_u64().unwrap() as usize,
    );
    let data = &bytes[8 + n + s..8 + n + e];
    let vals = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    (shape, vals)
}

/// (number of samples differing, max absolute difference)
fn compare(a: &RgbImage, b: &RgbImage) -> (usize, u8) {
    assert_eq!(a.dimensions(), b.dimensions());
    let mut n = 0;
    let mut max = 0;
    for (&x, &y) in a.as_raw().iter().zip(b.as_raw()) {
        let d = x.abs_diff(y);
        n += usize::from(d != 0);
        max = max.max(d);
    }
    (n, max)
}

const SCALING_CASES: [(&str, u32, u32); 9] = [
    ("astronaut512", 128, 128),
    ("astronaut512", 256, 256),
    ("astronaut512", 150, 150),
    ("astronaut1024", 256, 256),
    ("voc294_500x375", 257, 257),
    ("voc294_500x375", 384, 384),
    ("chelsea451x300", 150, 100),
    ("chelsea451x300", 224, 224),
    ("astronaut128crop", 384, 384),
];

fn scaling_pair(src: &str, alg: &str, w: u32, h: u32) -> (RgbImage, RgbImage) {
    let dir = fixtures().join("scaling");
    let input = load(&dir.join(format!("{src}.png"))).unwrap();
    let expected = load(&dir.join(format!("{src}__{alg}__{w}x{h}.png"))).unwrap();
    (input, expected)
}

// ---------------------------------------------------------------- decode

#[test]
fn pil_bilinear_matches_pillow_fixtures_exactly() {
    if common::skip_without_fixtures("pil_bilinear_matches_pillow_fixtures_exactly") {
        return;
    }
    let mut total = 0usize;
    for (src, w, h) in SCALING_CASES {
        let (input, expected) = scaling_pair(src, "pillow-bilinear", w, h);
        let got = resize(&input, w, h, ResizeMethod::PilBilinear).unwrap();
        let (n, max) = compare(&got, &expected);
        eprintln!("pillow-bilinear {src} -> {w}x{h}: {n} differing samples, max diff {max}");
        assert_eq!((n, max), (0, 0), "{src} -> {w}x{h}");
        total += got.as_raw().len();
    }
    eprintln!("pillow-bilinear: {total} samples, all equal");
}

#[test]
fn nearest_matches_pillow_fixtures_exactly() {
    if common::skip_without_fixtures("nearest_matches_pillow_fixtures_exactly") {
        return;
    }
    for (src, w, h) in SCALING_CASES {
        let (input, expected) = scaling_pair(src, "pillow-nearest", w, h);
        let got = resize(&input, w, h, ResizeMethod::Nearest).unwrap();
        let (n, max) = compare(&got, &expected);
        eprintln!("pillow-nearest {src} -> {w}x{h}: {n} differing samples, max diff {max}");
        assert_eq!((n, max), (0, 0), "{src} -> {w}x{h}");
    }
}

#[test]
fn bilinear_matches_opencv_linear_exactly() {
    if common::skip_without_fixtures("bilinear_matches_opencv_linear_exactly") {
        return;
    }
    for (src, w, h) in SCALING_CASES {
        let (input, expected) = scaling_pair(src, "opencv-linear", w, h);
        let got = resize(&input, w, h, ResizeMethod::Bilinear).unwrap();
        let (n, max) = compare(&got, &expected);
        let frac = n as f64 / got.as_raw().len() as f64;
        eprintln!(
            "opencv-linear {src} -> {w}x{h}: {:.3}% differ, max diff {max}",
            frac * 100.0
        );
        assert_eq!((n, max), (0, 0), "{src} -> {w}x{h}");
    }
}

#[test]
fn pil_bilinear_reproduces_reference_x01() {
    if common::skip_without_fixtures("pil_bilinear_reproduces_reference_x01") {
        return;
    }
    let img = load(&fixtures().join("images/voc/294.png")).unwrap();
    assert_eq!(img.dimensions(), (513, 513));
    for (file, size) in [
        (
            "espnetv2_s2.0_pascal_384x384__voc_294.safetensors",
            384usize,
        ),
        ("deeplabv3_mnv2_257_voc__voc_294.safetensors", 257),
    ] {
        let (shape, x01) = safetensors_f32(&fixtures().join("reference").join(file), "x01");
        assert_eq!(shape, vec![1, 3, size, size]);
        let t = to_tensor01(
            &resize(&img, size as u32, size as u32, ResizeMethod::PilBilinear).unwrap(),
        );
        assert_eq!((t.width, t.height), (size, size));
        let differing = t.data.iter().zip(&x01).filter(|(a, b)| a != b).count();
        let max = t
            .data
            .iter()
            .zip(&x01)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        eprintln!(
            "x01 {size}x{size}: {differing} of {} values differ, max diff {max}",
            x01.len()
        );
        assert_eq!(differing, 0, "{file}");
    }
}

// ---------------------------------------------------------------- colour maps

#[test]
fn shared_label_fixtures_are_8bit_grey_class_maps() {
    if common::skip_without_fixtures("shared_label_fixtures_are_8bit_grey_class_maps") {
        return;
    }
    let (map, w, h) = load_label_png(&fixtures().join("images/voc/294_label.png")).unwrap();
    assert_eq!((w, h), (513, 513));
    assert!(map.iter().all(|&v| v <= 20 || v == 255));
    for class in [0u8, 7, 15, 255] {
        assert!(map.contains(&class), "class {class} missing");
    }
    let bytes = std::fs::read(fixtures().join("images/voc/294_label.png")).unwrap();
    assert_eq!((bytes[24], bytes[25]), (8, 0)); // bit depth 8, colour type 0 (greyscale)
    let (map, w, h) = load_label_png(
        &fixtures().join("reference/argmax/espnetv2_s_2.0_pascal_384x384/voc_294.png"),
    )
    .unwrap();
    assert_eq!((w, h), (384, 384));
    assert!(map.iter().all(|&v| v <= 20));
}

/// End-to-end check of metrics + label I/O against the published clean metrics: argmax maps
/// nearest-resized to the label size, one confusion matrix over the 10 VOC images.
#[test]
fn clean_metrics_reproduce_reference_json() {
    if common::skip_without_fixtures("clean_metrics_reproduce_reference_json") {
        return;
    }
    use advseg::data::nearest_resize_map;
    use advseg::metrics::{ConfusionMatrix, SegMetrics};
    let fx = fixtures();
    let text =
        std::fs::read_to_string(fx.join("reference/clean_metrics_voc_shared.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let images = ["0", "1", "8", "20", "23", "114", "166", "294", "417", "474"];
    let models = json.as_object().unwrap();
    assert_eq!(models.len(), 5);
    for (model, expect) in models {
        let mut cm = ConfusionMatrix::new(21);
        for name in images {
            let (gt, gw, gh) =
                load_label_png(&fx.join(format!("images/voc/{name}_label.png"))).unwrap();
            let (pred, pw, ph) =
                load_label_png(&fx.join(format!("reference/argmax/{model}/voc_{name}.png")))
                    .unwrap();
            let pred = nearest_resize_map(&pred, pw, ph, gw, gh).unwrap();
            cm.add(&gt, &pred).unwrap();
        }
        let m = SegMetrics::from_confusion(&cm, images.len());
        let miou = expect["miou"].as_f64().unwrap();
        let acc = expect["pixel_accuracy"].as_f64().unwrap();
        let n_classes = m.per_class_iou.iter().filter(|v| v.is_some()).count();
        eprintln!(
            "{model}: miou {:.5} (ref {miou}), acc {:.5} (ref {acc}), classes {n_classes}",
            m.miou, m.pixel_accuracy
        );
        assert!(
            (m.miou - miou).abs() <= 5e-5,
            "{model}: {} vs {miou}",
            m.miou
        );
        assert!(
            (m.pixel_accuracy - acc).abs() <= 5e-5,
            "{model}: {} vs {acc}",
            m.pixel_accuracy
        );
        assert_eq!(n_classes as u64, expect["n_classes"].as_u64().unwrap());
        assert_eq!(m.n_images, 10);
    }
}
