//! The `advseg` command line on the real weights: `eval` reproduces PyTorch's clean metrics
//! on the shared VOC images, `segment` writes its maps, and bad input gives clear errors.

mod common;

use std::path::PathBuf;
use std::process::{Command, Output};

fn advseg(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_advseg")).args(args).output().expect("advseg runs")
}

fn tmpdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("advseg-cli-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn eval_reproduces_pytorch_clean_metrics_for_every_voc_model() {
    if common::skip_without_fixtures("eval_reproduces_pytorch_clean_metrics_for_every_voc_model") {
        return;
    }
    let reference: serde_json::Value = serde_json::from_slice(
        &std::fs::read(common::fixtures().join("reference/clean_metrics_voc_shared.json")).unwrap(),
    )
    .unwrap();
    let voc = common::fixtures().join("images/voc");
    for (model, key) in [
        ("espnetv2-voc", "espnetv2_s_2.0_pascal_384x384"),
        ("espnetv2-voc-s1.0", "espnetv2_s_1.0_pascal_384x384"),
        ("espnetv2-voc-s0.5", "espnetv2_s_0.5_pascal_384x384"),
        ("deeplabv3-mnv2-voc", "deeplabv3_mnv2_257_voc"),
    ] {
        let out = advseg(&["eval", "--model", model, "--images", voc.to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{model}: {}", String::from_utf8_lossy(&out.stderr));
        let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let want = &reference[key];
        for field in ["miou", "pixel_accuracy"] {
            let (g, w) = (got[field].as_f64().unwrap(), want[field].as_f64().unwrap());
            println!("{model}: {field} {g:.4} (PyTorch {w:.4})");
            assert!((g - w).abs() <= 0.005, "{model}: {field} {g} vs PyTorch {w}");
        }
        assert_eq!(got["n_images"], 10);
        assert!(got["per_class_iou"]["person"].is_number(), "{got}");
    }
}

#[test]
fn segment_writes_maps_and_prints_shares() {
    if common::skip_without_fixtures("segment_writes_maps_and_prints_shares") {
        return;
    }
    let out_dir = tmpdir("segment");
    let img = common::fixtures().join("images/voc/294.png");
    let out = advseg(&["segment", "--model", "deeplabv3-mnv2-voc", "--out", out_dir.to_str().unwrap(), img.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("car") && stdout.contains('%'), "{stdout}");
    for f in ["294_map.png", "294_overlay.png"] {
        let im = image::open(out_dir.join(f)).unwrap();
        assert_eq!((im.width(), im.height()), (257, 257), "{f}");
    }
}

#[test]
fn bad_input_is_reported_not_panicked() {
    if common::skip_without_fixtures("bad_input_is_reported_not_panicked") {
        return;
    }
    let dir = tmpdir("bad");
    let corrupt = dir.join("corrupt.png");
    std::fs::write(&corrupt, b"\x89PNG\r\n\x1a\nnot really").unwrap();
    let good = common::fixtures().join("images/voc/0.png");
    // one bad image among good ones: reported on stderr, the rest still segmented
    let out = advseg(&["segment", "--model", "espnetv2-voc-s0.5", "--out", dir.to_str().unwrap(), corrupt.to_str().unwrap(), good.to_str().unwrap()]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("corrupt.png"), "{stderr}");
    assert!(dir.join("0_map.png").is_file());
    // only bad images: failure
    let out = advseg(&["segment", "--out", dir.to_str().unwrap(), corrupt.to_str().unwrap()]);
    assert!(!out.status.success());
    // unknown model, bad size, missing folder
    let out = advseg(&["segment", "--model", "resnet", good.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown model 'resnet'"));
    let out = advseg(&["segment", "--size", "500x375", "--out", dir.to_str().unwrap(), good.to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("500×375"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = advseg(&["eval", "--images", "/nonexistent/dir"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dir"));
}
